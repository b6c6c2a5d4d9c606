//! `/tasks/{id}/files`: files attached to a task or one of its comments.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{Multipart, Object, OpenApi};
use serde_json::json;

use super::common::Deleted;
use super::files::{send_file, send_thumbnail, Download, Received, UploadPlace};
use super::ApiTags;
use crate::domain::cursor::Page;
use crate::domain::tasks::files::{self, Attachment, TaskFile};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::idempotency::{self, Idempotent, KeyHeader};
use crate::http::AppState;

pub struct TaskFilesApi;

#[derive(Multipart)]
struct AttachForm {
    file: Upload,
    /// A comment of this task, written by you, to attach the file to.
    comment: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TaskFileView {
    id: String,
    task: String,
    comment: Option<String>,
    uploader: String,
    name: String,
    /// Decided from the content, not from the name.
    content_type: String,
    size: i64,
    has_thumbnail: bool,
    created_at: DateTime<Utc>,
}

impl From<TaskFile> for TaskFileView {
    fn from(f: TaskFile) -> Self {
        TaskFileView {
            has_thumbnail: f.thumbnail_name.is_some(),
            id: f.id,
            task: f.task,
            comment: f.comment,
            uploader: f.uploader,
            name: f.name,
            content_type: f.content_type,
            size: f.size,
            created_at: f.created_at,
        }
    }
}

/// A page of a task's files.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TaskFilePageView {
    /// Oldest first.
    items: Vec<TaskFileView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<Page<TaskFile>> for TaskFilePageView {
    fn from(p: Page<TaskFile>) -> Self {
        TaskFilePageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl TaskFilesApi {
    /// Attach a file to a task (multipart, field `file`, optional `comment`;
    /// up to `MAX_UPLOAD_MB`; programs and scripts are refused).
    #[oai(path = "/tasks/:id/files", method = "post")]
    async fn attach(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key, file and comment gets the first answer again
        /// instead of attaching the file twice (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        form: AttachForm,
    ) -> ApiResult<Idempotent<TaskFileView>> {
        let file = Received::read(form.file).await?;
        let request = file.request(&idempotency_key, json!(id.0), json!(form.comment));
        let (ctx, actor, place) = (
            Arc::clone(&state.ctx),
            auth.actor().clone(),
            UploadPlace::of(&state),
        );
        let attachment = Attachment {
            task: id.0,
            comment: form.comment,
            name: file.name,
            bytes: file.bytes,
        };
        let attach = async move {
            Ok(files::attach(&ctx, &actor, place.store(), attachment)
                .await?
                .into())
        };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "tasks.files.attach",
            idempotency_key.0.as_deref(),
            request,
            attach,
        )
        .await
    }

    /// The files of a task, oldest first, a page at a time.
    #[oai(path = "/tasks/:id/files", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<TaskFilePageView>> {
        let limit = limit.0.unwrap_or(50) as usize;
        Ok(Json(
            files::list(&state.ctx, auth.actor(), &id.0, after.0.as_deref(), limit)
                .await?
                .into(),
        ))
    }

    /// Download a task's file (`tasks.read`).
    #[oai(path = "/tasks/:id/files/:file_id", method = "get")]
    async fn download(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        file_id: Path<String>,
    ) -> ApiResult<Download> {
        let (file, path) = files::open(
            &state.ctx,
            auth.actor(),
            &state.config.upload_dir,
            &id.0,
            &file_id.0,
            false,
        )
        .await?;
        send_file(&path, &file.name, &file.content_type).await
    }

    /// A PNG thumbnail of an image attached to a task.
    #[oai(path = "/tasks/:id/files/:file_id/thumbnail", method = "get")]
    async fn thumbnail(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        file_id: Path<String>,
    ) -> ApiResult<Download> {
        let (file, path) = files::open(
            &state.ctx,
            auth.actor(),
            &state.config.upload_dir,
            &id.0,
            &file_id.0,
            true,
        )
        .await?;
        send_thumbnail(&path, &file.name).await
    }

    /// Remove a file: its uploader, or whoever may edit the task.
    #[oai(path = "/tasks/:id/files/:file_id", method = "delete")]
    async fn remove(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        file_id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        files::remove(
            &state.ctx,
            auth.actor(),
            &state.config.upload_dir,
            &id.0,
            &file_id.0,
        )
        .await?;
        Ok(Json(Deleted { deleted: true }))
    }
}
