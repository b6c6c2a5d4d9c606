//! `/follow-ups/due` and `/calls/queue`: what a rep should do next.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::leads::{ContactView, LeadView};
use super::ApiTags;
use crate::domain::crm::calls;
use crate::domain::crm::followups::{self, DueFollowUp, DueQuery, DueScope};
use crate::domain::crm::query::FollowUpDue;
use crate::domain::cursor::Page;
use crate::domain::error::DomainError;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct WorkQueuesApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DueView {
    lead_id: String,
    company_name: String,
    owner: Option<String>,
    tier: u8,
    scheduled_at: DateTime<Utc>,
    notes: String,
}

impl From<DueFollowUp> for DueView {
    fn from(d: DueFollowUp) -> Self {
        DueView {
            lead_id: d.lead_id,
            company_name: d.company_name,
            owner: d.owner,
            tier: d.tier,
            scheduled_at: d.scheduled_at,
            notes: d.notes,
        }
    }
}

/// A page of due follow-ups.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DuePageView {
    /// Soonest first.
    items: Vec<DueView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<Page<DueFollowUp>> for DuePageView {
    fn from(p: Page<DueFollowUp>) -> Self {
        DuePageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct QueueEntryView {
    lead: LeadView,
    /// follow_up_due or never_contacted.
    reason: String,
    /// The lead's local weekday and time now.
    local_time: String,
    /// The lead's contacts, oldest first: the numbers to call.
    contacts: Vec<ContactView>,
}

impl From<calls::QueueEntry> for QueueEntryView {
    fn from(e: calls::QueueEntry) -> Self {
        QueueEntryView {
            lead: e.lead.into(),
            reason: e.reason,
            local_time: e.local_time,
            contacts: e.contacts.into_iter().map(Into::into).collect(),
        }
    }
}

/// A page of the call queue.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct QueuePageView {
    /// In calling order.
    items: Vec<QueueEntryView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<Page<calls::QueueEntry>> for QueuePageView {
    fn from(p: Page<calls::QueueEntry>) -> Self {
        QueuePageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[OpenApi(tag = "ApiTags::FollowUps")]
impl WorkQueuesApi {
    /// Pending follow-ups due today, overdue, or this week (in your
    /// timezone), soonest first, a page at a time.
    #[oai(path = "/follow-ups/due", method = "get")]
    async fn due(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// today (default), overdue or week.
        view: Query<Option<String>>,
        /// mine (default), team, or a user id.
        scope: Query<Option<String>>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<DuePageView>> {
        let view = FollowUpDue::parse(view.0.as_deref().unwrap_or("today"))?;
        let who = match scope.0.as_deref().unwrap_or("mine") {
            "mine" => DueScope::Mine,
            "team" => DueScope::Team,
            "" => return Err(DomainError::invalid("scope", "use mine, team or a user id").into()),
            user => DueScope::User(user.to_string()),
        };
        let query = DueQuery {
            view,
            who,
            after: after.0,
            limit: limit.0.unwrap_or(50) as usize,
        };
        Ok(Json(
            followups::due(&state.ctx, auth.actor(), query)
                .await?
                .into(),
        ))
    }

    /// The caller's next leads, reachable now (business hours in the
    /// lead's timezone): due follow-ups first, then never-contacted leads,
    /// each by score; a page at a time.
    #[oai(path = "/calls/queue", method = "get", tag = "ApiTags::Calls")]
    async fn queue(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50. A page may hold fewer while more follow
        /// (leads outside business hours are passed over); go on while
        /// `next_cursor` is given.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<QueuePageView>> {
        let limit = limit.0.unwrap_or(50) as usize;
        Ok(Json(
            calls::queue(&state.ctx, auth.actor(), after.0.as_deref(), limit)
                .await?
                .into(),
        ))
    }
}
