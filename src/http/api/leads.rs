//! `/leads`: leads, their contacts, follow-ups and calls.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{MaybeUndefined, ToJSON};
use poem_openapi::{Object, OpenApi};

use super::common::Deleted;
use super::ApiTags;
use crate::domain::crm::bulk::{self, BulkAction, BulkOutcome};
use crate::domain::crm::calls::{self, Call, NewCall};
use crate::domain::crm::contacts::{self, Contact, ContactPatch, NewContact};
use crate::domain::crm::duplicates::{self, DuplicateCandidate, DuplicateProbe};
use crate::domain::crm::erasure;
use crate::domain::crm::followups::{self, FollowUp, FollowUpInput, FollowUps, HistoryEntry};
use crate::domain::crm::leads::{self, Lead, LeadDetail, LeadPatch, NewLead};
use crate::domain::crm::query::{self, FollowUpDue, LeadFilter, PageRequest, SortKey};
use crate::domain::crm::trash::{self, Emptied};
use crate::domain::cursor::Page;
use crate::domain::error::DomainError;
use crate::http::auth::Auth;
use crate::http::conditional::{expected_versions, Tagged, TaggedChange};
use crate::http::error::{code_and_message, ApiResult};
use crate::http::idempotency::{self, Idempotent, KeyHeader};
use crate::http::query_params::query_params;
use crate::http::AppState;

pub struct LeadsApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LeadView {
    pub id: String,
    pub company_name: String,
    pub website: Option<String>,
    /// The website's bare domain, used to find duplicates.
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub status: String,
    pub country: Option<String>,
    pub state: Option<String>,
    pub timezone: Option<String>,
    /// User id of the owner.
    pub owner: Option<String>,
    pub created_by: String,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub score: i64,
    pub last_contacted_at: Option<DateTime<Utc>>,
    pub next_follow_up_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Lead> for LeadView {
    fn from(l: Lead) -> Self {
        LeadView {
            id: l.id,
            company_name: l.company_name,
            website: l.website,
            domain: l.domain,
            industry: l.industry,
            status: l.status,
            country: l.country,
            state: l.state,
            timezone: l.timezone,
            owner: l.owner,
            created_by: l.created_by,
            source: l.source,
            tags: l.tags,
            score: l.score,
            last_contacted_at: l.last_contacted_at,
            next_follow_up_at: l.next_follow_up_at,
            created_at: l.created_at,
            updated_at: l.updated_at,
            deleted_at: l.deleted_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ContactView {
    pub id: String,
    pub lead: String,
    pub name: String,
    pub position: Option<String>,
    /// E.164, e.g. +4930901820.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        ContactView {
            id: c.id,
            lead: c.lead,
            name: c.name,
            position: c.position,
            phone: c.phone,
            email: c.email,
            linkedin: c.linkedin,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LeadDetailView {
    pub lead: LeadView,
    pub contacts: Vec<ContactView>,
}

impl From<LeadDetail> for LeadDetailView {
    fn from(d: LeadDetail) -> Self {
        LeadDetailView {
            lead: d.lead.into(),
            contacts: d.contacts.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ContactInput {
    name: String,
    position: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    linkedin: Option<String>,
}

impl From<ContactInput> for NewContact {
    fn from(c: ContactInput) -> Self {
        NewContact {
            name: c.name,
            position: c.position,
            phone: c.phone,
            email: c.email,
            linkedin: c.linkedin,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateLead {
    company_name: String,
    website: Option<String>,
    industry: Option<String>,
    /// A pipeline status key; default `new`.
    status: Option<String>,
    /// ISO 3166-1 code (alpha-2 or alpha-3) or the country's English name or
    /// a common alias ("Germany", "USA", "UK"); stored as the alpha-2 code.
    country: Option<String>,
    /// ISO 3166-2 code (`US-CA`), its part after the dash (`CA`) or the
    /// subdivision's name within the country ("California", "Bavaria");
    /// stored as the full code.
    state: Option<String>,
    /// IANA zone; inferred from the country when it has one.
    timezone: Option<String>,
    /// User id or username; default: the assignment rule.
    owner: Option<String>,
    source: Option<String>,
    #[oai(default)]
    tags: Vec<String>,
    #[oai(default)]
    contacts: Vec<ContactInput>,
    /// Create the lead even when it looks like leads already stored
    /// (otherwise `409 duplicate` names them).
    #[oai(default)]
    allow_duplicate: bool,
}

impl From<CreateLead> for NewLead {
    fn from(b: CreateLead) -> Self {
        NewLead {
            company_name: b.company_name,
            website: b.website,
            industry: b.industry,
            status: b.status,
            country: b.country,
            state: b.state,
            timezone: b.timezone,
            owner: b.owner,
            source: b.source,
            tags: b.tags,
            contacts: b.contacts.into_iter().map(Into::into).collect(),
            allow_duplicate: b.allow_duplicate,
        }
    }
}

/// A stored lead a new one may duplicate.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DuplicateCandidateView {
    pub id: String,
    pub company_name: String,
    pub website: Option<String>,
    /// The website's bare domain.
    pub domain: Option<String>,
    pub status: String,
    /// User id of the owner.
    pub owner: Option<String>,
    /// 0–1: the chance it is the same company.
    pub confidence: f64,
    /// What the two share, in words.
    pub signals: Vec<String>,
}

impl From<DuplicateCandidate> for DuplicateCandidateView {
    fn from(c: DuplicateCandidate) -> Self {
        DuplicateCandidateView {
            id: c.id,
            company_name: c.company_name,
            website: c.website,
            domain: c.domain,
            status: c.status,
            owner: c.owner,
            confidence: c.confidence,
            signals: c.signals,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DuplicateCandidatesView {
    items: Vec<DuplicateCandidateView>,
}

/// Absent fields stay; `null` clears.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UpdateLead {
    company_name: Option<String>,
    website: MaybeUndefined<String>,
    industry: MaybeUndefined<String>,
    status: Option<String>,
    country: MaybeUndefined<String>,
    state: MaybeUndefined<String>,
    timezone: MaybeUndefined<String>,
    owner: MaybeUndefined<String>,
    source: MaybeUndefined<String>,
    tags: Option<Vec<String>>,
}

impl From<UpdateLead> for LeadPatch {
    fn from(b: UpdateLead) -> Self {
        LeadPatch {
            company_name: b.company_name,
            website: b.website.into(),
            industry: b.industry.into(),
            status: b.status,
            country: b.country.into(),
            state: b.state.into(),
            timezone: b.timezone.into(),
            owner: b.owner.into(),
            source: b.source.into(),
            tags: b.tags,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LeadPageView {
    items: Vec<LeadView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<query::LeadPage> for LeadPageView {
    fn from(p: query::LeadPage) -> Self {
        LeadPageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CountView {
    count: u64,
}

/// What emptying the trash did.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct EmptiedView {
    /// Leads deleted for good.
    purged: u64,
    /// Trashed leads are left (one call purges at most 1000): call again.
    more: bool,
}

impl From<Emptied> for EmptiedView {
    fn from(e: Emptied) -> Self {
        EmptiedView {
            purged: e.purged as u64,
            more: e.more,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AssignLead {
    /// User id or username.
    owner: String,
}

/// One action on many leads.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BulkLeadsInput {
    /// The leads, 1 to 500.
    #[oai(validator(min_items = 1, max_items = 500))]
    ids: Vec<String>,
    /// assign, status, delete or restore.
    action: String,
    /// For `assign`: user id or username.
    owner: Option<String>,
    /// For `status`: a pipeline status key.
    status: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BulkErrorView {
    code: crate::http::error::ErrorCode,
    message: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BulkFailureView {
    id: String,
    error: BulkErrorView,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BulkResultView {
    /// Leads changed (each with its audit row).
    updated: Vec<String>,
    /// Leads already as asked; nothing was written.
    unchanged: Vec<String>,
    /// Leads refused or not found, each with the reason.
    failed: Vec<BulkFailureView>,
}

impl From<BulkOutcome> for BulkResultView {
    fn from(o: BulkOutcome) -> Self {
        BulkResultView {
            updated: o.updated,
            unchanged: o.unchanged,
            failed: o
                .failed
                .into_iter()
                .map(|f| {
                    let (code, message) = code_and_message(&f.error);
                    BulkFailureView {
                        id: f.id,
                        error: BulkErrorView { code, message },
                    }
                })
                .collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UpdateContact {
    name: Option<String>,
    position: MaybeUndefined<String>,
    phone: MaybeUndefined<String>,
    email: MaybeUndefined<String>,
    linkedin: MaybeUndefined<String>,
}

impl From<UpdateContact> for ContactPatch {
    fn from(b: UpdateContact) -> Self {
        ContactPatch {
            name: b.name,
            position: b.position.into(),
            phone: b.phone.into(),
            email: b.email.into(),
            linkedin: b.linkedin.into(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FollowUpView {
    tier: u8,
    scheduled_at: Option<DateTime<Utc>>,
    done_at: Option<DateTime<Utc>>,
    /// pending, done, no_answer, replied or skipped.
    outcome: String,
    notes: String,
    logged_by: Option<String>,
    updated_at: Option<DateTime<Utc>>,
}

impl From<FollowUp> for FollowUpView {
    fn from(f: FollowUp) -> Self {
        FollowUpView {
            tier: f.tier,
            scheduled_at: f.scheduled_at,
            done_at: f.done_at,
            outcome: f.outcome.as_str().into(),
            notes: f.notes,
            logged_by: f.logged_by,
            updated_at: f.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct HistoryView {
    tier: u8,
    outcome: String,
    scheduled_at: Option<DateTime<Utc>>,
    done_at: Option<DateTime<Utc>>,
    notes: String,
    by: String,
    by_name: String,
    at: DateTime<Utc>,
}

impl From<HistoryEntry> for HistoryView {
    fn from(h: HistoryEntry) -> Self {
        HistoryView {
            tier: h.tier,
            outcome: h.outcome.as_str().into(),
            scheduled_at: h.scheduled_at,
            done_at: h.done_at,
            notes: h.notes,
            by: h.by,
            by_name: h.by_name,
            at: h.at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FollowUpsView {
    /// Tiers 1, 2 and 3.
    tiers: Vec<FollowUpView>,
    /// Every change, newest first.
    history: Vec<HistoryView>,
}

impl From<FollowUps> for FollowUpsView {
    fn from(f: FollowUps) -> Self {
        FollowUpsView {
            tiers: f.tiers.into_iter().map(Into::into).collect(),
            history: f.history.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LogFollowUp {
    /// pending, done, no_answer, replied or skipped.
    outcome: Option<String>,
    /// When it is planned; `null` clears.
    scheduled_at: MaybeUndefined<DateTime<Utc>>,
    /// When it happened; default now for any outcome but pending.
    done_at: Option<DateTime<Utc>>,
    notes: Option<String>,
}

impl From<LogFollowUp> for FollowUpInput {
    fn from(b: LogFollowUp) -> Self {
        FollowUpInput {
            outcome: b.outcome,
            scheduled_at: b.scheduled_at.into(),
            done_at: b.done_at,
            notes: b.notes,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CallView {
    pub id: String,
    pub lead: String,
    pub user: String,
    pub user_name: String,
    pub outcome: String,
    pub duration_seconds: i64,
    pub notes: String,
    pub at: DateTime<Utc>,
}

impl From<Call> for CallView {
    fn from(c: Call) -> Self {
        CallView {
            id: c.id,
            lead: c.lead,
            user: c.user,
            user_name: c.user_name,
            outcome: c.outcome,
            duration_seconds: c.duration_seconds,
            notes: c.notes,
            at: c.at,
        }
    }
}

/// A page of a lead's calls.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CallPageView {
    /// Newest first.
    items: Vec<CallView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<Page<Call>> for CallPageView {
    fn from(p: Page<Call>) -> Self {
        CallPageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LogCall {
    /// connected, no_answer, voicemail, busy, wrong_number, interested, not_interested or callback.
    outcome: String,
    duration_seconds: Option<i64>,
    notes: Option<String>,
    at: Option<DateTime<Utc>>,
}

impl From<LogCall> for NewCall {
    fn from(b: LogCall) -> Self {
        NewCall {
            outcome: b.outcome,
            duration_seconds: b.duration_seconds,
            notes: b.notes,
            at: b.at,
        }
    }
}

query_params! {
    /// The lead filters, the same on the list, the count and the export.
    pub struct LeadFilterQuery {
        /// A pipeline status key.
        status: Option<String>,
        /// The owner's user id.
        owner: Option<String>,
        /// A country code or name, as on a lead.
        country: Option<String>,
        /// A full ISO 3166-2 code; with `country` also its part after the dash or a name.
        state: Option<String>,
        /// An industry, exactly as on a lead.
        industry: Option<String>,
        /// Leads carrying this tag.
        tag: Option<String>,
        /// Created at or after this instant.
        created_from: Option<DateTime<Utc>>,
        /// Created before this instant.
        created_to: Option<DateTime<Utc>>,
        /// today, overdue or week (in your timezone).
        follow_up_due: Option<String>,
        /// Full-text search over company, website, contact names and emails:
        /// each word finds words that start with it. A list page with `q` may
        /// hold fewer than `limit` leads while `next_cursor` says more may
        /// follow (see the README's Search).
        q: Option<String>,
        /// The trash (deleted leads) instead.
        deleted: Option<bool>,
        /// Only leads whose AI score is at least this (0–100).
        score_min: Option<i64>,
    }
}

impl TryFrom<LeadFilterQuery> for LeadFilter {
    type Error = DomainError;

    fn try_from(f: LeadFilterQuery) -> Result<Self, DomainError> {
        Ok(LeadFilter {
            status: f.status,
            owner: f.owner,
            country: f.country,
            state: f.state,
            industry: f.industry,
            tag: f.tag,
            created_from: f.created_from,
            created_to: f.created_to,
            follow_up_due: f
                .follow_up_due
                .as_deref()
                .map(FollowUpDue::parse)
                .transpose()?,
            q: f.q,
            deleted: f.deleted.unwrap_or(false),
            score_min: f.score_min,
        })
    }
}

#[OpenApi(prefix_path = "/leads", tag = "ApiTags::Leads")]
impl LeadsApi {
    /// Leads the caller may see, filtered, searched, sorted, a page at a time.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        filter: LeadFilterQuery,
        /// created (default), updated, company or score.
        sort: Query<Option<String>>,
        /// asc or desc (default desc).
        order: Query<Option<String>>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 500, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<LeadPageView>> {
        let filter = LeadFilter::try_from(filter)?;
        let page = PageRequest {
            sort: sort
                .0
                .as_deref()
                .map(SortKey::parse)
                .transpose()?
                .unwrap_or_default(),
            descending: !matches!(order.0.as_deref(), Some("asc")),
            after: after.0,
            limit: limit.0.unwrap_or(50) as usize,
        };
        let result = query::list(&state.ctx, auth.actor(), &filter, &page).await?;
        Ok(Json(result.into()))
    }

    /// The leads a lead about to be created may duplicate, as the create
    /// would name them: for a form to show while someone types. Values not
    /// (yet) valid are left out, never refused.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/duplicates", method = "get")]
    async fn duplicates(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        company_name: Query<Option<String>>,
        website: Query<Option<String>>,
        /// A contact's email.
        email: Query<Option<String>>,
        /// A contact's phone; read in `country`'s numbering when it has no `+`.
        phone: Query<Option<String>>,
        country: Query<Option<String>>,
    ) -> ApiResult<Json<DuplicateCandidatesView>> {
        let probe = DuplicateProbe::typed(
            company_name.0.as_deref(),
            website.0.as_deref(),
            email.0.as_deref(),
            phone.0.as_deref(),
            country.0.as_deref(),
        );
        let found = duplicates::check(&state.ctx, auth.actor(), &probe).await?;
        Ok(Json(DuplicateCandidatesView {
            items: found.into_iter().map(Into::into).collect(),
        }))
    }

    /// How many leads match the filter, within what the caller may see.
    #[oai(path = "/count", method = "get")]
    async fn count(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        filter: LeadFilterQuery,
    ) -> ApiResult<Json<CountView>> {
        let filter = LeadFilter::try_from(filter)?;
        Ok(Json(CountView {
            count: query::count(&state.ctx, auth.actor(), &filter).await?,
        }))
    }

    /// Create a lead, with contacts if given.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again instead of a
        /// second lead (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<CreateLead>,
    ) -> ApiResult<Idempotent<LeadDetailView>> {
        let request = serde_json::json!({"body": body.0.to_json()});
        let (ctx, actor) = (Arc::clone(&state.ctx), auth.actor().clone());
        let input = NewLead::from(body.0);
        let create = async move { Ok(leads::create(&ctx, &actor, input).await?.into()) };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "leads.create",
            idempotency_key.0.as_deref(),
            request,
            create,
        )
        .await
    }

    /// One lead with its contacts; `ETag` is the lead's version.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Tagged<LeadDetailView>> {
        let detail = leads::get(&state.ctx, auth.actor(), &id.0).await?;
        let version = detail.lead.version();
        Ok(Tagged::new(detail.into(), version))
    }

    /// Change a lead; changing the owner needs `leads.assign`. With
    /// `If-Match`, only if the lead is still at that version (its `ETag`).
    #[oai(path = "/:id", method = "patch")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// The lead's `ETag` as last read: the change is refused with 412
        /// if the lead has changed since.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<UpdateLead>,
    ) -> ApiResult<TaggedChange<LeadView>> {
        let patch = LeadPatch::from(body.0);
        let expected = expected_versions(if_match.0.as_deref());
        let lead =
            leads::update_if(&state.ctx, auth.actor(), &id.0, patch, expected.as_deref()).await?;
        let version = lead.version();
        Ok(TaggedChange(Tagged::new(lead.into(), version)))
    }

    /// Move a lead to the trash (restorable).
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        leads::delete(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }

    /// Delete a lead in the trash for good (`leads.purge`), with its
    /// contacts, follow-ups, calls, notes and audit rows; tasks that named
    /// it stay, unlinked. One `purge` audit row remains, with the lead's id
    /// and counts only. A lead not in the trash is a `409`.
    #[oai(path = "/:id/purge", method = "delete")]
    async fn purge(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        trash::purge(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }

    /// Empty the trash (`leads.purge`): every trashed lead you may see is
    /// deleted for good, as by `DELETE /leads/{id}/purge`.
    #[oai(path = "/trash", method = "delete")]
    async fn empty_trash(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<EmptiedView>> {
        Ok(Json(trash::empty(&state.ctx, auth.actor()).await?.into()))
    }

    /// Bring a lead back from the trash with everything it had.
    #[oai(path = "/:id/restore", method = "post")]
    async fn restore(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<LeadView>> {
        Ok(Json(
            leads::restore(&state.ctx, auth.actor(), &id.0)
                .await?
                .into(),
        ))
    }

    /// Give a lead to another user.
    #[oai(path = "/:id/assign", method = "post")]
    async fn assign(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<AssignLead>,
    ) -> ApiResult<Json<LeadView>> {
        Ok(Json(
            leads::assign(&state.ctx, auth.actor(), &id.0, &body.owner)
                .await?
                .into(),
        ))
    }

    /// One action on up to 500 leads: `assign` (`leads.assign`), `status`
    /// (`leads.write`), `delete` or `restore` (`leads.delete`). Each lead is
    /// checked against your permission and scope and answered on its own.
    #[oai(path = "/bulk", method = "post")]
    async fn bulk(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<BulkLeadsInput>,
    ) -> ApiResult<Json<BulkResultView>> {
        let b = body.0;
        let action = BulkAction::parse(b.action.trim(), b.owner, b.status)?;
        let outcome = bulk::apply(&state.ctx, auth.actor(), b.ids, action).await?;
        Ok(Json(outcome.into()))
    }

    /// The lead's contacts.
    #[oai(path = "/:id/contacts", method = "get")]
    async fn contacts(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<ContactView>>> {
        Ok(Json(
            contacts::list(&state.ctx, auth.actor(), &id.0)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Add a contact.
    #[oai(path = "/:id/contacts", method = "post")]
    async fn add_contact(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again instead of a
        /// second contact (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<ContactInput>,
    ) -> ApiResult<Idempotent<ContactView>> {
        let request = serde_json::json!({"lead": id.0, "body": body.0.to_json()});
        let (ctx, actor, lead) = (Arc::clone(&state.ctx), auth.actor().clone(), id.0);
        let input = NewContact::from(body.0);
        let add = async move { Ok(contacts::add(&ctx, &actor, &lead, input).await?.into()) };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "leads.contacts.add",
            idempotency_key.0.as_deref(),
            request,
            add,
        )
        .await
    }

    /// Change a contact; `null` clears a field.
    #[oai(path = "/:id/contacts/:contact_id", method = "patch")]
    async fn update_contact(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        contact_id: Path<String>,
        body: Json<UpdateContact>,
    ) -> ApiResult<Json<ContactView>> {
        let patch = ContactPatch::from(body.0);
        Ok(Json(
            contacts::update(&state.ctx, auth.actor(), &id.0, &contact_id.0, patch)
                .await?
                .into(),
        ))
    }

    /// Remove a contact (its values stay in the audit log).
    #[oai(path = "/:id/contacts/:contact_id", method = "delete")]
    async fn delete_contact(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        contact_id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        contacts::delete(&state.ctx, auth.actor(), &id.0, &contact_id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }

    /// Erase a contact's personal data on request (GDPR art. 17,
    /// `contacts.erase`): the name becomes a pseudonym, position, phone,
    /// email and LinkedIn are cleared, and the values are rewritten in the
    /// lead's audit rows, notes, follow-ups, calls, linked tasks, search
    /// text, webhook payloads and stored answers. The erasure is audited
    /// with the field names only. Works on a lead in the trash too.
    #[oai(path = "/:id/contacts/:contact_id/erase", method = "post")]
    async fn erase_contact(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        contact_id: Path<String>,
    ) -> ApiResult<Json<ContactView>> {
        Ok(Json(
            erasure::erase(&state.ctx, auth.actor(), &id.0, &contact_id.0)
                .await?
                .into(),
        ))
    }

    /// The three follow-up tiers and their history.
    #[oai(path = "/:id/follow-ups", method = "get")]
    async fn follow_ups(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<FollowUpsView>> {
        Ok(Json(
            followups::get(&state.ctx, auth.actor(), &id.0)
                .await?
                .into(),
        ))
    }

    /// Log or schedule follow-up 1, 2 or 3. Each call adds to the history.
    #[oai(path = "/:id/follow-ups/:tier", method = "put")]
    async fn log_follow_up(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        tier: Path<u8>,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again instead of a
        /// second history entry (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<LogFollowUp>,
    ) -> ApiResult<Idempotent<FollowUpsView>> {
        let request = serde_json::json!({"lead": id.0, "tier": tier.0, "body": body.0.to_json()});
        let (ctx, actor) = (Arc::clone(&state.ctx), auth.actor().clone());
        let input = FollowUpInput::from(body.0);
        let (lead, tier) = (id.0, tier.0);
        let log = async move {
            Ok(followups::log(&ctx, &actor, &lead, tier, input)
                .await?
                .into())
        };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "leads.follow_ups.log",
            idempotency_key.0.as_deref(),
            request,
            log,
        )
        .await
    }

    /// The lead's calls, newest first, a page at a time.
    #[oai(path = "/:id/calls", method = "get")]
    async fn calls(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<CallPageView>> {
        let limit = limit.0.unwrap_or(50) as usize;
        Ok(Json(
            calls::list(&state.ctx, auth.actor(), &id.0, after.0.as_deref(), limit)
                .await?
                .into(),
        ))
    }

    /// Log a call (`calls.log`).
    #[oai(path = "/:id/calls", method = "post")]
    async fn log_call(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again instead of a
        /// second call (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<LogCall>,
    ) -> ApiResult<Idempotent<CallView>> {
        let request = serde_json::json!({"lead": id.0, "body": body.0.to_json()});
        let (ctx, actor) = (Arc::clone(&state.ctx), auth.actor().clone());
        let input = NewCall::from(body.0);
        let lead = id.0;
        let log = async move { Ok(calls::log(&ctx, &actor, &lead, input).await?.into()) };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "leads.calls.log",
            idempotency_key.0.as_deref(),
            request,
            log,
        )
        .await
    }
}
