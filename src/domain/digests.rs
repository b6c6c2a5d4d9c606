//! The daily digest: a linked user's due follow-ups, sent by bot DM at a
//! time of day they choose, on their own wall clock.
//!
//! Promises: at most one digest per user per local day, whichever
//! instance sends it (`claim_due` marks the day sent in the same
//! conditional update that selects it); a user who changes timezone gets
//! the digest at their chosen time in the new zone.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actor::Actor;
use super::error::{DomainError, DomainResult};
use super::{users, Ctx};

/// The time a digest is sent, `HH:MM` on the user's clock.
fn parse_time(raw: &str) -> DomainResult<NaiveTime> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M")
        .map_err(|_| DomainError::invalid("time", "use HH:MM, e.g. 08:30"))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DigestRow {
    id: String,
    local_time: String,
    last_sent_on: Option<String>,
}

/// The actor's own digest time, `None` when they get no digest.
pub async fn get(ctx: &Ctx, actor: &Actor) -> DomainResult<Option<String>> {
    let time: Option<String> = ctx
        .store
        .run(
            "SELECT VALUE local_time FROM ONLY type::record('digest', $user)",
            json!({"user": actor.user_id}),
        )
        .await?
        .first(0)?;
    Ok(time)
}

/// Sets (or with `None` stops) the actor's own daily digest; returns the
/// time in force.
pub async fn set(ctx: &Ctx, actor: &Actor, time: Option<&str>) -> DomainResult<Option<String>> {
    match time {
        None => {
            ctx.store
                .run(
                    "DELETE type::record('digest', $user)",
                    json!({"user": actor.user_id}),
                )
                .await?;
            Ok(None)
        }
        Some(raw) => {
            let time = parse_time(raw)?.format("%H:%M").to_string();
            ctx.store
                .run(
                    "UPSERT type::record('digest', $user) SET local_time = $time",
                    json!({"user": actor.user_id, "time": time}),
                )
                .await?;
            Ok(Some(time))
        }
    }
}

/// Claims every digest whose time has come today on its user's clock and
/// that was not sent today; returns (user id, timezone) to send to.
pub async fn claim_due(
    ctx: &Ctx,
    now: DateTime<Utc>,
) -> DomainResult<Vec<(String, chrono_tz::Tz)>> {
    let rows: Vec<DigestRow> = ctx
        .store
        .run("SELECT *, record::id(id) AS id FROM digest", json!({}))
        .await?
        .rows(0)?;
    let mut claimed = Vec::new();
    for row in rows {
        let Ok(at) = parse_time(&row.local_time) else {
            continue;
        };
        let Some(record) = users::find_record(ctx, &row.id).await? else {
            continue;
        };
        if !record.user.active {
            continue;
        }
        let tz: chrono_tz::Tz = record.user.timezone.parse().unwrap_or(chrono_tz::UTC);
        let local = now.with_timezone(&tz);
        let today = local.date_naive().to_string();
        if local.time() < at || row.last_sent_on.as_deref() == Some(today.as_str()) {
            continue;
        }
        let won: Vec<serde_json::Value> = ctx
            .store
            .run(
                "UPDATE type::record('digest', $user) SET last_sent_on = $today
                    WHERE last_sent_on IS NONE OR last_sent_on != $today",
                json!({"user": row.id, "today": today}),
            )
            .await?
            .rows(0)?;
        if !won.is_empty() {
            claimed.push((row.id, tz));
        }
    }
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_times_are_hours_and_minutes() {
        assert_eq!(
            parse_time("8:05").unwrap().format("%H:%M").to_string(),
            "08:05"
        );
        assert!(parse_time("25:00").is_err());
        assert!(parse_time("morning").is_err());
    }
}
