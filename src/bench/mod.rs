//! `ea-crm bench …`: benchmarks that start the real service on a loopback
//! port and print figures. Every loop is bounded in count and time. The
//! realtime suites (`chat`, `idle`) run the service in a process of its own
//! and load it from this one; `crm` and `analytics` run it in-process.

pub mod all;
pub mod analytics;
pub mod bare;
pub mod chat;
pub mod crm;
pub mod idle;
pub mod server_process;

pub use all::Sizes;
pub use chat::ChatLoad;

use std::time::Duration;

/// Latency figures of a set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latency {
    pub fn of(samples: &mut [Duration]) -> Latency {
        samples.sort_unstable();
        let at = |q: f64| {
            if samples.is_empty() {
                Duration::ZERO
            } else {
                samples[((samples.len() as f64 - 1.0) * q).round() as usize]
            }
        };
        Latency {
            count: samples.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// One measured figure: which suite, what, how much, in what unit. Every
/// suite reports these, so `ea-crm bench` prints one table for all.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub suite: &'static str,
    pub metric: String,
    pub value: f64,
    pub unit: &'static str,
}

impl Figure {
    pub fn new(
        suite: &'static str,
        metric: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Figure {
        Figure {
            suite,
            metric: metric.into(),
            value,
            unit,
        }
    }

    pub fn millis(suite: &'static str, metric: impl Into<String>, d: Duration) -> Figure {
        Figure::new(suite, metric, d.as_secs_f64() * 1000.0, "ms")
    }
}

/// The figures as a table with the columns suite, metric, value, unit.
pub fn figures_table(figures: &[Figure]) -> String {
    let values: Vec<String> = figures.iter().map(|f| format_value(f.value)).collect();
    let w_suite = figures
        .iter()
        .map(|f| f.suite.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let w_metric = figures
        .iter()
        .map(|f| f.metric.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let w_value = values.iter().map(String::len).max().unwrap_or(0).max(5);
    let mut out = format!(
        "{:<w_suite$}  {:<w_metric$}  {:>w_value$}  unit\n",
        "suite", "metric", "value"
    );
    out.push_str(&format!(
        "{}\n",
        "-".repeat(w_suite + w_metric + w_value + 10)
    ));
    for (f, v) in figures.iter().zip(&values) {
        out.push_str(&format!(
            "{:<w_suite$}  {:<w_metric$}  {v:>w_value$}  {}\n",
            f.suite, f.metric, f.unit
        ));
    }
    out
}

/// Three significant digits or more for small numbers; whole numbers for large.
fn format_value(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A process's resident memory (Linux), for memory per connection.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (user and system) a process has used so far, from `/proc`
/// (Linux). `/proc` counts it in USER_HZ ticks, which Linux's ABI fixes at
/// 100 a second whatever the kernel's own tick rate.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its
    // closing parenthesis are plain numbers: utime and stime are the 12th
    // and 13th of them.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// Cores a process kept busy between two readings of `cpu_seconds`.
pub fn cores_used(before: Option<f64>, after: Option<f64>, wall: Duration) -> Option<f64> {
    match (before, after) {
        (Some(before), Some(after)) if wall > Duration::ZERO => {
            Some((after - before).max(0.0) / wall.as_secs_f64())
        }
        _ => None,
    }
}

/// p-th quantile (0..=1) of sorted samples.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// Signs `username` in at the API under `api` (`…/api/v1`); their token.
pub async fn login(
    http: &reqwest::Client,
    api: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    let answer: serde_json::Value = http
        .post(format!("{api}/auth/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = answer["token"].as_str().unwrap_or_default().to_string();
    anyhow::ensure!(!token.is_empty(), "{username} could not sign in");
    Ok(token)
}

/// A throwaway service on a loopback port with an admin signed in, and
/// limits raised so the load is not throttled.
pub struct Service {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub token: String,
    pub ctx: std::sync::Arc<crate::domain::Ctx>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Service {
    pub async fn start(config: crate::config::Config) -> anyhow::Result<Service> {
        Self::start_as(config, crate::domain::tokens::generate_password()).await
    }

    /// `start` with the admin's password given: a server started later on
    /// the same store signs them in with it.
    pub async fn start_as(
        mut config: crate::config::Config,
        password: String,
    ) -> anyhow::Result<Service> {
        config.bind = "127.0.0.1:0".into();
        config.admin_password = Some(password.clone());
        config.rate_limit_per_ip = u32::MAX / 2;
        config.rate_limit_per_token = u32::MAX / 2;
        config.login_max_attempts_per_ip = u32::MAX / 2;
        config.max_upload_mb = 4096;
        let app = crate::app::App::build_with_clock(
            config.clone(),
            std::sync::Arc::new(crate::domain::clock::SystemClock),
        )
        .await?;
        let addr = app.addr;
        let ctx = app.ctx.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = app
                .run_until(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        let base = format!("http://{addr}");
        let token = login(
            &reqwest::Client::new(),
            &format!("{base}/api/v1"),
            &config.admin_username,
            &password,
        )
        .await?;
        Ok(Service {
            base,
            addr,
            token,
            ctx,
            stop,
            server,
        })
    }

    pub async fn stop(self) {
        drop(self.ctx);
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// Where a bench client opens its WebSocket, and with which bearer token
/// (sent as `Authorization`, as a non-browser client does).
#[derive(Clone)]
pub struct SocketTarget {
    pub url: String,
    pub bearer: Option<String>,
}

impl SocketTarget {
    pub fn request(
        &self,
    ) -> anyhow::Result<bench_ws_client::tungstenite::handshake::client::Request> {
        use bench_ws_client::tungstenite::client::IntoClientRequest;
        let mut request = self.url.as_str().into_client_request()?;
        if let Some(token) = &self.bearer {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        Ok(request)
    }
}
