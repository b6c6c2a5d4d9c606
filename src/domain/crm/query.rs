//! Listing, searching and counting leads: filters, full-text search, sort
//! orders and cursor pages. Every query carries the actor's scope, so a
//! `leads.read.own` user's lists, searches, exports and counts hold only
//! their own leads.

use crate::domain::cursor;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::leads::{Lead, Scope, SELECT_LEAD};
use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Creation time (the id is a UUIDv7, so this is the primary key order).
    #[default]
    Created,
    Updated,
    Company,
    Score,
}

impl SortKey {
    pub fn parse(raw: &str) -> DomainResult<SortKey> {
        match raw {
            "created" | "created_at" => Ok(SortKey::Created),
            "updated" | "updated_at" => Ok(SortKey::Updated),
            "company" | "company_name" => Ok(SortKey::Company),
            "score" => Ok(SortKey::Score),
            other => Err(DomainError::invalid(
                "sort",
                format!("`{other}`: use created, updated, company or score"),
            )),
        }
    }

    fn field(self) -> &'static str {
        match self {
            SortKey::Created => "sort_created",
            SortKey::Updated => "sort_updated",
            SortKey::Company => "sort_company",
            SortKey::Score => "sort_score",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpDue {
    Today,
    Overdue,
    Week,
}

impl FollowUpDue {
    pub fn parse(raw: &str) -> DomainResult<FollowUpDue> {
        match raw {
            "today" => Ok(FollowUpDue::Today),
            "overdue" => Ok(FollowUpDue::Overdue),
            "week" | "this_week" => Ok(FollowUpDue::Week),
            other => Err(DomainError::invalid(
                "follow_up_due",
                format!("`{other}`: use today, overdue or week"),
            )),
        }
    }

    /// The window in the given timezone, as [from, to).
    pub fn window(
        self,
        now: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> (Option<DateTime<Utc>>, DateTime<Utc>) {
        let start_of_day = start_of_local_day(now, tz);
        match self {
            FollowUpDue::Today => (Some(start_of_day), start_of_day + Duration::days(1)),
            FollowUpDue::Overdue => (None, now),
            FollowUpDue::Week => (Some(start_of_day), start_of_day + Duration::days(7)),
        }
    }
}

/// Midnight of `now`'s local date in `tz`, as UTC.
pub fn start_of_local_day(now: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local = now.with_timezone(&tz).date_naive();
    let midnight = local.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<String>,
    pub owner: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub industry: Option<String>,
    pub tag: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub follow_up_due: Option<FollowUpDue>,
    /// Full-text search over company, website and contact names and emails.
    pub q: Option<String>,
    /// The trash instead of live leads.
    pub deleted: bool,
    /// Leads whose AI score is at least this.
    pub score_min: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub sort: SortKey,
    pub descending: bool,
    pub after: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct LeadPage {
    pub items: Vec<Lead>,
    pub next_cursor: Option<String>,
}

/// Conditions and variables for a filter, within the actor's scope.
async fn conditions(
    ctx: &Ctx,
    actor: &Actor,
    filter: &LeadFilter,
) -> DomainResult<(Vec<String>, Map<String, Value>)> {
    let scope = Scope::of(actor)?;
    let (mut conds, mut vars) = filter_conditions(ctx, actor, filter).await?;
    if let Some(c) = scope.condition() {
        conds.push(c.to_string());
        vars.insert("scope_user".into(), json!(scope.user()));
    }
    Ok((conds, vars))
}

/// Conditions and variables for a filter alone, without the actor's scope.
async fn filter_conditions(
    ctx: &Ctx,
    actor: &Actor,
    filter: &LeadFilter,
) -> DomainResult<(Vec<String>, Map<String, Value>)> {
    let mut conds: Vec<String> = Vec::new();
    let mut vars = Map::new();
    // `live` (maintained by the schema from `deleted_at`) leads the compound
    // sort indexes, so "not in the trash" is part of the index range and the
    // page's LIMIT stops the index walk; a `deleted_at IS NONE` filter after
    // the walk made the first page read every row after its cursor.
    conds.push(if filter.deleted {
        "live = false".into()
    } else {
        "live = true".into()
    });
    let mut eq = |field: &str, value: &Option<String>| {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            conds.push(format!("{field} = $f_{field}"));
            vars.insert(format!("f_{field}"), json!(v));
        }
    };
    eq("status", &filter.status);
    eq("owner", &filter.owner);
    eq("industry", &filter.industry);
    if let Some(min) = filter.score_min {
        conds.push("score >= $f_score_min".into());
        vars.insert("f_score_min".into(), json!(min));
    }
    let country = match filter.country.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(crate::domain::geo::parse_country(c)?),
        None => None,
    };
    if let Some(code) = country {
        conds.push("country = $f_country".into());
        vars.insert("f_country".into(), json!(code));
    }
    if let Some(s) = filter.state.as_deref().filter(|s| !s.trim().is_empty()) {
        // Within a country a state is read as a lead's is (a code, its
        // part after the dash or a name); alone it must be a full code.
        let code = match country {
            Some(c) => crate::domain::geo::parse_state(c, s)?.to_string(),
            None => s.trim().to_ascii_uppercase(),
        };
        conds.push("state = $f_state".into());
        vars.insert("f_state".into(), json!(code));
    }
    if let Some(t) = filter
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        conds.push("tags CONTAINS $f_tag".into());
        vars.insert("f_tag".into(), json!(t.to_lowercase()));
    }
    if let Some(from) = filter.created_from {
        conds.push("created_at >= <datetime>$f_created_from".into());
        vars.insert("f_created_from".into(), json!(db_time(from)));
    }
    if let Some(to) = filter.created_to {
        conds.push("created_at < <datetime>$f_created_to".into());
        vars.insert("f_created_to".into(), json!(db_time(to)));
    }
    if let Some(due) = filter.follow_up_due {
        let tz = actor_timezone(ctx, actor).await?;
        let (from, to) = due.window(ctx.now(), tz);
        // NONE sorts before every date, so "no follow-up" must be excluded.
        conds.push(
            "next_follow_up_at IS NOT NONE AND next_follow_up_at < <datetime>$f_due_to".into(),
        );
        vars.insert("f_due_to".into(), json!(db_time(to)));
        if let Some(from) = from {
            conds.push("next_follow_up_at >= <datetime>$f_due_from".into());
            vars.insert("f_due_from".into(), json!(db_time(from)));
        }
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 200 {
            return Err(DomainError::invalid("q", "must be at most 200 characters"));
        }
        // The analyzer splits on punctuation too; handing it only the words
        // keeps "jane@acme.com" a search for jane, acme and com.
        let words: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return Err(DomainError::invalid(
                "q",
                "needs at least one letter or digit",
            ));
        }
        conds.push("search_text @@ $f_q".into());
        vars.insert("f_q".into(), json!(words.join(" ")));
        // The full-text index can keep a word a record no longer holds
        // (seen after a contact's erasure rewrote the search text), so each
        // hit is checked against the stored text, folded as the analyzer
        // folds it.
        for (i, word) in words.iter().enumerate() {
            conds.push(format!(
                "string::contains(string::slug(search_text), string::slug($f_w{i}))"
            ));
            vars.insert(format!("f_w{i}"), json!(word));
        }
    }
    Ok((conds, vars))
}

pub async fn actor_timezone(ctx: &Ctx, actor: &Actor) -> DomainResult<chrono_tz::Tz> {
    let user = crate::domain::users::find_record(ctx, &actor.user_id).await?;
    Ok(user
        .and_then(|u| u.user.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC))
}

fn encode_cursor(lead: &Lead, sort: SortKey) -> String {
    cursor::encode(&sort_value(lead, sort))
}

/// The lead's stored `sort_*` value for `sort` (what a cursor carries).
fn sort_value(lead: &Lead, sort: SortKey) -> String {
    match sort {
        SortKey::Created => lead.id.clone(),
        SortKey::Updated => format!("{}|{}", db_time(lead.updated_at), lead.id),
        SortKey::Company => format!(
            "{}|{}",
            super::normalize::company_key(&lead.company_name),
            lead.id
        ),
        SortKey::Score => format!("{:03}|{}", lead.score.clamp(0, 999), lead.id),
    }
}

pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    filter: &LeadFilter,
    page: &PageRequest,
) -> DomainResult<LeadPage> {
    let scope = Scope::of(actor)?;
    let (mut conds, mut vars) = filter_conditions(ctx, actor, filter).await?;
    let limit = page.limit.clamp(1, 500);
    let field = page.sort.field();
    let (cmp, dir) = if page.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    // Without a cursor the page still starts from an open bound on the sort
    // field: a range condition is what makes the planner walk the sort
    // index instead of sorting every match.
    let bound = match &page.after {
        Some(after) => cursor::decode(after)?,
        None if page.descending => char::MAX.to_string(),
        None => String::new(),
    };
    conds.push(format!("{field} {cmp} $after"));
    vars.insert("after".into(), json!(bound));
    // One more than the page: it only says there is a next page.
    vars.insert("limit".into(), json!(limit + 1));
    let walk = |who: Option<&str>| {
        let mut all = conds.clone();
        all.extend(who.map(str::to_string));
        format!(
            "{SELECT_LEAD} lead WHERE {} ORDER BY {field} {dir} LIMIT $limit",
            all.join(" AND ")
        )
    };
    let rows: Vec<Lead> = match scope.user() {
        None => ctx
            .store
            .run(&walk(None), Value::Object(vars))
            .await?
            .rows(0)?,
        // "Owned or created by me" as one OR condition walks the whole
        // table; two walks of the (owner | created_by, live, sort) indexes,
        // each stopping at the limit, merged here, give the same page.
        Some(user) => {
            vars.insert("scope_user".into(), json!(user));
            let sql = format!(
                "{};\n{};",
                walk(Some("owner = $scope_user")),
                walk(Some("created_by = $scope_user"))
            );
            let results = ctx.store.run(&sql, Value::Object(vars)).await?;
            merge_walks(
                results.rows(0)?,
                results.rows(1)?,
                page.sort,
                page.descending,
                limit + 1,
            )
        }
    };
    // The cursor is the last lead kept, not the extra one.
    let cursor::Page { items, next_cursor } =
        cursor::Page::from_one_more(rows, limit, |l| encode_cursor(l, page.sort));
    Ok(LeadPage { items, next_cursor })
}

/// The first `limit` leads of two walks in the same order, each lead once
/// (a lead the user both owns and created is in both). Each walk holds its
/// first `limit` rows, so these are the first `limit` of the union too.
fn merge_walks(
    a: Vec<Lead>,
    b: Vec<Lead>,
    sort: SortKey,
    descending: bool,
    limit: usize,
) -> Vec<Lead> {
    let mut all: Vec<(String, Lead)> = a
        .into_iter()
        .chain(b)
        .map(|l| (sort_value(&l, sort), l))
        .collect();
    all.sort_by(|x, y| x.0.cmp(&y.0));
    all.dedup_by(|x, y| x.0 == y.0);
    if descending {
        all.reverse();
    }
    all.into_iter().take(limit).map(|(_, l)| l).collect()
}

/// How many leads the filter matches within the actor's scope. A count
/// filtered only by trash, status and owner (and the actor's scope) sums the
/// rows of `lead_count`, which the database keeps with every change to a
/// lead, so it costs the same at a million leads as at ten; any other
/// filter walks the leads it matches through its index.
pub async fn count(ctx: &Ctx, actor: &Actor, filter: &LeadFilter) -> DomainResult<u64> {
    if let Some(tally) = TallyFilter::of(filter) {
        return count_from_tally(ctx, actor, &tally).await;
    }
    let (conds, vars) = conditions(ctx, actor, filter).await?;
    let sql = format!(
        "SELECT count() FROM lead WHERE {} GROUP ALL",
        conds.join(" AND ")
    );
    let row: Option<Value> = ctx.store.run(&sql, Value::Object(vars)).await?.first(0)?;
    Ok(row.and_then(|r| r["count"].as_u64()).unwrap_or(0))
}

/// The part of a lead filter that `lead_count` can answer: trash or live,
/// status and owner. `None` for a filter with anything else in it.
#[derive(Debug, PartialEq)]
struct TallyFilter<'a> {
    deleted: bool,
    status: Option<&'a str>,
    owner: Option<&'a str>,
}

impl<'a> TallyFilter<'a> {
    fn of(filter: &'a LeadFilter) -> Option<TallyFilter<'a>> {
        fn given(value: &Option<String>) -> Option<&str> {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let LeadFilter {
            status,
            owner,
            country,
            state,
            industry,
            tag,
            created_from,
            created_to,
            follow_up_due,
            q,
            deleted,
            score_min,
        } = filter;
        let others = [country, state, industry, tag, q]
            .into_iter()
            .any(|v| given(v).is_some())
            || created_from.is_some()
            || created_to.is_some()
            || follow_up_due.is_some()
            || score_min.is_some();
        (!others).then(|| TallyFilter {
            deleted: *deleted,
            status: given(status),
            owner: given(owner),
        })
    }
}

async fn count_from_tally(ctx: &Ctx, actor: &Actor, tally: &TallyFilter<'_>) -> DomainResult<u64> {
    let scope = Scope::of(actor)?;
    let mut conds = vec!["live = $live".to_string()];
    let mut vars = Map::new();
    vars.insert("live".into(), json!(!tally.deleted));
    if let Some(status) = tally.status {
        conds.push("status = $status".into());
        vars.insert("status".into(), json!(status));
    }
    if let Some(owner) = tally.owner {
        conds.push("owner = $owner".into());
        vars.insert("owner".into(), json!(owner));
    }
    // Each lead is in exactly one row, and a row has one owner and one
    // creator, so the scope's "owner or creator" counts no lead twice.
    if let Some(c) = scope.condition() {
        conds.push(c.to_string());
        vars.insert("scope_user".into(), json!(scope.user()));
    }
    let sql = format!(
        "SELECT math::sum(leads) AS n FROM lead_count WHERE {} GROUP ALL",
        conds.join(" AND ")
    );
    let row: Option<Value> = ctx.store.run(&sql, Value::Object(vars)).await?.first(0)?;
    Ok(row.and_then(|r| r["n"].as_u64()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trash_status_and_owner_are_counted_from_the_tally() {
        let plain = LeadFilter::default();
        assert_eq!(
            TallyFilter::of(&plain),
            Some(TallyFilter {
                deleted: false,
                status: None,
                owner: None
            })
        );
        let by_status = LeadFilter {
            status: Some(" won ".into()),
            owner: Some("".into()),
            deleted: true,
            ..LeadFilter::default()
        };
        assert_eq!(
            TallyFilter::of(&by_status),
            Some(TallyFilter {
                deleted: true,
                status: Some("won"),
                owner: None
            })
        );
        let blank_country = LeadFilter {
            country: Some("  ".into()),
            ..LeadFilter::default()
        };
        assert!(TallyFilter::of(&blank_country).is_some());
        for walked in [
            LeadFilter {
                country: Some("DE".into()),
                ..LeadFilter::default()
            },
            LeadFilter {
                q: Some("acme".into()),
                ..LeadFilter::default()
            },
            LeadFilter {
                score_min: Some(10),
                ..LeadFilter::default()
            },
            LeadFilter {
                follow_up_due: Some(FollowUpDue::Today),
                ..LeadFilter::default()
            },
        ] {
            assert_eq!(TallyFilter::of(&walked), None, "{walked:?}");
        }
    }

    #[test]
    fn today_is_the_local_day_of_the_actor() {
        let now: DateTime<Utc> = "2026-03-10T23:30:00Z".parse().unwrap();
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let (from, to) = FollowUpDue::Today.window(now, berlin);
        assert_eq!(
            from.unwrap().to_rfc3339(),
            "2026-03-10T23:00:00+00:00",
            "already the 11th in Berlin"
        );
        assert_eq!(to.to_rfc3339(), "2026-03-11T23:00:00+00:00");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let raw = cursor::encode("acme|0193");
        assert_eq!(cursor::decode(&raw).unwrap(), "acme|0193");
        assert!(cursor::decode("%%%").is_err());
    }
}
