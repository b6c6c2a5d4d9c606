//! `/analytics/...`: dashboard series (`analytics.read`), each computed by
//! aggregate queries in the database. Ranges are `from` (inclusive) to `to`
//! (exclusive); the default is the last 30 days.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::domain::analytics::{self, contact, Dimension, Range};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct AnalyticsApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FunnelStageView {
    status: String,
    name: String,
    is_won: bool,
    is_lost: bool,
    /// Leads whose current status this is.
    current: u64,
    /// Leads at this stage or past it (0 for lost stages).
    reached: u64,
    /// reached / the previous stage's reached.
    conversion: Option<f64>,
}

impl From<analytics::FunnelStage> for FunnelStageView {
    fn from(s: analytics::FunnelStage) -> Self {
        FunnelStageView {
            status: s.status,
            name: s.name,
            is_won: s.is_won,
            is_lost: s.is_lost,
            current: s.current,
            reached: s.reached,
            conversion: s.conversion,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BreakdownView {
    /// The dimension's value; absent for leads without one.
    key: Option<String>,
    leads: u64,
    won: u64,
    lost: u64,
    /// won / (won + lost).
    win_rate: Option<f64>,
}

impl From<analytics::Breakdown> for BreakdownView {
    fn from(b: analytics::Breakdown) -> Self {
        BreakdownView {
            key: b.key,
            leads: b.leads,
            won: b.won,
            lost: b.lost,
            win_rate: b.win_rate,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ComplianceView {
    owner: Option<String>,
    due: u64,
    done: u64,
    done_on_time: u64,
    on_time_rate: Option<f64>,
}

impl From<analytics::Compliance> for ComplianceView {
    fn from(c: analytics::Compliance) -> Self {
        ComplianceView {
            owner: c.owner,
            due: c.due,
            done: c.done,
            done_on_time: c.done_on_time,
            on_time_rate: c.on_time_rate,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ThroughputView {
    assignee: Option<String>,
    task_type: String,
    done: u64,
    mean_cycle_hours: Option<f64>,
    with_due: u64,
    on_time: u64,
    on_time_rate: Option<f64>,
}

impl From<analytics::Throughput> for ThroughputView {
    fn from(t: analytics::Throughput) -> Self {
        ThroughputView {
            assignee: t.assignee,
            task_type: t.task_type,
            done: t.done,
            mean_cycle_hours: t.mean_cycle_hours,
            with_due: t.with_due,
            on_time: t.on_time,
            on_time_rate: t.on_time_rate,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DayCountView {
    /// YYYY-MM-DD (UTC).
    day: String,
    count: u64,
}

impl From<analytics::DayCount> for DayCountView {
    fn from(d: analytics::DayCount) -> Self {
        DayCountView {
            day: d.day,
            count: d.count,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TaskReportView {
    by_person_and_type: Vec<ThroughputView>,
    done_per_day: Vec<DayCountView>,
}

impl From<analytics::TaskReport> for TaskReportView {
    fn from(r: analytics::TaskReport) -> Self {
        TaskReportView {
            by_person_and_type: r.by_person_and_type.into_iter().map(Into::into).collect(),
            done_per_day: r.done_per_day.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct StatusCountView {
    status: String,
    count: u64,
}

impl From<analytics::StatusCount> for StatusCountView {
    fn from(s: analytics::StatusCount) -> Self {
        StatusCountView {
            status: s.status,
            count: s.count,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WorkloadView {
    /// Absent for unassigned work.
    assignee: Option<String>,
    open: u64,
    /// Open with a due date already past.
    overdue: u64,
    by_status: Vec<StatusCountView>,
}

impl From<analytics::Workload> for WorkloadView {
    fn from(w: analytics::Workload) -> Self {
        WorkloadView {
            assignee: w.assignee,
            open: w.open,
            overdue: w.overdue,
            by_status: w.by_status.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AuthorCountView {
    user: String,
    messages: u64,
}

impl From<analytics::AuthorCount> for AuthorCountView {
    fn from(a: analytics::AuthorCount) -> Self {
        AuthorCountView {
            user: a.user,
            messages: a.messages,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ChatReportView {
    messages_per_day: Vec<DayCountView>,
    by_author: Vec<AuthorCountView>,
}

impl From<analytics::ChatReport> for ChatReportView {
    fn from(r: analytics::ChatReport) -> Self {
        ChatReportView {
            messages_per_day: r.messages_per_day.into_iter().map(Into::into).collect(),
            by_author: r.by_author.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FirstContactView {
    /// The group's value (owner id, source, ...) or, in `per_day`, the
    /// creation day YYYY-MM-DD; absent for leads without one.
    key: Option<String>,
    /// Leads created in the range.
    leads: u64,
    /// Of them, reached so far (a call, or a follow-up done).
    contacted: u64,
    contacted_rate: Option<f64>,
    /// Hours from creation to the first contact, over contacted leads.
    median_hours: Option<f64>,
    mean_hours: Option<f64>,
    within_hour: u64,
    within_day: u64,
}

impl From<contact::FirstContactStats> for FirstContactView {
    fn from(s: contact::FirstContactStats) -> Self {
        FirstContactView {
            key: s.key,
            leads: s.leads,
            contacted: s.contacted,
            contacted_rate: s.contacted_rate,
            median_hours: s.median_hours,
            mean_hours: s.mean_hours,
            within_hour: s.within_hour,
            within_day: s.within_day,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FirstContactReportView {
    overall: FirstContactView,
    /// One row per value of `by`, largest first.
    groups: Vec<FirstContactView>,
    /// By creation day, oldest first.
    per_day: Vec<FirstContactView>,
}

impl From<contact::FirstContactReport> for FirstContactReportView {
    fn from(r: contact::FirstContactReport) -> Self {
        FirstContactReportView {
            overall: r.overall.into(),
            groups: r.groups.into_iter().map(Into::into).collect(),
            per_day: r.per_day.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ResponseView {
    /// The rep's user id or, in `per_day`, the day YYYY-MM-DD.
    key: String,
    calls: u64,
    /// Calls where someone picked up (connected, interested, not
    /// interested, callback).
    calls_answered: u64,
    /// Follow-ups done (done, no answer, replied).
    follow_ups: u64,
    follow_ups_replied: u64,
    /// (answered calls + replied follow-ups) / attempts.
    response_rate: Option<f64>,
}

impl From<contact::ResponseStats> for ResponseView {
    fn from(s: contact::ResponseStats) -> Self {
        ResponseView {
            key: s.key,
            calls: s.calls,
            calls_answered: s.calls_answered,
            follow_ups: s.follow_ups,
            follow_ups_replied: s.follow_ups_replied,
            response_rate: s.response_rate,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ResponseReportView {
    by_rep: Vec<ResponseView>,
    per_day: Vec<ResponseView>,
}

impl From<contact::ResponseReport> for ResponseReportView {
    fn from(r: contact::ResponseReport) -> Self {
        ResponseReportView {
            by_rep: r.by_rep.into_iter().map(Into::into).collect(),
            per_day: r.per_day.into_iter().map(Into::into).collect(),
        }
    }
}

fn range(
    state: &AppState,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> ApiResult<Range> {
    Ok(Range::new(state.ctx.now(), from, to)?)
}

#[OpenApi(tag = "ApiTags::Analytics")]
impl AnalyticsApi {
    /// The lead funnel: leads created in the range by stage, with the
    /// conversion from each stage to the next.
    ///
    /// Whole days of the range are summed from daily roll-ups the database
    /// keeps with every change to a lead; days run midnight to midnight
    /// UTC, and the partial days at the range's ends are counted from the
    /// leads themselves. Trashed leads are not counted.
    #[oai(path = "/analytics/funnel", method = "get")]
    async fn funnel(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<Vec<FunnelStageView>>> {
        let r = range(&state, from.0, to.0)?;
        let stages = analytics::funnel(&state.ctx, auth.actor(), r).await?;
        Ok(Json(stages.into_iter().map(Into::into).collect()))
    }

    /// Leads created in the range by source, owner, country or industry,
    /// with won and lost counts.
    ///
    /// Computed like the funnel: daily roll-ups (UTC days) for the whole
    /// days of the range, the leads themselves for the partial days at its
    /// ends; trashed leads are not counted.
    #[oai(path = "/analytics/leads", method = "get")]
    async fn leads(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// source, owner, country or industry.
        by: Query<String>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<Vec<BreakdownView>>> {
        let r = range(&state, from.0, to.0)?;
        let by = Dimension::parse(&by.0)?;
        let rows = analytics::leads_by(&state.ctx, auth.actor(), by, r).await?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// Follow-up compliance per rep: the share of due follow-ups done on
    /// time (within 24 hours of their scheduled time).
    #[oai(path = "/analytics/follow-ups", method = "get")]
    async fn follow_ups(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<Vec<ComplianceView>>> {
        let r = range(&state, from.0, to.0)?;
        let rows = analytics::follow_up_compliance(&state.ctx, auth.actor(), r).await?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// Task throughput, cycle time and on-time rate per person and type,
    /// and tasks done per day.
    #[oai(path = "/analytics/tasks", method = "get")]
    async fn tasks(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<TaskReportView>> {
        let r = range(&state, from.0, to.0)?;
        let report = analytics::tasks(&state.ctx, auth.actor(), r).await?;
        Ok(Json(report.into()))
    }

    /// Open tasks per assignee right now, by status, with how many are
    /// overdue; most loaded first.
    #[oai(path = "/analytics/workload", method = "get")]
    async fn workload(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<WorkloadView>>> {
        let rows = analytics::workload(&state.ctx, auth.actor()).await?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// Chat messages per day and per author.
    #[oai(path = "/analytics/chat", method = "get")]
    async fn chat(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<ChatReportView>> {
        let r = range(&state, from.0, to.0)?;
        let report = analytics::chat(&state.ctx, auth.actor(), r).await?;
        Ok(Json(report.into()))
    }

    /// Time to first contact for leads created in the range (first call or
    /// follow-up done), overall, by owner, source, country or industry, and
    /// by creation day: median and mean hours, and how many were reached
    /// within an hour and a day.
    #[oai(path = "/analytics/first-contact", method = "get")]
    async fn first_contact(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// owner (default), source, country or industry.
        by: Query<Option<String>>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<FirstContactReportView>> {
        let r = range(&state, from.0, to.0)?;
        let by = Dimension::parse(by.0.as_deref().unwrap_or("owner"))?;
        let report = contact::first_contact(&state.ctx, auth.actor(), by, r).await?;
        Ok(Json(report.into()))
    }

    /// Contact attempts made in the range per rep and per day, and how many
    /// got a response (an answered call or a replied follow-up).
    #[oai(path = "/analytics/responses", method = "get")]
    async fn responses(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<ResponseReportView>> {
        let r = range(&state, from.0, to.0)?;
        let report = contact::responses(&state.ctx, auth.actor(), r).await?;
        Ok(Json(report.into()))
    }
}
