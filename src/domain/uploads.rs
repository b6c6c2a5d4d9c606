//! Uploaded bytes on disk, for every place that takes files (chat rooms,
//! tasks): the size limit, typing by the content's magic bytes (never by
//! the name or the client's word), random stored names, cleaned display
//! names and PNG thumbnails of images. Who may see a file is the caller's
//! business; this module only keeps the bytes.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::domain::error::{DomainError, DomainResult};
use crate::domain::tokens;

/// Content types a browser may show inline: raster images it decodes
/// itself, with no script in them (SVG is deliberately not one).
const SAFE_IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];
/// The longest side of a thumbnail, in pixels.
const THUMBNAIL_SIDE: u32 = 320;
/// Images larger than this are not decoded for a thumbnail (decompression
/// bombs); they are still stored and downloadable.
const MAX_DECODE_PIXELS: u32 = 12_000;
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Images decoded for thumbnails at once, whoever uploads: each decode may
/// take up to `MAX_DECODE_BYTES` and a core, so a burst of uploads waits
/// for a slot instead of exhausting memory.
const THUMBNAIL_SLOTS: usize = 2;
static THUMBNAIL_DECODES: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(THUMBNAIL_SLOTS);

/// Where files live and how big they may be (from the configuration).
pub struct FileStore<'a> {
    pub dir: &'a Path,
    pub max_bytes: usize,
}

/// Which contents a place accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Anything: it is only ever downloaded as an attachment.
    Any,
    /// Documents, images, archives and text, but no programs or scripts:
    /// work files that other people open.
    NoPrograms,
}

/// Bytes written to the store, with what the content says it is.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The uploader's name, cleaned; only ever shown, never used as a path.
    pub name: String,
    pub stored_name: String,
    pub content_type: String,
    pub size: i64,
    pub thumbnail_name: Option<String>,
}

/// Whether a browser may show a file of this type inline.
pub fn is_safe_image(content_type: &str) -> bool {
    SAFE_IMAGES.contains(&content_type)
}

pub fn clean_name(raw: Option<&str>) -> String {
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

/// The content type the bytes themselves announce.
pub fn content_type_of(bytes: &[u8]) -> String {
    infer::get(bytes)
        .map(|t| t.mime_type().to_string())
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// Executables, libraries, bytecode and shell scripts; certificates are
/// filed by `infer` with programs but are harmless data.
fn is_program(bytes: &[u8]) -> bool {
    match infer::get(bytes) {
        Some(t) => {
            (t.matcher_type() == infer::MatcherType::App
                && t.mime_type() != "application/x-x509-ca-cert")
                || t.mime_type() == "text/x-shellscript"
        }
        None => false,
    }
}

/// Checks the upload against the limit and `accept`, without writing.
pub fn check(store: &FileStore<'_>, accept: Accept, bytes: &[u8]) -> DomainResult<()> {
    if bytes.is_empty() {
        return Err(DomainError::invalid("file", "is empty"));
    }
    if bytes.len() > store.max_bytes {
        return Err(DomainError::invalid(
            "file",
            format!("is larger than {} MiB", store.max_bytes / (1024 * 1024)),
        ));
    }
    if accept == Accept::NoPrograms && is_program(bytes) {
        return Err(DomainError::invalid(
            "file",
            format!(
                "{} is a program or script, which cannot be attached",
                content_type_of(bytes)
            ),
        ));
    }
    Ok(())
}

/// Checks and writes the bytes under a random name, with a thumbnail for a
/// safe image. The caller records the file and calls `remove` if that fails.
pub async fn save(
    store: &FileStore<'_>,
    accept: Accept,
    name: Option<&str>,
    bytes: Vec<u8>,
) -> DomainResult<Saved> {
    check(store, accept, &bytes)?;
    let content_type = content_type_of(&bytes);
    let stored_name = tokens::new_id();
    let path = store.dir.join(&stored_name);
    tokio::fs::create_dir_all(store.dir)
        .await
        .map_err(|e| DomainError::Internal(format!("creating the upload folder: {e}")))?;
    tokio::fs::write(&path, &bytes)
        .await
        .map_err(|e| DomainError::Internal(format!("writing an upload: {e}")))?;
    let mut thumbnail_name = None;
    if is_safe_image(&content_type) {
        let thumb_name = format!("{stored_name}.thumb.png");
        let thumb_path = store.dir.join(&thumb_name);
        let made = match THUMBNAIL_DECODES.acquire().await {
            Ok(_slot) => tokio::task::spawn_blocking(move || write_thumbnail(&bytes, &thumb_path))
                .await
                .unwrap_or(false),
            Err(_) => false,
        };
        if made {
            thumbnail_name = Some(thumb_name);
        }
    }
    let size = tokio::fs::metadata(&path)
        .await
        .map(|m| m.len() as i64)
        .unwrap_or_default();
    Ok(Saved {
        name: clean_name(name),
        stored_name,
        content_type,
        size,
        thumbnail_name,
    })
}

/// Deletes the stored bytes and thumbnail; a file already gone is fine.
pub async fn remove(dir: &Path, stored_name: &str, thumbnail: Option<&str>) {
    let _ = tokio::fs::remove_file(dir.join(stored_name)).await;
    if let Some(t) = thumbnail {
        let _ = tokio::fs::remove_file(dir.join(t)).await;
    }
}

/// Where a stored file's bytes (or its thumbnail) are.
pub fn path_of(
    dir: &Path,
    stored_name: &str,
    thumbnail: Option<&str>,
    want_thumbnail: bool,
) -> DomainResult<PathBuf> {
    if want_thumbnail {
        let t = thumbnail.ok_or(DomainError::NotFound("thumbnail"))?;
        Ok(dir.join(t))
    } else {
        Ok(dir.join(stored_name))
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

    #[test]
    fn programs_are_refused_only_where_asked() {
        let dir = Path::new("/nonexistent");
        let store = FileStore {
            dir,
            max_bytes: 1024,
        };
        // An ELF header is recognised from 52 bytes on.
        let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
        elf.extend([0u8; 64]);
        let script = b"#!/bin/sh\nrm -rf /\n".to_vec();
        let pdf = b"%PDF-1.4\n%...".to_vec();
        assert!(check(&store, Accept::NoPrograms, &elf).is_err());
        assert!(check(&store, Accept::NoPrograms, &script).is_err());
        assert!(check(&store, Accept::NoPrograms, &pdf).is_ok());
        assert!(check(&store, Accept::Any, &elf).is_ok());
        assert!(check(&store, Accept::Any, &[0u8; 1025]).is_err());
        assert!(check(&store, Accept::Any, &[]).is_err());
    }

    #[tokio::test]
    async fn a_thumbnail_waits_for_a_free_decode_slot() {
        let dir = std::env::temp_dir().join(format!("ea-crm-thumbs-{}", tokens::new_id()));
        let mut png = Vec::new();
        image::RgbImage::new(4, 4)
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let held = THUMBNAIL_DECODES
            .acquire_many(THUMBNAIL_SLOTS as u32)
            .await
            .unwrap();
        let store = FileStore {
            dir: &dir,
            max_bytes: 1 << 20,
        };
        let saving = save(&store, Accept::Any, Some("a.png"), png);
        tokio::pin!(saving);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(200), &mut saving).await;
        assert!(waited.is_err(), "no slot free: the upload waits");
        drop(held);
        let saved = saving.await.unwrap();
        assert!(saved.thumbnail_name.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
