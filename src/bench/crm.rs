//! `ea-crm bench crm`: loads N leads through the CSV import, then measures
//! list pages at the start and at the end of the cursor chain, and
//! full-text search.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Figure, Latency, Service};
use crate::config::Config;

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

impl Default for CrmBench {
    fn default() -> Self {
        CrmBench {
            leads: 100_000,
            samples: 200,
            seconds: 5,
            clients: 8,
            surrealkv: false,
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

pub async fn run(mut config: Config, args: CrmBench) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile_dir()?;
    config.database_url = if args.surrealkv {
        format!("surrealkv://{}", dir.join("bench.db").display())
    } else {
        "mem://".into()
    };
    let service = Service::start(config).await?;
    let outcome = measure(&service, &args, &dir).await;
    service.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn measure(
    service: &Service,
    args: &CrmBench,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<Figure>> {
    let (base, token) = (&service.base, &service.token);
    let client = reqwest::Client::new();

    // The file is written to disk and streamed, as a user's upload would be.
    let csv_path = dir.join("leads.csv");
    write_csv(&csv_path, args.leads)?;
    let file = tokio::fs::File::open(&csv_path).await?;
    let started = Instant::now();
    let report: Value = client
        .post(format!("{base}/api/v1/leads/import?wait=true"))
        .bearer_auth(token)
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
            .bearer_auth(token)
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
    let walk_time = walk_started.elapsed();
    let first_url = format!("{base}/api/v1/leads?limit=50");
    // The cursor that leads to the final full page.
    let last_url = match &last_cursor {
        Some(c) => format!("{base}/api/v1/leads?limit=50&after={c}"),
        None => first_url.clone(),
    };
    let first = sample(&client, token, &first_url, args.samples).await?;
    let last = sample(&client, token, &last_url, args.samples).await?;
    let first_rps = throughput(&client, token, &first_url, args.clients, args.seconds).await?;
    let last_rps = throughput(&client, token, &last_url, args.clients, args.seconds).await?;
    let mut search_samples = Vec::new();
    for i in 0..args.samples {
        let q = format!("{} {}", WORDS[i % WORDS.len()], i % 997);
        let t = Instant::now();
        client
            .get(format!("{base}/api/v1/leads?limit=20&q={q}"))
            .bearer_auth(token)
            .send()
            .await?
            .bytes()
            .await?;
        search_samples.push(t.elapsed());
    }
    let search = Latency::of(&mut search_samples);
    let count: Value = client
        .get(format!("{base}/api/v1/leads/count"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    // Counts the tally answers (none, status), and one it cannot (country),
    // which walks its index.
    let count_url = |query: &str| format!("{base}/api/v1/leads/count{query}");
    let count_all = sample(&client, token, &count_url(""), args.samples).await?;
    let count_status = sample(&client, token, &count_url("?status=new"), args.samples).await?;
    let count_country = sample(&client, token, &count_url("?country=DE"), args.samples).await?;

    let suite = if args.surrealkv {
        "crm (surrealkv)"
    } else {
        "crm"
    };
    let import_secs = import_time.as_secs_f64().max(f64::EPSILON);
    Ok(vec![
        Figure::new(suite, "leads imported", created as f64, "leads"),
        Figure::new(
            suite,
            "import rows failed",
            report["failed"].as_f64().unwrap_or(f64::NAN),
            "rows",
        ),
        Figure::new(suite, "import", args.leads as f64 / import_secs, "rows/s"),
        Figure::new(
            suite,
            "leads counted",
            count["count"].as_f64().unwrap_or(f64::NAN),
            "leads",
        ),
        Figure::new(suite, "cursor walk: pages of 50", pages as f64, "pages"),
        Figure::new(suite, "cursor walk: time", walk_time.as_secs_f64(), "s"),
        Figure::millis(suite, "first page p50", first.p50),
        Figure::millis(suite, "first page p99", first.p99),
        Figure::millis(suite, "last page p50", last.p50),
        Figure::millis(suite, "last page p99", last.p99),
        Figure::new(
            suite,
            format!("first page, {} clients", args.clients),
            first_rps,
            "req/s",
        ),
        Figure::new(
            suite,
            format!("last page, {} clients", args.clients),
            last_rps,
            "req/s",
        ),
        Figure::millis(suite, "search p50", search.p50),
        Figure::millis(suite, "search p99", search.p99),
        Figure::millis(suite, "count p50", count_all.p50),
        Figure::millis(suite, "count p99", count_all.p99),
        Figure::millis(suite, "count by status p50", count_status.p50),
        Figure::millis(suite, "count by status p99", count_status.p99),
        Figure::millis(suite, "count by country (walked) p50", count_country.p50),
        Figure::millis(suite, "count by country (walked) p99", count_country.p99),
    ])
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
