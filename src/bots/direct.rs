//! Direct messages to linked accounts, whatever the platform: a user's
//! hub mentions, fired reminders, due and assignment notices, and the
//! daily digest.
//!
//! Each is written into the bots' durable outbox (`domain::bot_outbox`)
//! for every linked account on a platform whose bot this instance runs,
//! keyed by (notification, account) or (digest day, account) so a second
//! writer cannot send it twice; the outbox sender (`bots::outbox`)
//! delivers it, retrying until the platform takes it. One notification
//! loop and one digest loop run when any bot is configured. The digest day
//! is claimed once (`digests::claim_due`), so two instances never race
//! each other for it.

use std::sync::Arc;
use std::time::Duration;

use bots::crm::ChatActor;
use bots::{Crm, DueWindow};
use tokio::sync::broadcast::error::RecvError;

use super::outbox::{self, Couriers};
use crate::domain::bot_outbox::{self, NewItem};
use crate::domain::chat::notifications;
use crate::domain::events::Event;
use crate::domain::{digests, links, Ctx};

/// Writes `text` for each of the user's linked accounts a bot here can
/// reach (none while the user is deactivated, none on a platform whose bot
/// is switched off); `key` names what it is, so it is written once.
async fn to_user(
    ctx: &Ctx,
    couriers: &Couriers,
    user: &str,
    key: &str,
    text: &str,
) -> anyhow::Result<()> {
    let mut written = false;
    for account in links::reachable_accounts(ctx, user).await? {
        if !couriers.is_configured(&account.platform) || !outbox::bot_is_on(ctx, &account.platform)
        {
            continue;
        }
        written |= bot_outbox::enqueue(
            ctx,
            &NewItem {
                key: Some(bot_outbox::key_of(&[
                    "dm",
                    key,
                    &account.platform,
                    &account.platform_user_id,
                ])),
                platform: &account.platform,
                chat_id: &account.platform_user_id,
                kind: bot_outbox::DIRECT,
                message: None,
                body: text,
            },
        )
        .await?;
    }
    if written {
        couriers.wake();
    }
    Ok(())
}

/// Delivers mentions and reminders as direct messages until the bus closes.
pub async fn deliver_notifications(
    ctx: Arc<Ctx>,
    couriers: Arc<Couriers>,
    mut events: tokio::sync::broadcast::Receiver<Arc<Event>>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "bot notifications fell behind the event bus");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if event.topic != notifications::CREATED_TOPIC && event.topic != notifications::DIRECT_TOPIC
        {
            continue;
        }
        let Ok(note) = serde_json::from_value::<notifications::Notification>(event.payload.clone())
        else {
            continue;
        };
        // The user chose not to hear of this kind (or this room) by bot.
        if !note.by_bot {
            continue;
        }
        let text = match note.kind.as_str() {
            "reminder" => format!("⏰ {}", note.text),
            "follow_up_due" | "task_due" => format!("⏰ {}", note.text),
            _ => note.text.clone(),
        };
        let key = format!("notification:{}", note.id);
        if let Err(e) = to_user(&ctx, &couriers, &note.user, &key, &text).await {
            tracing::warn!(error = %e, "direct message not queued");
        }
    }
}

/// Sends each daily digest whose time has come, once a day per user.
pub async fn send_digests(ctx: Arc<Ctx>, couriers: Arc<Couriers>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = ctx.now();
        let due = match digests::claim_due(&ctx, now).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "digest round failed");
                continue;
            }
        };
        for (user, tz) in due {
            match digest_text(&ctx, &user, tz, now).await {
                Ok(Some(text)) => {
                    let key = format!("digest:{user}:{}", now.with_timezone(&tz).date_naive());
                    if let Err(e) = to_user(&ctx, &couriers, &user, &key, &text).await {
                        tracing::warn!(error = %e, "digest not queued");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "digest not composed"),
            }
        }
    }
}

/// The user's due follow-ups and tasks for today (and overdue), read with
/// their own permissions through their first linked account; `None` when
/// they have no linked account.
async fn digest_text(
    ctx: &Arc<Ctx>,
    user: &str,
    timezone: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<String>> {
    let accounts = links::reachable_accounts(ctx, user).await?;
    let Some(first) = accounts.first() else {
        return Ok(None);
    };
    let actor = links::actor_for_link(ctx, &first.id, links::channel_of(&first.platform)).await?;
    let chat = ChatActor {
        user_id: actor.user_id.clone(),
        username: actor.username.clone(),
        timezone,
    };
    let crm = super::DomainCrm::new(ctx.clone(), Some(actor));
    let body = match crm.due(&chat, DueWindow::Today, now).await {
        Ok(items) => bots::replies::due_list(&items, now, timezone),
        Err(e) => bots::replies::crm_error(&e),
    };
    Ok(Some(format!(
        "Your day, {}:\n{body}",
        now.with_timezone(&timezone).format("%A %-d %B")
    )))
}
