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
use crate::domain::crm::followups::{self, DueScope};
use crate::domain::crm::query::FollowUpDue;
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

impl From<followups::DueFollowUp> for DueView {
    fn from(d: followups::DueFollowUp) -> Self {
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

#[OpenApi(tag = "ApiTags::FollowUps")]
impl WorkQueuesApi {
    /// Pending follow-ups due today, overdue, or this week (in your timezone).
    #[oai(path = "/follow-ups/due", method = "get")]
    async fn due(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// today (default), overdue or week.
        view: Query<Option<String>>,
        /// mine (default), team, or a user id.
        scope: Query<Option<String>>,
    ) -> ApiResult<Json<Vec<DueView>>> {
        let view = FollowUpDue::parse(view.0.as_deref().unwrap_or("today"))?;
        let who = match scope.0.as_deref().unwrap_or("mine") {
            "mine" => DueScope::Mine,
            "team" => DueScope::Team,
            "" => return Err(DomainError::invalid("scope", "use mine, team or a user id").into()),
            user => DueScope::User(user.to_string()),
        };
        let items = followups::due(&state.ctx, auth.actor(), view, who).await?;
        Ok(Json(items.into_iter().map(Into::into).collect()))
    }

    /// The caller's next leads: due and reachable now (business hours in
    /// the lead's timezone), by priority and score.
    #[oai(path = "/calls/queue", method = "get", tag = "ApiTags::Calls")]
    async fn queue(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Vec<QueueEntryView>>> {
        let entries =
            calls::queue(&state.ctx, auth.actor(), limit.0.unwrap_or(20) as usize).await?;
        Ok(Json(entries.into_iter().map(Into::into).collect()))
    }
}
