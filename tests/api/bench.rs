//! The benchmarks run end to end at small sizes: they report, and what they
//! count is exact. (How fast is for `docs/performance.md`, not for tests.)

/// Runs the binary with `args`; its table's rows.
fn bench_table(args: &[&str]) -> (Vec<(String, String, f64)>, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ea-crm"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    (table_rows(&stdout), stdout)
}

fn value_of(rows: &[(String, String, f64)], stdout: &str, suite: &str, metric: &str) -> f64 {
    rows.iter()
        .find(|r| r.0 == suite && r.1 == metric)
        .unwrap_or_else(|| panic!("no row {suite} / {metric} in\n{stdout}"))
        .2
}

/// The CRM bench on the default store: the import runs as a job in the
/// server's own process, and every figure the issue asks for is printed,
/// the restart on the same folder included.
#[test]
fn the_crm_bench_imports_into_a_separate_server_process_and_reads_everything_back() {
    let (rows, stdout) = bench_table(&[
        "bench",
        "crm",
        "--leads",
        "310",
        "--samples",
        "3",
        "--seconds",
        "1",
        "--clients",
        "2",
    ]);
    let value = |metric: &str| value_of(&rows, &stdout, "crm", metric);
    assert_eq!(value("leads imported"), 310.0);
    assert_eq!(value("import rows failed"), 0.0);
    assert_eq!(value("leads counted"), 310.0);
    assert_eq!(value("export rows"), 310.0);
    assert_eq!(value("cursor walk: pages of 50"), 7.0);
    for metric in [
        "import",
        "first page, 2 clients",
        "last page, 2 clients, p99",
        "own-scope first page, 2 clients, p99",
        "country=DE, sort=company, 2 clients, p99",
        "search q=holdings, 2 clients, p99",
        "count country=DE p99",
        "disk per lead",
        "cold start to /readyz",
        "first page after a restart, 2 clients, p99",
        "first page p99, long-running / fresh",
    ] {
        assert!(value(metric) > 0.0, "{metric}\n{stdout}");
    }
}

#[test]
fn the_chat_bench_loads_a_separate_server_process_and_every_acked_message_reaches_its_room() {
    let (rows, stdout) = bench_table(&[
        "bench",
        "chat",
        "--clients",
        "12",
        "--users",
        "6",
        "--rooms",
        "3",
        "--rate",
        "30",
        "--seconds",
        "2",
        "--warmup",
        "1",
        "--posts",
        "2",
        "--logins",
        "2",
        "--store",
        "surrealkv",
    ]);
    let value = |metric: &str| value_of(&rows, &stdout, "chat", metric);
    for who in ["hub", "bare"] {
        assert_eq!(value(&format!("{who}: connections")), 12.0);
        let offered = value(&format!("{who}: sends offered"));
        assert!(offered >= 60.0, "{who} offered {offered}\n{stdout}");
        assert_eq!(value(&format!("{who}: sends acked")), offered, "{stdout}");
        assert_eq!(value(&format!("{who}: sends refused")), 0.0, "{stdout}");
        assert_eq!(
            value(&format!("{who}: deliveries missing")),
            0.0,
            "{stdout}"
        );
        assert!(value(&format!("{who}: deliveries")) > 0.0, "{stdout}");
        assert!(value(&format!("{who}: delivery p99")) > 0.0, "{stdout}");
    }
    assert!(value("hub: REST post p50") > 0.0, "{stdout}");
    // The bare broadcast takes the same REST posts (the floor a post costs
    // under the load), but has no sign-in.
    assert!(value("bare: REST post p50") > 0.0, "{stdout}");
    assert!(value("hub/bare: REST post p99") > 0.0, "{stdout}");
    assert!(
        !rows.iter().any(|r| r.1 == "bare: login p50"),
        "the bare run signs nobody in\n{stdout}"
    );
    assert!(value("hub: login p50") > 0.0, "{stdout}");
    assert!(value("hub: server RSS per connection") > 0.0, "{stdout}");
    assert!(value("hub/bare: deliveries") > 0.0, "{stdout}");
}

/// `ea-crm bench --quick` runs every suite small and prints one table of
/// suite, metric, value, unit. Checks the rows and that the values are
/// sane, not how fast anything was.
#[test]
fn bench_with_no_suite_prints_one_table_with_every_suite() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ea-crm"))
        .args(["bench", "--quick"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = table_rows(&stdout);
    let value = |suite: &str, metric: &str| -> f64 {
        rows.iter()
            .find(|r| r.0 == suite && r.1 == metric)
            .unwrap_or_else(|| panic!("no row {suite} / {metric} in\n{stdout}"))
            .2
    };
    for (suite, metric, value) in &rows {
        assert!(value.is_finite(), "{suite} / {metric} is {value}");
        assert!(*value >= 0.0, "{suite} / {metric} is {value}");
    }
    // Counts are exact at the quick sizes.
    assert_eq!(value("crm", "leads imported"), 120.0);
    assert_eq!(value("crm", "leads counted"), 120.0);
    assert_eq!(value("crm", "import rows failed"), 0.0);
    assert_eq!(value("crm", "cursor walk: pages of 50"), 3.0);
    assert_eq!(value("analytics", "seeded leads"), 600.0);
    assert_eq!(value("analytics", "seeded tasks"), 300.0);
    assert_eq!(value("idle", "connections open"), 50.0);
    assert_eq!(value("chat", "hub: connections"), 16.0);
    assert_eq!(value("chat", "hub: deliveries missing"), 0.0);
    // Rates and latencies are measured, so above zero.
    for (suite, metric) in [
        ("crm", "import"),
        ("crm", "first page, 2 clients, p50"),
        ("crm", "last page, 2 clients, p50"),
        ("crm", "search q=holdings, 2 clients, p50"),
        ("crm", "export"),
        ("chat", "hub: deliveries"),
        ("chat", "bare: deliveries"),
        ("chat", "hub: delivery p99"),
        ("analytics", "seeding (bypasses the domain)"),
        ("analytics", "funnel p50"),
        ("analytics", "leads by source p50"),
        ("analytics", "leads by owner p50"),
        ("analytics", "leads by country p50"),
        ("analytics", "leads by industry p95"),
        ("analytics", "follow-up compliance p50"),
        ("analytics", "tasks p50"),
        ("analytics", "chat p95"),
        ("analytics", "first contact by owner p95"),
        ("analytics", "responses p95"),
        ("analytics", "workload p95"),
        ("analytics", "seeded calls"),
        ("idle", "open rate"),
        ("idle", "connect p50"),
    ] {
        assert!(
            value(suite, metric) > 0.0,
            "{suite} / {metric} in\n{stdout}"
        );
    }
}

/// (suite, metric, value) of each row under the table's dashed rule.
fn table_rows(stdout: &str) -> Vec<(String, String, f64)> {
    let body = stdout
        .split_once("\n---")
        .map(|(_, rest)| rest.split_once('\n').map_or("", |(_, rows)| rows))
        .unwrap_or("");
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            // Columns are separated by two spaces or more; a metric holds single spaces.
            let cols: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            assert_eq!(cols.len(), 4, "a row of four columns: {line:?}");
            let value = cols[2].parse().unwrap_or(f64::NAN);
            (cols[0].to_string(), cols[1].to_string(), value)
        })
        .collect()
}
