//! `ea-crm bench` with no suite: every suite one after another, one table.

use super::analytics::AnalyticsBench;
use super::chat::ChatBench;
use super::crm::CrmBench;
use super::idle::IdleBench;
use super::login::LoginBench;
use super::Figure;
use crate::config::Config;

/// The load of each suite.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub crm: CrmBench,
    pub chat: ChatBench,
    pub analytics: AnalyticsBench,
    pub idle: IdleBench,
    pub login: LoginBench,
}

impl Sizes {
    /// The sizes each suite's own command uses by default.
    pub fn full() -> Sizes {
        Sizes {
            crm: CrmBench::default(),
            chat: ChatBench {
                clients: 20,
                rooms: 1,
                messages: 50,
                rate: 0.0,
            },
            analytics: AnalyticsBench::default(),
            idle: IdleBench::default(),
            login: LoginBench::default(),
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
                surrealkv: false,
            },
            chat: ChatBench {
                clients: 4,
                rooms: 2,
                messages: 5,
                rate: 0.0,
            },
            analytics: AnalyticsBench {
                leads: 600,
                tasks: 300,
                messages: 200,
                samples: 2,
                batch: 200,
            },
            idle: IdleBench {
                connections: 50,
                parallel: 10,
                hold_seconds: 0,
            },
            login: LoginBench {
                clients: 2,
                max_logins: 10,
                chat_clients: 4,
                chat_messages: 10,
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
    record(
        "crm",
        super::crm::run(config.clone(), sizes.crm.clone()).await,
    );
    eprintln!("bench: chat ({} clients)", sizes.chat.clients);
    record("chat", super::chat::run(config.clone(), sizes.chat).await);
    eprintln!(
        "bench: analytics ({} leads, {} tasks)",
        sizes.analytics.leads, sizes.analytics.tasks
    );
    record(
        "analytics",
        super::analytics::run(config.clone(), sizes.analytics).await,
    );
    eprintln!("bench: idle ({} connections)", sizes.idle.connections);
    record("idle", super::idle::run(config.clone(), sizes.idle).await);
    eprintln!("bench: login ({} clients)", sizes.login.clients);
    record("login", super::login::run(config, sizes.login).await);
    (figures, failures)
}
