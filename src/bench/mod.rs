//! `ea-crm bench …`: benchmarks that start the real service in-process on a
//! loopback port and print figures. Every loop is bounded in count and time.

pub mod chat;
pub mod crm;

pub use chat::{chat, ChatBench, ChatReport};

use std::time::Duration;

/// Latency figures of a set of samples.
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

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Prints rows of (name, value) as an aligned two-column table.
pub fn print_table(title: &str, rows: &[(String, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("\n{title}");
    println!("{}", "-".repeat(title.len()));
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}
