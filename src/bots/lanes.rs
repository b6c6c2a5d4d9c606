//! Work kept in order per key and run concurrently across keys: the
//! Telegram adapter hands each update to the lane of its chat, so a slow
//! answer (a model reading a mention takes seconds) holds up only the chat
//! it was asked in, while a chat's own messages, edits and button presses
//! are still handled in the order Telegram sent them (a bridged room sees
//! them in that order too).
//!
//! Each piece of work runs on its own task once the one queued before it
//! under the same key has finished (or panicked). At most `max_in_flight`
//! pieces are queued or running at once; [`Lanes::run`] waits for room, so
//! a flood is held back at the source (the polling loop) rather than piling
//! up in memory.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Semaphore};

/// The last piece of work queued under a key: its number, and what
/// resolves when it is done.
type Tail = (u64, oneshot::Receiver<()>);

pub struct Lanes<K> {
    tails: Arc<Mutex<HashMap<K, Tail>>>,
    next: u64,
    room: Arc<Semaphore>,
}

impl<K: Eq + Hash + Clone + Send + 'static> Lanes<K> {
    pub fn new(max_in_flight: usize) -> Self {
        Lanes {
            tails: Arc::new(Mutex::new(HashMap::new())),
            next: 0,
            room: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }

    /// Queues `work` behind the work queued before it under `key`, on a task
    /// of its own; waits first while `max_in_flight` pieces are in flight.
    pub async fn run<F>(&mut self, key: K, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // The semaphore is never closed, so this only ever waits.
        let Ok(permit) = self.room.clone().acquire_owned().await else {
            return;
        };
        self.next += 1;
        let number = self.next;
        let (done, tail) = oneshot::channel::<()>();
        let before = lock(&self.tails)
            .insert(key.clone(), (number, tail))
            .map(|(_, before)| before);
        let tails = self.tails.clone();
        tokio::spawn(async move {
            if let Some(before) = before {
                // Resolves (with an error) when the earlier work's sender is
                // dropped: it finished, or its task panicked.
                let _ = before.await;
            }
            work.await;
            drop(done);
            let mut tails = lock(&tails);
            if tails.get(&key).is_some_and(|(n, _)| *n == number) {
                tails.remove(&key);
            }
            drop(permit);
        });
    }

    /// Keys with work queued or running.
    pub fn busy(&self) -> usize {
        lock(&self.tails).len()
    }
}

fn lock<K>(tails: &Mutex<HashMap<K, Tail>>) -> std::sync::MutexGuard<'_, HashMap<K, Tail>> {
    // A poisoned lock only means a panic elsewhere; the map is still usable.
    tails.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::mpsc;

    async fn next(
        rx: &mut mpsc::UnboundedReceiver<&'static str>,
    ) -> Result<Option<&'static str>, tokio::time::error::Elapsed> {
        tokio::time::timeout(Duration::from_secs(5), rx.recv()).await
    }

    #[tokio::test]
    async fn work_under_one_key_keeps_its_order_and_a_slow_key_holds_up_no_other() {
        let mut lanes = Lanes::new(16);
        let (tx, mut rx) = mpsc::unbounded_channel();
        // The first piece under key 1 waits until the test opens the gate,
        // as a model call would take its time.
        let (open, gate) = tokio::sync::watch::channel(false);
        for (key, label, slow) in [
            (1, "a1", true),
            (2, "b1", false),
            (1, "a2", false),
            (2, "b2", false),
            (1, "a3", false),
        ] {
            let tx = tx.clone();
            let mut gate = gate.clone();
            lanes
                .run(key, async move {
                    if slow {
                        let _ = gate.wait_for(|open| *open).await;
                    }
                    let _ = tx.send(label);
                })
                .await;
        }
        drop(tx);
        assert_eq!(next(&mut rx).await, Ok(Some("b1")));
        assert_eq!(next(&mut rx).await, Ok(Some("b2")));
        let _ = open.send(true);
        for label in ["a1", "a2", "a3"] {
            assert_eq!(next(&mut rx).await, Ok(Some(label)));
        }
        assert_eq!(next(&mut rx).await, Ok(None));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(lanes.busy(), 0, "finished lanes are forgotten");
    }

    #[tokio::test]
    async fn a_panic_does_not_stop_its_lane() {
        let mut lanes = Lanes::new(4);
        let (tx, mut rx) = mpsc::unbounded_channel();
        lanes.run("chat", async { panic!("a handler bug") }).await;
        lanes
            .run("chat", async move {
                let _ = tx.send("after");
            })
            .await;
        let after = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(after, Ok(Some("after")));
    }

    #[tokio::test]
    async fn no_more_than_the_limit_is_in_flight() {
        let mut lanes = Lanes::new(2);
        let (release, gate) = tokio::sync::watch::channel(false);
        for key in 0..2 {
            let mut gate = gate.clone();
            lanes
                .run(key, async move {
                    let _ = gate.wait_for(|open| *open).await;
                })
                .await;
        }
        let third = tokio::time::timeout(Duration::from_millis(200), lanes.run(3, async {})).await;
        assert!(third.is_err(), "the third waits for room");
        let _ = release.send(true);
        let third = tokio::time::timeout(Duration::from_secs(5), lanes.run(3, async {})).await;
        assert!(third.is_ok());
    }
}
