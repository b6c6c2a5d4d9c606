//! Analytics on a seeded data set: each endpoint's numbers against answers
//! this test works out from the seed on its own.

use std::collections::BTreeMap;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::chat::{group, say};
use crate::helpers::{error_of, Team, TestApp, USER_PASSWORD};

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn range(app: &TestApp) -> String {
    let now = app.clock_now();
    let from = (now - Duration::days(10)).to_rfc3339();
    let to = (now + Duration::hours(1)).to_rfc3339();
    format!("from={}&to={}", urlencode(&from), urlencode(&to))
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// (status, source, country, industry, owner index)
const LEADS: &[(&str, &str, &str, &str, usize)] = &[
    ("new", "web", "DE", "print", 0),
    ("new", "web", "US", "print", 1),
    ("contacted", "referral", "DE", "retail", 0),
    ("qualified", "web", "FR", "print", 1),
    ("qualified", "fair", "DE", "retail", 0),
    ("proposal", "referral", "US", "print", 0),
    ("won", "web", "DE", "print", 1),
    ("won", "referral", "DE", "retail", 0),
    ("lost", "web", "US", "print", 1),
    ("not_interested", "fair", "FR", "retail", 0),
];

#[tokio::test]
async fn the_funnel_and_lead_breakdowns_match_the_seeded_leads() {
    let Team {
        app,
        admin,
        pm,
        ann,
        bob,
    } = Team::spawn().await;
    let owners = [ann.clone(), bob.clone()];
    for (i, (status, source, country, industry, owner)) in LEADS.iter().enumerate() {
        ok(app
            .post(
                "/api/v1/leads",
                &admin,
                json!({"company_name": format!("Lead {i}"), "status": status, "source": source,
                       "country": country, "industry": industry, "owner": owners[*owner]}),
            )
            .await)
        .await;
    }
    let q = range(&app);

    // Stages in pipeline order, without the lost ones; a lead reached a
    // stage if it is there or further; lost leads count at the first stage.
    let path = [
        "new",
        "contacted",
        "interested",
        "qualified",
        "proposal",
        "won",
        "cold",
    ];
    let lost = ["lost", "not_interested"];
    let position = |s: &str| path.iter().position(|p| *p == s);
    let lost_count = LEADS.iter().filter(|l| lost.contains(&l.0)).count() as u64;
    let funnel = ok(app.get(&format!("/api/v1/analytics/funnel?{q}"), &pm).await).await;
    let stages = funnel.as_array().unwrap();
    let mut previous: Option<u64> = None;
    for (i, stage) in path.iter().enumerate() {
        let row = stages.iter().find(|s| s["status"] == *stage).unwrap();
        let mut reached = LEADS
            .iter()
            .filter(|l| position(l.0).is_some_and(|p| p >= i))
            .count() as u64;
        if i == 0 {
            reached += lost_count;
        }
        let current = LEADS.iter().filter(|l| l.0 == *stage).count() as u64;
        assert_eq!(row["reached"], reached, "reached {stage}");
        assert_eq!(row["current"], current, "current {stage}");
        match previous {
            Some(p) if p > 0 => {
                let want = reached as f64 / p as f64;
                assert!(
                    (row["conversion"].as_f64().unwrap() - want).abs() < 1e-9,
                    "{stage}"
                );
            }
            _ => assert!(row["conversion"].is_null()),
        }
        previous = Some(reached);
    }
    assert_eq!(
        stages.iter().find(|s| s["status"] == "lost").unwrap()["current"],
        1
    );

    for (dimension, pick) in [
        ("source", 1usize),
        ("country", 2),
        ("industry", 3),
        ("owner", 4),
    ] {
        let mut want: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        for l in LEADS {
            let key = match pick {
                1 => l.1.to_string(),
                2 => l.2.to_string(),
                3 => l.3.to_string(),
                _ => owners[l.4].clone(),
            };
            let e = want.entry(key).or_default();
            e.0 += 1;
            e.1 += (l.0 == "won") as u64;
            e.2 += lost.contains(&l.0) as u64;
        }
        let got = ok(app
            .get(&format!("/api/v1/analytics/leads?by={dimension}&{q}"), &pm)
            .await)
        .await;
        let got: BTreeMap<String, (u64, u64, u64)> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_string(),
                    (
                        r["leads"].as_u64().unwrap(),
                        r["won"].as_u64().unwrap(),
                        r["lost"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(got, want, "by {dimension}");
    }

    // Outside the range there is nothing.
    let old = ok(app
        .get(
            "/api/v1/analytics/leads?by=source&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z",
            &pm,
        )
        .await)
    .await;
    assert_eq!(old, json!([]));
}

#[tokio::test]
async fn follow_up_compliance_counts_on_time_work_per_rep() {
    let Team {
        app,
        admin,
        pm,
        ann,
        bob,
    } = Team::spawn().await;
    let now = app.clock_now();
    let scheduled = now - Duration::days(3);
    // (owner, hours after the schedule it was done, or never)
    let seed: &[(&str, Option<i64>)] = &[
        (&ann, Some(2)),
        (&ann, Some(30)),
        (&ann, None),
        (&bob, Some(1)),
        (&bob, Some(24)),
    ];
    for (i, (owner, done_after)) in seed.iter().enumerate() {
        let lead = ok(app
            .post(
                "/api/v1/leads",
                &admin,
                json!({"company_name": format!("F{i}"), "owner": owner}),
            )
            .await)
        .await;
        let id = lead["lead"]["id"].as_str().unwrap();
        let body = match done_after {
            Some(h) => {
                json!({"scheduled_at": scheduled, "outcome": "done", "done_at": scheduled + Duration::hours(*h)})
            }
            None => json!({"scheduled_at": scheduled}),
        };
        ok(app
            .put_json(&format!("/api/v1/leads/{id}/follow-ups/1"), &admin, body)
            .await)
        .await;
    }
    // Scheduled for later: not due yet, so not counted.
    let later = ok(app
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": "Later", "owner": ann}),
        )
        .await)
    .await;
    ok(app
        .put_json(
            &format!(
                "/api/v1/leads/{}/follow-ups/1",
                later["lead"]["id"].as_str().unwrap()
            ),
            &admin,
            json!({"scheduled_at": now + Duration::days(2)}),
        )
        .await)
    .await;

    let got = ok(app
        .get(
            &format!("/api/v1/analytics/follow-ups?{}", range(&app)),
            &pm,
        )
        .await)
    .await;
    for who in [&ann, &bob] {
        let mine: Vec<_> = seed.iter().filter(|s| s.0 == who.as_str()).collect();
        let done = mine.iter().filter(|s| s.1.is_some()).count() as u64;
        let on_time = mine.iter().filter(|s| s.1.is_some_and(|h| h <= 24)).count() as u64;
        let row = got
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["owner"] == who.as_str())
            .unwrap();
        assert_eq!(row["due"], mine.len() as u64);
        assert_eq!(row["done"], done);
        assert_eq!(row["done_on_time"], on_time);
        let rate = on_time as f64 / mine.len() as f64;
        assert!((row["on_time_rate"].as_f64().unwrap() - rate).abs() < 1e-9);
    }
}

/// Hours in progress, and the due time in hours from the start.
type Done = (i64, Option<i64>);

#[tokio::test]
async fn task_throughput_cycle_time_and_on_time_rate_per_person_and_type() {
    let Team {
        app,
        mut pm,
        ann,
        bob,
        ..
    } = Team::spawn().await;
    // (assignee, type, hours in progress, due in hours from start or none)
    let seed: Vec<(&str, &str, i64, Option<i64>)> = vec![
        (&ann, "print", 2, Some(3)),
        (&ann, "print", 6, Some(3)),
        (&ann, "design", 4, None),
        (&bob, "print", 1, Some(10)),
    ];
    for (i, (who, kind, hours, due)) in seed.iter().enumerate() {
        let start = app.clock_now();
        let t = ok(app
            .post(
                "/api/v1/tasks",
                &pm,
                json!({"title": format!("T{i}"), "task_type": kind, "assignee": who,
                       "due_at": due.map(|d| start + Duration::hours(d))}),
            )
            .await)
        .await;
        let id = t["id"].as_str().unwrap();
        ok(app
            .patch(
                &format!("/api/v1/tasks/{id}"),
                &pm,
                json!({"status": "in_progress"}),
            )
            .await)
        .await;
        app.clock.advance(Duration::hours(*hours));
        // Sessions expire while the clock runs ahead.
        pm = app.login("pam", USER_PASSWORD).await;
        ok(app
            .patch(
                &format!("/api/v1/tasks/{id}"),
                &pm,
                json!({"status": "done"}),
            )
            .await)
        .await;
    }
    // Open and cancelled work is not throughput.
    ok(app
        .post(
            "/api/v1/tasks",
            &pm,
            json!({"title": "open", "task_type": "print", "assignee": ann}),
        )
        .await)
    .await;
    let dropped = ok(app
        .post(
            "/api/v1/tasks",
            &pm,
            json!({"title": "dropped", "task_type": "print", "assignee": ann}),
        )
        .await)
    .await;
    ok(app
        .patch(
            &format!("/api/v1/tasks/{}", dropped["id"].as_str().unwrap()),
            &pm,
            json!({"status": "cancelled"}),
        )
        .await)
    .await;

    let got = ok(app
        .get(&format!("/api/v1/analytics/tasks?{}", range(&app)), &pm)
        .await)
    .await;
    let rows = got["by_person_and_type"].as_array().unwrap();
    let mut groups: BTreeMap<(String, String), Vec<Done>> = BTreeMap::new();
    for (who, kind, hours, due) in &seed {
        groups
            .entry((who.to_string(), kind.to_string()))
            .or_default()
            .push((*hours, *due));
    }
    assert_eq!(rows.len(), groups.len());
    for ((who, kind), items) in groups {
        let row = rows
            .iter()
            .find(|r| r["assignee"] == who.as_str() && r["task_type"] == kind.as_str())
            .unwrap();
        let mean = items.iter().map(|i| i.0 as f64).sum::<f64>() / items.len() as f64;
        let with_due = items.iter().filter(|i| i.1.is_some()).count() as u64;
        let on_time = items
            .iter()
            .filter(|i| i.1.is_some_and(|d| i.0 <= d))
            .count() as u64;
        assert_eq!(row["done"], items.len() as u64, "{who} {kind}");
        // The test clock is wall time plus the advances, so the requests
        // between start and done add real seconds on a loaded machine.
        assert!(
            (row["mean_cycle_hours"].as_f64().unwrap() - mean).abs() < 1.0 / 60.0,
            "{row}"
        );
        assert_eq!(row["with_due"], with_due);
        assert_eq!(row["on_time"], on_time);
    }
    let per_day: u64 = got["done_per_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_day, seed.len() as u64);
}

#[tokio::test]
async fn workload_counts_open_and_overdue_tasks_per_person() {
    let Team {
        app, pm, ann, bob, ..
    } = Team::spawn().await;
    let now = app.clock_now();
    // (assignee, status, due in hours from now)
    let seed: Vec<(Option<&str>, &str, Option<i64>)> = vec![
        (Some(&ann), "todo", Some(1)),
        (Some(&ann), "in_progress", None),
        (Some(&ann), "in_progress", Some(100)),
        (Some(&ann), "done", Some(1)),
        (Some(&bob), "review", Some(1)),
        (Some(&bob), "cancelled", None),
        (None, "todo", Some(1)),
    ];
    for (i, (who, status, due)) in seed.iter().enumerate() {
        let t = ok(app
            .post(
                "/api/v1/tasks",
                &pm,
                json!({"title": format!("W{i}"), "task_type": "print", "assignee": who,
                       "due_at": due.map(|d| now + Duration::hours(d))}),
            )
            .await)
        .await;
        if *status != "todo" {
            let id = t["id"].as_str().unwrap();
            ok(app
                .patch(
                    &format!("/api/v1/tasks/{id}"),
                    &pm,
                    json!({"status": status}),
                )
                .await)
            .await;
        }
    }
    app.clock.advance(Duration::hours(2));
    let pm = app.login("pam", USER_PASSWORD).await;
    let got = ok(app.get("/api/v1/analytics/workload", &pm).await).await;
    let rows = got.as_array().unwrap();
    let open = |s: &str| !matches!(s, "done" | "cancelled");
    let mut expected: BTreeMap<Option<String>, (u64, u64)> = BTreeMap::new();
    for (who, status, due) in &seed {
        if !open(status) {
            continue;
        }
        let e = expected.entry(who.map(str::to_string)).or_default();
        e.0 += 1;
        if due.is_some_and(|d| d < 2) {
            e.1 += 1;
        }
    }
    assert_eq!(rows.len(), expected.len(), "{got}");
    for (who, (n, overdue)) in &expected {
        let row = rows
            .iter()
            .find(|r| r["assignee"].as_str().map(str::to_string) == *who)
            .unwrap_or_else(|| panic!("no row for {who:?}: {got}"));
        assert_eq!(row["open"], *n, "{row}");
        assert_eq!(row["overdue"], *overdue, "{row}");
        let by_status: u64 = row["by_status"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["count"].as_u64().unwrap())
            .sum();
        assert_eq!(by_status, *n);
    }
    assert_eq!(rows[0]["assignee"], ann.as_str(), "most loaded first");
    let ann_row = &rows[0]["by_status"];
    let in_progress = ann_row
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "in_progress")
        .unwrap();
    assert_eq!(in_progress["count"], 2);
}

#[tokio::test]
async fn chat_activity_counts_messages_per_author_and_day() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.user_with_role(&admin, "pam", "production_manager")
        .await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let room = group(&app, &admin, "floor", &[&ann]).await;
    for i in 0..3 {
        say(&app, &ann_token, &room, &format!("ann {i}")).await;
    }
    say(&app, &admin, &room, "admin 0").await;
    app.clock.advance(Duration::days(1));
    let ann_token = app.login("ann", USER_PASSWORD).await;
    let pm = app.login("pam", USER_PASSWORD).await;
    say(&app, &ann_token, &room, "ann next day").await;

    let got = ok(app
        .get(&format!("/api/v1/analytics/chat?{}", range(&app)), &pm)
        .await)
    .await;
    let by_author = got["by_author"].as_array().unwrap();
    assert_eq!(by_author[0]["user"], ann.as_str());
    assert_eq!(by_author[0]["messages"], 4);
    assert_eq!(by_author[1]["messages"], 1);
    let days: Vec<u64> = got["messages_per_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .collect();
    assert_eq!(days, [4, 1]);
}

#[tokio::test]
async fn analytics_need_the_analytics_permission() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_role(&admin, "ann", "user").await;
    for path in [
        "funnel",
        "leads?by=source",
        "follow-ups",
        "tasks",
        "chat",
        "workload",
    ] {
        let refused = app.get(&format!("/api/v1/analytics/{path}"), &user).await;
        assert_eq!(error_of(refused).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    let bad = app.get("/api/v1/analytics/leads?by=colour", &admin).await;
    assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}
