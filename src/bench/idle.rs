//! `ea-crm bench idle`: opens N authenticated WebSocket connections to the
//! hub that then stay idle, and reports the time to open them and the
//! server's memory for each. The service runs in a process of its own on
//! the default SurrealKV store, so the memory read is the server's alone.

use std::time::{Duration, Instant};

use super::server_process::{BenchStore, ServerProcess};
use super::{quantile, Figure};

#[derive(Debug, Clone, Copy, clap::Args)]
pub struct IdleBench {
    /// Connections to open.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 50)]
    pub parallel: usize,
    /// Seconds the connections stay open, idle, before memory is read again.
    #[arg(long, default_value_t = 2)]
    pub hold_seconds: u64,
}

impl Default for IdleBench {
    fn default() -> Self {
        IdleBench {
            connections: 10_000,
            parallel: 50,
            hold_seconds: 2,
        }
    }
}

/// The whole run may take this long before it is called failed.
const DEADLINE: Duration = Duration::from_secs(600);

pub async fn run(bench: IdleBench) -> anyhow::Result<Vec<Figure>> {
    anyhow::ensure!(bench.connections >= 1, "need at least one connection");
    let password = crate::domain::tokens::generate_password();
    let server = ServerProcess::service(None, BenchStore::Surrealkv, &password).await?;
    let outcome = tokio::time::timeout(DEADLINE, measure(&server, &password, bench)).await;
    server.stop().await;
    outcome?
}

async fn measure(
    server: &ServerProcess,
    password: &str,
    bench: IdleBench,
) -> anyhow::Result<Vec<Figure>> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/api/v1/auth/login", server.addr))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = answer["token"].as_str().unwrap_or_default();
    let target = super::SocketTarget {
        url: format!("ws://{}/api/v1/ws", server.addr),
        bearer: Some(token.to_string()),
    };
    // Warm up one connection so one-off allocations are not counted.
    let (warm, _) =
        bench_ws_client::connect_async_with_config(target.request()?, None, true).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.resident_bytes();
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(bench.connections);
    let mut latencies = Vec::with_capacity(bench.connections);
    let parallel = bench.parallel.max(1);
    while sockets.len() < bench.connections {
        let wave = parallel.min(bench.connections - sockets.len());
        let opens = (0..wave).map(|_| {
            let target = target.clone();
            async move {
                let t = Instant::now();
                let (socket, _) =
                    bench_ws_client::connect_async_with_config(target.request()?, None, true)
                        .await?;
                anyhow::Ok((socket, t.elapsed()))
            }
        });
        for opened in futures_util::future::join_all(opens).await {
            let (socket, took) = opened?;
            sockets.push(socket);
            latencies.push(took);
        }
    }
    let open_time = started.elapsed();
    // Each connection is read, as a browser tab's would be: the server
    // pings idle sockets and drops those that never answer.
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let opened = sockets.len();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            let closed = closed.clone();
            tokio::spawn(async move {
                use futures_util::StreamExt;
                while let Some(Ok(frame)) = socket.next().await {
                    if frame.is_close() {
                        break;
                    }
                }
                closed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(bench.hold_seconds)).await;
    let rss_after = server.resident_bytes();
    // Every connection must still be open after the idle time.
    let open = opened - closed.load(std::sync::atomic::Ordering::Relaxed);
    latencies.sort_unstable();
    let mut out = vec![
        Figure::new("idle", "connections open", open as f64, "connections"),
        Figure::new(
            "idle",
            "open rate",
            opened as f64 / open_time.as_secs_f64().max(f64::EPSILON),
            "conn/s",
        ),
        Figure::new("idle", "time to open all", open_time.as_secs_f64(), "s"),
        Figure::millis("idle", "connect p50", quantile(&latencies, 0.5)),
        Figure::millis("idle", "connect p99", quantile(&latencies, 0.99)),
    ];
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        out.push(Figure::new(
            "idle",
            "server RSS per connection",
            after.saturating_sub(before) as f64 / 1024.0 / opened as f64,
            "KiB",
        ));
    }
    for reader in readers {
        reader.abort();
    }
    drop(warm);
    Ok(out)
}
