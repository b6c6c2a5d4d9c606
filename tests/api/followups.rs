use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

/// These tests move the clock by days; sessions must outlive that.
fn long_sessions(config: &mut ea_crm::config::Config) {
    config.session_idle_minutes = 60 * 24 * 30;
}

async fn lead(app: &TestApp, token: &str, body: Value) -> String {
    let created: Value = app
        .post("/api/v1/leads", token, body)
        .await
        .json()
        .await
        .unwrap();
    created["lead"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn three_tiers_are_logged_with_history_and_the_next_follow_up_is_derived() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let id = lead(&app, &admin, json!({"company_name": "Tiered"})).await;
    let fresh: Value = app
        .get(&format!("/api/v1/leads/{id}/follow-ups"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["tiers"].as_array().unwrap().len(), 3);
    assert!(fresh["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["outcome"] == "pending" && t["scheduled_at"].is_null()));

    let t2 = (Utc::now() + Duration::days(3)).to_rfc3339();
    let t3 = (Utc::now() + Duration::days(7)).to_rfc3339();
    app.put_json(
        &format!("/api/v1/leads/{id}/follow-ups/1"),
        &admin,
        json!({"outcome": "done", "notes": "intro call"}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/leads/{id}/follow-ups/2"),
        &admin,
        json!({"scheduled_at": t2}),
    )
    .await;
    let after: Value = app
        .put_json(
            &format!("/api/v1/leads/{id}/follow-ups/3"),
            &admin,
            json!({"scheduled_at": t3}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["tiers"][0]["outcome"], "done");
    assert!(
        after["tiers"][0]["done_at"].is_string(),
        "done gets a done time"
    );
    assert_eq!(after["history"].as_array().unwrap().len(), 3);
    assert_eq!(after["history"][2]["notes"], "intro call");

    let read: Value = app
        .get(&format!("/api/v1/leads/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let next: chrono::DateTime<Utc> = read["lead"]["next_follow_up_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (next - t2.parse::<chrono::DateTime<Utc>>().unwrap())
            .num_seconds()
            .abs()
            < 1,
        "the earliest pending tier"
    );
    assert!(read["lead"]["last_contacted_at"].is_string());

    for (tier, body) in [
        ("4", json!({"outcome": "done"})),
        ("1", json!({"outcome": "maybe"})),
    ] {
        let bad = app
            .put_json(
                &format!("/api/v1/leads/{id}/follow-ups/{tier}"),
                &admin,
                body,
            )
            .await;
        assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn after_the_third_follow_up_without_a_reply_the_lead_goes_cold() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let silent = lead(
        &app,
        &admin,
        json!({"company_name": "Silent", "status": "contacted"}),
    )
    .await;
    let chatty = lead(
        &app,
        &admin,
        json!({"company_name": "Chatty", "status": "contacted"}),
    )
    .await;
    for tier in 1..=3 {
        app.put_json(
            &format!("/api/v1/leads/{silent}/follow-ups/{tier}"),
            &admin,
            json!({"outcome": "no_answer"}),
        )
        .await;
    }
    let s: Value = app
        .get(&format!("/api/v1/leads/{silent}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["lead"]["status"], "cold");

    app.put_json(
        &format!("/api/v1/leads/{chatty}/follow-ups/1"),
        &admin,
        json!({"outcome": "replied"}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/leads/{chatty}/follow-ups/2"),
        &admin,
        json!({"outcome": "no_answer"}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/leads/{chatty}/follow-ups/3"),
        &admin,
        json!({"outcome": "no_answer"}),
    )
    .await;
    let c: Value = app
        .get(&format!("/api/v1/leads/{chatty}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        c["lead"]["status"], "contacted",
        "a reply earlier keeps it warm"
    );

    // The rule is configurable: off, nothing moves; to another status, it moves there.
    let off = app
        .put_json(
            "/api/v1/settings/after-third-follow-up",
            &admin,
            json!({"enabled": false, "status": "cold"}),
        )
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let third = lead(&app, &admin, json!({"company_name": "Third"})).await;
    for tier in 1..=3 {
        app.put_json(
            &format!("/api/v1/leads/{third}/follow-ups/{tier}"),
            &admin,
            json!({"outcome": "skipped"}),
        )
        .await;
    }
    let t: Value = app
        .get(&format!("/api/v1/leads/{third}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["lead"]["status"], "new");
    app.put_json(
        "/api/v1/settings/after-third-follow-up",
        &admin,
        json!({"enabled": true, "status": "not_interested"}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/leads/{third}/follow-ups/3"),
        &admin,
        json!({"outcome": "no_answer"}),
    )
    .await;
    let t: Value = app
        .get(&format!("/api/v1/leads/{third}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["lead"]["status"], "not_interested");
    let bad = app
        .put_json(
            "/api/v1/settings/after-third-follow-up",
            &admin,
            json!({"enabled": true, "status": "nowhere"}),
        )
        .await;
    assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn due_views_list_today_overdue_and_this_week_per_user_and_team() {
    let app = TestApp::spawn_with(long_sessions).await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let (_, boss) = app.user_with_role(&admin, "boss", "manager").await;
    let now = Utc::now();
    let mine = lead(&app, &rep, json!({"company_name": "Mine"})).await;
    let theirs = lead(&app, &boss, json!({"company_name": "Theirs"})).await;
    let at = |d: Duration| (now + d).to_rfc3339();
    app.put_json(
        &format!("/api/v1/leads/{mine}/follow-ups/1"),
        &rep,
        json!({"scheduled_at": at(Duration::hours(-30))}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/leads/{mine}/follow-ups/2"),
        &rep,
        json!({"scheduled_at": at(Duration::days(3))}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/leads/{theirs}/follow-ups/1"),
        &boss,
        json!({"scheduled_at": at(Duration::hours(-2))}),
    )
    .await;

    let list = |path: String, token: String| {
        let app = &app;
        async move {
            let v: Value = app.get(&path, &token).await.json().await.unwrap();
            let mut names: Vec<String> = v["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{v}"))
                .iter()
                .map(|d| format!("{}#{}", d["company_name"].as_str().unwrap(), d["tier"]))
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        list("/api/v1/follow-ups/due?view=overdue".into(), rep.clone()).await,
        ["Mine#1"]
    );
    assert_eq!(
        list("/api/v1/follow-ups/due?view=week".into(), rep.clone()).await,
        ["Mine#2"]
    );
    assert_eq!(
        list(
            "/api/v1/follow-ups/due?view=overdue&scope=team".into(),
            rep.clone()
        )
        .await,
        ["Mine#1"],
        "a rep's team view holds only what they may see"
    );
    assert_eq!(
        list(
            "/api/v1/follow-ups/due?view=overdue&scope=team".into(),
            boss.clone()
        )
        .await,
        ["Mine#1", "Theirs#1"]
    );
    assert_eq!(
        list("/api/v1/follow-ups/due?view=overdue".into(), boss.clone()).await,
        ["Theirs#1"]
    );

    // Moving the clock makes the week's follow-up overdue.
    app.clock.advance(Duration::days(4));
    assert_eq!(
        list("/api/v1/follow-ups/due?view=overdue".into(), rep.clone()).await,
        ["Mine#1", "Mine#2"]
    );
    let bad = app.get("/api/v1/follow-ups/due?view=someday", &rep).await;
    assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_call_queue_offers_only_leads_in_business_hours_in_their_own_timezone() {
    let app = TestApp::spawn_with(long_sessions).await;
    let admin = app.admin_token().await;
    let (_, caller) = app.user_with_role(&admin, "dialer", "caller").await;
    app.put_json(
        "/api/v1/settings/lead-assignment",
        &admin,
        json!({"mode": "round_robin", "role": "caller"}),
    )
    .await;
    let tokyo = lead(
        &app,
        &admin,
        json!({"company_name": "Tokyo KK", "country": "JP"}),
    )
    .await;
    let _ny = lead(
        &app,
        &admin,
        json!({"company_name": "NY Inc", "timezone": "America/New_York", "country": "US"}),
    )
    .await;
    let berlin = lead(
        &app,
        &admin,
        json!({"company_name": "Berlin GmbH", "country": "DE"}),
    )
    .await;
    // Berlin has a follow-up due, so it outranks never-contacted leads.
    let due = (Utc::now() - Duration::hours(1)).to_rfc3339();
    app.put_json(
        &format!("/api/v1/leads/{berlin}/follow-ups/1"),
        &admin,
        json!({"scheduled_at": due}),
    )
    .await;

    // Move the clock to the next Tuesday 01:30 UTC: 10:30 in Tokyo, 02:30 in
    // Berlin, Monday 20:30 in New York.
    let now = Utc::now();
    let mut target = now.date_naive().and_hms_opt(1, 30, 0).unwrap().and_utc();
    while target <= now || chrono::Datelike::weekday(&target) != chrono::Weekday::Tue {
        target += Duration::days(1);
    }
    app.clock.advance(target - now);
    let queue: Value = app
        .get("/api/v1/calls/queue", &caller)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["lead"]["company_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Tokyo KK"],
        "only Tokyo is in business hours: {queue}"
    );
    assert!(queue["items"][0]["local_time"]
        .as_str()
        .unwrap()
        .starts_with("Tue 10:30"));
    let _ = tokyo;

    // Eight hours later: 17:30 in Tokyo (closed), 10:30 in Berlin (open).
    app.clock.advance(Duration::hours(8));
    let queue: Value = app
        .get("/api/v1/calls/queue", &caller)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["lead"]["company_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Berlin GmbH"]);
    assert_eq!(queue["items"][0]["reason"], "follow_up_due");

    // Six more hours: 16:30 in Berlin and 10:30 in New York; the due
    // follow-up comes before the never-contacted lead.
    app.clock.advance(Duration::hours(6));
    let queue: Value = app
        .get("/api/v1/calls/queue", &caller)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["lead"]["company_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Berlin GmbH", "NY Inc"]);

    // Logging a call records it and a user without calls.log has no queue.
    let logged = app
        .post(
            &format!("/api/v1/leads/{berlin}/calls"),
            &caller,
            json!({"outcome": "interested", "duration_seconds": 300, "notes": "send deck"}),
        )
        .await;
    assert_eq!(logged.status(), StatusCode::OK);
    let calls: Value = app
        .get(&format!("/api/v1/leads/{berlin}/calls"), &caller)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(calls["items"][0]["duration_seconds"], 300);
    let bad = app
        .post(
            &format!("/api/v1/leads/{berlin}/calls"),
            &caller,
            json!({"outcome": "dancing"}),
        )
        .await;
    assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, marketer) = app
        .user_with_role(&admin, "marketer", "marketing_manager")
        .await;
    assert_eq!(
        app.get("/api/v1/calls/queue", &marketer).await.status(),
        StatusCode::FORBIDDEN
    );
}

/// The call queue page calls from the queue's own answer: each entry
/// carries its lead's contacts with their phones, no other lead's.
#[tokio::test]
async fn each_call_queue_entry_carries_its_leads_contacts_to_call() {
    let app = TestApp::spawn_with(long_sessions).await;
    let admin = app.admin_token().await;
    let (_, caller) = app.user_with_role(&admin, "dialer", "caller").await;
    let berlin = lead(
        &app,
        &admin,
        json!({"company_name": "Berlin GmbH", "country": "DE", "owner": "dialer",
               "contacts": [{"name": "Otto", "phone": "+49 30 901820"},
                            {"name": "Ute", "email": "ute@berlin.example"}]}),
    )
    .await;
    lead(
        &app,
        &admin,
        json!({"company_name": "Hamburg AG", "country": "DE", "owner": "dialer"}),
    )
    .await;
    // Next Wednesday 12:00 UTC: 13:00 in Berlin.
    let now = Utc::now();
    let mut target = now.date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc();
    while target <= now || chrono::Datelike::weekday(&target) != chrono::Weekday::Wed {
        target += Duration::days(1);
    }
    app.clock.advance(target - now);
    let queue: Value = crate::helpers::ok(app.get("/api/v1/calls/queue", &caller).await).await;
    let entries = queue["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{queue}");
    let of = |id: &str| {
        entries
            .iter()
            .find(|e| e["lead"]["id"] == id)
            .unwrap()
            .clone()
    };
    let entry = of(&berlin);
    let contacts = entry["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 2, "{entry}");
    assert_eq!(contacts[0]["name"], "Otto");
    assert_eq!(contacts[0]["phone"], "+4930901820");
    assert_eq!(contacts[1]["email"], "ute@berlin.example");
    let other = entries
        .iter()
        .find(|e| e["lead"]["id"] != berlin.as_str())
        .unwrap();
    assert_eq!(other["contacts"], json!([]), "{other}");
}
