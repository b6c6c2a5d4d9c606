//! Files shared in a room: stored under random names, typed by their
//! content's magic bytes (never by the name or the client's word), readable
//! only by members of the room they were shared in. Images get a small PNG
//! thumbnail.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::messages::{self, Message, NewMessage};
use super::rooms;
use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::uploads::{self, Accept};
use crate::domain::{tokens, Ctx};

pub use crate::domain::uploads::FileStore;

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
        uploads::is_safe_image(&self.content_type)
    }
}

pub struct Upload {
    pub room: String,
    pub name: Option<String>,
    pub bytes: Vec<u8>,
    pub caption: Option<String>,
}

pub struct Shared {
    pub file: ChatFile,
    pub message: Message,
}

/// Stores the file and posts it to the room as a message.
pub async fn share(
    ctx: &Ctx,
    actor: &Actor,
    store: FileStore<'_>,
    upload: Upload,
) -> DomainResult<Shared> {
    super::require_chat(ctx, actor)?;
    let room = rooms::require_member(ctx, actor, &upload.room).await?;
    let saved = uploads::save(&store, Accept::Any, upload.name.as_deref(), upload.bytes).await?;
    let id = tokens::new_id();
    let stored = ctx
        .store
        .run(
            "CREATE type::record('chat_file', $id) SET room = $room, uploader = $uploader, name = $name,
                stored_name = $stored_name, content_type = $content_type, size = $size,
                thumbnail_name = $thumbnail_name, created_at = <datetime>$now",
            json!({"id": id, "room": room.id, "uploader": actor.user_id, "name": saved.name,
                   "stored_name": saved.stored_name, "content_type": saved.content_type, "size": saved.size,
                   "thumbnail_name": saved.thumbnail_name, "now": db_time(ctx.now())}),
        )
        .await;
    if let Err(e) = stored {
        uploads::remove(
            store.dir,
            &saved.stored_name,
            saved.thumbnail_name.as_deref(),
        )
        .await;
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
    super::require_chat(ctx, actor)?;
    let file = find(ctx, id).await?.ok_or(DomainError::NotFound("file"))?;
    rooms::require_membership(ctx, actor, &file.room)
        .await
        .map_err(|_| DomainError::NotFound("file"))?;
    let path = uploads::path_of(
        dir,
        &file.stored_name,
        file.thumbnail_name.as_deref(),
        thumbnail,
    )?;
    Ok((file, path))
}
