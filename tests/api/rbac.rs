//! For every built-in role, which calls it may make: 401 without a token,
//! 403 without the permission, success with it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

struct Call {
    method: Method,
    path: &'static str,
    body: Option<Value>,
}

fn calls() -> Vec<(&'static str, Call)> {
    vec![
        (
            "me",
            Call {
                method: Method::GET,
                path: "/api/v1/auth/me",
                body: None,
            },
        ),
        (
            "permissions",
            Call {
                method: Method::GET,
                path: "/api/v1/permissions",
                body: None,
            },
        ),
        (
            "list users",
            Call {
                method: Method::GET,
                path: "/api/v1/users",
                body: None,
            },
        ),
        (
            "list roles",
            Call {
                method: Method::GET,
                path: "/api/v1/roles",
                body: None,
            },
        ),
        (
            "matrix",
            Call {
                method: Method::GET,
                path: "/api/v1/roles/matrix",
                body: None,
            },
        ),
        (
            "create user",
            Call {
                method: Method::POST,
                path: "/api/v1/users",
                body: Some(
                    json!({"username": "newbie", "email": "newbie@example.com", "password": "password-123456", "role": "user"}),
                ),
            },
        ),
        (
            "create role",
            Call {
                method: Method::POST,
                path: "/api/v1/roles",
                body: Some(json!({"key": "temp_role", "name": "Temp"})),
            },
        ),
        (
            "create api key",
            Call {
                method: Method::POST,
                path: "/api/v1/api-keys",
                body: Some(json!({"name": "k"})),
            },
        ),
        (
            "list api keys",
            Call {
                method: Method::GET,
                path: "/api/v1/api-keys",
                body: None,
            },
        ),
    ]
}

/// The expected outcome per role, written out by hand from the role
/// descriptions rather than read from the code under test.
fn allowed(role: &str, call: &str) -> bool {
    match (role, call) {
        ("admin", _) => true,
        // Everyone signed in may read themselves, the catalogue, the user
        // directory and roles, and list their own API keys.
        (_, "me" | "permissions" | "list users" | "list roles" | "matrix" | "list api keys") => {
            true
        }
        ("manager" | "user" | "marketing_manager" | "production_manager", "create api key") => true,
        _ => false,
    }
}

#[tokio::test]
async fn every_built_in_role_gets_exactly_its_calls() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let roles = [
        "admin",
        "manager",
        "user",
        "caller",
        "lead_generator",
        "marketing_manager",
        "production_manager",
    ];
    let mut table = Vec::new();
    for role in roles {
        let (_, token) = app
            .user_with_role(&admin, &format!("as_{role}"), role)
            .await;
        for (name, call) in calls() {
            let mut request = app.request(call.method.clone(), call.path, Some(&token));
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let expected = allowed(role, name);
            if expected {
                assert!(
                    status.is_success(),
                    "{role} should be allowed to {name}, got {status}"
                );
            } else {
                let (status, code, _) = error_of(response).await;
                assert_eq!(
                    (status, code.as_str()),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{role} must not {name}"
                );
            }
            table.push(format!("{role:>20} {name:<16} {}", status.as_u16()));
            // Undo creations so the next role's attempt is judged on
            // permission, not on a name clash.
            if status.is_success() && name == "create user" {
                let users: Value = app
                    .get("/api/v1/users?limit=200", &admin)
                    .await
                    .json()
                    .await
                    .unwrap();
                let id = users["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|u| u["username"] == "newbie")
                    .unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(app
                    .delete(&format!("/api/v1/users/{id}"), &admin)
                    .await
                    .status()
                    .is_success());
            }
            if status.is_success() && name == "create role" {
                assert!(app
                    .delete("/api/v1/roles/temp_role", &admin)
                    .await
                    .status()
                    .is_success());
            }
        }
    }
    println!("{}", table.join("\n"));
}

#[tokio::test]
async fn every_api_operation_but_login_needs_a_token() {
    let app = TestApp::spawn().await;
    let spec: Value = app.openapi().await;
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, _) in ops.as_object().unwrap() {
            if path == "/auth/login" {
                continue;
            }
            let concrete = path
                .replace("{id}", "0123456789abcdef")
                .replace("{key}", "manager");
            let method: Method = method.to_uppercase().parse().unwrap();
            let response = app
                .request(method.clone(), &format!("/api/v1{concrete}"), None)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let (status, code, _) = error_of(response).await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
                "{method} {path}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "checked {checked} operations");
}

#[tokio::test]
async fn a_bogus_or_garbled_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    for token in ["nonsense", "eak_nonsense", ""] {
        let response = app.get("/api/v1/auth/me", token).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "token {token:?}"
        );
    }
}
