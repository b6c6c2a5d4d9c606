//! Files shared in a room: stored under random names, typed by their
//! content's magic bytes (never by the name or the client's word), readable
//! only by members of the room they were shared in. Images get a small PNG
//! thumbnail.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::messages::{self, Message, NewMessage};
use super::rooms;
use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::{tokens, Ctx};

/// Content types a browser may show inline: raster images it decodes
/// itself, with no script in them (SVG is deliberately not one).
const SAFE_IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];
/// The longest side of a thumbnail, in pixels.
const THUMBNAIL_SIDE: u32 = 320;
/// Images larger than this are not decoded for a thumbnail (decompression
/// bombs); they are still stored and downloadable.
const MAX_DECODE_PIXELS: u32 = 12_000;
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatFile {
    pub id: String,
    pub room: String,
    pub uploader: String,
    /// The name the uploader gave, cleaned; only ever shown, never used as
    /// a path.
    pub name: String,
    pub stored_name: String,
    pub content_type: String,
    pub size: i64,
    pub thumbnail_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ChatFile {
    /// Whether a browser may show it inline.
    pub fn is_safe_image(&self) -> bool {
        SAFE_IMAGES.contains(&self.content_type.as_str())
    }
}

pub struct Upload {
    pub room: String,
    pub name: Option<String>,
    pub bytes: Vec<u8>,
    pub caption: Option<String>,
}

/// Where files live and how big they may be (from the configuration).
pub struct FileStore<'a> {
    pub dir: &'a Path,
    pub max_bytes: usize,
}

pub struct Shared {
    pub file: ChatFile,
    pub message: Message,
}

fn clean_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let name: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    let name = name.trim().to_string();
    if name.is_empty() || name == "." || name == ".." {
        "file".into()
    } else {
        name
    }
}

/// Stores the file and posts it to the room as a message.
pub async fn share(
    ctx: &Ctx,
    actor: &Actor,
    store: FileStore<'_>,
    upload: Upload,
) -> DomainResult<Shared> {
    actor.require(Permission::ChatUse)?;
    let room = rooms::require_member(ctx, actor, &upload.room).await?;
    if upload.bytes.is_empty() {
        return Err(DomainError::invalid("file", "is empty"));
    }
    if upload.bytes.len() > store.max_bytes {
        return Err(DomainError::invalid(
            "file",
            format!("is larger than {} MiB", store.max_bytes / (1024 * 1024)),
        ));
    }
    let content_type = infer::get(&upload.bytes)
        .map(|t| t.mime_type().to_string())
        .unwrap_or_else(|| "application/octet-stream".into());
    let id = tokens::new_id();
    let stored_name = tokens::new_id();
    let path = store.dir.join(&stored_name);
    tokio::fs::write(&path, &upload.bytes)
        .await
        .map_err(|e| DomainError::Internal(format!("writing an upload: {e}")))?;
    let mut thumbnail_name = None;
    if SAFE_IMAGES.contains(&content_type.as_str()) {
        let thumb_name = format!("{stored_name}.thumb.png");
        let thumb_path = store.dir.join(&thumb_name);
        let bytes = upload.bytes;
        let made = tokio::task::spawn_blocking(move || write_thumbnail(&bytes, &thumb_path))
            .await
            .unwrap_or(false);
        if made {
            thumbnail_name = Some(thumb_name);
        }
    }
    let size = tokio::fs::metadata(&path)
        .await
        .map(|m| m.len() as i64)
        .unwrap_or_default();
    let stored = ctx
        .store
        .run(
            "CREATE type::record('chat_file', $id) SET room = $room, uploader = $uploader, name = $name,
                stored_name = $stored_name, content_type = $content_type, size = $size,
                thumbnail_name = $thumbnail_name, created_at = <datetime>$now",
            json!({"id": id, "room": room.id, "uploader": actor.user_id, "name": clean_name(upload.name.as_deref()),
                   "stored_name": stored_name, "content_type": content_type, "size": size,
                   "thumbnail_name": thumbnail_name, "now": db_time(ctx.now())}),
        )
        .await;
    if let Err(e) = stored {
        remove_stored(store.dir, &stored_name, thumbnail_name.as_deref()).await;
        return Err(e.into());
    }
    let posted = messages::post(
        ctx,
        actor,
        NewMessage {
            room: room.id.clone(),
            body: upload.caption.unwrap_or_default(),
            reply_to: None,
            idempotency_key: None,
            file: Some(id.clone()),
        },
    )
    .await?;
    let file = find(ctx, &id).await?.ok_or(DomainError::NotFound("file"))?;
    Ok(Shared {
        file,
        message: posted.message,
    })
}

async fn remove_stored(dir: &Path, stored_name: &str, thumbnail: Option<&str>) {
    let _ = tokio::fs::remove_file(dir.join(stored_name)).await;
    if let Some(t) = thumbnail {
        let _ = tokio::fs::remove_file(dir.join(t)).await;
    }
}

fn write_thumbnail(bytes: &[u8], path: &Path) -> bool {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DECODE_PIXELS);
    limits.max_image_height = Some(MAX_DECODE_PIXELS);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = match image::ImageReader::new(Cursor::new(bytes)).with_guessed_format() {
        Ok(r) => r,
        Err(_) => return false,
    };
    reader.limits(limits);
    let Ok(decoded) = reader.decode() else {
        return false;
    };
    decoded
        .thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        .save_with_format(path, image::ImageFormat::Png)
        .is_ok()
}

pub(crate) async fn find(ctx: &Ctx, id: &str) -> DomainResult<Option<ChatFile>> {
    Ok(ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM ONLY type::record('chat_file', $id)",
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

/// A file and where its bytes are, for a member of its room; anyone else
/// is told it does not exist.
pub async fn open(
    ctx: &Ctx,
    actor: &Actor,
    dir: &Path,
    id: &str,
    thumbnail: bool,
) -> DomainResult<(ChatFile, PathBuf)> {
    actor.require(Permission::ChatUse)?;
    let file = find(ctx, id).await?.ok_or(DomainError::NotFound("file"))?;
    rooms::require_member(ctx, actor, &file.room)
        .await
        .map_err(|_| DomainError::NotFound("file"))?;
    let name = if thumbnail {
        file.thumbnail_name
            .clone()
            .ok_or(DomainError::NotFound("thumbnail"))?
    } else {
        file.stored_name.clone()
    };
    Ok((file, dir.join(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_names_lose_their_folders_and_quotes() {
        assert_eq!(clean_name(Some("../../etc/pa\"sswd")), "passwd");
        assert_eq!(clean_name(Some("C:\\x\\report.pdf")), "report.pdf");
        assert_eq!(clean_name(Some("..")), "file");
        assert_eq!(clean_name(None), "file");
    }
}
