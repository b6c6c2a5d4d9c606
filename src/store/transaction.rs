//! A batch of statements sent as one SurrealDB transaction, so a change and
//! its audit rows land together or not at all.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Results, Store, StoreError};

/// How often a conflicted transaction is run again before the conflict is
/// reported; with the jittered pauses that is at most about a second.
const CONFLICT_RETRIES: usize = 20;

#[derive(Default)]
pub struct Transaction {
    statements: Vec<String>,
    vars: Map<String, Value>,
    serial: usize,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `$name` for every statement of the batch.
    pub fn bind(&mut self, name: &str, value: impl Serialize) -> &mut Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.vars.insert(name.to_string(), value);
        self
    }

    /// Adds a statement; returns the index of its result in `commit`'s
    /// `Results`.
    pub fn push(&mut self, statement: impl Into<String>) -> usize {
        self.statements.push(statement.into());
        // Index 0 of the results is `BEGIN`.
        self.statements.len()
    }

    /// A number unique within this batch, for helpers that bind variables
    /// of their own.
    pub fn next_serial(&mut self) -> usize {
        self.serial += 1;
        self.serial
    }

    pub async fn commit(self, store: &Store) -> Result<Results, StoreError> {
        let mut sql = String::from("BEGIN TRANSACTION;\n");
        for statement in &self.statements {
            sql.push_str(statement.trim_end_matches(';'));
            sql.push_str(";\n");
        }
        sql.push_str("COMMIT TRANSACTION;");
        let vars = Value::Object(self.vars);
        // A transaction that lost a race with another writer was rolled back
        // whole, so it is run again (its conditions checked afresh) rather
        // than shown to the user as a failure: two reps signing in or
        // editing at the same moment must both succeed.
        let mut attempt = 0;
        loop {
            match store.run(&sql, vars.clone()).await {
                Err(StoreError::Conflict) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    // Jittered, so writers that collided do not collide again.
                    let pause =
                        rand::Rng::gen_range(&mut rand::thread_rng(), 1..=4 * attempt as u64);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                outcome => return outcome,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writers_racing_on_one_record_all_land() {
        let store = Store::connect(&Config::for_tests()).await.unwrap();
        store
            .run("CREATE counter:one SET n = 0", serde_json::json!({}))
            .await
            .unwrap();
        let writers = (0..40).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = Transaction::new();
                tx.push("UPDATE counter:one SET n += 1");
                tx.push("CREATE mark SET at = time::now()");
                tx.commit(&store).await
            })
        });
        for outcome in futures_util::future::join_all(writers).await {
            outcome
                .unwrap()
                .expect("a racing write is retried, not refused");
        }
        let n: Vec<i64> = store
            .run("SELECT VALUE n FROM counter:one", serde_json::json!({}))
            .await
            .unwrap()
            .rows(0)
            .unwrap();
        assert_eq!(n, vec![40], "every increment counted once");
    }
}
