//! Wakes the hub when any instance sharing the database stores a message,
//! through a SurrealDB LIVE SELECT. Only a wake-up: connections read the
//! messages themselves from the database, so a lost notification delays
//! nothing past the next message or reconnect.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use surrealdb::types::{Action, Value};

use super::hub::Hub;
use crate::store::Store;

/// Pause before opening the live query again after it failed or ended.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub async fn listen(store: Store, hub: Arc<Hub>) {
    loop {
        match store
            .raw()
            .query("LIVE SELECT room, seq FROM message")
            .await
        {
            Ok(mut response) => match response.stream::<Value>(0) {
                Ok(mut notifications) => {
                    while let Some(item) = notifications.next().await {
                        match item {
                            Ok(n) if n.action == Action::Create => {
                                let data = n.data.into_json_value();
                                if let (Some(room), Some(seq)) =
                                    (data["room"].as_str(), data["seq"].as_i64())
                                {
                                    hub.room_message(room, seq, None);
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "live message notification failed")
                            }
                        }
                    }
                    tracing::debug!("the live message query ended; reopening");
                }
                Err(e) => tracing::warn!(error = %e, "cannot stream the live message query"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot open the live message query"),
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}
