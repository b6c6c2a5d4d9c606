use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ea_crm::config::Config;
use ea_crm::store::migrations;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{TestApp, ADMIN_PASSWORD, USER_PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_ea-crm");

#[tokio::test]
async fn migrations_run_twice_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.user_with_role(&admin, "henry", "user").await;
    let before = migrations::applied_versions(&app.ctx().store)
        .await
        .unwrap();
    assert_eq!(before.len(), migrations::MIGRATIONS.len());
    assert_eq!(
        migrations::migrate(&app.ctx().store).await.unwrap(),
        0,
        "nothing left to apply"
    );
    let after = migrations::applied_versions(&app.ctx().store)
        .await
        .unwrap();
    assert_eq!(
        before
            .iter()
            .map(|m| (&m.name, &m.checksum))
            .collect::<Vec<_>>(),
        after
            .iter()
            .map(|m| (&m.name, &m.checksum))
            .collect::<Vec<_>>()
    );
    let users: Value = app.get("/api/v1/users", &admin).await.json().await.unwrap();
    assert_eq!(
        users["items"].as_array().unwrap().len(),
        2,
        "data untouched"
    );
}

fn surrealkv_config(dir: &std::path::Path) -> Config {
    let mut config = Config::for_tests();
    config.database_url = format!("surrealkv://{}", dir.join("ea-crm.db").display());
    config
}

#[tokio::test]
async fn a_restart_on_a_surrealkv_folder_keeps_users_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(surrealkv_config(dir.path())).await;
    let admin = app.admin_token().await;
    let (_, rep_token) = app.user_with_role(&admin, "iris", "user").await;
    app.stop().await;

    let app = TestApp::start(surrealkv_config(dir.path())).await;
    let me: Value = app
        .get("/api/v1/auth/me", &rep_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["user"]["username"], "iris",
        "the session survived the restart"
    );
    app.login("iris", USER_PASSWORD).await;
    let versions = migrations::applied_versions(&app.ctx().store)
        .await
        .unwrap();
    assert_eq!(
        versions.len(),
        migrations::MIGRATIONS.len(),
        "migrations recorded once"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_operator_can_reset_a_forgotten_admin_password_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(surrealkv_config(dir.path())).await;
    let old_session = app.admin_token().await;
    app.stop().await;

    let url = format!("surrealkv://{}", dir.path().join("ea-crm.db").display());
    let output = Command::new(BIN)
        .args([
            "admin",
            "reset-password",
            "admin",
            "--password",
            "recovered-password-1",
        ])
        .env_clear()
        .env("DATABASE_URL", &url)
        .env("UPLOAD_DIR", dir.path().join("uploads"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("recovered-password-1"));

    let app = TestApp::start(surrealkv_config(dir.path())).await;
    assert_eq!(
        app.login_response("admin", ADMIN_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &old_session).await.status(),
        StatusCode::UNAUTHORIZED,
        "old sessions ended"
    );
    app.login("admin", "recovered-password-1").await;
    app.stop().await;
}

/// Runs the binary with `env` and returns its exit code and stderr.
fn run_with(env: &[(&str, String)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("DATABASE_URL", "mem://")
        .env("BIND", "127.0.0.1:0")
        .env("UPLOAD_DIR", dir.path().join("uploads"))
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.stdin(Stdio::null()).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn a_bad_configuration_stops_the_start_with_one_line_and_exit_code_2() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let file = tempfile::NamedTempFile::new().unwrap();
    let cases = [
        (
            "DATABASE_URL",
            "postgres://db/crm".to_string(),
            "DATABASE_URL",
        ),
        ("BIND", busy_addr.clone(), "cannot listen on"),
        ("BIND", "localhost-ish".to_string(), "BIND"),
        (
            "UPLOAD_DIR",
            file.path().join("sub").display().to_string(),
            "UPLOAD_DIR",
        ),
        (
            "SESSION_IDLE_MINUTES",
            "0".to_string(),
            "SESSION_IDLE_MINUTES",
        ),
    ];
    for (var, value, expect) in cases {
        let (code, stderr) = run_with(&[(var, value.clone())]);
        assert_eq!(code, Some(2), "{var}={value}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{var}={value}: one line, got {stderr}");
        assert!(lines[0].contains(expect), "{var}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    drop(busy);
}

#[tokio::test]
async fn first_start_without_a_password_prints_a_generated_one_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", "mem://")
        .env("BIND", "127.0.0.1:0")
        .env("UPLOAD_DIR", dir.path().join("uploads"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    // Each reader keeps draining its pipe after it found its line, so the
    // server never writes into a closed pipe.
    let (password_tx, password_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(p) = line.split("with password: ").nth(1) {
                let _ = password_tx.send(p.to_string());
            }
        }
    });
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = addr_tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
    });
    let wait = Duration::from_secs(30);
    let password = password_rx
        .recv_timeout(wait)
        .expect("a generated password is printed");
    let addr = addr_rx.recv_timeout(wait).expect("the address is logged");
    assert!(password.len() >= 16);

    let client = reqwest::Client::new();
    let login = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit on SIGTERM: {status:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
