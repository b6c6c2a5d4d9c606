//! `/rooms/{id}/files` and `/files/{id}`: sharing files in a room.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Binary;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi};
use serde_json::{json, Value};

use super::chat::MessageView;
use super::ApiTags;
use crate::domain::chat::files::{self, ChatFile, FileStore};
use crate::domain::error::DomainError;
use crate::domain::uploads;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::idempotency::{self, Idempotent, KeyHeader};
use crate::http::AppState;

pub struct FilesApi;

/// The upload routes (a room's and a task's files), which get
/// `MAX_UPLOAD_MB` instead of the JSON limit.
pub fn is_upload_path(path: &str) -> bool {
    (path.starts_with("/api/v1/rooms/") || path.starts_with("/api/v1/tasks/"))
        && path.trim_end_matches('/').ends_with("/files")
}

/// An uploaded file read whole: its name as sent, and its bytes.
pub(super) struct Received {
    pub name: Option<String>,
    pub bytes: Vec<u8>,
}

impl Received {
    pub async fn read(file: Upload) -> Result<Received, DomainError> {
        let name = file.file_name().map(str::to_string);
        let bytes = file
            .into_vec()
            .await
            .map_err(|_| DomainError::invalid("file", "the upload was cut off or too large"))?;
        Ok(Received { name, bytes })
    }

    /// What tells a retried upload from another under the same
    /// `Idempotency-Key`: the target, the file's name and bytes, and
    /// `more` (a caption or comment). Null without a key, so no file is
    /// hashed for nothing.
    pub fn request(&self, key: &KeyHeader, target: Value, more: Value) -> Value {
        match &key.0 {
            Some(_) => json!({
                "target": target,
                "name": self.name,
                "more": more,
                "file": idempotency::file_digest(&self.bytes),
            }),
            None => Value::Null,
        }
    }
}

/// Where uploads are kept, owned, for a create that runs on a task of its
/// own (`idempotency::once`).
pub(super) struct UploadPlace {
    dir: PathBuf,
    max_bytes: usize,
}

impl UploadPlace {
    pub fn of(state: &AppState) -> UploadPlace {
        UploadPlace {
            dir: state.config.upload_dir.clone(),
            max_bytes: state.config.upload_limit_bytes(),
        }
    }

    pub fn store(&self) -> FileStore<'_> {
        FileStore {
            dir: &self.dir,
            max_bytes: self.max_bytes,
        }
    }
}

#[derive(Multipart)]
struct UploadForm {
    file: Upload,
    /// Text posted with the file.
    caption: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FileView {
    id: String,
    room: String,
    uploader: String,
    name: String,
    /// Decided from the content, not from the name.
    content_type: String,
    size: i64,
    has_thumbnail: bool,
    created_at: DateTime<Utc>,
}

impl From<ChatFile> for FileView {
    fn from(f: ChatFile) -> Self {
        FileView {
            has_thumbnail: f.thumbnail_name.is_some(),
            id: f.id,
            room: f.room,
            uploader: f.uploader,
            name: f.name,
            content_type: f.content_type,
            size: f.size,
            created_at: f.created_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct SharedFile {
    file: FileView,
    message: MessageView,
}

impl From<files::Shared> for SharedFile {
    fn from(s: files::Shared) -> Self {
        SharedFile {
            file: s.file.into(),
            message: s.message.into(),
        }
    }
}

#[derive(ApiResponse)]
pub(super) enum Download {
    /// The file's bytes; anything but a safe image comes as an attachment.
    #[oai(status = 200)]
    Ok(
        Binary<Vec<u8>>,
        #[oai(header = "content-type")] String,
        #[oai(header = "content-disposition")] String,
    ),
}

/// `attachment` (or `inline` for safe images) with an ASCII-only quoted
/// filename, so the header cannot be broken by the uploader's name.
fn disposition(name: &str, inline: bool) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"")
}

async fn read(path: &std::path::Path) -> ApiResult<Vec<u8>> {
    tokio::fs::read(path)
        .await
        .map_err(|_| DomainError::NotFound("file").into())
}

/// A stored file as a download: a safe image inline with its own type,
/// anything else as an `application/octet-stream` attachment.
pub(super) async fn send_file(
    path: &std::path::Path,
    name: &str,
    content_type: &str,
) -> ApiResult<Download> {
    let bytes = read(path).await?;
    let inline = uploads::is_safe_image(content_type);
    let content_type = if inline {
        content_type.to_string()
    } else {
        "application/octet-stream".to_string()
    };
    Ok(Download::Ok(
        Binary(bytes),
        content_type,
        disposition(name, inline),
    ))
}

/// A stored thumbnail (always a PNG), inline.
pub(super) async fn send_thumbnail(path: &std::path::Path, name: &str) -> ApiResult<Download> {
    let bytes = read(path).await?;
    Ok(Download::Ok(
        Binary(bytes),
        "image/png".into(),
        disposition(name, true),
    ))
}

#[OpenApi(tag = "ApiTags::Chat")]
impl FilesApi {
    /// Share a file in a room (multipart, field `file`, up to `MAX_UPLOAD_MB`).
    #[oai(path = "/rooms/:id/files", method = "post")]
    async fn upload(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key, file and caption gets the first answer again
        /// instead of sharing the file twice (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        form: UploadForm,
    ) -> ApiResult<Idempotent<SharedFile>> {
        let file = Received::read(form.file).await?;
        let request = file.request(&idempotency_key, json!(id.0), json!(form.caption));
        let (ctx, actor, place) = (
            Arc::clone(&state.ctx),
            auth.actor().clone(),
            UploadPlace::of(&state),
        );
        let upload = files::Upload {
            room: id.0,
            name: file.name,
            bytes: file.bytes,
            caption: form.caption,
        };
        let share = async move {
            Ok(files::share(&ctx, &actor, place.store(), upload)
                .await?
                .into())
        };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "rooms.files.share",
            idempotency_key.0.as_deref(),
            request,
            share,
        )
        .await
    }

    /// Download a file shared in a room you are in.
    #[oai(path = "/files/:id", method = "get")]
    async fn download(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Download> {
        let (file, path) = files::open(
            &state.ctx,
            auth.actor(),
            &state.config.upload_dir,
            &id.0,
            false,
        )
        .await?;
        send_file(&path, &file.name, &file.content_type).await
    }

    /// A PNG thumbnail of an image file.
    #[oai(path = "/files/:id/thumbnail", method = "get")]
    async fn thumbnail(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Download> {
        let (file, path) = files::open(
            &state.ctx,
            auth.actor(),
            &state.config.upload_dir,
            &id.0,
            true,
        )
        .await?;
        send_thumbnail(&path, &file.name).await
    }
}
