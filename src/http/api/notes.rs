//! `/leads/{id}/notes`: a lead's free-standing notes. The rules (who reads,
//! who writes, who changes whose note) are in `domain::crm::notes`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::common::Deleted;
use super::ApiTags;
use crate::domain::crm::notes::{self, Note, NotePage};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::idempotency::{self, Idempotent, KeyHeader};
use crate::http::AppState;

pub struct NotesApi;

/// Who wrote a note.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NoteAuthorView {
    /// User id.
    id: String,
    /// Their display name when they wrote it.
    name: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NoteView {
    id: String,
    /// The lead's id.
    lead: String,
    author: NoteAuthorView,
    created_at: DateTime<Utc>,
    /// The last edit; absent when the note was never edited.
    edited_at: Option<DateTime<Utc>>,
    text: String,
}

impl From<Note> for NoteView {
    fn from(n: Note) -> Self {
        NoteView {
            id: n.id,
            lead: n.lead,
            author: NoteAuthorView {
                id: n.author,
                name: n.author_name,
            },
            created_at: n.created_at,
            edited_at: n.edited_at,
            text: n.text,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotePageView {
    /// Newest first.
    items: Vec<NoteView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<NotePage> for NotePageView {
    fn from(p: NotePage) -> Self {
        NotePageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// A note's text.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NoteInput {
    /// 1 to 10,000 characters (surrounding blanks are dropped).
    text: String,
}

#[OpenApi(prefix_path = "/leads", tag = "ApiTags::Leads")]
impl NotesApi {
    /// The lead's notes, newest first, a page at a time (whoever can see the lead).
    #[oai(path = "/:id/notes", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<NotePageView>> {
        let limit = limit.0.unwrap_or(50) as usize;
        Ok(Json(
            notes::list(&state.ctx, auth.actor(), &id.0, after.0.as_deref(), limit)
                .await?
                .into(),
        ))
    }

    /// Add a note to a lead (`leads.write` or `calls.log`).
    #[oai(path = "/:id/notes", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again instead of a
        /// second note (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<NoteInput>,
    ) -> ApiResult<Idempotent<NoteView>> {
        let request = serde_json::json!({"lead": id.0, "text": body.0.text});
        let (ctx, actor) = (Arc::clone(&state.ctx), auth.actor().clone());
        let (lead, text) = (id.0, body.0.text);
        let create = async move { Ok(notes::create(&ctx, &actor, &lead, &text).await?.into()) };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "leads.notes.create",
            idempotency_key.0.as_deref(),
            request,
            create,
        )
        .await
    }

    /// Change a note's text: its author, or someone with `leads.delete`.
    #[oai(path = "/:id/notes/:note_id", method = "patch")]
    async fn edit(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        note_id: Path<String>,
        body: Json<NoteInput>,
    ) -> ApiResult<Json<NoteView>> {
        Ok(Json(
            notes::edit(&state.ctx, auth.actor(), &id.0, &note_id.0, &body.0.text)
                .await?
                .into(),
        ))
    }

    /// Delete a note (its text stays in the audit log): its author, or
    /// someone with `leads.delete`.
    #[oai(path = "/:id/notes/:note_id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        note_id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        notes::delete(&state.ctx, auth.actor(), &id.0, &note_id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }
}
