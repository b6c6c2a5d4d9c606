//! Direct messages to linked accounts, whatever the platform: a user's
//! hub mentions and fired reminders, and the daily digest.
//!
//! Each platform adapter registers a [`DirectMessenger`] once it is
//! connected; one notification loop and one digest loop (started by the
//! app when any bot is configured) deliver to every linked account whose
//! platform has a messenger. The digest day is claimed once
//! (`digests::claim_due`), so two bots never race each other for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bots::crm::ChatActor;
use bots::{Crm, DueWindow, Reply};
use tokio::sync::broadcast::error::RecvError;

use crate::domain::chat::notifications;
use crate::domain::events::Event;
use crate::domain::features::{self, Feature};
use crate::domain::{digests, links, Ctx};

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// Sends a message to one account of one platform, privately.
pub trait DirectMessenger: Send + Sync {
    /// `telegram`, `discord`: the platform of the accounts it reaches.
    fn platform(&self) -> &'static str;
    fn send_dm<'a>(&'a self, platform_user_id: &'a str, reply: Reply) -> SendFuture<'a>;
}

/// The messengers of the bots that are connected now.
#[derive(Default)]
pub struct Messengers {
    by_platform: RwLock<Vec<Arc<dyn DirectMessenger>>>,
}

impl Messengers {
    /// Adds (or replaces, after a reconnect) the platform's messenger.
    pub fn register(&self, messenger: Arc<dyn DirectMessenger>) {
        if let Ok(mut all) = self.by_platform.write() {
            all.retain(|m| m.platform() != messenger.platform());
            all.push(messenger);
        }
    }

    fn of(&self, platform: &str) -> Option<Arc<dyn DirectMessenger>> {
        self.by_platform
            .read()
            .ok()?
            .iter()
            .find(|m| m.platform() == platform)
            .cloned()
    }

    /// Sends `text` to each of the user's linked accounts that a connected
    /// bot can reach (none while the user is deactivated, none on a platform
    /// whose bot is switched off).
    async fn to_user(&self, ctx: &Ctx, user: &str, text: &str) -> anyhow::Result<()> {
        for account in links::reachable_accounts(ctx, user).await? {
            let Some(messenger) = self.of(&account.platform) else {
                continue;
            };
            if !bot_is_on(ctx, &account.platform) {
                continue;
            }
            if let Err(e) = messenger
                .send_dm(&account.platform_user_id, Reply::text(text))
                .await
            {
                tracing::warn!(platform = %account.platform, error = %e, "direct message not delivered");
            }
        }
        Ok(())
    }
}

fn bot_is_on(ctx: &Ctx, platform: &str) -> bool {
    match platform {
        "telegram" => features::is_on(ctx, Feature::Telegram),
        "discord" => features::is_on(ctx, Feature::Discord),
        _ => false,
    }
}

/// Delivers mentions and reminders as direct messages until the bus closes.
pub async fn deliver_notifications(
    ctx: Arc<Ctx>,
    messengers: Arc<Messengers>,
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
        if let Err(e) = messengers.to_user(&ctx, &note.user, &text).await {
            tracing::warn!(error = %e, "cannot read chat links");
        }
    }
}

/// Sends each daily digest whose time has come, once a day per user.
pub async fn send_digests(ctx: Arc<Ctx>, messengers: Arc<Messengers>, every: Duration) {
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
                    if let Err(e) = messengers.to_user(&ctx, &user, &text).await {
                        tracing::warn!(error = %e, "digest not delivered");
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
