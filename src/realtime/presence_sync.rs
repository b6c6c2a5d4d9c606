//! Presence and typing across instances sharing a database. Each instance
//! writes the presence of the users it holds connections of to the
//! `presence` table (a row per instance and user, written in one statement
//! per round of changes) and follows the other instances' rows with a LIVE
//! SELECT, so a user connected to instance A shows online to a user on
//! instance B. Typing indicators travel the same way through the `typing`
//! table (a row per room and typist, rewritten at most once per throttle
//! period), at most one round late.
//!
//! A heartbeat keeps an instance's rows fresh; rows of an instance that has
//! been silent for `STALE` are dropped by whichever instance notices first,
//! so an instance that crashed does not keep its users online.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use surrealdb::types::Action;

use super::hub::Hub;
use crate::domain::chat::presence::{Presence, Status};
use crate::domain::clock::db_time;
use crate::domain::{tokens, Ctx};

/// How often an instance says it is still there.
const HEARTBEAT: Duration = Duration::from_secs(20);
/// How long an instance may be silent before its users are taken offline.
const STALE: chrono::Duration = chrono::Duration::seconds(75);
/// Pause before opening the live query again after it failed or ended.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Typing rows older than this are deleted on the heartbeat; they were
/// only ever read live.
const TYPING_KEPT: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Debug, Deserialize)]
struct TypingRow {
    instance: String,
    room: String,
    user: String,
}

#[derive(Debug, Deserialize)]
struct Row {
    instance: String,
    user: String,
    status: String,
    last_seen: chrono::DateTime<chrono::Utc>,
}

impl Row {
    /// What the row says of its user; `None` once they are offline there.
    fn presence(&self) -> Option<Presence> {
        let status = match self.status.as_str() {
            "online" => Status::Online,
            "away" => Status::Away,
            _ => return None,
        };
        Some(Presence {
            user: self.user.clone(),
            status,
            last_seen: self.last_seen,
        })
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Online => "online",
        Status::Away => "away",
        Status::Offline => "offline",
    }
}

/// Runs both directions until the service stops: this instance's changes
/// out every `every`, the others' in as they come.
pub async fn run(ctx: Arc<Ctx>, hub: Arc<Hub>, every: Duration) {
    let instance = tokens::new_id();
    tokio::join!(
        publish(&ctx, &hub, &instance, every),
        follow(&ctx, &hub, &instance),
        follow_typing(&ctx, &hub, &instance)
    );
}

async fn publish(ctx: &Ctx, hub: &Hub, instance: &str, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    let mut last_heartbeat = tokio::time::Instant::now();
    loop {
        ticks.tick().await;
        let changes = hub.take_local_presence();
        if !changes.is_empty() {
            if let Err(e) = write(ctx, instance, &changes).await {
                tracing::warn!(error = %e, "could not share presence with other instances");
            }
        }
        let typing = hub.take_local_typing();
        if !typing.is_empty() {
            if let Err(e) = write_typing(ctx, instance, &typing).await {
                tracing::warn!(error = %e, "could not share typing with other instances");
            }
        }
        if last_heartbeat.elapsed() >= HEARTBEAT {
            last_heartbeat = tokio::time::Instant::now();
            if let Err(e) = heartbeat(ctx, hub, instance).await {
                tracing::warn!(error = %e, "presence heartbeat failed");
            }
        }
    }
}

async fn write(
    ctx: &Ctx,
    instance: &str,
    changes: &[Presence],
) -> Result<(), crate::store::StoreError> {
    let rows: Vec<_> = changes
        .iter()
        .map(|p| {
            json!({"user": p.user, "status": status_name(p.status), "last_seen": db_time(p.last_seen)})
        })
        .collect();
    ctx.store
        .run(
            "FOR $p IN $rows {
                UPSERT type::record('presence', [$instance, $p.user]) SET instance = $instance,
                    user = $p.user, status = $p.status, last_seen = <datetime>$p.last_seen,
                    seen_at = <datetime>$now;
            }",
            json!({"rows": rows, "instance": instance, "now": db_time(ctx.now())}),
        )
        .await?;
    Ok(())
}

async fn write_typing(
    ctx: &Ctx,
    instance: &str,
    typing: &[(String, String)],
) -> Result<(), crate::store::StoreError> {
    let rows: Vec<_> = typing
        .iter()
        .map(|(room, user)| json!({"room": room, "user": user}))
        .collect();
    ctx.store
        .run(
            "FOR $t IN $rows {
                UPSERT type::record('typing', [$t.room, $t.user]) SET room = $t.room,
                    user = $t.user, instance = $instance, at = <datetime>$now;
            }",
            json!({"rows": rows, "instance": instance, "now": db_time(ctx.now())}),
        )
        .await?;
    Ok(())
}

/// Touches this instance's rows (writing them again if they went missing),
/// forgets its users who went offline, and drops silent instances.
async fn heartbeat(ctx: &Ctx, hub: &Hub, instance: &str) -> Result<(), crate::store::StoreError> {
    write(ctx, instance, &hub.local_presence()).await?;
    let now = ctx.now();
    let stale: Vec<String> = ctx
        .store
        .run(
            "DELETE presence WHERE instance = $instance AND status = 'offline';
             LET $gone = array::distinct((SELECT VALUE instance FROM presence
                 WHERE seen_at < <datetime>$cutoff));
             DELETE presence WHERE instance IN $gone;
             RETURN $gone;
             DELETE typing WHERE at < <datetime>$typing_cutoff;",
            json!({"instance": instance, "cutoff": db_time(now - STALE),
                "typing_cutoff": db_time(now - TYPING_KEPT)}),
        )
        .await?
        .rows(3)?;
    for gone in stale.iter().filter(|g| g.as_str() != instance) {
        hub.forget_instance(gone);
    }
    Ok(())
}

async fn follow(ctx: &Ctx, hub: &Hub, instance: &str) {
    follow_rows(
        ctx,
        "presence",
        // Rows written before the live query started.
        || async {
            if let Err(e) = load(ctx, hub, instance).await {
                tracing::warn!(error = %e, "could not read other instances' presence");
            }
        },
        |row: Row| apply(hub, instance, &row),
    )
    .await
}

/// Other instances' typing indicators, as they are written; none are read
/// back after a restart, since they are stale by then.
async fn follow_typing(ctx: &Ctx, hub: &Hub, instance: &str) {
    follow_rows(
        ctx,
        "typing",
        || std::future::ready(()),
        |row: TypingRow| {
            if row.instance != instance {
                hub.remote_typing(&row.room, &row.user);
            }
        },
    )
    .await
}

/// Follows the rows created or updated in `table` with a LIVE SELECT until
/// the service stops, opening it again after a failure; `opened` runs each
/// time it opens, before the first row is applied.
async fn follow_rows<T, Opened>(
    ctx: &Ctx,
    table: &'static str,
    mut opened: impl FnMut() -> Opened,
    mut apply: impl FnMut(T),
) where
    T: serde::de::DeserializeOwned,
    Opened: std::future::Future<Output = ()>,
{
    // The table name is one of this module's constants, never input.
    let live = format!("LIVE SELECT * FROM {table}");
    loop {
        match ctx.store.raw().query(live.as_str()).await {
            Ok(mut response) => match response.stream::<surrealdb::types::Value>(0) {
                Ok(mut notifications) => {
                    opened().await;
                    while let Some(item) = notifications.next().await {
                        match item {
                            Ok(n) if matches!(n.action, Action::Create | Action::Update) => {
                                if let Ok(row) =
                                    serde_json::from_value::<T>(n.data.into_json_value())
                                {
                                    apply(row);
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, table, "live notification failed")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, table, "cannot stream a live query"),
            },
            Err(e) => tracing::warn!(error = %e, table, "cannot open a live query"),
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

async fn load(ctx: &Ctx, hub: &Hub, instance: &str) -> Result<(), crate::store::StoreError> {
    let rows: Vec<Row> = ctx
        .store
        .run(
            "SELECT instance, user, status, last_seen FROM presence
             WHERE instance != $instance AND seen_at >= <datetime>$cutoff",
            json!({"instance": instance, "cutoff": db_time(ctx.now() - STALE)}),
        )
        .await?
        .rows(0)?;
    for row in &rows {
        apply(hub, instance, row);
    }
    Ok(())
}

fn apply(hub: &Hub, instance: &str, row: &Row) {
    if row.instance != instance {
        hub.remote_presence(&row.instance, &row.user, row.presence());
    }
}
