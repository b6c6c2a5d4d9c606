//! `ea-crm bench login`: password logins over HTTP while the chat bench's
//! load runs on the same service, so the figures show what argon2 costs
//! a hub that is busy. Each login is a full `POST /api/v1/auth/login`
//! (argon2id verification behind the hash semaphore, a new session row).

use std::time::{Duration, Instant};

use serde_json::json;

use super::chat::{ChatBench, Hub};
use super::{quantile, Figure};
use crate::config::Config;

#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LoginBench {
    /// Clients logging in at once, each one login after another.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Most logins in all (the run also ends with the chat load).
    #[arg(long, default_value_t = 2_000)]
    pub max_logins: usize,
    /// Chat clients sending meanwhile.
    #[arg(long, default_value_t = 20)]
    pub chat_clients: usize,
    /// Messages each chat client sends.
    #[arg(long, default_value_t = 100)]
    pub chat_messages: usize,
}

impl Default for LoginBench {
    fn default() -> Self {
        LoginBench {
            clients: 4,
            max_logins: 2_000,
            chat_clients: 20,
            chat_messages: 100,
        }
    }
}

/// Logins stop after this long even if the chat load is still running.
const DEADLINE: Duration = Duration::from_secs(300);

pub async fn run(config: Config, bench: LoginBench) -> anyhow::Result<Vec<Figure>> {
    let load = ChatBench {
        clients: bench.chat_clients.max(1),
        rooms: (bench.chat_clients / 10).max(1),
        messages: bench.chat_messages.max(1),
        rate: 0.0,
    };
    let hub = Hub::start(config, load).await?;
    let chat_done = std::sync::atomic::AtomicBool::new(false);
    let chat = async {
        let report = hub.load(load).await;
        chat_done.store(true, std::sync::atomic::Ordering::Relaxed);
        report
    };
    let logins = logins_meanwhile(&hub, bench, &chat_done);
    let (chat, logins) = tokio::join!(chat, logins);
    hub.stop().await;
    let chat = chat?;
    let (mut samples, elapsed, failed) = logins?;
    anyhow::ensure!(failed == 0, "{failed} logins failed");
    anyhow::ensure!(
        !samples.is_empty(),
        "no login finished during the chat load"
    );
    samples.sort_unstable();
    Ok(vec![
        Figure::new("login", "logins", samples.len() as f64, "logins"),
        Figure::new(
            "login",
            "logins per second",
            samples.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            "logins/s",
        ),
        Figure::millis("login", "login p50", quantile(&samples, 0.5)),
        Figure::millis("login", "login p99", quantile(&samples, 0.99)),
        Figure::new(
            "login",
            format!("chat deliveries meanwhile ({} clients)", chat.clients),
            chat.throughput(),
            "msg/s",
        ),
    ])
}

/// Each client logs in again and again (users taken in turn) until the
/// chat load ends, the count is reached or the deadline passes.
async fn logins_meanwhile(
    hub: &Hub,
    bench: LoginBench,
    chat_done: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<(Vec<Duration>, Duration, usize)> {
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/auth/login", hub.addr);
    let started = Instant::now();
    let issued = std::sync::atomic::AtomicUsize::new(0);
    let workers = (0..bench.clients.max(1)).map(|_| async {
        let mut samples = Vec::new();
        let mut failed = 0;
        loop {
            let n = issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n >= bench.max_logins
                || chat_done.load(std::sync::atomic::Ordering::Relaxed)
                || started.elapsed() > DEADLINE
            {
                break;
            }
            let (username, password) = &hub.credentials[n % hub.credentials.len()];
            let t = Instant::now();
            let ok = client
                .post(&url)
                .json(&json!({"username": username, "password": password}))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ok {
                samples.push(t.elapsed());
            } else {
                failed += 1;
            }
        }
        (samples, failed)
    });
    let mut all = Vec::new();
    let mut failed = 0;
    for (samples, f) in futures_util::future::join_all(workers).await {
        all.extend(samples);
        failed += f;
    }
    Ok((all, started.elapsed(), failed))
}
