//! `ea-crm bench crm`: the CRM data path measured from outside. The
//! service runs in a process of its own (on the default SurrealKV store
//! unless told otherwise); this process uploads N leads as a CSV import
//! job and follows it while one client keeps reading the lead list, then
//! loads the list, an own-scope list, a filter with a sort, a search for a
//! word most leads share, the counts and the export with keep-alive
//! clients, reads the store's size, and finally restarts the service on
//! the same folder to time its cold start and compare the list in a fresh
//! process with the one that ran the import.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::server_process::{BenchStore, ServerProcess};
use super::{login, Figure, Latency};

#[derive(Debug, Clone, clap::Args)]
pub struct CrmBench {
    /// How many leads to import (each with a contact).
    #[arg(long, default_value_t = 100_000)]
    pub leads: usize,
    /// Requests per one-client latency measurement.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Seconds of each concurrent run.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent keep-alive clients in the concurrent runs.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// The store the service runs on.
    #[arg(long, value_enum, default_value_t = BenchStore::Surrealkv)]
    pub store: BenchStore,
    /// The `ea-crm` binary to run as the server (default: this one).
    #[arg(long)]
    pub server: Option<std::path::PathBuf>,
}

impl Default for CrmBench {
    fn default() -> Self {
        CrmBench {
            leads: 100_000,
            samples: 200,
            seconds: 5,
            clients: 8,
            store: BenchStore::Surrealkv,
            server: None,
        }
    }
}

const INDUSTRIES: &[&str] = &[
    "SaaS",
    "Retail",
    "Logistics",
    "Manufacturing",
    "Finance",
    "Health",
];
const COUNTRIES: &[&str] = &["US", "DE", "FR", "GB", "JP", "BR", "IN", "ES"];
const WORDS: &[&str] = &[
    "alpha", "nova", "vertex", "orbit", "quantum", "harbor", "summit", "pioneer", "cedar", "atlas",
];
/// The sales rep whose own-scope list is measured; every tenth lead is theirs.
const REP: &str = "benchrep";
/// How long the import may take before the bench gives up on it.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// How often the job and the server's memory are read during the import.
const POLL: Duration = Duration::from_millis(250);

pub async fn run(args: CrmBench) -> anyhow::Result<Vec<Figure>> {
    let password = crate::domain::tokens::generate_password();
    let mut server = ServerProcess::service(args.server.as_deref(), args.store, &password).await?;
    let outcome = measure(&mut server, &args, &password).await;
    server.stop().await;
    outcome
}

/// Who the requests are made as.
struct Callers {
    base: String,
    admin: String,
    rep: String,
}

async fn measure(
    server: &mut ServerProcess,
    args: &CrmBench,
    admin_password: &str,
) -> anyhow::Result<Vec<Figure>> {
    let suite = "crm";
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let callers = sign_in(&client, server, admin_password).await?;
    let base = callers.base.clone();
    let mut out = Vec::new();

    // The file is written to disk and streamed, as a user's upload would be.
    let dir = std::env::temp_dir().join(format!(
        "ea-crm-bench-csv-{}",
        crate::domain::tokens::new_id()
    ));
    std::fs::create_dir_all(&dir)?;
    let csv_path = dir.join("leads.csv");
    write_csv(&csv_path, args.leads)?;
    let imported = import(&client, server, &callers, &csv_path, args).await;
    let _ = std::fs::remove_dir_all(&dir);
    let imported = imported?;
    out.extend(imported.figures(suite, args.leads));

    let list = format!("{base}/api/v1/leads?limit=50");
    let (walk_pages, walk_time, last_url) = walk(&client, &callers.admin, &base, args).await?;
    out.push(Figure::new(
        suite,
        "cursor walk: pages of 50",
        walk_pages as f64,
        "pages",
    ));
    out.push(Figure::new(
        suite,
        "cursor walk: time",
        walk_time.as_secs_f64(),
        "s",
    ));
    let loads = [
        ("first page", list.clone(), &callers.admin),
        ("last page", last_url, &callers.admin),
        ("own-scope first page", list.clone(), &callers.rep),
        (
            "country=DE, sort=company",
            format!("{base}/api/v1/leads?limit=50&country=DE&sort=company"),
            &callers.admin,
        ),
        (
            "search q=holdings",
            format!("{base}/api/v1/leads?limit=50&q=holdings"),
            &callers.admin,
        ),
    ];
    let mut first_page_p99 = None;
    for (name, url, token) in &loads {
        let load = concurrent(&client, token, url, args.clients, args.seconds).await?;
        if *name == "first page" {
            first_page_p99 = Some(load.latency.p99);
        }
        out.extend(load.figures(suite, name, args.clients));
    }
    let count_url = |query: &str| format!("{base}/api/v1/leads/count{query}");
    let counted: Value = client
        .get(count_url(""))
        .bearer_auth(&callers.admin)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    out.push(Figure::new(
        suite,
        "leads counted",
        counted["count"].as_f64().unwrap_or(f64::NAN),
        "leads",
    ));
    for (name, query) in [
        ("count", ""),
        ("count status=new", "?status=new"),
        ("count country=DE", "?country=DE"),
    ] {
        let latency = sample(&client, &callers.admin, &count_url(query), args.samples).await?;
        out.push(Figure::millis(suite, format!("{name} p50"), latency.p50));
        out.push(Figure::millis(suite, format!("{name} p99"), latency.p99));
    }
    out.extend(export(&client, server, &callers, suite).await?);

    let bytes = server.data_bytes();
    if bytes > 0 {
        out.push(Figure::new(
            suite,
            "disk per lead",
            bytes as f64 / imported.created.max(1) as f64,
            "bytes",
        ));
    }
    // A fresh process on the same folder: its cold start, and whether the
    // process that ran the import answers as fast as it does.
    if args.store == BenchStore::Surrealkv {
        let cold_start = server.restart().await?;
        out.push(Figure::millis(suite, "cold start to /readyz", cold_start));
        let callers = sign_in(&client, server, admin_password).await?;
        let fresh = concurrent(&client, &callers.admin, &list, args.clients, args.seconds).await?;
        out.extend(fresh.figures(suite, "first page after a restart", args.clients));
        if let Some(before) = first_page_p99 {
            out.push(Figure::new(
                suite,
                "first page p99, long-running / fresh",
                before.as_secs_f64() / fresh.latency.p99.as_secs_f64().max(1e-9),
                "ratio",
            ));
        }
    }
    Ok(out)
}

async fn sign_in(
    client: &reqwest::Client,
    server: &ServerProcess,
    admin_password: &str,
) -> anyhow::Result<Callers> {
    let base = format!("http://{}", server.addr);
    let api = format!("{base}/api/v1");
    let admin = login(client, &api, "admin", admin_password).await?;
    let rep_password = format!("{admin_password}-rep");
    let created = client
        .post(format!("{api}/users"))
        .bearer_auth(&admin)
        .json(
            &json!({"username": REP, "email": format!("{REP}@bench.invalid"),
            "password": rep_password, "role": "user"}),
        )
        .send()
        .await?;
    // After a restart the rep is already there.
    anyhow::ensure!(
        created.status().is_success() || created.status() == reqwest::StatusCode::CONFLICT,
        "the rep could not be created: {}",
        created.status()
    );
    let rep = login(client, &api, REP, &rep_password).await?;
    Ok(Callers { base, admin, rep })
}

/// What the import measured.
struct Imported {
    created: u64,
    failed: u64,
    elapsed: Duration,
    /// Rows per second over the first and the last tenth of the rows.
    first_tenth: Option<f64>,
    last_tenth: Option<f64>,
    /// The server's resident memory before the upload and at its highest
    /// while the job ran.
    rss_before: Option<u64>,
    rss_peak: Option<u64>,
    /// The list, read by one client while the import ran.
    list_during: Option<Latency>,
}

impl Imported {
    fn figures(&self, suite: &'static str, rows: usize) -> Vec<Figure> {
        let mut out = vec![
            Figure::new(suite, "leads imported", self.created as f64, "leads"),
            Figure::new(suite, "import rows failed", self.failed as f64, "rows"),
            Figure::new(
                suite,
                "import",
                rows as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON),
                "rows/s",
            ),
        ];
        if let (Some(first), Some(last)) = (self.first_tenth, self.last_tenth) {
            out.push(Figure::new(
                suite,
                "import, first tenth of the rows",
                first,
                "rows/s",
            ));
            out.push(Figure::new(
                suite,
                "import, last tenth of the rows",
                last,
                "rows/s",
            ));
            out.push(Figure::new(
                suite,
                "import, last tenth / first tenth",
                last / first.max(f64::EPSILON),
                "ratio",
            ));
        }
        if let (Some(before), Some(peak)) = (self.rss_before, self.rss_peak) {
            let grown = peak.saturating_sub(before) as f64 / (1024.0 * 1024.0);
            out.push(Figure::new(
                suite,
                "server RSS growth during the import",
                grown,
                "MiB",
            ));
            out.push(Figure::new(
                suite,
                "server RSS growth per million rows",
                grown * 1_000_000.0 / rows.max(1) as f64,
                "MiB",
            ));
        }
        if let Some(during) = &self.list_during {
            out.push(Figure::millis(
                suite,
                "list during the import p50",
                during.p50,
            ));
            out.push(Figure::millis(
                suite,
                "list during the import p99",
                during.p99,
            ));
        }
        out
    }
}

/// Uploads the file as a job, follows it to its end, and meanwhile reads
/// the list as one user would.
async fn import(
    client: &reqwest::Client,
    server: &ServerProcess,
    callers: &Callers,
    csv: &std::path::Path,
    args: &CrmBench,
) -> anyhow::Result<Imported> {
    let base = &callers.base;
    let rss_before = server.resident_bytes();
    let file = tokio::fs::File::open(csv).await?;
    let started = Instant::now();
    let accepted: Value = client
        .post(format!("{base}/api/v1/leads/import"))
        .bearer_auth(&callers.admin)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(
            tokio_util::io::ReaderStream::new(file),
        ))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let job = accepted["job"]["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the upload named no job: {accepted}"))?
        .to_string();

    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let during = {
        let (client, url, token, finished) = (
            client.clone(),
            format!("{base}/api/v1/leads?limit=50"),
            callers.admin.clone(),
            finished.clone(),
        );
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                if get(&client, &token, &url).await.is_ok() {
                    samples.push(t.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            samples
        })
    };
    // (seconds since the upload, rows done) as the job reports them once it
    // runs; the wait in the queue and the count of the file's rows are in
    // the whole import's rate, not in its tenths.
    let mut progress: Vec<(f64, u64)> = Vec::new();
    let mut rss_peak = rss_before;
    let outcome = loop {
        tokio::time::sleep(POLL).await;
        rss_peak = rss_peak.max(server.resident_bytes());
        let state: Value = client
            .get(format!("{base}/api/v1/leads/imports/{job}"))
            .bearer_auth(&callers.admin)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let done = state["rows_done"].as_u64().unwrap_or(0);
        if matches!(state["status"].as_str(), Some("running" | "completed")) {
            progress.push((started.elapsed().as_secs_f64(), done));
        }
        match state["status"].as_str() {
            Some("completed") => break Ok(state),
            Some("failed") => break Err(anyhow::anyhow!("the import failed: {}", state["error"])),
            _ if started.elapsed() > IMPORT_TIMEOUT => {
                break Err(anyhow::anyhow!(
                    "the import did not end in {IMPORT_TIMEOUT:?}"
                ))
            }
            _ => {}
        }
    };
    let elapsed = started.elapsed();
    finished.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut during = during.await.unwrap_or_default();
    let state = outcome?;
    let rows = args.leads as u64;
    let tenth = (rows / 10).max(1);
    Ok(Imported {
        created: state["report"]["created"].as_u64().unwrap_or(0),
        failed: state["report"]["failed"].as_u64().unwrap_or(0),
        elapsed,
        first_tenth: rate_between(&progress, 0, tenth),
        last_tenth: rate_between(&progress, rows - tenth, rows),
        rss_before,
        rss_peak,
        list_during: (!during.is_empty()).then(|| Latency::of(&mut during)),
    })
}

/// Rows per second between the first progress reports that showed `from`
/// and `to` rows done. The job reports after each batch and is read every
/// `POLL`, so each end is late by up to a poll; over a tenth of a large
/// import that is noise, over a small one it is not.
fn rate_between(progress: &[(f64, u64)], from: u64, to: u64) -> Option<f64> {
    let at = |rows: u64| -> Option<f64> {
        progress
            .iter()
            .find(|&&(_, done)| done >= rows)
            .map(|&(t, _)| t)
    };
    let seconds = at(to)? - at(from)?;
    (seconds > 0.0).then(|| (to - from) as f64 / seconds)
}

/// Walks the whole cursor chain once; the pages, the time, and the URL of
/// the last full page.
async fn walk(
    client: &reqwest::Client,
    token: &str,
    base: &str,
    args: &CrmBench,
) -> anyhow::Result<(usize, Duration, String)> {
    let first = format!("{base}/api/v1/leads?limit=50");
    let mut pages = 0;
    let mut after: Option<String> = None;
    let mut last_cursor: Option<String> = None;
    let started = Instant::now();
    loop {
        let url = match &after {
            Some(a) => format!("{first}&after={a}"),
            None => first.clone(),
        };
        let page: Value = serde_json::from_slice(&get(client, token, &url).await?)?;
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => last_cursor = after.replace(c.to_string()),
            None => break,
        }
        if pages > args.leads / 50 + 10 || started.elapsed() > Duration::from_secs(1800) {
            break;
        }
    }
    let last = match last_cursor {
        Some(c) => format!("{first}&after={c}"),
        None => first,
    };
    Ok((pages, started.elapsed(), last))
}

async fn get(client: &reqwest::Client, token: &str, url: &str) -> anyhow::Result<bytes::Bytes> {
    let response = client.get(url).bearer_auth(token).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    Ok(response.bytes().await?)
}

async fn sample(
    client: &reqwest::Client,
    token: &str,
    url: &str,
    n: usize,
) -> anyhow::Result<Latency> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        get(client, token, url).await?;
        samples.push(t.elapsed());
    }
    Ok(Latency::of(&mut samples))
}

/// `clients` keep-alive clients requesting `url` back to back for
/// `seconds`: requests per second, and every request's latency.
struct Concurrent {
    per_second: f64,
    latency: Latency,
}

impl Concurrent {
    fn figures(&self, suite: &'static str, name: &str, clients: usize) -> Vec<Figure> {
        vec![
            Figure::new(
                suite,
                format!("{name}, {clients} clients"),
                self.per_second,
                "req/s",
            ),
            Figure::millis(
                suite,
                format!("{name}, {clients} clients, p50"),
                self.latency.p50,
            ),
            Figure::millis(
                suite,
                format!("{name}, {clients} clients, p99"),
                self.latency.p99,
            ),
        ]
    }
}

async fn concurrent(
    client: &reqwest::Client,
    token: &str,
    url: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Concurrent> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let samples: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (client, token, url, samples) = (
            client.clone(),
            token.to_string(),
            url.to_string(),
            samples.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                get(&client, &token, &url).await?;
                mine.push(t.elapsed());
            }
            samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(mine);
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64().max(f64::EPSILON);
    let mut samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Concurrent {
        per_second: samples.len() as f64 / elapsed,
        latency: Latency::of(&mut samples),
    })
}

/// Streams the whole export, counting its lines, while the server's memory
/// is read.
async fn export(
    client: &reqwest::Client,
    server: &ServerProcess,
    callers: &Callers,
    suite: &'static str,
) -> anyhow::Result<Vec<Figure>> {
    let rss_before = server.resident_bytes();
    let mut rss_peak = rss_before;
    let started = Instant::now();
    let response = client
        .get(format!("{}/api/v1/leads/export", callers.base))
        .bearer_auth(&callers.admin)
        .send()
        .await?
        .error_for_status()?;
    let mut body = response.bytes_stream();
    let mut lines = 0u64;
    let mut last_read = Instant::now();
    while let Some(chunk) = body.next().await {
        lines += chunk?.iter().filter(|&&b| b == b'\n').count() as u64;
        if last_read.elapsed() >= POLL {
            rss_peak = rss_peak.max(server.resident_bytes());
            last_read = Instant::now();
        }
    }
    let elapsed = started.elapsed().as_secs_f64().max(f64::EPSILON);
    // The header line is not a lead.
    let rows = lines.saturating_sub(1);
    let mut out = vec![
        Figure::new(suite, "export rows", rows as f64, "rows"),
        Figure::new(suite, "export", rows as f64 / elapsed, "rows/s"),
    ];
    if let (Some(before), Some(peak)) = (rss_before, rss_peak) {
        out.push(Figure::new(
            suite,
            "server RSS growth during the export",
            peak.saturating_sub(before) as f64 / (1024.0 * 1024.0),
            "MiB",
        ));
    }
    Ok(out)
}

fn write_csv(path: &std::path::Path, rows: usize) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "company_name",
        "website",
        "industry",
        "country",
        "owner",
        "tags",
        "contact_name",
        "contact_email",
    ])?;
    for i in 0..rows {
        let word = WORDS[i % WORDS.len()];
        w.write_record([
            format!("{word} {} Holdings {i}", i % 997),
            format!("{word}{i}.example.com"),
            INDUSTRIES[i % INDUSTRIES.len()].to_string(),
            COUNTRIES[i % COUNTRIES.len()].to_string(),
            if i % 10 == 0 {
                REP.into()
            } else {
                String::new()
            },
            if i % 3 == 0 {
                "priority".into()
            } else {
                String::new()
            },
            format!("Person {i}"),
            format!("person{i}@{word}{i}.example.com"),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_between_two_row_counts_runs_from_the_reports_that_first_showed_them() {
        // Started at 0.5 s; 100 rows reported at 1.5 s, 200 at 3.5 s.
        let progress = [(0.0, 0), (0.5, 0), (1.5, 100), (2.5, 100), (3.5, 200)];
        assert_eq!(rate_between(&progress, 0, 100), Some(100.0 / 1.5));
        assert_eq!(rate_between(&progress, 100, 200), Some(50.0));
        assert_eq!(rate_between(&progress, 50, 150), Some(50.0));
        // Never reached.
        assert_eq!(rate_between(&progress, 0, 300), None);
    }
}
