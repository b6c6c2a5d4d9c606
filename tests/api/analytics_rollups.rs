//! The lead reports (funnel, breakdowns by source, owner, country and
//! industry) sum monthly and daily roll-ups for the whole UTC months and
//! days of a range and count the leads of the partial days at its ends.
//! These tests hold them to a recount of every lead in the range (the GROUP
//! BY the reports ran before) after every kind of change to leads, over
//! ranges aligned to days and not, and check that a year's report reads the
//! roll-ups and the `created_at` index, never the whole lead table.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use ea_crm::domain::analytics::rollup::{self, LeadCounts};
use ea_crm::domain::analytics::{Dimension, Range};
use serde_json::{json, Value};

use crate::helpers::{ok, TestApp};
use crate::import_jobs::{finished, upload};

const REPORTS: [Option<Dimension>; 5] = [
    None,
    Some(Dimension::Source),
    Some(Dimension::Owner),
    Some(Dimension::Country),
    Some(Dimension::Industry),
];

fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> Range {
    Range { from, to }
}

/// The story's leads, with the instants they were made at (read from the
/// app's clock just before each step).
struct Story {
    app: TestApp,
    admin: String,
    ann: String,
    bob: String,
    start: DateTime<Utc>,
    steps: Vec<DateTime<Utc>>,
}

impl Story {
    async fn begin() -> Story {
        let app = TestApp::spawn().await;
        let admin = app.admin_token().await;
        let (ann, _) = app.user_with_role(&admin, "ann", "user").await;
        let (bob, _) = app.user_with_role(&admin, "bob", "user").await;
        let start = app.clock_now();
        Story {
            app,
            admin,
            ann,
            bob,
            start,
            steps: Vec::new(),
        }
    }

    /// Moves the clock on; sessions expire meanwhile, so signs in again.
    async fn later(&mut self, by: Duration) {
        self.app.clock.advance(by);
        self.admin = self.app.admin_token().await;
        self.steps.push(self.app.clock_now());
    }

    async fn lead(&self, company: &str, fields: Value) -> String {
        let mut body = json!({"company_name": company, "allow_duplicate": true});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let created = ok(self.app.post("/api/v1/leads", &self.admin, body).await).await;
        created["lead"]["id"].as_str().unwrap().to_string()
    }

    async fn patch(&self, id: &str, body: Value) {
        ok(self
            .app
            .patch(&format!("/api/v1/leads/{id}"), &self.admin, body)
            .await)
        .await;
    }

    /// Ranges over the story: aligned to UTC days, not aligned, cut at every
    /// step (so a day with leads on both sides of the cut is split), within
    /// a step's hour, and across one midnight only.
    fn ranges(&self) -> Vec<Range> {
        let end = self.app.clock_now() + Duration::hours(1);
        let first = self.start - Duration::hours(1);
        let mut out = vec![
            range(midnight(first), midnight(end) + Duration::days(1)),
            range(first, end),
            range(first, midnight(end)),
            range(midnight(first) + Duration::days(1), end),
            range(first - Duration::days(400), end + Duration::days(30)),
        ];
        for step in std::iter::once(&self.start).chain(&self.steps) {
            out.push(range(first, *step));
            out.push(range(*step, end));
            out.push(range(
                *step - Duration::minutes(30),
                *step + Duration::minutes(30),
            ));
            let m = midnight(*step);
            out.push(range(m - Duration::hours(2), m + Duration::hours(2)));
        }
        out
    }

    /// Every report over every range equals the recount; the endpoints
    /// answer what the recount says.
    async fn reports_equal_a_recount(&self, after: &str) {
        let ctx = self.app.ctx();
        // Leads counted by ranges answered from roll-ups alone, and by
        // ranges answered from the leads alone.
        let (mut rolled_only, mut live_only, mut with_months) = (0, 0, 0);
        for r in self.ranges() {
            let split = rollup::lead_query(None, r).split().clone();
            for by in REPORTS {
                let rolled = rollup::lead_counts(ctx, by, r).await.unwrap();
                let recounted = rollup::lead_recount(ctx, by, r).await.unwrap();
                assert_eq!(rolled, recounted, "after {after}: {by:?} over {r:?}");
                let n = recounted.values().sum::<u64>();
                if split.edges.is_empty() {
                    rolled_only += n;
                }
                if split.days.is_empty() && split.months.is_none() {
                    live_only += n;
                }
                if split.months.is_some() {
                    with_months += n;
                }
            }
        }
        assert!(
            rolled_only > 0 && live_only > 0 && with_months > 0,
            "after {after}: every part counts leads"
        );

        let r = range(self.start - Duration::hours(1), self.app.clock_now());
        let q = format!(
            "from={}&to={}",
            urlencode(&r.from.to_rfc3339()),
            urlencode(&r.to.to_rfc3339())
        );
        let by_status = rollup::lead_recount(ctx, None, r).await.unwrap();
        let funnel = ok(self
            .app
            .get(&format!("/api/v1/analytics/funnel?{q}"), &self.admin)
            .await)
        .await;
        for stage in funnel.as_array().unwrap() {
            let status = stage["status"].as_str().unwrap().to_string();
            let want = by_status.get(&(None, status.clone())).copied().unwrap_or(0);
            assert_eq!(stage["current"], want, "after {after}: funnel {status}");
        }
        for (by, name) in [
            (Dimension::Source, "source"),
            (Dimension::Owner, "owner"),
            (Dimension::Country, "country"),
            (Dimension::Industry, "industry"),
        ] {
            let want = breakdown(&rollup::lead_recount(ctx, Some(by), r).await.unwrap());
            let got = ok(self
                .app
                .get(
                    &format!("/api/v1/analytics/leads?by={name}&{q}"),
                    &self.admin,
                )
                .await)
            .await;
            let got: BTreeMap<Option<String>, (u64, u64, u64)> = got
                .as_array()
                .unwrap()
                .iter()
                .map(|row| {
                    (
                        row["key"].as_str().map(str::to_string),
                        (
                            row["leads"].as_u64().unwrap(),
                            row["won"].as_u64().unwrap(),
                            row["lost"].as_u64().unwrap(),
                        ),
                    )
                })
                .collect();
            assert_eq!(got, want, "after {after}: leads by {name}");
        }
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// (leads, won, lost) by the dimension's value, with the built-in pipeline.
fn breakdown(counts: &LeadCounts) -> BTreeMap<Option<String>, (u64, u64, u64)> {
    let mut out: BTreeMap<Option<String>, (u64, u64, u64)> = BTreeMap::new();
    for ((key, status), n) in counts {
        let row = out.entry(key.clone()).or_default();
        row.0 += n;
        if status == "won" {
            row.1 += n;
        }
        if status == "lost" || status == "not_interested" {
            row.2 += n;
        }
    }
    out
}

#[tokio::test]
async fn lead_reports_equal_a_recount_after_every_kind_of_change() {
    let mut story = Story::begin().await;
    let (ann, bob) = (story.ann.clone(), story.bob.clone());

    // Leads on three days: made by hand, then by an import.
    let mut ids = Vec::new();
    for (i, (status, source, country, industry, owner)) in [
        ("new", "web", "DE", "print", &ann),
        ("won", "referral", "US", "retail", &bob),
        ("lost", "web", "FR", "print", &ann),
        ("contacted", "fair", "DE", "retail", &bob),
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(
            story
                .lead(
                    &format!("Day one {i}"),
                    json!({"status": status, "source": source, "country": country,
                           "industry": industry, "owner": owner}),
                )
                .await,
        );
    }
    ids.push(story.lead("Bare", json!({})).await);
    story.later(Duration::hours(20)).await;
    for (i, status) in ["new", "won", "qualified"].into_iter().enumerate() {
        ids.push(
            story
                .lead(
                    &format!("Day two {i}"),
                    json!({"status": status, "source": "web", "country": "GB", "owner": ann}),
                )
                .await,
        );
    }
    story.reports_equal_a_recount("creates").await;

    story.later(Duration::hours(27)).await;
    let mut csv = String::from("Company,Owner,Status,Country,Industry,Source\n");
    for i in 0..6 {
        csv.push_str(&format!(
            "Imported {i},{},{},{},{},{}\n",
            ["ann", "bob"][i % 2],
            ["new", "won", "not_interested"][i % 3],
            ["DE", "US"][i % 2],
            ["print", "retail", "media"][i % 3],
            ["fair", "web"][i % 2],
        ));
    }
    let job = upload(&story.app, &story.admin, "", &csv).await;
    let job_id = job["id"].as_str().unwrap().to_string();
    let done = finished(&story.app, &story.admin, &job_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    story.reports_equal_a_recount("an import").await;

    // Edits move leads between the roll-up rows of their creation day.
    story.later(Duration::hours(5)).await;
    story.patch(&ids[0], json!({"status": "won"})).await;
    story.patch(&ids[1], json!({"owner": ann})).await;
    story.patch(&ids[2], json!({"country": "ES"})).await;
    story.patch(&ids[3], json!({"industry": "media"})).await;
    story.patch(&ids[5], json!({"source": "referral"})).await;
    story
        .patch(&ids[4], json!({"status": "proposal", "country": "DE"}))
        .await;
    story.patch(&ids[6], json!({"country": null})).await;
    ok(story
        .app
        .post(
            "/api/v1/leads/bulk",
            &story.admin,
            json!({"ids": [ids[3], ids[7]], "action": "status", "status": "lost"}),
        )
        .await)
    .await;
    story.reports_equal_a_recount("edits").await;

    // Trash, restore, purge.
    for id in [&ids[1], &ids[5], &ids[6]] {
        ok(story
            .app
            .delete(&format!("/api/v1/leads/{id}"), &story.admin)
            .await)
        .await;
    }
    story.reports_equal_a_recount("trash").await;
    ok(story
        .app
        .post(
            &format!("/api/v1/leads/{}/restore", ids[5]),
            &story.admin,
            json!({}),
        )
        .await)
    .await;
    story.reports_equal_a_recount("a restore").await;
    ok(story
        .app
        .delete(&format!("/api/v1/leads/{}/purge", ids[6]), &story.admin)
        .await)
    .await;
    story.reports_equal_a_recount("a purge").await;

    // A merge keeps one lead and sends the other to the trash.
    ok(story
        .app
        .post(
            "/api/v1/ai/duplicates/merge",
            &story.admin,
            json!({"keep": ids[0], "merge": ids[2]}),
        )
        .await)
    .await;
    story.reports_equal_a_recount("a merge").await;

    // Undoing the import trashes what it made.
    ok(story
        .app
        .post(
            &format!("/api/v1/leads/imports/{job_id}/undo"),
            &story.admin,
            json!({}),
        )
        .await)
    .await;
    story.reports_equal_a_recount("the import's undo").await;

    // A status that becomes "won" later counts as won for every day.
    ok(story
        .app
        .patch(
            "/api/v1/pipeline/statuses/qualified",
            &story.admin,
            json!({"is_won": true}),
        )
        .await)
    .await;
    let r = range(story.start - Duration::hours(1), story.app.clock_now());
    let q = format!(
        "from={}&to={}",
        urlencode(&r.from.to_rfc3339()),
        urlencode(&r.to.to_rfc3339())
    );
    let by_owner = ok(story
        .app
        .get(
            &format!("/api/v1/analytics/leads?by=owner&{q}"),
            &story.admin,
        )
        .await)
    .await;
    let anns = by_owner
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["key"] == ann.as_str())
        .unwrap();
    let recount = rollup::lead_recount(story.app.ctx(), Some(Dimension::Owner), r)
        .await
        .unwrap();
    let ann_won: u64 = recount
        .iter()
        .filter(|((key, status), _)| {
            key.as_deref() == Some(ann.as_str()) && (status == "won" || status == "qualified")
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(anns["won"], ann_won, "{by_owner}");
}

#[tokio::test]
async fn a_years_lead_reports_read_roll_ups_and_the_created_at_index_not_the_lead_table() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.create_lead(&admin, "Some Co").await;
    let now = app.clock_now();
    // Not aligned to days, so both ends are partial days.
    let year = range(now - Duration::days(365) - Duration::minutes(7), now);
    for by in REPORTS {
        let query = rollup::lead_query(by, year);
        let split = query.split();
        assert_eq!(split.edges.len(), 2, "{split:?}");
        let (tx, selects) = query.transaction(true);
        let results = tx.commit(&app.ctx().store).await.unwrap();
        let plans: Vec<String> = selects
            .iter()
            .map(|i| results.value(*i).to_string())
            .collect();
        let dimension = match by {
            None => "status".to_string(),
            Some(d) => format!("{d:?}").to_lowercase(),
        };
        // Whole months, then the days before and after them, then the edges.
        let views: Vec<String> = split
            .months
            .iter()
            .map(|_| format!("lead_month_{dimension}"))
            .chain(split.days.iter().map(|_| format!("lead_day_{dimension}")))
            .collect();
        assert!(split.months.is_some(), "{split:?}");
        assert_eq!(plans.len(), views.len() + 2, "{by:?}: {plans:?}");
        for (plan, view) in plans.iter().zip(&views) {
            assert!(
                plan.contains("RecordIdScan") && plan.contains(view.as_str()),
                "{by:?}: whole months and days are ranges of roll-up rows: {plan}"
            );
        }
        for edge in &plans[views.len()..] {
            assert!(
                edge.contains("IndexScan") && edge.contains("lead_created_at"),
                "{by:?}: a partial day is a range of the created_at index: {edge}"
            );
        }
        for plan in &plans {
            assert!(!plan.contains("TableScan"), "{by:?}: {plan}");
        }
    }
}
