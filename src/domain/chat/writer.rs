//! One writer per instance for new messages. Sends are checked by their
//! callers, then queued here; the writer takes whatever has queued while
//! the previous commit was running and stores it in one transaction: each
//! room's counter is bumped once for its share of the burst, then the
//! messages, their idempotency keys, the notifications they cause and their
//! audit rows are created. Only then are the callers answered and the
//! messages published, in sequence order.
//!
//! Why one writer: within an instance nobody contends on a room's counter
//! row, so a send is never refused because others are talking, and a burst
//! costs one commit (one fsync on SurrealKV) instead of one per message.
//! With several instances on one database, a burst that collides with
//! another instance's is retried whole; a sender only waits longer.
//!
//! An answer means the transaction committed: the message is as durable as
//! the store's sync setting makes any commit (on the default SurrealKV
//! store, `sync=every`: written and fsynced).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::messages::{self, Message, Posted, CREATED_TOPIC};
use super::notifications::{self, Notification};
use crate::domain::actor::{Actor, Credential};
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event, EventBus};
use crate::store::{Store, StoreError};

/// The most messages one transaction stores; more wait for the next one.
const MAX_BURST: usize = 256;
/// Sends queued beyond this make their callers wait for room in the queue.
const QUEUE: usize = 8192;
/// How often a burst that collided with another instance is tried again
/// before its senders are told to send again.
const CONFLICT_RETRIES: usize = 100;

/// A checked message waiting for its sequence number.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    /// The message as it will be stored; `seq` is set by the writer.
    pub message: Message,
    /// The record key of the sender's idempotency key, if they sent one.
    pub key_id: Option<String>,
    /// Mentions it causes, stored with it.
    pub notes: Vec<Notification>,
    /// Who wrote it, for the audit row.
    pub actor: Actor,
}

struct Job {
    draft: Draft,
    done: oneshot::Sender<DomainResult<Posted>>,
}

/// The handle to the instance's message writer; cheap to clone.
#[derive(Clone)]
pub struct MessageWriter {
    queue: mpsc::Sender<Job>,
}

/// A queued message: resolves once it is stored (or refused).
pub struct PendingPost(oneshot::Receiver<DomainResult<Posted>>);

impl std::future::Future for PendingPost {
    type Output = DomainResult<Posted>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|answer| {
            answer
                .unwrap_or_else(|_| Err(DomainError::Internal("the message writer stopped".into())))
        })
    }
}

impl MessageWriter {
    /// Starts the writer on its own task; it ends when the last handle is
    /// dropped.
    pub fn start(store: Store, events: EventBus) -> MessageWriter {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, events, jobs));
        MessageWriter { queue }
    }

    /// Queues a checked message.
    pub(crate) async fn submit(&self, draft: Draft) -> DomainResult<PendingPost> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Job { draft, done })
            .await
            .map_err(|_| DomainError::Internal("the message writer stopped".into()))?;
        Ok(PendingPost(answer))
    }
}

async fn run(store: Store, events: EventBus, mut jobs: mpsc::Receiver<Job>) {
    let mut burst = Vec::with_capacity(MAX_BURST);
    while jobs.recv_many(&mut burst, MAX_BURST).await > 0 {
        let stored = store_burst(&store, std::mem::take(&mut burst)).await;
        for (job, outcome) in stored {
            if let Ok(posted) = &outcome {
                if !posted.duplicate {
                    announce(&events, &posted.message, &job.draft);
                }
            }
            let _ = job.done.send(outcome);
        }
    }
}

fn announce(events: &EventBus, message: &Message, draft: &Draft) {
    events.publish(
        Event::new(
            CREATED_TOPIC,
            Audience::Room(message.room.clone()),
            json!(message),
        )
        .by(&draft.actor),
    );
    notifications::publish_to(events, &draft.notes);
}

type Outcomes = Vec<(Job, DomainResult<Posted>)>;

/// Stores a burst; each job gets its own outcome, in queue order.
async fn store_burst(store: &Store, jobs: Vec<Job>) -> Outcomes {
    // A retried send whose key is already stored, or sent twice in this
    // burst, is answered with the first message.
    let known = match known_keys(store, &jobs).await {
        Ok(known) => known,
        Err(e) => return fail_all(jobs, e),
    };
    let mut first_with_key: HashMap<&str, usize> = HashMap::new();
    let mut fresh = Vec::new();
    let mut repeats = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match job.draft.key_id.as_deref() {
            Some(key) if known.contains_key(key) => repeats.push((i, Repeat::Stored)),
            Some(key) => match first_with_key.get(key) {
                Some(&first) => repeats.push((i, Repeat::InBurst(first))),
                None => {
                    first_with_key.insert(key, i);
                    fresh.push(i);
                }
            },
            None => fresh.push(i),
        }
    }
    let mut outcomes: Vec<Option<DomainResult<Posted>>> = jobs.iter().map(|_| None).collect();
    if !fresh.is_empty() {
        let drafts: Vec<&Draft> = fresh.iter().map(|&i| &jobs[i].draft).collect();
        for (i, result) in fresh.iter().zip(commit_or_split(store, &drafts).await) {
            outcomes[*i] = Some(result);
        }
    }
    for (i, repeat) in repeats {
        let outcome = match repeat {
            Repeat::Stored => {
                let key = jobs[i].draft.key_id.as_deref().unwrap_or_default();
                Ok(Posted {
                    message: known[key].clone(),
                    duplicate: true,
                })
            }
            Repeat::InBurst(first) => match &outcomes[first] {
                Some(Ok(posted)) => Ok(Posted {
                    message: posted.message.clone(),
                    duplicate: true,
                }),
                Some(Err(e)) => Err(e.clone()),
                None => Err(DomainError::Internal("a send had no outcome".into())),
            },
        };
        outcomes[i] = Some(outcome);
    }
    jobs.into_iter()
        .zip(outcomes)
        .map(|(job, outcome)| {
            let outcome = outcome
                .unwrap_or_else(|| Err(DomainError::Internal("a send had no outcome".into())));
            (job, outcome)
        })
        .collect()
}

enum Repeat {
    /// Its key was stored by an earlier send.
    Stored,
    /// The same key came earlier in this burst, at this index.
    InBurst(usize),
}

fn fail_all(jobs: Vec<Job>, e: DomainError) -> Outcomes {
    jobs.into_iter().map(|job| (job, Err(e.clone()))).collect()
}

#[derive(Deserialize)]
struct StoredKey {
    id: String,
    message: String,
}

/// The messages already stored under the burst's idempotency keys.
async fn known_keys(store: &Store, jobs: &[Job]) -> DomainResult<HashMap<String, Message>> {
    let ids: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j.draft.key_id.as_deref())
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let results = store
        .run(
            "LET $found = (SELECT record::id(id) AS id, message
                 FROM array::map($ids, |$i| type::record('send_key', $i))
                 WHERE message != NONE);
             RETURN $found;
             SELECT *, record::id(id) AS id
                 FROM array::map($found.message, |$m| type::record('message', $m))
                 WHERE room != NONE;",
            json!({"ids": ids}),
        )
        .await?;
    let keys: Vec<StoredKey> = results.rows(1)?;
    let messages: Vec<Message> = results.rows(2)?;
    let by_id: HashMap<&str, &Message> = messages.iter().map(|m| (m.id.as_str(), m)).collect();
    Ok(keys
        .into_iter()
        .filter_map(|k| by_id.get(k.message.as_str()).map(|m| (k.id, (*m).clone())))
        .collect())
}

/// Commits the drafts together; if that fails for a reason that belongs
/// to one of them (a key stored meanwhile by another instance, a room
/// gone), commits each alone so only that one fails.
async fn commit_or_split(store: &Store, drafts: &[&Draft]) -> Vec<DomainResult<Posted>> {
    match commit(store, drafts).await {
        Ok(messages) => messages
            .into_iter()
            .map(|message| {
                Ok(Posted {
                    message,
                    duplicate: false,
                })
            })
            .collect(),
        Err(e) if drafts.len() == 1 => vec![alone_failed(store, drafts[0], e).await],
        Err(_) => {
            let mut out = Vec::with_capacity(drafts.len());
            for draft in drafts {
                out.push(match commit(store, &[draft]).await {
                    Ok(mut stored) => Ok(Posted {
                        message: stored.remove(0),
                        duplicate: false,
                    }),
                    Err(e) => alone_failed(store, draft, e).await,
                });
            }
            out
        }
    }
}

/// What a send that failed on its own is answered.
async fn alone_failed(store: &Store, draft: &Draft, e: StoreError) -> DomainResult<Posted> {
    match (e, &draft.key_id) {
        // The same key was stored meanwhile by another instance.
        (StoreError::Duplicate(_), Some(key)) => match messages::find_by_key(store, key).await? {
            Some(message) => Ok(Posted {
                message,
                duplicate: true,
            }),
            None => Err(DomainError::Conflict("send again".into())),
        },
        (StoreError::Rule(_), _) => Err(DomainError::NotFound("room")),
        (e, _) => Err(e.into()),
    }
}

/// One transaction for the drafts, retried while it collides with another
/// instance's; returns the stored messages in draft order.
async fn commit(store: &Store, drafts: &[&Draft]) -> Result<Vec<Message>, StoreError> {
    let vars = burst_vars(drafts);
    let mut attempt = 0;
    loop {
        match store.run(STORE_BURST, vars.clone()).await {
            Ok(results) => return Ok(numbered(drafts, &results.rows::<RoomTop>(ROOM_TOPS)?)),
            Err(StoreError::Conflict) if attempt < CONFLICT_RETRIES => {
                attempt += 1;
                // Jittered, so instances that collided do not collide again.
                let pause =
                    rand::Rng::gen_range(&mut rand::thread_rng(), 1..=(2 * attempt as u64).min(50));
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The statement text is the same for every burst; the burst travels in
/// the bound variables. The statement before `COMMIT` returns each room's
/// counter after the bump, from which the messages' numbers follow.
const STORE_BURST: &str = "BEGIN TRANSACTION;
FOR $r IN $rooms {
    LET $top = (UPDATE type::record('room', $r.id) SET last_seq += $r.count RETURN VALUE last_seq)[0];
    IF $top = NONE { THROW 'the room is gone' };
    FOR $m IN $r.messages {
        CREATE type::record('message', $m.id) SET room = $r.id, seq = $top - $r.count + $m.offset,
            author = $m.author, author_name = $m.author_name, body = $m.body,
            reply_to = $m.reply_to, file = $m.file, reactions = [], actions = $m.actions,
            created_at = <datetime>$m.at;
    };
};
FOR $k IN $keys {
    CREATE type::record('send_key', $k.id) SET user = $k.user, message = $k.message, created_at = <datetime>$k.at;
};
FOR $n IN $notes {
    CREATE type::record('notification', $n.id) SET user = $n.user, kind = $n.kind,
        room = $n.room, message = $n.message, text = $n.text, created_at = <datetime>$n.at;
};
FOR $a IN $audits {
    CREATE type::record('audit', rand::uuid::v7()) SET at = <datetime>$a.at, actor = $a.actor,
        actor_name = $a.actor_name, channel = $a.channel, entity = 'message', entity_id = $a.id,
        action = 'create';
};
SELECT record::id(id) AS id, last_seq FROM array::map($rooms, |$r| type::record('room', $r.id));
COMMIT TRANSACTION;";

/// Where `STORE_BURST`'s rooms are among its results (after `BEGIN` and
/// the four loops).
const ROOM_TOPS: usize = 5;

#[derive(Deserialize)]
struct RoomTop {
    id: String,
    last_seq: i64,
}

/// The drafts grouped by room, in order, as the variables of `STORE_BURST`.
fn burst_vars(drafts: &[&Draft]) -> Value {
    let mut rooms: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut keys = Vec::new();
    let mut notes = Vec::new();
    let mut audits = Vec::new();
    for draft in drafts {
        let m = &draft.message;
        let in_room = rooms.entry(m.room.as_str()).or_default();
        let at = db_time(m.created_at);
        in_room.push(json!({
            "id": m.id, "offset": in_room.len() as i64 + 1, "author": m.author,
            "author_name": m.author_name, "body": m.body, "reply_to": m.reply_to,
            "file": m.file, "actions": m.actions, "at": at,
        }));
        if let Some(key) = &draft.key_id {
            keys.push(json!({"id": key, "user": m.author, "message": m.id, "at": at}));
        }
        for n in &draft.notes {
            notes.push(
                json!({"id": n.id, "user": n.user, "kind": n.kind, "room": n.room,
                "message": n.message, "text": n.text, "at": db_time(n.created_at)}),
            );
        }
        // The audit says who wrote what where and when, not the text: a
        // reader of the audit may not be a member of the room.
        let actor_id = match draft.actor.credential {
            Credential::Internal => None,
            _ => Some(draft.actor.user_id.clone()),
        };
        audits.push(json!({"id": m.id, "at": at, "actor": actor_id,
            "actor_name": draft.actor.username, "channel": draft.actor.channel.as_str()}));
    }
    let rooms: Vec<Value> = rooms
        .into_iter()
        .map(|(id, messages)| json!({"id": id, "count": messages.len() as i64, "messages": messages}))
        .collect();
    json!({"rooms": rooms, "keys": keys, "notes": notes, "audits": audits})
}

/// The drafts as stored, numbered from each room's counter.
fn numbered(drafts: &[&Draft], tops: &[RoomTop]) -> Vec<Message> {
    let top: HashMap<&str, i64> = tops.iter().map(|t| (t.id.as_str(), t.last_seq)).collect();
    let mut count: HashMap<&str, i64> = HashMap::new();
    for d in drafts {
        *count.entry(d.message.room.as_str()).or_default() += 1;
    }
    let mut offset: HashMap<&str, i64> = HashMap::new();
    drafts
        .iter()
        .map(|d| {
            let room = d.message.room.as_str();
            let n = offset.entry(room).or_default();
            *n += 1;
            let mut message = d.message.clone();
            message.seq = top.get(room).copied().unwrap_or_default() - count[room] + *n;
            message
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn draft(room: &str, id: &str) -> Draft {
        Draft {
            message: Message {
                id: id.into(),
                room: room.into(),
                seq: 0,
                author: "u".into(),
                author_name: "u".into(),
                body: "hi".into(),
                reply_to: None,
                file: None,
                reactions: vec![],
                created_at: Utc::now(),
                edited_at: None,
                deleted_at: None,
                actions: None,
            },
            key_id: None,
            notes: vec![],
            actor: Actor::system(),
        }
    }

    #[test]
    fn a_burst_is_numbered_per_room_in_queue_order_from_each_counter() {
        let drafts = [draft("a", "1"), draft("b", "2"), draft("a", "3")];
        let refs: Vec<&Draft> = drafts.iter().collect();
        let tops = [
            RoomTop {
                id: "a".into(),
                last_seq: 12,
            },
            RoomTop {
                id: "b".into(),
                last_seq: 5,
            },
        ];
        let seqs: Vec<i64> = numbered(&refs, &tops).iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [11, 5, 12]);
    }

    #[test]
    fn the_burst_variables_carry_no_body_into_the_audit() {
        let drafts = [draft("a", "1")];
        let refs: Vec<&Draft> = drafts.iter().collect();
        let vars = burst_vars(&refs);
        assert_eq!(vars["rooms"][0]["count"], 1);
        assert_eq!(vars["rooms"][0]["messages"][0]["offset"], 1);
        assert!(vars["audits"][0].get("body").is_none());
    }
}
