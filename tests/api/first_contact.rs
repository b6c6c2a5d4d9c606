//! Time to first contact and responses, on a seeded history whose right
//! answers this test works out on its own from the seed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp, USER_PASSWORD};

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B").replace(':', "%3A")
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Call,
    FollowUp,
}

/// (owner index, source, hours after the first lead it is created,
/// contacts as (kind, minutes after the lead's creation, outcome) in the
/// order they are logged)
type Seed = (
    usize,
    &'static str,
    i64,
    &'static [(Kind, i64, &'static str)],
);

const SEED: &[Seed] = &[
    (0, "web", 0, &[(Kind::Call, 30, "connected")]),
    (
        0,
        "web",
        2,
        &[
            (Kind::Call, 300, "no_answer"),
            (Kind::FollowUp, 120, "done"),
        ],
    ),
    (
        0,
        "referral",
        26,
        &[(Kind::FollowUp, 45, "replied"), (Kind::Call, 50, "busy")],
    ),
    (0, "fair", 27, &[]),
    (1, "web", 28, &[(Kind::Call, 1500, "callback")]),
    // A skipped follow-up is no contact.
    (1, "referral", 50, &[(Kind::FollowUp, 10, "skipped")]),
    (1, "referral", 51, &[(Kind::Call, 600, "voicemail")]),
    (
        1,
        "web",
        52,
        &[
            (Kind::FollowUp, 90, "no_answer"),
            (Kind::Call, 20, "interested"),
        ],
    ),
];

const ANSWERED: &[&str] = &["connected", "interested", "not_interested", "callback"];
const CONTACT_FOLLOW_UPS: &[&str] = &["done", "no_answer", "replied"];

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn close(got: &Value, want: Option<f64>, what: &str) {
    match want {
        None => assert!(got.is_null(), "{what}: {got}"),
        Some(w) => {
            let g = got
                .as_f64()
                .unwrap_or_else(|| panic!("{what}: {got} is no number"));
            assert!((g - w).abs() < 1e-6, "{what}: got {g}, want {w}");
        }
    }
}

/// The expected statistics of a set of leads given their first-contact
/// minutes (None: not contacted).
fn expected(firsts: &[Option<i64>]) -> Value {
    let hours: Vec<f64> = firsts.iter().flatten().map(|m| *m as f64 / 60.0).collect();
    let contacted = hours.len();
    json!({
        "leads": firsts.len(),
        "contacted": contacted,
        "median_hours": median(hours.clone()),
        "mean_hours": (contacted > 0).then(|| hours.iter().sum::<f64>() / contacted as f64),
        "within_hour": hours.iter().filter(|h| **h <= 1.0).count(),
        "within_day": hours.iter().filter(|h| **h <= 24.0).count(),
    })
}

fn assert_stats(got: &Value, want: &Value, what: &str) {
    for field in ["leads", "contacted", "within_hour", "within_day"] {
        assert_eq!(got[field], want[field], "{what}: {field}");
    }
    close(
        &got["median_hours"],
        want["median_hours"].as_f64(),
        &format!("{what} median"),
    );
    close(
        &got["mean_hours"],
        want["mean_hours"].as_f64(),
        &format!("{what} mean"),
    );
}

#[tokio::test]
async fn time_to_first_contact_and_responses_match_the_seeded_history() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.user_with_role(&admin, "mia", "marketing_manager").await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, _) = app.user_with_role(&admin, "bob", "user").await;
    let owners = [(ann.clone(), "ann"), (bob.clone(), "bob")];

    // A lead from before the range, contacted then: counted nowhere.
    let old = ok(app
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": "Old", "source": "web", "owner": ann}),
        )
        .await)
    .await;
    let old_id = old["lead"]["id"].as_str().unwrap().to_string();
    app.clock.advance(Duration::hours(1));
    ok(app
        .post(
            &format!("/api/v1/leads/{old_id}/calls"),
            &ann_token,
            json!({"outcome": "connected"}),
        )
        .await)
    .await;
    app.clock.advance(Duration::days(5));

    let start = app.clock_now();
    let mut leads: Vec<(String, DateTime<Utc>)> = Vec::new();
    for (i, (owner, source, offset, _)) in SEED.iter().enumerate() {
        let due = start + Duration::hours(*offset);
        let now = app.clock_now();
        if due > now {
            app.clock.advance(due - now);
        }
        // Sessions lapse while the clock jumps: sign in afresh.
        let admin = app.admin_token().await;
        let lead = ok(app
            .post(
                "/api/v1/leads",
                &admin,
                json!({"company_name": format!("Lead {i}"), "source": source, "owner": owners[*owner].0}),
            )
            .await)
        .await;
        let created: DateTime<Utc> = lead["lead"]["created_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        leads.push((lead["lead"]["id"].as_str().unwrap().to_string(), created));
    }
    app.clock.advance(Duration::days(3));
    let tokens = [
        app.login("ann", USER_PASSWORD).await,
        app.login("bob", USER_PASSWORD).await,
    ];
    let mia = app.login("mia", USER_PASSWORD).await;
    for ((owner, _, _, contacts), (id, created)) in SEED.iter().zip(&leads) {
        let token = &tokens[*owner];
        for (kind, minutes, outcome) in contacts.iter() {
            let at = *created + Duration::minutes(*minutes);
            let response = match kind {
                Kind::Call => {
                    app.post(
                        &format!("/api/v1/leads/{id}/calls"),
                        token,
                        json!({"outcome": outcome, "at": at}),
                    )
                    .await
                }
                Kind::FollowUp => {
                    app.put_json(
                        &format!("/api/v1/leads/{id}/follow-ups/1"),
                        token,
                        json!({"outcome": outcome, "done_at": at}),
                    )
                    .await
                }
            };
            ok(response).await;
        }
    }

    // The answers, worked out from the seed.
    let first_minutes: Vec<Option<i64>> = SEED
        .iter()
        .map(|(_, _, _, contacts)| {
            contacts
                .iter()
                .filter(|(kind, _, outcome)| {
                    *kind == Kind::Call || CONTACT_FOLLOW_UPS.contains(outcome)
                })
                .map(|(_, m, _)| *m)
                .min()
        })
        .collect();
    let from = start - Duration::minutes(1);
    let to = app.clock_now() + Duration::hours(1);
    let q = format!("from={}&to={}", enc(from), enc(to));

    for (by, key_of) in [
        (
            "owner",
            Box::new(|s: &Seed| owners[s.0].0.clone()) as Box<dyn Fn(&Seed) -> String>,
        ),
        ("source", Box::new(|s: &Seed| s.1.to_string())),
    ] {
        let report = ok(app
            .get(
                &format!("/api/v1/analytics/first-contact?by={by}&{q}"),
                &mia,
            )
            .await)
        .await;
        assert_stats(&report["overall"], &expected(&first_minutes), "overall");
        let mut groups: BTreeMap<String, Vec<Option<i64>>> = BTreeMap::new();
        for (seed, first) in SEED.iter().zip(&first_minutes) {
            groups.entry(key_of(seed)).or_default().push(*first);
        }
        let rows = report["groups"].as_array().unwrap();
        assert_eq!(rows.len(), groups.len(), "{by}: {report}");
        for (key, firsts) in &groups {
            let row = rows
                .iter()
                .find(|r| r["key"] == key.as_str())
                .unwrap_or_else(|| panic!("{by} {key} missing"));
            assert_stats(row, &expected(firsts), &format!("{by} {key}"));
        }

        let mut days: BTreeMap<String, Vec<Option<i64>>> = BTreeMap::new();
        for ((_, created), first) in leads.iter().zip(&first_minutes) {
            days.entry(created.format("%Y-%m-%d").to_string())
                .or_default()
                .push(*first);
        }
        let per_day = report["per_day"].as_array().unwrap();
        let got_days: Vec<&str> = per_day.iter().map(|d| d["key"].as_str().unwrap()).collect();
        let want_days: Vec<&str> = days.keys().map(String::as_str).collect();
        assert_eq!(got_days, want_days, "oldest first");
        for (day, firsts) in &days {
            let row = per_day.iter().find(|r| r["key"] == day.as_str()).unwrap();
            assert_stats(row, &expected(firsts), &format!("day {day}"));
        }
    }

    // Responses: attempts in the range per rep and per day.
    let mut by_rep: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    let mut by_day: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for ((owner, _, _, contacts), (_, created)) in SEED.iter().zip(&leads) {
        for (kind, minutes, outcome) in contacts.iter() {
            let day = (*created + Duration::minutes(*minutes))
                .format("%Y-%m-%d")
                .to_string();
            let counts = match kind {
                Kind::Call => [1, ANSWERED.contains(outcome) as u64, 0, 0],
                Kind::FollowUp if CONTACT_FOLLOW_UPS.contains(outcome) => {
                    [0, 0, 1, (*outcome == "replied") as u64]
                }
                Kind::FollowUp => continue,
            };
            for entry in [
                by_rep.entry(owners[*owner].0.clone()).or_default(),
                by_day.entry(day).or_default(),
            ] {
                for (e, c) in entry.iter_mut().zip(counts) {
                    *e += c;
                }
            }
        }
    }
    let report = ok(app
        .get(&format!("/api/v1/analytics/responses?{q}"), &mia)
        .await)
    .await;
    for (field, want) in [("by_rep", &by_rep), ("per_day", &by_day)] {
        let rows = report[field].as_array().unwrap();
        assert_eq!(rows.len(), want.len(), "{field}: {report}");
        for (key, [calls, answered, fus, replied]) in want {
            let row = rows.iter().find(|r| r["key"] == key.as_str()).unwrap();
            assert_eq!(row["calls"], *calls, "{field} {key}");
            assert_eq!(row["calls_answered"], *answered, "{field} {key}");
            assert_eq!(row["follow_ups"], *fus, "{field} {key}");
            assert_eq!(row["follow_ups_replied"], *replied, "{field} {key}");
            close(
                &row["response_rate"],
                Some((answered + replied) as f64 / (calls + fus) as f64),
                &format!("{field} {key} rate"),
            );
        }
    }
}

#[tokio::test]
async fn first_contact_needs_analytics_read_and_a_known_dimension() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann) = app.user_with_role(&admin, "ann", "user").await;
    for path in [
        "/api/v1/analytics/first-contact",
        "/api/v1/analytics/responses",
    ] {
        let (status, code, _) = error_of(app.get(path, &ann).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
    }
    let (status, code, _) = error_of(
        app.get("/api/v1/analytics/first-contact?by=mood", &admin)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    let empty = ok(app.get("/api/v1/analytics/first-contact", &admin).await).await;
    assert_eq!(empty["overall"]["leads"], 0);
    assert!(empty["overall"]["median_hours"].is_null());
}

#[tokio::test]
async fn analytics_ranges_are_read_through_time_indexes() {
    let app = TestApp::spawn().await;
    let vars = json!({"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"});
    // The bounds are cast once in LET statements: a cast inside the WHERE
    // clause hides the range from the planner, which then scans the table.
    for (sql, index) in [
        (
            "SELECT first_contact_seconds FROM lead WHERE created_at >= $since AND created_at < $until
             AND deleted_at IS NONE AND first_contact_seconds IS NOT NONE EXPLAIN",
            "lead_created_at",
        ),
        (
            "SELECT logged_by, outcome FROM follow_up WHERE done_at >= $since AND done_at < $until
             AND outcome IN ['done', 'no_answer', 'replied'] EXPLAIN",
            "follow_up_done",
        ),
        (
            "SELECT user, outcome FROM call WHERE at >= $since AND at < $until EXPLAIN",
            "call_at",
        ),
        // The other dashboards' ranges, cast the same way.
        (
            "SELECT status FROM lead WHERE created_at >= $since AND created_at < $until AND deleted_at IS NONE EXPLAIN",
            "lead_created_at",
        ),
        (
            "SELECT owner FROM follow_up WHERE scheduled_at >= $since AND scheduled_at < $until EXPLAIN",
            "follow_up_scheduled",
        ),
        (
            "SELECT assignee FROM task WHERE completed_at >= $since AND completed_at < $until EXPLAIN",
            "task_completed",
        ),
        (
            "SELECT author FROM message WHERE created_at >= $since AND created_at < $until AND deleted_at IS NONE EXPLAIN",
            "message_created",
        ),
    ] {
        let sql = format!("LET $since = <datetime>$from; LET $until = <datetime>$to; {sql}");
        let plan = app.ctx().store.run(&sql, vars.clone()).await.unwrap();
        let text = plan.value(2).to_string();
        assert!(text.contains(index), "{index}: {text}");
    }
}
