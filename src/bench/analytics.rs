//! `ea-crm bench analytics`: seeds leads, follow-ups, calls, tasks and
//! chat messages with realistic spreads, then times every analytics endpoint
//! over HTTP (p50 and p95 of a few samples each).
//!
//! On SurrealKV (the default) the service runs in a process of its own and
//! the requests come from this one: the bench first runs itself with
//! `--seed-only` to seed a new SurrealKV folder (one process at a time may
//! hold it), then starts the server on that folder. In memory the data
//! cannot outlive a process, so the service runs inside the bench's.
//!
//! Seeding writes rows straight into the store in batches of `--batch`,
//! bypassing the domain (no audit rows, no webhooks, owners are plain
//! ids; the store's own table events and views run as for any write): going through the import would take minutes per 10,000
//! leads, and the analytics queries read only the stored fields, which are
//! filled here exactly as the domain fills them (sort keys, search text,
//! task cycle time and on-time flag).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::server_process::{BenchStore, ServerProcess, StoreLocation};
use super::{quantile, Figure, Service};
use crate::config::Config;
use crate::domain::clock::db_time;
use crate::store::transaction::Transaction;
use crate::store::Store;

#[derive(Debug, Clone, clap::Args)]
pub struct AnalyticsBench {
    /// Leads to seed.
    #[arg(long, default_value_t = 100_000)]
    pub leads: usize,
    /// Production tasks to seed.
    #[arg(long, default_value_t = 50_000)]
    pub tasks: usize,
    /// Chat messages to seed.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Timed requests per endpoint.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    /// Rows per insert statement while seeding.
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// The store the service runs on.
    #[arg(long, value_enum, default_value_t = BenchStore::Surrealkv)]
    pub store: BenchStore,
    /// The `ea-crm` binary to run as the server (default: this one).
    #[arg(long)]
    pub server: Option<std::path::PathBuf>,
    /// Seed the store this URL names, print what was seeded as one line of
    /// JSON, and stop: how the bench seeds a SurrealKV folder before its
    /// server opens it.
    #[arg(long, hide = true)]
    pub seed_into: Option<String>,
    /// The admin the seeding creates signs in with this password.
    #[arg(
        long,
        hide = true,
        env = "BENCH_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub seed_admin_password: Option<String>,
}

impl Default for AnalyticsBench {
    fn default() -> Self {
        AnalyticsBench {
            leads: 100_000,
            tasks: 50_000,
            messages: 20_000,
            samples: 5,
            batch: 1_000,
            store: BenchStore::Surrealkv,
            server: None,
            seed_into: None,
            seed_admin_password: None,
        }
    }
}

/// The data spans this many days back from now.
const SPAN_DAYS: i64 = 365;
const REPS: usize = 20;

const STATUSES: &[(&str, u32)] = &[
    ("new", 30),
    ("contacted", 20),
    ("interested", 12),
    ("qualified", 8),
    ("proposal", 5),
    ("won", 5),
    ("lost", 8),
    ("not_interested", 7),
    ("cold", 5),
];
const SOURCES: &[(&str, u32)] = &[
    ("website", 30),
    ("linkedin", 20),
    ("referral", 15),
    ("import", 12),
    ("cold_call", 10),
    ("event", 8),
    ("ads", 5),
];
const COUNTRIES: &[(&str, u32)] = &[
    ("US", 30),
    ("DE", 12),
    ("GB", 10),
    ("IN", 10),
    ("FR", 8),
    ("CA", 7),
    ("AU", 7),
    ("BR", 6),
    ("JP", 5),
    ("ES", 5),
];
const INDUSTRIES: &[(&str, u32)] = &[
    ("saas", 25),
    ("retail", 15),
    ("finance", 12),
    ("manufacturing", 12),
    ("health", 10),
    ("logistics", 10),
    ("education", 8),
    ("media", 8),
];
const TASK_TYPES: &[(&str, u32)] = &[
    ("development", 30),
    ("design", 20),
    ("content", 15),
    ("support", 15),
    ("onboarding", 10),
    ("review", 10),
];
const TASK_STATUSES: &[(&str, u32)] = &[
    ("done", 55),
    ("todo", 15),
    ("in_progress", 12),
    ("review", 8),
    ("cancelled", 10),
];
const CALL_OUTCOMES: &[(&str, u32)] = &[
    ("no_answer", 30),
    ("voicemail", 20),
    ("connected", 20),
    ("interested", 8),
    ("not_interested", 8),
    ("callback", 8),
    ("busy", 4),
    ("wrong_number", 2),
];
const PRIORITIES: &[(&str, u32)] = &[("normal", 55), ("high", 20), ("low", 15), ("urgent", 10)];

struct Pick<'a> {
    names: Vec<&'a str>,
    dist: WeightedIndex<u32>,
}

impl<'a> Pick<'a> {
    fn new(table: &[(&'a str, u32)]) -> Pick<'a> {
        Pick {
            names: table.iter().map(|(n, _)| *n).collect(),
            dist: WeightedIndex::new(table.iter().map(|(_, w)| *w)).expect("positive weights"),
        }
    }

    fn pick(&self, rng: &mut StdRng) -> &'a str {
        self.names[self.dist.sample(rng)]
    }
}

/// Sales reps with a long tail: rep k gets a share proportional to 1/(k+1).
fn rep(rng: &mut StdRng, reps: &WeightedIndex<f64>) -> String {
    format!("bench-rep-{:02}", reps.sample(rng))
}

/// A time in the span, weighted towards the recent past (a growing team).
fn past(rng: &mut StdRng, now: DateTime<Utc>) -> DateTime<Utc> {
    let u: f64 = rng.gen();
    let seconds = (u.powf(1.5) * (SPAN_DAYS * 86_400) as f64) as i64;
    now - chrono::Duration::seconds(seconds)
}

fn id_at(at: DateTime<Utc>, rng: &mut StdRng) -> String {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp() as u64,
        at.timestamp_subsec_nanos(),
    );
    let mut bytes = *uuid::Uuid::new_v7(ts).as_bytes();
    // new_v7 fills the low bits from the OS; a seeded tail keeps runs alike.
    rng.fill(&mut bytes[10..]);
    uuid::Builder::from_bytes(bytes)
        .into_uuid()
        .simple()
        .to_string()
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Seeded {
    pub leads: usize,
    pub follow_ups: usize,
    pub calls: usize,
    pub tasks: usize,
    pub messages: usize,
    pub elapsed: Duration,
}

/// Writes one batch as a transaction, run again when it loses a race with
/// the service's own background writers (the lead scorer, say) on a shared
/// roll-up row, as the domain's writes are.
async fn seed_batch(store: &Store, sql: &str, vars: Value) -> anyhow::Result<()> {
    let mut tx = Transaction::new();
    if let Value::Object(vars) = vars {
        for (name, value) in vars {
            tx.bind(&name, value);
        }
    }
    tx.push(sql);
    tx.commit(store).await?;
    Ok(())
}

/// Writes the data set straight into the store (see the module notes).
pub async fn seed(service: &Service, bench: &AnalyticsBench) -> anyhow::Result<Seeded> {
    let store = &service.ctx.store;
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(7);
    let reps = WeightedIndex::new((0..REPS).map(|k| 1.0 / (k as f64 + 1.0)))?;
    let (statuses, sources, countries, industries) = (
        Pick::new(STATUSES),
        Pick::new(SOURCES),
        Pick::new(COUNTRIES),
        Pick::new(INDUSTRIES),
    );
    let batch = bench.batch.max(1);
    let started = Instant::now();
    let mut lead_ids = Vec::with_capacity(bench.leads);
    let mut follow_ups = 0;
    let mut calls_made = 0;
    let call_outcomes = Pick::new(CALL_OUTCOMES);
    let mut done = 0;
    while done < bench.leads {
        let mut leads = Vec::with_capacity(batch);
        let mut fus = Vec::new();
        let mut calls = Vec::new();
        for i in done..(done + batch).min(bench.leads) {
            let created = past(&mut rng, now);
            let id = id_at(created, &mut rng);
            let updated = created + chrono::Duration::hours(rng.gen_range(0..24 * 30));
            let updated = updated.min(now);
            let company = format!("Bench {} {i}", industries.names[i % industries.names.len()]);
            let key = crate::domain::crm::normalize::company_key(&company);
            let domain = format!("bench{i}.example.com");
            let owner = rep(&mut rng, &reps);
            let score: i64 = rng.gen_range(0..100);
            let mut row = json!({
                "id": id,
                "company_name": company,
                "company_key": key,
                "name_keys": crate::domain::crm::normalize::name_keys(&company),
                "website": format!("https://{domain}"),
                "domain": domain,
                "industry": industries.pick(&mut rng),
                "status": statuses.pick(&mut rng),
                "country": countries.pick(&mut rng),
                "owner": owner,
                "created_by": if rng.gen_bool(0.7) { owner.clone() } else { rep(&mut rng, &reps) },
                "source": sources.pick(&mut rng),
                "tags": if rng.gen_bool(0.2) { json!(["priority"]) } else { json!([]) },
                "score": score,
                "created_at": db_time(created),
                "updated_at": db_time(updated),
                "deleted_at": rng.gen_bool(0.03).then(|| db_time(updated)),
                "search_text": crate::domain::crm::leads::search_text(&company, Some(&domain), &[]),
            });
            if let (Value::Object(map), Value::Object(sorts)) = (
                &mut row,
                crate::domain::crm::leads::sort_keys(&id, &key, score, updated),
            ) {
                map.extend(sorts);
            }
            leads.push(row);
            // About half the leads have a first follow-up; most of the due
            // ones are done, a share of them late.
            if rng.gen_bool(0.5) {
                let scheduled = created + chrono::Duration::hours(rng.gen_range(24..24 * 14));
                let done_at = (scheduled < now && rng.gen_bool(0.75))
                    .then(|| scheduled + chrono::Duration::hours(rng.gen_range(0..72)));
                fus.push(json!({
                    "lead": id,
                    "scheduled_at": db_time(scheduled),
                    "done_at": done_at.map(db_time),
                    "outcome": if done_at.is_some() { "done" } else { "pending" },
                    "owner": owner,
                    "updated_at": db_time(done_at.unwrap_or(created)),
                }));
            }
            // A third of the leads get a call, most within days of creation.
            if rng.gen_bool(0.33) {
                let at = created + chrono::Duration::minutes(rng.gen_range(5..60 * 24 * 7));
                if at < now {
                    calls.push(json!({
                        "lead": id,
                        "user": owner,
                        "outcome": call_outcomes.pick(&mut rng),
                        "at": db_time(at),
                    }));
                }
            }
            lead_ids.push(id);
        }
        follow_ups += fus.len();
        calls_made += calls.len();
        seed_batch(
            store,
                "FOR $r IN $leads {
                    CREATE type::record('lead', $r.id) CONTENT {
                        company_name: $r.company_name, company_key: $r.company_key, name_keys: $r.name_keys,
                        website: $r.website, domain: $r.domain, industry: $r.industry,
                        status: $r.status, country: $r.country, owner: $r.owner,
                        created_by: $r.created_by, source: $r.source, tags: $r.tags,
                        score: $r.score, created_at: <datetime>$r.created_at,
                        updated_at: <datetime>$r.updated_at,
                        deleted_at: IF $r.deleted_at THEN <datetime>$r.deleted_at ELSE NONE END,
                        search_text: $r.search_text, sort_created: $r.sort_created,
                        sort_updated: $r.sort_updated, sort_company: $r.sort_company,
                        sort_score: $r.sort_score
                    } RETURN NONE;
                 };
                 FOR $f IN $fus {
                    CREATE follow_up CONTENT {
                        lead: $f.lead, tier: 1, scheduled_at: <datetime>$f.scheduled_at,
                        done_at: IF $f.done_at THEN <datetime>$f.done_at ELSE NONE END,
                        outcome: $f.outcome, logged_by: $f.owner, owner: $f.owner,
                        updated_at: <datetime>$f.updated_at
                    } RETURN NONE;
                 };
                 FOR $c IN $calls {
                    CREATE call CONTENT {
                        lead: $c.lead, user: $c.user, user_name: $c.user,
                        outcome: $c.outcome, at: <datetime>$c.at
                    } RETURN NONE;
                 };",
                json!({"leads": leads, "fus": fus, "calls": calls}),
        )
        .await?;
        done = (done + batch).min(bench.leads);
    }

    let (types, task_statuses, priorities) = (
        Pick::new(TASK_TYPES),
        Pick::new(TASK_STATUSES),
        Pick::new(PRIORITIES),
    );
    let mut done = 0;
    while done < bench.tasks {
        let mut tasks = Vec::with_capacity(batch);
        for i in done..(done + batch).min(bench.tasks) {
            let created = past(&mut rng, now);
            let id = id_at(created, &mut rng);
            let status = task_statuses.pick(&mut rng);
            let due = rng
                .gen_bool(0.7)
                .then(|| created + chrono::Duration::hours(rng.gen_range(24..24 * 21)));
            let started = (status != "todo")
                .then(|| created + chrono::Duration::hours(rng.gen_range(0..72)))
                .map(|t| t.min(now));
            let completed = (status == "done")
                .then(|| {
                    started.unwrap_or(created) + chrono::Duration::hours(rng.gen_range(1..24 * 14))
                })
                .map(|t| t.min(now));
            let cycle = completed.map(|c| (c - started.unwrap_or(created)).num_seconds());
            let on_time = completed.and_then(|c| due.map(|d| c <= d));
            let sort_due = format!(
                "{}|{id}",
                due.map(db_time)
                    .unwrap_or_else(|| "9999-12-31T00:00:00Z".to_string())
            );
            tasks.push(json!({
                "id": id,
                "title": format!("Bench task {i}"),
                "task_type": types.pick(&mut rng),
                "priority": priorities.pick(&mut rng),
                "status": status,
                "is_open": !matches!(status, "done" | "cancelled"),
                "lead": lead_ids.get(rng.gen_range(0..lead_ids.len().max(1))),
                "assignee": rep(&mut rng, &reps),
                "created_by": rep(&mut rng, &reps),
                "due_at": due.map(db_time),
                "started_at": started.map(db_time),
                "completed_at": completed.map(db_time),
                "cycle_seconds": cycle,
                "on_time": on_time,
                "created_at": db_time(created),
                "updated_at": db_time(completed.or(started).unwrap_or(created)),
                "sort_created": id,
                "sort_due": sort_due,
            }));
        }
        seed_batch(
            store,
                "FOR $t IN $tasks {
                    CREATE type::record('task', $t.id) CONTENT {
                        title: $t.title, task_type: $t.task_type, priority: $t.priority,
                        status: $t.status, is_open: $t.is_open, lead: $t.lead,
                        assignee: $t.assignee, created_by: $t.created_by,
                        due_at: IF $t.due_at THEN <datetime>$t.due_at ELSE NONE END,
                        started_at: IF $t.started_at THEN <datetime>$t.started_at ELSE NONE END,
                        completed_at: IF $t.completed_at THEN <datetime>$t.completed_at ELSE NONE END,
                        cycle_seconds: $t.cycle_seconds, on_time: $t.on_time,
                        created_at: <datetime>$t.created_at, updated_at: <datetime>$t.updated_at,
                        sort_created: $t.sort_created, sort_due: $t.sort_due
                    } RETURN NONE;
                 };",
                json!({"tasks": tasks}),
        )
        .await?;
        done = (done + batch).min(bench.tasks);
    }

    // Messages in 10 rooms, numbered per room as the hub numbers them.
    let mut done = 0;
    while done < bench.messages {
        let mut messages = Vec::with_capacity(batch);
        for i in done..(done + batch).min(bench.messages) {
            let author = rep(&mut rng, &reps);
            messages.push(json!({
                "room": format!("bench-room-{}", i % 10),
                "seq": i / 10 + 1,
                "author": author,
                "author_name": author,
                "body": format!("bench message {i}"),
                "created_at": db_time(past(&mut rng, now)),
                "deleted_at": rng.gen_bool(0.02).then(|| db_time(now)),
            }));
        }
        seed_batch(
            store,
            "FOR $m IN $messages {
                    CREATE message CONTENT {
                        room: $m.room, seq: $m.seq, author: $m.author,
                        author_name: $m.author_name, body: $m.body,
                        created_at: <datetime>$m.created_at,
                        deleted_at: IF $m.deleted_at THEN <datetime>$m.deleted_at ELSE NONE END
                    } RETURN NONE;
                 };",
            json!({"messages": messages}),
        )
        .await?;
        done = (done + batch).min(bench.messages);
    }
    Ok(Seeded {
        leads: bench.leads,
        follow_ups,
        calls: calls_made,
        tasks: bench.tasks,
        messages: bench.messages,
        elapsed: started.elapsed(),
    })
}

/// Every analytics endpoint, as (name, path and query).
fn endpoints(from: &str, to: &str) -> Vec<(&'static str, String)> {
    let range = format!("from={from}&to={to}");
    vec![
        ("funnel", format!("/api/v1/analytics/funnel?{range}")),
        (
            "leads by source",
            format!("/api/v1/analytics/leads?by=source&{range}"),
        ),
        (
            "leads by owner",
            format!("/api/v1/analytics/leads?by=owner&{range}"),
        ),
        (
            "leads by country",
            format!("/api/v1/analytics/leads?by=country&{range}"),
        ),
        (
            "leads by industry",
            format!("/api/v1/analytics/leads?by=industry&{range}"),
        ),
        (
            "follow-up compliance",
            format!("/api/v1/analytics/follow-ups?{range}"),
        ),
        ("tasks", format!("/api/v1/analytics/tasks?{range}")),
        ("chat", format!("/api/v1/analytics/chat?{range}")),
        (
            "first contact by owner",
            format!("/api/v1/analytics/first-contact?by=owner&{range}"),
        ),
        ("responses", format!("/api/v1/analytics/responses?{range}")),
        ("workload", "/api/v1/analytics/workload".to_string()),
    ]
}

pub async fn run(config: Config, bench: AnalyticsBench) -> anyhow::Result<Vec<Figure>> {
    if let Some(database_url) = &bench.seed_into {
        return seed_only(config, database_url, &bench).await;
    }
    match bench.store {
        BenchStore::Surrealkv => in_own_process(&bench).await,
        BenchStore::Mem => in_this_process(config, &bench).await,
    }
}

async fn in_this_process(config: Config, bench: &AnalyticsBench) -> anyhow::Result<Vec<Figure>> {
    let mut config = config;
    config.database_url = "mem://".into();
    let service = Service::start(config).await?;
    let outcome = match seed(&service, bench).await {
        Ok(seeded) => {
            let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
            measure(&client, &service.base, &service.token, bench, &seeded).await
        }
        Err(e) => Err(e),
    };
    service.stop().await;
    outcome
}

/// Seeds a new SurrealKV folder from a process of its own, then serves it
/// from another and measures from this one.
async fn in_own_process(bench: &AnalyticsBench) -> anyhow::Result<Vec<Figure>> {
    let password = crate::domain::tokens::generate_password();
    let location = StoreLocation::new(BenchStore::Surrealkv);
    let seeded = match seed_in_a_process(bench, &location.database_url, &password).await {
        Ok(seeded) => seeded,
        Err(e) => {
            location.remove();
            return Err(e);
        }
    };
    let server = ServerProcess::service_at(bench.server.as_deref(), location, &password).await?;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let outcome = match super::login(&client, &format!("{base}/api/v1"), "admin", &password).await {
        Ok(token) => measure(&client, &base, &token, bench, &seeded).await,
        Err(e) => Err(e),
    };
    server.stop().await;
    outcome
}

async fn seed_in_a_process(
    bench: &AnalyticsBench,
    database_url: &str,
    admin_password: &str,
) -> anyhow::Result<Seeded> {
    let output = tokio::process::Command::new(std::env::current_exe()?)
        .args(["bench", "analytics", "--seed-into", database_url])
        .args(["--leads", &bench.leads.to_string()])
        .args(["--tasks", &bench.tasks.to_string()])
        .args(["--messages", &bench.messages.to_string()])
        .args(["--batch", &bench.batch.to_string()])
        .env("BENCH_ADMIN_PASSWORD", admin_password)
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await?;
    anyhow::ensure!(output.status.success(), "seeding failed: {}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| serde_json::from_str::<Seeded>(line).ok())
        .ok_or_else(|| anyhow::anyhow!("the seeding process did not say what it seeded"))
}

/// `--seed-into`: seeds that store, with the admin the bench will sign in
/// as, and prints what it seeded.
async fn seed_only(
    config: Config,
    database_url: &str,
    bench: &AnalyticsBench,
) -> anyhow::Result<Vec<Figure>> {
    let mut config = config;
    config.database_url = database_url.to_string();
    let password = bench
        .seed_admin_password
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--seed-into needs BENCH_ADMIN_PASSWORD"))?;
    let service = Service::start_as(config, password).await?;
    let seeded = seed(&service, bench).await;
    service.stop().await;
    println!("{}", serde_json::to_string(&seeded?)?);
    Ok(Vec::new())
}

async fn measure(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    bench: &AnalyticsBench,
    seeded: &Seeded,
) -> anyhow::Result<Vec<Figure>> {
    let rows =
        (seeded.leads + seeded.follow_ups + seeded.calls + seeded.tasks + seeded.messages) as f64;
    let mut out = vec![
        Figure::new("analytics", "seeded leads", seeded.leads as f64, "rows"),
        Figure::new(
            "analytics",
            "seeded follow-ups",
            seeded.follow_ups as f64,
            "rows",
        ),
        Figure::new("analytics", "seeded calls", seeded.calls as f64, "rows"),
        Figure::new("analytics", "seeded tasks", seeded.tasks as f64, "rows"),
        Figure::new(
            "analytics",
            "seeded messages",
            seeded.messages as f64,
            "rows",
        ),
        Figure::new(
            "analytics",
            "seeding (bypasses the domain)",
            rows / seeded.elapsed.as_secs_f64().max(f64::EPSILON),
            "rows/s",
        ),
    ];
    // The whole span: every seeded row is in range, the heaviest case.
    let to = Utc::now() + chrono::Duration::hours(1);
    let from = to - chrono::Duration::days(SPAN_DAYS + 1);
    let (from, to) = (
        from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    for (name, path) in endpoints(&from, &to) {
        let mut samples = Vec::with_capacity(bench.samples.max(1));
        let mut answer = Value::Null;
        for _ in 0..bench.samples.max(1) {
            let t = Instant::now();
            let response = client
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{name}: {}",
                response.status()
            );
            answer = response.json().await?;
            samples.push(t.elapsed());
        }
        anyhow::ensure!(
            counted(&answer) > 0,
            "{name} counted nothing on the seeded data"
        );
        samples.sort_unstable();
        out.push(Figure::millis(
            "analytics",
            format!("{name} p50"),
            quantile(&samples, 0.5),
        ));
        out.push(Figure::millis(
            "analytics",
            format!("{name} p95"),
            quantile(&samples, 0.95),
        ));
    }
    Ok(out)
}

/// The sum of every count in an answer, to check it saw the seeded rows.
fn counted(v: &Value) -> u64 {
    match v {
        Value::Array(items) => items.iter().map(counted).sum(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::Number(n)
                    if matches!(
                        k.as_str(),
                        "current"
                            | "leads"
                            | "due"
                            | "done"
                            | "count"
                            | "messages"
                            | "calls"
                            | "follow_ups"
                            | "open"
                    ) =>
                {
                    n.as_u64().unwrap_or(0)
                }
                other => counted(other),
            })
            .sum(),
        _ => 0,
    }
}
