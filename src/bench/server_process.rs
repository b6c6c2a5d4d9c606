//! A server in a process of its own for the benchmarks that measure what a
//! client feels: the load comes from the bench's process over loopback, as
//! it would from users, and the memory read is the server's alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// Which store the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchStore {
    /// The default a user gets: an embedded SurrealKV folder on disk.
    Surrealkv,
    /// In memory.
    Mem,
}

/// Where a benchmarked service keeps its data: a new SurrealKV folder in
/// the temporary directory, or memory.
pub struct StoreLocation {
    data: Option<PathBuf>,
    pub database_url: String,
}

impl StoreLocation {
    pub fn new(store: BenchStore) -> StoreLocation {
        let data = match store {
            BenchStore::Surrealkv => Some(std::env::temp_dir().join(format!(
                "ea-crm-bench-{}-{}",
                std::process::id(),
                crate::domain::tokens::new_id()
            ))),
            BenchStore::Mem => None,
        };
        let database_url = match &data {
            Some(dir) => format!("surrealkv://{}", dir.join("db").display()),
            None => "mem://".into(),
        };
        StoreLocation { data, database_url }
    }

    /// Removes the folder, for a store no server was started on.
    pub fn remove(self) {
        if let Some(dir) = self.data {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    /// A SurrealKV folder to remove once the server has stopped.
    data: Option<PathBuf>,
    /// How the service was started, to start it again on the same folder.
    relaunch: Option<ServiceLaunch>,
}

#[derive(Clone)]
struct ServiceLaunch {
    binary: PathBuf,
    database_url: String,
    admin_password: String,
}

impl ServiceLaunch {
    fn command(&self, addr: SocketAddr) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("serve")
            .env("DATABASE_URL", &self.database_url)
            .env("BIND", addr.to_string())
            .env("ADMIN_USERNAME", "admin")
            .env("ADMIN_PASSWORD", &self.admin_password)
            .env("LOGIN_MAX_ATTEMPTS_PER_IP", "1000000")
            .env("RATE_LIMIT_PER_IP", "1000000")
            .env("RATE_LIMIT_PER_TOKEN", "1000000")
            .env("MAX_UPLOAD_MB", "4096")
            .env(
                "UPLOAD_DIR",
                std::env::temp_dir().join("ea-crm-bench-uploads"),
            );
        command
    }
}

/// How long a server may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(120);

impl ServerProcess {
    /// `ea-crm serve` on a free loopback port, with `admin` signing in
    /// with `admin_password`. Login and per-address limits are raised: the
    /// bench signs in its users and probes logins from one address, which
    /// the defaults rightly treat as an attack.
    pub async fn service(
        binary: Option<&std::path::Path>,
        store: BenchStore,
        admin_password: &str,
    ) -> anyhow::Result<ServerProcess> {
        Self::service_at(binary, StoreLocation::new(store), admin_password).await
    }

    /// `service` on a store prepared beforehand (seeded by another process,
    /// say); the folder is the server's to remove when it stops.
    pub async fn service_at(
        binary: Option<&std::path::Path>,
        location: StoreLocation,
        admin_password: &str,
    ) -> anyhow::Result<ServerProcess> {
        let addr = free_port()?;
        let launch = ServiceLaunch {
            binary: match binary {
                Some(path) => path.to_path_buf(),
                None => std::env::current_exe()?,
            },
            database_url: location.database_url,
            admin_password: admin_password.to_string(),
        };
        let child = spawn(launch.command(addr))?;
        let server = ServerProcess {
            child,
            addr,
            data: location.data,
            relaunch: Some(launch),
        };
        server.wait_until_ready(true).await?;
        Ok(server)
    }

    /// Stops the service and starts it again on the same store and port;
    /// how long the new process took to answer `/readyz`. Only for a store
    /// that outlives the process (SurrealKV): in memory, the data is gone.
    pub async fn restart(&mut self) -> anyhow::Result<Duration> {
        let launch = self
            .relaunch
            .clone()
            .ok_or_else(|| anyhow::anyhow!("only the service can be restarted"))?;
        self.terminate().await;
        let started = Instant::now();
        self.child = spawn(launch.command(self.addr))?;
        self.wait_until_ready(true).await?;
        Ok(started.elapsed())
    }

    /// Bytes the store's folder takes on disk (0 in memory).
    pub fn data_bytes(&self) -> u64 {
        fn walk(dir: &std::path::Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        self.data.as_deref().map(walk).unwrap_or(0)
    }

    /// `ea-crm bench bare-server`: the baseline broadcast.
    pub async fn bare() -> anyhow::Result<ServerProcess> {
        let addr = free_port()?;
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(["bench", "bare-server", "--bind"])
            .arg(addr.to_string());
        let server = ServerProcess {
            child: spawn(command)?,
            addr,
            data: None,
            relaunch: None,
        };
        server.wait_until_ready(false).await?;
        Ok(server)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// CPU seconds the server has used so far, from `/proc` (Linux).
    pub fn cpu_seconds(&self) -> Option<f64> {
        super::cpu_seconds(self.pid()?)
    }

    /// The server's resident memory, from `/proc` (Linux).
    pub fn resident_bytes(&self) -> Option<u64> {
        super::resident_bytes(self.pid()?)
    }

    async fn wait_until_ready(&self, http: bool) -> anyhow::Result<()> {
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            let ready = if http {
                client
                    .get(format!("http://{}/readyz", self.addr))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            } else {
                tokio::net::TcpStream::connect(self.addr).await.is_ok()
            };
            if ready {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < START_TIMEOUT,
                "the server on {} did not answer within {START_TIMEOUT:?}",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after a grace period) and
    /// removes its data.
    pub async fn stop(mut self) {
        self.terminate().await;
        if let Some(dir) = self.data.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    async fn terminate(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(dir) = self.data.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn spawn(mut command: Command) -> anyhow::Result<Child> {
    Ok(command
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?)
}

/// A loopback port nobody listens on now.
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}
