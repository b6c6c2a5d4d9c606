//! `ea-crm bench crm`: loads N leads through the CSV import, then measures
//! list pages at the start and at the end of the cursor chain, and
//! full-text search.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{ms, print_table, Latency};
use crate::app::App;
use crate::config::Config;
use crate::domain::clock::SystemClock;

#[derive(Debug, Clone, clap::Args)]
pub struct CrmBench {
    /// How many leads to import.
    #[arg(long, default_value_t = 100_000)]
    pub leads: usize,
    /// Requests per latency measurement.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Seconds of each concurrent throughput run.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent clients in the throughput runs.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Use an embedded SurrealKV folder (in a temporary directory) instead of memory.
    #[arg(long)]
    pub surrealkv: bool,
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

pub async fn run(args: CrmBench) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let mut config = Config::for_tests();
    config.admin_password = Some("bench-admin-password".into());
    config.rate_limit_per_ip = u32::MAX / 2;
    config.rate_limit_per_token = u32::MAX / 2;
    config.max_upload_mb = 4096;
    if args.surrealkv {
        config.database_url = format!("surrealkv://{}", dir.join("bench.db").display());
    }
    let storage = if args.surrealkv {
        "SurrealKV (embedded, on disk)"
    } else {
        "memory (embedded)"
    };
    let app = App::build_with_clock(config, Arc::new(SystemClock)).await?;
    let base = format!("http://{}", app.addr);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "bench-admin-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().unwrap_or_default().to_string();

    // The file is written to disk and streamed, as a user's upload would be.
    let csv_path = dir.join("leads.csv");
    write_csv(&csv_path, args.leads)?;
    let file = tokio::fs::File::open(&csv_path).await?;
    let started = Instant::now();
    let report: Value = client
        .post(format!("{base}/api/v1/leads/import"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(
            tokio_util::io::ReaderStream::new(file),
        ))
        .send()
        .await?
        .json()
        .await?;
    let import_time = started.elapsed();
    let created = report["created"].as_u64().unwrap_or(0);

    // Walk the whole cursor chain once, keeping the last cursor.
    let mut page_times = Vec::new();
    let mut after: Option<String> = None;
    let mut last_cursor: Option<String> = None;
    let walk_started = Instant::now();
    loop {
        let url = match &after {
            Some(a) => format!("{base}/api/v1/leads?limit=50&after={a}"),
            None => format!("{base}/api/v1/leads?limit=50"),
        };
        let t = Instant::now();
        let page: Value = client
            .get(url)
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        page_times.push(t.elapsed());
        match page["next_cursor"].as_str() {
            Some(c) => {
                last_cursor = after.replace(c.to_string());
            }
            None => break,
        }
        if page_times.len() > args.leads / 50 + 10
            || walk_started.elapsed() > Duration::from_secs(1800)
        {
            break;
        }
    }
    let pages = page_times.len();
    let first_url = format!("{base}/api/v1/leads?limit=50");
    // The cursor that leads to the final full page.
    let last_url = match &last_cursor {
        Some(c) => format!("{base}/api/v1/leads?limit=50&after={c}"),
        None => first_url.clone(),
    };
    let first = sample(&client, &token, &first_url, args.samples).await?;
    let last = sample(&client, &token, &last_url, args.samples).await?;
    let first_rps = throughput(&client, &token, &first_url, args.clients, args.seconds).await?;
    let last_rps = throughput(&client, &token, &last_url, args.clients, args.seconds).await?;
    let mut search_samples = Vec::new();
    for i in 0..args.samples {
        let q = format!("{} {}", WORDS[i % WORDS.len()], i % 997);
        let t = Instant::now();
        client
            .get(format!("{base}/api/v1/leads?limit=20&q={q}"))
            .bearer_auth(&token)
            .send()
            .await?
            .bytes()
            .await?;
        search_samples.push(t.elapsed());
    }
    let search = Latency::of(&mut search_samples);
    let count: Value = client
        .get(format!("{base}/api/v1/leads/count"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;

    print_table(
        &format!(
            "ea-crm bench crm — {} leads, {storage}, {} cores",
            args.leads,
            num_cpus()
        ),
        &[
            (
                "import: rows".into(),
                format!("{} created, {} failed", created, report["failed"]),
            ),
            (
                "import: time".into(),
                format!("{:.1} s", import_time.as_secs_f64()),
            ),
            (
                "import: rows/s".into(),
                format!("{:.0}", args.leads as f64 / import_time.as_secs_f64()),
            ),
            ("leads counted".into(), count["count"].to_string()),
            (
                "cursor walk: pages of 50".into(),
                format!("{pages} in {:.1} s", walk_started.elapsed().as_secs_f64()),
            ),
            (
                "first page: p50 / p99".into(),
                format!("{} / {}", ms(first.p50), ms(first.p99)),
            ),
            (
                "last page: p50 / p99".into(),
                format!("{} / {}", ms(last.p50), ms(last.p99)),
            ),
            (
                format!("first page: req/s ({} clients)", args.clients),
                format!("{first_rps:.0}"),
            ),
            (
                format!("last page: req/s ({} clients)", args.clients),
                format!("{last_rps:.0}"),
            ),
            (
                "search: p50 / p99".into(),
                format!(
                    "{} / {} ({} queries)",
                    ms(search.p50),
                    ms(search.p99),
                    search.count
                ),
            ),
        ],
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn write_csv(path: &std::path::Path, rows: usize) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "company_name",
        "website",
        "industry",
        "country",
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

async fn sample(
    client: &reqwest::Client,
    token: &str,
    url: &str,
    n: usize,
) -> anyhow::Result<Latency> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let response = client.get(url).bearer_auth(token).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await?;
        samples.push(t.elapsed());
    }
    Ok(Latency::of(&mut samples))
}

async fn throughput(
    client: &reqwest::Client,
    token: &str,
    url: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (client, token, url) = (client.clone(), token.to_string(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                if client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .is_ok()
                {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await?;
    }
    Ok(total as f64 / seconds.max(1) as f64)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ea-crm-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
