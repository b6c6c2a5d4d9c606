//! Crash safety of the embedded store: the service is killed (SIGKILL)
//! while writes stream in; after a restart every write it acknowledged is
//! there.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{room_message_ids, unreadable_leads, ADMIN_PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_ea-crm");

/// Starts the binary on `db` and returns it with its address.
fn start(db: &std::path::Path, uploads: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", format!("surrealkv://{}", db.display()))
        .env("UPLOAD_DIR", uploads)
        .env("BIND", "127.0.0.1:0")
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RATE_LIMIT_PER_IP", "1000000")
        .env("RATE_LIMIT_PER_TOKEN", "1000000")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the service starts");
    (child, format!("http://{addr}"))
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let body: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_acknowledged_write_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (db, uploads) = (dir.path().join("crash.db"), dir.path().join("uploads"));
    let (mut child, base) = start(&db, &uploads);
    let client = reqwest::Client::new();
    let token = login(&client, &base).await;

    let room: Value = client
        .post(format!("{base}/api/v1/rooms"))
        .bearer_auth(&token)
        .json(&json!({"name": "crash-room", "kind": "channel"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = room["id"].as_str().unwrap().to_string();

    // Three writers create leads and one posts chat messages until the
    // kill; each records the ids the server acknowledged. The kill comes
    // once enough writes were acknowledged (not after a fixed time, which a
    // loaded machine may not fill), while the writers are still writing.
    let stop_at = Instant::now() + Duration::from_secs(60);
    let acked_leads = Arc::new(AtomicUsize::new(0));
    let acked_messages = Arc::new(AtomicUsize::new(0));
    let messenger = {
        let (client, base, token, room) =
            (client.clone(), base.clone(), token.clone(), room.clone());
        let acked_messages = acked_messages.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..10_000 {
                if Instant::now() >= stop_at {
                    break;
                }
                let sent = client
                    .post(format!("{base}/api/v1/rooms/{room}/messages"))
                    .bearer_auth(&token)
                    .json(&json!({"body": format!("message {n}")}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or_default();
                        if let Some(id) = body["message"]["id"].as_str() {
                            acknowledged.push(id.to_string());
                            acked_messages.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    _ => break,
                }
            }
            acknowledged
        })
    };
    let mut writers = Vec::new();
    for w in 0..3 {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        let acked_leads = acked_leads.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while Instant::now() < stop_at && n < 10_000 {
                n += 1;
                let sent = client
                    .post(format!("{base}/api/v1/leads"))
                    .bearer_auth(&token)
                    .json(&json!({"company_name": format!("Crash {w}-{n}")}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or_default();
                        if let Some(id) = body["lead"]["id"].as_str() {
                            acknowledged.push(id.to_string());
                            acked_leads.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    let wait_until = Instant::now() + Duration::from_secs(45);
    while (acked_leads.load(Ordering::SeqCst) < 20 || acked_messages.load(Ordering::SeqCst) < 5)
        && Instant::now() < wait_until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    let _ = child.wait();
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    let sent_messages = messenger.await.unwrap();
    assert!(
        acknowledged.len() >= 5,
        "some writes were acknowledged ({})",
        acknowledged.len()
    );
    assert!(!sent_messages.is_empty(), "some messages were acknowledged");

    let (mut child, base) = start(&db, &uploads);
    let token = login(&client, &base).await;
    let missing = unreadable_leads(&client, &base, &token, &acknowledged).await;
    let stored = room_message_ids(&client, &base, &token, &room).await;
    let lost_messages: Vec<&String> = sent_messages
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        lost_messages.is_empty(),
        "{} of {} acknowledged messages lost",
        lost_messages.len(),
        sent_messages.len()
    );
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged leads lost: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
}
