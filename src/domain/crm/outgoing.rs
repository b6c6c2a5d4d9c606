//! What a CRM change tells the world: events for the realtime hub and
//! outbound webhooks. Webhook rows join the change's own transaction (so an
//! event exists exactly when its change committed); the bus hears about it
//! after the commit.

use crate::domain::chat::notification_settings;
use crate::domain::chat::notifications::{self, Notification};
use crate::domain::error::DomainResult;
use crate::domain::events::Event;
use crate::domain::webhooks;
use crate::domain::Ctx;
use crate::store::{Results, Transaction};

#[derive(Default)]
pub(crate) struct Outgoing {
    events: Vec<Event>,
    /// Notifications for people, stored with the change (as their
    /// recipients chose) and announced after it.
    notices: Vec<Notification>,
}

impl Outgoing {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, event: Event) -> &mut Self {
        self.events.push(event);
        self
    }

    pub fn notify(&mut self, notice: Notification) -> &mut Self {
        self.notices.push(notice);
        self
    }

    /// Records the webhook events in `tx`, commits it, then publishes.
    pub async fn commit(mut self, ctx: &Ctx, mut tx: Transaction) -> DomainResult<Results> {
        let now = ctx.now();
        notification_settings::settle(ctx, &mut self.notices).await?;
        notifications::add_to(&mut tx, &self.notices);
        for event in &self.events {
            webhooks::record_event(&mut tx, &event.topic, &event.payload, now);
        }
        let results = tx.commit(&ctx.store).await?;
        for event in self.events {
            ctx.events.publish(event);
        }
        notifications::publish(ctx, &self.notices);
        Ok(results)
    }
}
