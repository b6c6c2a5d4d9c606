//! Lead fit learned from this instance's won and lost leads: the win-rate
//! rule below the threshold, a trained model above it, and scores whose
//! order follows the seeded history.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Closed leads: every print lead was won, every mining lead lost.
async fn seed_history(app: &TestApp, token: &str, pairs: usize, offset: usize) {
    let countries = ["DE", "US", "FR"];
    let sources = ["web", "referral", "fair"];
    for i in offset..offset + pairs {
        for (industry, status) in [("print", "won"), ("mining", "lost")] {
            ok(app
                .post(
                    "/api/v1/leads",
                    token,
                    json!({"company_name": format!("{industry} {i}"), "industry": industry,
                           "status": status, "country": countries[i % 3], "source": sources[(i / 3) % 3],
                           "website": if i % 2 == 0 { Some(format!("{industry}{i}.example")) } else { None },
                           "contacts": [{"name": "Ann", "email": format!("ann{i}@{industry}.example")}]}),
                )
                .await)
            .await;
        }
    }
}

async fn new_lead(app: &TestApp, token: &str, industry: &str) -> String {
    let lead = ok(app
        .post(
            "/api/v1/leads",
            token,
            json!({"company_name": format!("New {industry}"), "industry": industry, "country": "DE",
                   "source": "web", "contacts": [{"name": "Bo", "email": format!("bo@{industry}.example")}]}),
        )
        .await)
    .await;
    lead["lead"]["id"].as_str().unwrap().to_string()
}

/// (total score, fit points, fit detail)
async fn score(app: &TestApp, token: &str, lead: &str) -> (i64, i64, String) {
    let s = ok(app
        .get(&format!("/api/v1/ai/leads/{lead}/score"), token)
        .await)
    .await;
    let fit = s["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["factor"] == "fit")
        .unwrap()
        .clone();
    (
        s["score"].as_i64().unwrap(),
        fit["points"].as_i64().unwrap(),
        fit["detail"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn fit_is_learned_from_won_and_lost_leads_once_there_is_enough_history() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    // 20 closed leads: under the threshold of 30, the win-rate rule scores fit.
    seed_history(&app, &admin, 10, 0).await;
    let trained = ok(app.post("/api/v1/ai/fit/train", &admin, json!({})).await).await;
    assert_eq!(trained["mode"], "rule");
    assert_eq!(trained["samples"], 20);
    assert_eq!(trained["min_closed"], 30);
    let (print, mining) = (
        new_lead(&app, &admin, "print").await,
        new_lead(&app, &admin, "mining").await,
    );
    let (_, _, detail) = score(&app, &admin, &print).await;
    assert!(detail.contains("win rate"), "{detail}");
    assert!(!detail.starts_with("learned"), "{detail}");

    // 40 closed leads with both outcomes: a model is trained.
    seed_history(&app, &admin, 10, 10).await;
    let trained = ok(app.post("/api/v1/ai/fit/train", &admin, json!({})).await).await;
    assert_eq!(trained["mode"], "learned", "{trained}");
    assert_eq!(
        (&trained["samples"], &trained["won"], &trained["lost"]),
        (&json!(40), &json!(20), &json!(20))
    );
    let strongest = trained["weights"][0]["feature"].as_str().unwrap();
    assert!(
        strongest == "industry=print" || strongest == "industry=mining",
        "industry decided every outcome: {trained}"
    );
    let weight = |name: &str| {
        trained["weights"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["feature"] == name)
            .unwrap()["weight"]
            .as_f64()
            .unwrap()
    };
    assert!(weight("industry=print") > 0.0 && weight("industry=mining") < 0.0);

    let status = ok(app.get("/api/v1/ai/fit", &admin).await).await;
    assert_eq!(status["mode"], "learned");
    // The stored model is the one just trained (its JSON text round-trips
    // each weight to within a rounding step).
    let stored = status["weights"].as_array().unwrap();
    assert_eq!(stored.len(), trained["weights"].as_array().unwrap().len());
    for w in stored {
        let name = w["feature"].as_str().unwrap();
        assert!(
            (w["weight"].as_f64().unwrap() - weight(name)).abs() < 1e-9,
            "{name}"
        );
    }

    let (print_score, print_fit, print_detail) = score(&app, &admin, &print).await;
    let (mining_score, mining_fit, mining_detail) = score(&app, &admin, &mining).await;
    assert!(
        print_score > mining_score,
        "{print_score} {print_detail} / {mining_score} {mining_detail}"
    );
    assert!(print_fit > mining_fit);
    assert!(
        print_fit >= 20 && mining_fit <= 5,
        "{print_fit} {mining_fit}"
    );
    assert!(
        print_detail.starts_with("learned from 40 closed leads (20 won, 20 lost)"),
        "{print_detail}"
    );
    assert!(print_detail.contains("industry=print +"), "{print_detail}");
    assert!(
        mining_detail.contains("industry=mining -"),
        "{mining_detail}"
    );
}

#[tokio::test]
async fn only_ai_managers_retrain_the_fit() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann) = app.user_with_role(&admin, "ann", "user").await;
    let (status, code, _) = error_of(app.post("/api/v1/ai/fit/train", &ann, json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let fit = ok(app.get("/api/v1/ai/fit", &ann).await).await;
    assert_eq!(fit["mode"], "rule");
    assert_eq!(fit["samples"], 0);
}
