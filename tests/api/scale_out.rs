//! Two EA CRM instances on one real SurrealDB server (the `surreal` binary
//! that `.ci/run` builds from crates.io): sessions, chat delivery,
//! reminders and a SIGKILLed instance, all through `DATABASE_URL=ws://…`.
//!
//! The server binary comes from `EA_CRM_SURREAL_BIN`, else from the cache
//! `.ci/run` installs it into. Without it these tests fail under CI (so a
//! broken install cannot pass unnoticed) and are skipped, loudly, elsewhere.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ea_crm::config::Config;
use ea_crm::domain::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::chat::{group, say};
use crate::helpers::{room_message_ids, unreadable_leads, TestApp, ADMIN_PASSWORD};
use crate::ws::Client;

const BIN: &str = env!("CARGO_BIN_EXE_ea-crm");
const ROOT_USER: &str = "root";
const ROOT_PASSWORD: &str = "scale-out-root-password";
/// Where `.ci/run` installs the server when `EA_CRM_SURREAL_BIN` is unset.
const CACHED_BIN: &str = ".cache/ea-crm/surreal-3.3.5/bin/surreal";

/// A `surreal start … memory` process on 127.0.0.1, killed on drop.
struct SurrealServer {
    child: Child,
    addr: String,
}

impl SurrealServer {
    /// Starts the server, or returns `None` (after saying so) when the
    /// binary is missing outside CI.
    async fn start() -> Option<SurrealServer> {
        let bin = server_binary()?;
        let mut last_log = String::new();
        // A port taken by something else between the probe and the bind
        // makes the server exit; another port is tried then.
        for _ in 0..3 {
            let addr = format!("127.0.0.1:{}", free_port());
            let log = tempfile::NamedTempFile::new().unwrap();
            let child = Command::new(&bin)
                .args(["start", "--no-banner", "--log", "warn", "--bind", &addr])
                .args(["--username", ROOT_USER, "--password", ROOT_PASSWORD])
                .arg("memory")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log.reopen().unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run the SurrealDB server {bin:?}: {e}"));
            let mut server = SurrealServer { child, addr };
            if server.wait_healthy().await {
                return Some(server);
            }
            drop(server);
            last_log = std::fs::read_to_string(log.path()).unwrap_or_default();
        }
        panic!("the SurrealDB server {bin:?} did not start; its last log:\n{last_log}");
    }

    async fn wait_healthy(&mut self) -> bool {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let health = client
                .get(format!("http://{}/health", self.addr))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// A test configuration pointing at this server's database `db`.
    fn config(&self, db: &str) -> Config {
        let mut config = Config::for_tests();
        config.database_url = self.url();
        config.database_user = Some(ROOT_USER.into());
        config.database_password = Some(ROOT_PASSWORD.into());
        config.database_db = db.into();
        config
    }
}

impl Drop for SurrealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_binary() -> Option<PathBuf> {
    let bin = std::env::var_os("EA_CRM_SURREAL_BIN")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(CACHED_BIN)));
    match bin {
        Some(bin) if bin.is_file() => Some(bin),
        other => {
            let message = format!(
                "the SurrealDB server binary is missing ({other:?}): .ci/run builds it \
                 (see .ci/surreal-server) and EA_CRM_SURREAL_BIN may point at one"
            );
            if std::env::var_os("CI").is_some() {
                panic!("{message}");
            }
            // Straight to stderr: the harness would swallow `eprintln!`.
            let _ = writeln!(std::io::stderr(), "SKIPPED scale-out test: {message}");
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
/// Two in-process instances on one database of `server`, sharing a clock,
/// each with its own connection to the server.
async fn two_instances(server: &SurrealServer, adjust: impl Fn(&mut Config)) -> (TestApp, TestApp) {
    let db = format!("t{}", uuid::Uuid::new_v4().simple());
    let mut config = server.config(&db);
    adjust(&mut config);
    let first = TestApp::start_on(config, ManualClock::new(), None).await;
    let mut config = server.config(&db);
    adjust(&mut config);
    let second = TestApp::start_on(config, first.clock.clone(), None).await;
    (first, second)
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_on_the_other() {
    let Some(server) = SurrealServer::start().await else {
        return;
    };
    let (first, second) = two_instances(&server, |_| {}).await;
    let admin = first.admin_token().await;
    let (_, ann) = first.user_with_role(&admin, "ann", "user").await;

    let me = second.get("/api/v1/auth/me", &ann).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["user"]["username"], "ann");

    let created = second
        .post(
            "/api/v1/leads",
            &ann,
            json!({"company_name": "Made on two"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let lead: Value = created.json().await.unwrap();
    let id = lead["lead"]["id"].as_str().unwrap();
    let read = first.get(&format!("/api/v1/leads/{id}"), &ann).await;
    assert_eq!(
        read.status(),
        StatusCode::OK,
        "the lead is read on the first"
    );

    let logout = second
        .request(reqwest::Method::POST, "/api/v1/auth/logout", Some(&ann))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    let refused_there = second.get("/api/v1/auth/me", &ann).await;
    assert_eq!(
        refused_there.status(),
        StatusCode::UNAUTHORIZED,
        "the instance that logged out refuses the session at once"
    );
    // The first instance reused the session it resolved moments ago; it
    // looks it up again within AUTH_CACHE_MS.
    let cache = std::time::Duration::from_millis(Config::for_tests().auth_cache_ms);
    let started = std::time::Instant::now();
    let status = loop {
        let status = first.get("/api/v1/auth/me", &ann).await.status();
        if status == StatusCode::UNAUTHORIZED || started.elapsed() > cache * 2 {
            break status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a logout on one instance ends the session on the other within {cache:?}"
    );
}

#[tokio::test]
async fn a_message_posted_on_one_instance_reaches_a_socket_on_the_other() {
    let Some(server) = SurrealServer::start().await else {
        return;
    };
    let (first, second) = two_instances(&server, |_| {}).await;
    let admin = first.admin_token().await;
    let (bob, bob_token) = first.user_with_role(&admin, "bob", "user").await;
    let room = group(&first, &admin, "two-servers", &[&bob]).await;

    let mut bob_ws = Client::connect(&second, &bob_token).await;
    bob_ws.subscribe(&room, None).await;
    say(&first, &admin, &room, "posted on the first").await;
    say(&first, &admin, &room, "and another").await;
    let mut got = vec![
        bob_ws.next_of("message").await,
        bob_ws.next_of("message").await,
    ];
    got.extend(
        bob_ws
            .collect_of("message", Duration::from_millis(300))
            .await,
    );
    let bodies: Vec<&str> = got
        .iter()
        .map(|f| f["message"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["posted on the first", "and another"]);

    // And the other way round: bob writes through the second instance's
    // socket, the admin reads it through the first.
    let ack = bob_ws.say(&room, "sent on the second", "c-1").await;
    let seq = ack["seq"].as_i64().unwrap();
    let page: Value = first
        .get(
            &format!("/api/v1/rooms/{room}/messages?after={}", seq - 1),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().or(page.as_array()).unwrap();
    assert_eq!(items[0]["body"], "sent on the second");
}

#[tokio::test]
async fn a_user_on_one_instance_shows_online_to_a_user_on_the_other() {
    let Some(server) = SurrealServer::start().await else {
        return;
    };
    let (first, second) = two_instances(&server, |c| c.presence_flush_ms = 50).await;
    crate::ws::presence_crosses_instances(&first, &second).await;
}

#[tokio::test]
async fn someone_typing_on_one_instance_shows_to_a_user_on_the_other() {
    let Some(server) = SurrealServer::start().await else {
        return;
    };
    let (first, second) = two_instances(&server, |c| c.presence_flush_ms = 50).await;
    crate::ws::typing_crosses_instances(&first, &second).await;
}

const REMINDER_POLL_MS: u64 = 40;

async fn reminder_notifications(app: &TestApp) -> Vec<Value> {
    app.ctx()
        .store
        .run(
            "SELECT user, text FROM notification WHERE kind = 'reminder'",
            json!({}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap()
}

#[tokio::test]
async fn each_reminder_fires_once_with_two_instances_on_one_server() {
    let Some(server) = SurrealServer::start().await else {
        return;
    };
    let (first, second) = two_instances(&server, |c| c.reminder_poll_ms = REMINDER_POLL_MS).await;
    let admin = first.admin_token().await;
    let due = first.clock_now() + chrono::Duration::minutes(5);
    for i in 0..12 {
        let response = first
            .post(
                "/api/v1/reminders",
                &admin,
                json!({"text": format!("r{i}"), "due_at": due.to_rfc3339()}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    first.clock.advance(chrono::Duration::minutes(6));

    let deadline = Instant::now() + Duration::from_secs(20);
    while reminder_notifications(&second).await.len() < 12 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(REMINDER_POLL_MS)).await;
    }
    // Both schedulers get several more rounds to fire anything twice.
    tokio::time::sleep(Duration::from_millis(REMINDER_POLL_MS * 10)).await;
    let notes = reminder_notifications(&first).await;
    let mut texts: Vec<&str> = notes.iter().map(|n| n["text"].as_str().unwrap()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(notes.len(), 12, "{notes:?}");
    assert_eq!(texts.len(), 12);
}

/// A child process that is killed when dropped, so a failed assertion
/// leaves no instance running.
struct KillOnDrop(Child);

impl KillOnDrop {
    /// SIGKILL, and wait until it is gone.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `ea-crm` binary on `server`'s database `db`, with its address.
fn start_binary(
    server: &SurrealServer,
    db: &str,
    uploads: &std::path::Path,
) -> (KillOnDrop, String) {
    let mut child = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", server.url())
        .env("DATABASE_USER", ROOT_USER)
        .env("DATABASE_PASSWORD", ROOT_PASSWORD)
        .env("DATABASE_DB", db)
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
                let addr = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let child = KillOnDrop(child);
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the service starts");
    (child, format!("http://{addr}"))
}

/// What one writer got acknowledged: lead ids and message ids.
#[derive(Default)]
struct Acknowledged {
    leads: Vec<String>,
    messages: Vec<String>,
    /// Writes acknowledged after the other instance was killed.
    after_kill: usize,
}

/// What the writers share: how many writes were acknowledged in all, and
/// whether the doomed instance is dead yet.
#[derive(Default)]
struct Progress {
    acknowledged: AtomicUsize,
    killed: AtomicBool,
}

/// Writes acknowledged after the kill that end a survivor's stream.
const AFTER_KILL: usize = 10;

/// Creates leads and posts messages through `base`, alternating, and
/// records every acknowledged id. A refused write (say a conflict between
/// two instances) is not acknowledged and the stream goes on; a failed
/// connection (the instance is gone) ends it. A survivor stops after
/// `AFTER_KILL` writes past the kill.
fn writer(
    base: String,
    token: String,
    room: String,
    name: &'static str,
    progress: Arc<Progress>,
) -> tokio::task::JoinHandle<Acknowledged> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut acked = Acknowledged::default();
        let deadline = Instant::now() + Duration::from_secs(120);
        for n in 0..20_000 {
            if acked.after_kill >= AFTER_KILL || Instant::now() > deadline {
                break;
            }
            let after_kill = progress.killed.load(Ordering::SeqCst);
            let (url, body) = if n % 2 == 0 {
                (
                    format!("{base}/api/v1/leads"),
                    json!({"company_name": format!("{name} {n}")}),
                )
            } else {
                (
                    format!("{base}/api/v1/rooms/{room}/messages"),
                    json!({"body": format!("{name} {n}")}),
                )
            };
            let sent = client
                .post(url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            let Ok(response) = sent else { break };
            if !response.status().is_success() {
                continue;
            }
            let Ok(body) = response.json::<Value>().await else {
                break;
            };
            if let Some(id) = body["lead"]["id"].as_str() {
                acked.leads.push(id.to_string());
            } else if let Some(id) = body["message"]["id"].as_str() {
                acked.messages.push(id.to_string());
            }
            progress.acknowledged.fetch_add(1, Ordering::SeqCst);
            if after_kill {
                acked.after_kill += 1;
            }
        }
        acked
    })
}

#[tokio::test]
async fn an_instance_killed_mid_stream_loses_nothing_that_was_acknowledged() {
    let Some(server) = SurrealServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut doomed, doomed_base) = start_binary(&server, "main", &dir.path().join("a"));
    let (mut survivor, survivor_base) = start_binary(&server, "main", &dir.path().join("b"));
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{doomed_base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let room: Value = client
        .post(format!("{survivor_base}/api/v1/rooms"))
        .bearer_auth(&token)
        .json(&json!({"name": "scale-out", "kind": "channel"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = room["id"].as_str().unwrap().to_string();

    // Writers on both instances; the doomed one is killed once the stream
    // is well under way, the survivor's writers carry on after it.
    let progress = Arc::new(Progress::default());
    let mut writers = Vec::new();
    for (base, name) in [
        (&doomed_base, "doomed-1"),
        (&doomed_base, "doomed-2"),
        (&survivor_base, "survivor-1"),
        (&survivor_base, "survivor-2"),
    ] {
        writers.push(writer(
            base.clone(),
            token.clone(),
            room.clone(),
            name,
            progress.clone(),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress.acknowledged.load(Ordering::SeqCst) < 40 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.kill(); // SIGKILL: no shutdown, nothing flushed
    progress.killed.store(true, Ordering::SeqCst);

    let mut acked = Acknowledged::default();
    for w in writers {
        let got = w.await.unwrap();
        acked.leads.extend(got.leads);
        acked.messages.extend(got.messages);
        acked.after_kill += got.after_kill;
    }
    assert!(
        acked.leads.len() >= 4 && acked.messages.len() >= 4,
        "writes were acknowledged ({} leads, {} messages)",
        acked.leads.len(),
        acked.messages.len()
    );
    assert!(
        acked.after_kill >= AFTER_KILL,
        "the survivor kept acknowledging writes after the kill ({})",
        acked.after_kill
    );

    let missing = unreadable_leads(&client, &survivor_base, &token, &acked.leads).await;
    let stored = room_message_ids(&client, &survivor_base, &token, &room).await;
    survivor.kill();
    let lost: Vec<&String> = acked
        .messages
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged leads lost: {missing:?}",
        missing.len(),
        acked.leads.len()
    );
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost: {lost:?}",
        lost.len(),
        acked.messages.len()
    );
}

/// The deploy kit's setting: the service signs in as a user of its own
/// database only (`DATABASE_AUTH_LEVEL=database`), migrates and serves
/// with it, and those credentials reach no other database on the server.
#[tokio::test]
async fn an_instance_runs_as_a_database_user_that_reaches_no_other_database() {
    let Some(server) = SurrealServer::start().await else {
        return;
    };
    const USER: &str = "crm";
    const PASSWORD: &str = "crm-database-password";
    let root = surrealdb::engine::any::connect(server.url()).await.unwrap();
    root.signin(surrealdb::opt::auth::Root {
        username: ROOT_USER.into(),
        password: ROOT_PASSWORD.into(),
    })
    .await
    .unwrap();
    root.query(format!(
        "DEFINE NAMESPACE IF NOT EXISTS ea_crm; USE NS ea_crm;
         DEFINE DATABASE IF NOT EXISTS own; DEFINE DATABASE IF NOT EXISTS other;
         USE DB own; DEFINE USER {USER} ON DATABASE PASSWORD '{PASSWORD}' ROLES OWNER;"
    ))
    .await
    .unwrap()
    .check()
    .unwrap();

    let mut config = server.config("own");
    config.database_user = Some(USER.into());
    config.database_password = Some(PASSWORD.into());
    config.database_auth_level = ea_crm::config::DatabaseAuthLevel::Database;
    let app = TestApp::start(config).await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Least Privilege Ltd").await;
    let read = app.get(&format!("/api/v1/leads/{lead}"), &admin).await;
    assert_eq!(read.status(), StatusCode::OK);

    let own = surrealdb::engine::any::connect(server.url()).await.unwrap();
    own.signin(surrealdb::opt::auth::Database {
        namespace: "ea_crm".into(),
        database: "own".into(),
        username: USER.into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();
    // Whether the switch itself is refused or the write after it is, the
    // other database must stay untouched.
    let switched = own.use_ns("ea_crm").use_db("other").await;
    let wrote = match switched {
        Ok(_) => own
            .query("CREATE probe SET at = time::now()")
            .await
            .and_then(|r| r.check())
            .is_ok(),
        Err(_) => false,
    };
    root.query("USE NS ea_crm DB other").await.unwrap();
    let mut found = root.query("SELECT * FROM probe").await.unwrap();
    let probes: Vec<Value> = found.take(0).unwrap_or_default();
    assert!(
        probes.is_empty(),
        "a database user wrote into another database (switch {:?}, write ok: {wrote})",
        switched.is_ok()
    );
    app.stop().await;
}

#[tokio::test]
async fn maintenance_switched_on_one_instance_closes_the_other() {
    let Some(server) = SurrealServer::start().await else {
        return;
    };
    let (first, second) = two_instances(&server, |_| {}).await;
    let admin = first.admin_token().await;
    let (_, ann) = first.user_with_role(&admin, "ann", "user").await;
    assert_eq!(
        second.get("/api/v1/leads", &ann).await.status(),
        StatusCode::OK
    );

    let response = first
        .put_json(
            "/api/v1/maintenance",
            &admin,
            json!({"enabled": true, "message": "restoring last night's backup"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // The other instance reads the stored switch within its poll period.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let response = second.get("/api/v1/leads", &ann).await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            break response;
        }
        assert!(
            Instant::now() < deadline,
            "the second instance still serves: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "maintenance");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("restoring last night's backup"));
    // An admin is served there too, and switching off there reopens both.
    assert_eq!(
        second.get("/api/v1/leads", &admin).await.status(),
        StatusCode::OK
    );
    let response = second
        .put_json("/api/v1/maintenance", &admin, json!({"enabled": false}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    while first.get("/api/v1/leads", &ann).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the first instance stays closed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
