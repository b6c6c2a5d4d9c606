//! `ea-crm bench` with no suite: every suite one after another, one table.

use super::analytics::AnalyticsBench;
use super::chat::ChatLoad;
use super::crm::CrmBench;
use super::idle::IdleBench;
use super::Figure;
use crate::config::Config;

/// The load of each suite.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub crm: CrmBench,
    pub chat: ChatLoad,
    pub analytics: AnalyticsBench,
    pub idle: IdleBench,
}

impl Sizes {
    /// The sizes each suite's own command uses by default.
    pub fn full() -> Sizes {
        Sizes {
            crm: CrmBench::default(),
            chat: ChatLoad {
                clients: 2_000,
                users: 100,
                rooms: 20,
                rate: 250.0,
                seconds: 60,
                warmup: 5,
                posts: 5.0,
                logins: 10.0,
                store: super::server_process::BenchStore::Surrealkv,
                no_baseline: false,
                server: None,
            },
            analytics: AnalyticsBench::default(),
            idle: IdleBench::default(),
        }
    }

    /// Small enough for a debug build in a test: checks that every suite
    /// runs and reports, not how fast.
    pub fn quick() -> Sizes {
        Sizes {
            crm: CrmBench {
                leads: 120,
                samples: 5,
                seconds: 1,
                clients: 2,
                store: super::server_process::BenchStore::Mem,
                server: None,
            },
            chat: ChatLoad::quick(),
            analytics: AnalyticsBench {
                leads: 600,
                tasks: 300,
                messages: 200,
                samples: 2,
                batch: 200,
                store: super::server_process::BenchStore::Surrealkv,
                server: None,
                seed_into: None,
                seed_admin_password: None,
            },
            idle: IdleBench {
                connections: 50,
                parallel: 10,
                hold_seconds: 0,
            },
        }
    }
}

/// A suite that failed, and why.
#[derive(Debug)]
pub struct Failure {
    pub suite: &'static str,
    pub error: anyhow::Error,
}

/// Runs every suite in turn, each on its own fresh in-memory service; a
/// failed suite is reported and the others still run.
pub async fn run(config: Config, sizes: Sizes) -> (Vec<Figure>, Vec<Failure>) {
    let mut figures = Vec::new();
    let mut failures = Vec::new();
    let mut record = |suite: &'static str, outcome: anyhow::Result<Vec<Figure>>| match outcome {
        Ok(f) => figures.extend(f),
        Err(error) => failures.push(Failure { suite, error }),
    };
    eprintln!("bench: crm ({} leads)", sizes.crm.leads);
    record("crm", super::crm::run(sizes.crm.clone()).await);
    eprintln!("bench: chat ({} clients)", sizes.chat.clients);
    record("chat", super::chat::run(sizes.chat.clone()).await);
    eprintln!(
        "bench: analytics ({} leads, {} tasks)",
        sizes.analytics.leads, sizes.analytics.tasks
    );
    record(
        "analytics",
        super::analytics::run(config, sizes.analytics).await,
    );
    eprintln!("bench: idle ({} connections)", sizes.idle.connections);
    record("idle", super::idle::run(sizes.idle).await);
    (figures, failures)
}
