//! Task throughput, follow-up compliance, responses and chat activity sum
//! monthly and daily roll-ups for the whole UTC months and days of a range
//! and aggregate the rows of the partial days at its ends. These tests
//! hold them to a recount of every row in the range after each kind of
//! change, over ranges aligned and not, across months, and check that a
//! year's report reads the roll-ups and the time index, never the whole
//! table.

use chrono::{DateTime, Duration, Utc};
use ea_crm::domain::analytics::rollup::{
    self, Rollup, RollupQuery, CALLS_BY_REP, CALLS_PER_DAY, FOLLOW_UPS_DONE_BY_REP,
    FOLLOW_UPS_DONE_PER_DAY, FOLLOW_UPS_SCHEDULED, MESSAGES_BY_AUTHOR, MESSAGES_PER_DAY,
    OPEN_TASKS_DUE, TASKS_DONE, TASKS_DONE_PER_DAY,
};
use ea_crm::domain::analytics::{self, Range};
use serde_json::{json, Value};

use crate::helpers::{ok, Team, TestApp, USER_PASSWORD};

fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> Range {
    Range { from, to }
}

fn query_of(r: Range) -> String {
    let enc = |t: DateTime<Utc>| t.to_rfc3339().replace('+', "%2B").replace(':', "%3A");
    format!("from={}&to={}", enc(r.from), enc(r.to))
}

/// Rows as the API serves them: absent figures are left out, not null.
fn as_served(rows: &impl serde::Serialize) -> Value {
    let mut rows = serde_json::to_value(rows).unwrap();
    for row in rows.as_array_mut().unwrap() {
        row.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    }
    rows
}

/// Ranges around `instants` ending no later than `end`: aligned to days,
/// not aligned, cut at each instant, an hour around it, across its
/// midnight, and over a year.
fn ranges(instants: &[DateTime<Utc>], end: DateTime<Utc>) -> Vec<Range> {
    let first = *instants.iter().min().unwrap() - Duration::hours(1);
    let mut out = vec![
        range(midnight(first), midnight(end)),
        range(first, end),
        range(first, midnight(end)),
        range(midnight(first) + Duration::days(1), end),
        range(first - Duration::days(400), end),
        range(end - Duration::days(365) - Duration::minutes(7), end),
    ];
    for at in instants {
        out.push(range(first, *at));
        out.push(range(*at, end));
        out.push(range(
            *at - Duration::minutes(30),
            *at + Duration::minutes(30),
        ));
        let m = midnight(*at);
        out.push(range(m - Duration::hours(2), m + Duration::hours(2)));
    }
    out.retain(|r| r.from < r.to && r.to <= end);
    out
}

/// Every range's roll-up totals equal the recount; some ranges are
/// answered by the roll-ups alone, some by the rows alone, and the
/// monthly roll-up is used.
async fn rollups_equal_a_recount(
    app: &TestApp,
    rollup: &'static Rollup,
    group: &[&'static str],
    ranges: &[Range],
    after: &str,
) {
    let (mut rolled_only, mut live_only, mut with_months) = (0, 0, 0);
    for r in ranges {
        let query = RollupQuery::new(rollup, group, *r);
        let rolled = query.run(app.ctx()).await.unwrap();
        let recounted = rollup::recount(app.ctx(), rollup, group, *r).await.unwrap();
        assert_eq!(
            rolled, recounted,
            "after {after}: {} by {group:?} over {r:?}",
            rollup.day_view
        );
        let n: u64 = recounted.values().map(|f| f[0]).sum();
        let split = query.split();
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
    assert!(
        rolled_only > 0 && live_only > 0,
        "after {after}: both parts count rows"
    );
    if rollup.month_view.is_some() {
        assert!(with_months > 0, "after {after}: months are read");
    }
}

struct Board {
    app: TestApp,
    pm: String,
    ann: String,
    bob: String,
    done_at: Vec<DateTime<Utc>>,
}

impl Board {
    async fn new() -> Board {
        let Team {
            app, pm, ann, bob, ..
        } = Team::spawn().await;
        Board {
            app,
            pm,
            ann,
            bob,
            done_at: Vec::new(),
        }
    }

    /// Moves the clock on; sessions expire meanwhile, so signs in again.
    async fn later(&mut self, by: Duration) {
        self.app.clock.advance(by);
        self.pm = self.app.login("pam", USER_PASSWORD).await;
    }

    async fn task(&self, kind: &str, assignee: &str, due_in: Option<Duration>) -> String {
        let now = self.app.clock_now();
        let t = ok(self
            .app
            .post(
                "/api/v1/tasks",
                &self.pm,
                json!({"title": "t", "task_type": kind, "assignee": assignee,
                       "due_at": due_in.map(|d| now + d)}),
            )
            .await)
        .await;
        t["id"].as_str().unwrap().to_string()
    }

    async fn set(&mut self, id: &str, body: Value) {
        if body["status"] == "done" {
            self.done_at.push(self.app.clock_now());
        }
        ok(self
            .app
            .patch(&format!("/api/v1/tasks/{id}"), &self.pm, body)
            .await)
        .await;
    }

    async fn equal_a_recount(&self, after: &str) {
        let end = self.app.clock_now() + Duration::hours(1);
        let ranges = ranges(&self.done_at, end);
        let group = ["assignee", "task_type"];
        rollups_equal_a_recount(&self.app, &TASKS_DONE, &group, &ranges, after).await;
        let day = [rollup::DAY];
        rollups_equal_a_recount(&self.app, &TASKS_DONE_PER_DAY, &day, &ranges, after).await;

        // The endpoint answers what the recount says.
        let r = range(self.done_at[0] - Duration::days(40), end);
        let got = ok(self
            .app
            .get(
                &format!("/api/v1/analytics/tasks?{}", query_of(r)),
                &self.pm,
            )
            .await)
        .await;
        let ctx = self.app.ctx();
        let want =
            analytics::throughput_rows(rollup::recount(ctx, &TASKS_DONE, &group, r).await.unwrap());
        assert_eq!(got["by_person_and_type"], as_served(&want), "after {after}");
        let per_day = rollup::recount(ctx, &TASKS_DONE_PER_DAY, &day, r)
            .await
            .unwrap();
        let days: Vec<(String, u64)> = got["done_per_day"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["day"].as_str().unwrap().to_string(),
                    d["count"].as_u64().unwrap(),
                )
            })
            .collect();
        let want_days: Vec<(String, u64)> = per_day
            .into_iter()
            .map(|(k, f)| (k[0].clone().unwrap(), f[0]))
            .collect();
        assert_eq!(days, want_days, "after {after}");
    }
}

#[tokio::test]
async fn task_reports_equal_a_recount_after_every_kind_of_change() {
    let mut b = Board::new().await;
    let (ann, bob) = (b.ann.clone(), b.bob.clone());
    // Work done over three months, some days apart, some hours.
    let mut ids = Vec::new();
    for (i, gap_days) in [3, 17, 15, 1, 34, 1, 1].into_iter().enumerate() {
        let kind = if i % 2 == 0 { "print" } else { "design" };
        let who = if i % 3 == 0 { &bob } else { &ann };
        let due = (i % 2 == 0).then(|| Duration::hours(5));
        let id = b.task(kind, who, due).await;
        b.set(&id, json!({"status": "in_progress"})).await;
        b.later(Duration::hours(i as i64 + 2)).await;
        b.set(&id, json!({"status": "done"})).await;
        ids.push(id);
        b.later(Duration::days(gap_days)).await;
    }
    b.equal_a_recount("work done over three months").await;

    // Reopened: no longer done, out of its day and month.
    b.set(&ids[1], json!({"status": "in_progress"})).await;
    b.equal_a_recount("a reopen").await;
    // Done again, later: counted on its new day.
    b.later(Duration::hours(3)).await;
    b.set(&ids[1], json!({"status": "done"})).await;
    // Reassigned after it was done: moves to the other person's group.
    b.set(&ids[0], json!({"assignee": ann})).await;
    // Cancelled work is not throughput.
    let dropped = b.task("print", &ann, None).await;
    b.set(&dropped, json!({"status": "cancelled"})).await;
    b.equal_a_recount("a re-done, a reassigned and a cancelled task")
        .await;
}

impl Board {
    /// The workload view equals one counted from the open tasks themselves;
    /// returns how many open tasks are overdue.
    async fn workload_equals_a_recount(&self, after: &str) -> u64 {
        let ctx = self.app.ctx();
        let got = ok(self.app.get("/api/v1/analytics/workload", &self.pm).await).await;
        let open = ctx
            .store
            .run(
                "SELECT assignee, status, count() AS open FROM task WHERE is_open = true
                 GROUP BY assignee, status",
                json!({}),
            )
            .await
            .unwrap()
            .rows::<Value>(0)
            .unwrap();
        let overdue = rollup::recount(
            ctx,
            &OPEN_TASKS_DUE,
            &["assignee"],
            analytics::overdue_range(self.app.clock_now()),
        )
        .await
        .unwrap();
        let want = analytics::workload_rows(&open, overdue);
        assert_eq!(got, as_served(&want), "after {after}");
        want.iter().map(|w| w.overdue).sum()
    }
}

#[tokio::test]
async fn workload_equals_a_recount_as_work_falls_due_and_changes() {
    let mut b = Board::new().await;
    let (ann, bob) = (b.ann.clone(), b.bob.clone());
    // (assignee, due in) for open work; one task with no due date.
    let plan: [(&str, Option<Duration>); 6] = [
        (&ann, Some(Duration::hours(1))),
        (&ann, Some(Duration::days(3))),
        (&bob, Some(Duration::days(45))),
        (&bob, Some(Duration::hours(30))),
        (&ann, None),
        (&bob, Some(Duration::days(400))),
    ];
    let mut ids = Vec::new();
    for (who, due) in plan {
        ids.push(b.task("print", who, due).await);
    }
    b.set(&ids[1], json!({"status": "in_progress"})).await;
    assert_eq!(b.workload_equals_a_recount("new work").await, 0);
    b.later(Duration::hours(2)).await;
    assert_eq!(b.workload_equals_a_recount("two hours on").await, 1);
    b.later(Duration::days(50)).await;
    assert_eq!(b.workload_equals_a_recount("fifty days on").await, 4);

    // Done work leaves; reopened work comes back; a reassignment moves it;
    // a new due date moves it out of the past; cancelled work leaves.
    b.set(&ids[0], json!({"status": "done"})).await;
    b.set(&ids[3], json!({"assignee": ann})).await;
    let later = b.app.clock_now() + Duration::days(2);
    b.set(&ids[1], json!({"due_at": later})).await;
    b.set(&ids[2], json!({"status": "cancelled"})).await;
    assert_eq!(
        b.workload_equals_a_recount("done, reassigned, moved, cancelled")
            .await,
        1
    );
    b.set(&ids[0], json!({"status": "in_progress"})).await;
    assert_eq!(b.workload_equals_a_recount("a reopen").await, 2);
}

/// Logs a lead's first follow-up for `scheduled`, done that many hours
/// later or not yet.
async fn first_follow_up(
    app: &TestApp,
    token: &str,
    lead: &str,
    scheduled: DateTime<Utc>,
    done_after_hours: Option<i64>,
) {
    let body = match done_after_hours {
        Some(h) => json!({"scheduled_at": scheduled, "outcome": "done",
                          "done_at": scheduled + Duration::hours(h)}),
        None => json!({"scheduled_at": scheduled}),
    };
    ok(app
        .put_json(&format!("/api/v1/leads/{lead}/follow-ups/1"), token, body)
        .await)
    .await;
}

#[tokio::test]
async fn follow_up_compliance_equals_a_recount_after_every_kind_of_change() {
    let Team {
        app,
        admin,
        pm,
        ann,
        bob,
    } = Team::spawn().await;
    let now = app.clock_now();
    // (owner, scheduled so long ago, done that many hours after, or never)
    let seed: Vec<(&str, Duration, Option<i64>)> = vec![
        (&ann, Duration::days(95) + Duration::hours(3), Some(2)),
        (&ann, Duration::days(60), Some(30)),
        (&bob, Duration::days(40) + Duration::hours(20), None),
        (&bob, Duration::days(33), Some(24)),
        (&ann, Duration::days(5) + Duration::hours(7), Some(1)),
        (&bob, Duration::hours(5), None),
        (&ann, -Duration::days(3), None),
    ];
    let mut leads = Vec::new();
    let mut instants = Vec::new();
    for (i, (owner, ago, done_after)) in seed.iter().enumerate() {
        let id = app
            .create_lead_from(
                &admin,
                json!({"company_name": format!("F{i}"), "owner": owner}),
            )
            .await;
        let scheduled = now - *ago;
        instants.push(scheduled);
        first_follow_up(&app, &admin, &id, scheduled, *done_after).await;
        leads.push(id);
    }
    instants.retain(|t| *t < now);
    let check = |after: &'static str| {
        let (app, pm, instants) = (&app, &pm, &instants);
        async move {
            let end = app.clock_now();
            let ranges = ranges(instants, end);
            let group = ["owner"];
            rollups_equal_a_recount(app, &FOLLOW_UPS_SCHEDULED, &group, &ranges, after).await;
            // The report counts only what is due: to the present, not past it.
            let r = range(end - Duration::days(400), end + Duration::days(30));
            let got = ok(app
                .get(&format!("/api/v1/analytics/follow-ups?{}", query_of(r)), pm)
                .await)
            .await;
            let due_now = range(r.from, end);
            let want = analytics::compliance_rows(
                rollup::recount(app.ctx(), &FOLLOW_UPS_SCHEDULED, &group, due_now)
                    .await
                    .unwrap(),
            );
            assert_eq!(got, as_served(&want), "after {after}");
            let due: u64 = want.iter().map(|c| c.due).sum();
            assert_eq!(due, 6, "after {after}: the future one is not due");
        }
    };
    check("follow-ups over three months").await;

    // Done late, then on time; moved to another month; the lead changes hands.
    let late = now - Duration::days(40) - Duration::hours(20);
    first_follow_up(&app, &admin, &leads[2], late, Some(3)).await;
    let moved = now - Duration::days(75);
    first_follow_up(&app, &admin, &leads[1], moved, Some(30)).await;
    ok(app
        .patch(
            &format!("/api/v1/leads/{}", leads[4]),
            &admin,
            json!({"owner": bob}),
        )
        .await)
    .await;
    check("a follow-up done, one moved, a lead reassigned").await;
}

/// Logs a lead's follow-up of `tier` as done with `outcome` at `at`.
async fn follow_up_done(
    app: &TestApp,
    token: &str,
    lead: &str,
    tier: u8,
    outcome: &str,
    at: DateTime<Utc>,
) {
    ok(app
        .put_json(
            &format!("/api/v1/leads/{lead}/follow-ups/{tier}"),
            token,
            json!({"outcome": outcome, "done_at": at}),
        )
        .await)
    .await;
}

#[tokio::test]
async fn responses_equal_a_recount_after_every_kind_of_change() {
    let Team {
        app,
        admin,
        pm,
        ann,
        bob,
    } = Team::spawn().await;
    let reps = [
        app.login("ann", USER_PASSWORD).await,
        app.login("bob", USER_PASSWORD).await,
    ];
    let mut leads = Vec::new();
    for (i, owner) in [&ann, &bob, &ann, &bob].iter().enumerate() {
        let lead = app
            .create_lead_from(
                &admin,
                json!({"company_name": format!("R{i}"), "owner": owner}),
            )
            .await;
        leads.push(lead);
    }
    let now = app.clock_now();
    let mut instants = Vec::new();
    // (rep, lead, made so long ago, outcome)
    let calls = [
        (0, 0, Duration::days(95) + Duration::hours(3), "connected"),
        (0, 2, Duration::days(60), "voicemail"),
        (1, 1, Duration::days(40) + Duration::hours(20), "interested"),
        (1, 3, Duration::days(33), "busy"),
        (0, 0, Duration::days(5) + Duration::hours(7), "callback"),
        (1, 1, Duration::hours(5), "no_answer"),
    ];
    for (rep, lead, ago, outcome) in calls {
        let at = now - ago;
        instants.push(at);
        ok(app
            .post(
                &format!("/api/v1/leads/{}/calls", leads[lead]),
                &reps[rep],
                json!({"outcome": outcome, "at": at}),
            )
            .await)
        .await;
    }
    // (rep, lead, tier, done so long ago, outcome)
    let follow_ups = [
        (0, 0, 1, Duration::days(70), "done"),
        (0, 2, 1, Duration::days(61) + Duration::hours(23), "replied"),
        (1, 1, 1, Duration::days(12), "no_answer"),
        (1, 3, 1, Duration::hours(30), "replied"),
        (1, 3, 2, Duration::hours(2), "skipped"),
    ];
    for (rep, lead, tier, ago, outcome) in follow_ups {
        let at = now - ago;
        instants.push(at);
        follow_up_done(&app, &reps[rep], &leads[lead], tier, outcome, at).await;
    }
    let check = |after: &'static str| {
        let (app, pm, instants) = (&app, &pm, &instants);
        async move {
            let end = app.clock_now();
            let ranges = ranges(instants, end);
            let (user, logged_by, day) = (["user"], ["logged_by"], [rollup::DAY]);
            for (rollup, group) in [
                (&CALLS_BY_REP, &user[..]),
                (&CALLS_PER_DAY, &day[..]),
                (&FOLLOW_UPS_DONE_BY_REP, &logged_by[..]),
                (&FOLLOW_UPS_DONE_PER_DAY, &day[..]),
            ] {
                rollups_equal_a_recount(app, rollup, group, &ranges, after).await;
            }
            // The endpoint answers what the recount says.
            let ctx = app.ctx();
            let r = range(end - Duration::days(400), end);
            let got = ok(app
                .get(&format!("/api/v1/analytics/responses?{}", query_of(r)), pm)
                .await)
            .await;
            let recount = |rollup, group| rollup::recount(ctx, rollup, group, r);
            let by_rep = analytics::contact::response_rows(
                recount(&CALLS_BY_REP, &user).await.unwrap(),
                recount(&FOLLOW_UPS_DONE_BY_REP, &logged_by).await.unwrap(),
            );
            let per_day = analytics::contact::response_rows(
                recount(&CALLS_PER_DAY, &day).await.unwrap(),
                recount(&FOLLOW_UPS_DONE_PER_DAY, &day).await.unwrap(),
            );
            assert_eq!(got["by_rep"], as_served(&by_rep), "after {after}");
            assert_eq!(got["per_day"], as_served(&per_day), "after {after}");
            let attempts: u64 = by_rep.iter().map(|r| r.calls + r.follow_ups).sum();
            (attempts, by_rep)
        }
    };
    let (attempts, by_rep) = check("calls and follow-ups over three months").await;
    assert_eq!(attempts, 10, "the skipped follow-up is no attempt");
    let reached: u64 = by_rep
        .iter()
        .map(|r| r.calls_answered + r.follow_ups_replied)
        .sum();
    assert_eq!(reached, 5, "{by_rep:?}");

    // An outcome changes to replied, a done follow-up moves to another
    // month, one attempt becomes a skip and a skip becomes an attempt.
    for (rep, lead, tier, ago, outcome) in [
        (0, 0, 1, Duration::days(70), "replied"),
        (0, 2, 1, Duration::days(20), "replied"),
        (1, 1, 1, Duration::days(12), "skipped"),
        (1, 3, 2, Duration::hours(2), "no_answer"),
    ] {
        follow_up_done(&app, &reps[rep], &leads[lead], tier, outcome, now - ago).await;
    }
    let (attempts, _) = check("follow-ups changed, moved, skipped").await;
    assert_eq!(attempts, 10);
}

#[tokio::test]
async fn chat_activity_equals_a_recount_after_posts_edits_reactions_and_deletes() {
    let Team {
        app, admin, ann, ..
    } = Team::spawn().await;
    let room = crate::chat::group(&app, &admin, "floor", &[&ann]).await;
    let mut instants = Vec::new();
    let mut posted = Vec::new();
    for gap in [
        Duration::zero(),
        Duration::days(40),
        Duration::days(25) + Duration::hours(5),
        Duration::days(3),
        Duration::hours(20),
    ] {
        app.clock.advance(gap);
        // Sessions lapse while the clock jumps: sign in afresh.
        let (admin, ann) = (
            app.admin_token().await,
            app.login("ann", USER_PASSWORD).await,
        );
        instants.push(app.clock_now());
        for (token, n) in [(&ann, 2), (&admin, 1)] {
            for i in 0..n {
                let message = crate::chat::say(&app, token, &room, &format!("hello {i}")).await;
                posted.push(message["id"].as_str().unwrap().to_string());
            }
        }
        app.clock.advance(Duration::minutes(2));
    }
    let check = |after: &'static str| {
        let (app, instants) = (&app, &instants);
        async move {
            let end = app.clock_now();
            let ranges = ranges(instants, end);
            let (author, day) = (["author"], [rollup::DAY]);
            rollups_equal_a_recount(app, &MESSAGES_BY_AUTHOR, &author, &ranges, after).await;
            rollups_equal_a_recount(app, &MESSAGES_PER_DAY, &day, &ranges, after).await;
            // The endpoint answers what the recount says.
            let ctx = app.ctx();
            let r = range(end - Duration::days(400), end);
            let pm = app.login("pam", USER_PASSWORD).await;
            let got = ok(app
                .get(&format!("/api/v1/analytics/chat?{}", query_of(r)), &pm)
                .await)
            .await;
            let want = analytics::chat_report(
                rollup::recount(ctx, &MESSAGES_BY_AUTHOR, &author, r)
                    .await
                    .unwrap(),
                rollup::recount(ctx, &MESSAGES_PER_DAY, &day, r)
                    .await
                    .unwrap(),
            );
            assert_eq!(got, serde_json::to_value(&want).unwrap(), "after {after}");
            want.by_author.iter().map(|a| a.messages).sum::<u64>()
        }
    };
    assert_eq!(check("posts over three months").await, 15);

    let admin = app.admin_token().await;
    ok(app
        .patch(
            &format!("/api/v1/messages/{}", posted[8]),
            &admin,
            json!({"body": "edited"}),
        )
        .await)
    .await;
    ok(app
        .post(
            &format!("/api/v1/messages/{}/reactions", posted[4]),
            &admin,
            json!({"emoji": "+1"}),
        )
        .await)
    .await;
    // The admin's own messages (each burst is ann, ann, admin).
    for id in [&posted[2], &posted[11]] {
        ok(app.delete(&format!("/api/v1/messages/{id}"), &admin).await).await;
    }
    assert_eq!(
        check("an edit, a reaction and two deletes").await,
        13,
        "deleted messages are not counted"
    );
}

/// A year's report, not aligned to days: months from the monthly roll-up,
/// the two stretches of days from the daily one, and the partial days from
/// the time index; no SELECT scans the table.
#[tokio::test]
async fn a_years_activity_reports_read_roll_ups_and_the_time_index_only() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    let year = range(now - Duration::days(365) - Duration::minutes(7), now);
    for (rollup, group, index) in [
        (
            &TASKS_DONE,
            &["assignee", "task_type"][..],
            "task_completed",
        ),
        (&TASKS_DONE_PER_DAY, &[rollup::DAY][..], "task_completed"),
        (&FOLLOW_UPS_SCHEDULED, &["owner"][..], "follow_up_scheduled"),
        (&CALLS_BY_REP, &["user"][..], "call_at"),
        (&CALLS_PER_DAY, &[rollup::DAY][..], "call_at"),
        (
            &FOLLOW_UPS_DONE_BY_REP,
            &["logged_by"][..],
            "follow_up_done",
        ),
        (
            &FOLLOW_UPS_DONE_PER_DAY,
            &[rollup::DAY][..],
            "follow_up_done",
        ),
        (&MESSAGES_BY_AUTHOR, &["author"][..], "message_created"),
        (&MESSAGES_PER_DAY, &[rollup::DAY][..], "message_created"),
        (&OPEN_TASKS_DUE, &["assignee"][..], "task_due_at"),
    ] {
        let query = RollupQuery::new(rollup, group, year);
        let split = query.split().clone();
        assert_eq!(split.edges.len(), 2, "{split:?}");
        let (tx, selects) = query.transaction(true);
        let results = tx.commit(&app.ctx().store).await.unwrap();
        let plans: Vec<String> = selects
            .iter()
            .map(|i| results.value(*i).to_string())
            .collect();
        let views: Vec<&str> = split
            .months
            .iter()
            .map(|_| rollup.month_view.unwrap())
            .chain(split.days.iter().map(|_| rollup.day_view))
            .collect();
        assert_eq!(plans.len(), views.len() + 2, "{plans:?}");
        assert_eq!(
            split.months.is_some(),
            rollup.month_view.is_some(),
            "{split:?}"
        );
        for (plan, view) in plans.iter().zip(&views) {
            assert!(
                plan.contains("RecordIdScan") && plan.contains(view),
                "whole months and days are ranges of roll-up rows: {plan}"
            );
        }
        for edge in &plans[views.len()..] {
            assert!(
                edge.contains("IndexScan") && edge.contains(index),
                "a partial day is a range of the time index: {edge}"
            );
        }
        for plan in &plans {
            assert!(!plan.contains("TableScan"), "{plan}");
        }
    }
}
