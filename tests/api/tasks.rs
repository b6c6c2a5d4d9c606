//! Production tasks through the API: the lifecycle, its audit rows, who may
//! do what, notifications on assignment and mention, the board and lists.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};
use crate::ws::Client;

async fn body(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn lead(app: &TestApp, token: &str, name: &str) -> String {
    let b = body(
        app.post("/api/v1/leads", token, json!({"company_name": name}))
            .await,
    )
    .await;
    b["lead"]["id"].as_str().unwrap().to_string()
}

async fn history(app: &TestApp, token: &str, task: &str) -> Vec<Value> {
    body(
        app.get(&format!("/api/v1/tasks/{task}/history"), token)
            .await,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_task_moves_through_the_workflow_and_every_change_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (pm, pm_token) = app
        .user_with_role(&admin, "pam", "production_manager")
        .await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let client = lead(&app, &admin, "Acme Print").await;
    let due = app.clock_now() + Duration::days(3);
    let task = body(
        app.post(
            "/api/v1/tasks",
            &pm_token,
            json!({"title": "Business cards", "task_type": "Print", "priority": "high",
                   "lead": client, "assignee": "ann", "due_at": due, "estimate_minutes": 90,
                   "checklist": [{"text": "proof"}, {"text": "print"}]}),
        )
        .await,
    )
    .await;
    let id = task["id"].as_str().unwrap().to_string();
    assert_eq!(task["status"], "todo");
    assert_eq!(task["task_type"], "print");
    assert_eq!(task["assignee"], ann.as_str());
    assert_eq!(task["created_by"], pm.as_str());
    assert_eq!(task["checklist"].as_array().unwrap().len(), 2);

    app.clock.advance(Duration::hours(2));
    let started = body(
        app.patch(
            &format!("/api/v1/tasks/{id}"),
            &ann_token,
            json!({"status": "in_progress", "log_minutes": 30}),
        )
        .await,
    )
    .await;
    assert!(started["started_at"].is_string());
    assert_eq!(started["logged_minutes"], 30);

    let mut list = started["checklist"].as_array().unwrap().clone();
    list[0]["done"] = json!(true);
    app.clock.advance(Duration::hours(5));
    let done = body(
        app.patch(
            &format!("/api/v1/tasks/{id}"),
            &ann_token,
            json!({"status": "done", "checklist": list}),
        )
        .await,
    )
    .await;
    assert_eq!(done["is_open"], false);
    assert_eq!(done["cycle_seconds"], 5 * 3600, "from start to done");
    assert_eq!(done["on_time"], true);
    assert_eq!(done["checklist"][0]["done"], true);

    let rows = history(&app, &pm_token, &id).await;
    let created = rows
        .iter()
        .find(|r| r["action"] == "create")
        .expect("creation row");
    assert_eq!(created["actor"], pm.as_str());
    assert!(created["new"].as_str().unwrap().contains("Business cards"));
    let status_rows: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r["field"] == "status")
        .map(|r| (r["old"].as_str().unwrap(), r["new"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status_rows,
        [
            ("\"in_progress\"", "\"done\""),
            ("\"todo\"", "\"in_progress\"")
        ]
    );
    let logged = rows
        .iter()
        .find(|r| r["field"] == "logged_minutes")
        .unwrap();
    assert_eq!(
        (logged["old"].as_str(), logged["new"].as_str()),
        (Some("0"), Some("30"))
    );
    assert_eq!(logged["actor"], ann.as_str());
    assert!(rows.iter().any(|r| r["field"] == "checklist"));
}

#[tokio::test]
async fn a_user_edits_only_their_own_tasks_and_cannot_reassign() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, pm_token) = app
        .user_with_role(&admin, "pam", "production_manager")
        .await;
    let (_, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let own = body(
        app.post(
            "/api/v1/tasks",
            &ann_token,
            json!({"title": "Mine", "task_type": "design"}),
        )
        .await,
    )
    .await;
    let others = body(
        app.post(
            "/api/v1/tasks",
            &pm_token,
            json!({"title": "Bob's", "task_type": "design", "assignee": bob}),
        )
        .await,
    )
    .await;

    let refused = app
        .patch(
            &format!("/api/v1/tasks/{}", others["id"].as_str().unwrap()),
            &ann_token,
            json!({"priority": "urgent"}),
        )
        .await;
    assert_eq!(error_of(refused).await.0, StatusCode::FORBIDDEN);
    let handoff = app
        .patch(
            &format!("/api/v1/tasks/{}", own["id"].as_str().unwrap()),
            &ann_token,
            json!({"assignee": "bob"}),
        )
        .await;
    assert_eq!(error_of(handoff).await.0, StatusCode::FORBIDDEN);
    let assign_other = app
        .post(
            "/api/v1/tasks",
            &ann_token,
            json!({"title": "For bob", "task_type": "design", "assignee": "bob"}),
        )
        .await;
    assert_eq!(error_of(assign_other).await.0, StatusCode::FORBIDDEN);

    let urgent = body(
        app.patch(
            &format!("/api/v1/tasks/{}", own["id"].as_str().unwrap()),
            &ann_token,
            json!({"priority": "urgent"}),
        )
        .await,
    )
    .await;
    assert_eq!(urgent["priority"], "urgent");
    let closed = body(
        app.patch(
            &format!("/api/v1/tasks/{}", others["id"].as_str().unwrap()),
            &pm_token,
            json!({"status": "cancelled"}),
        )
        .await,
    )
    .await;
    assert_eq!(closed["is_open"], false);
    // Adding a workflow status is a manager's setting.
    let refused = app
        .post(
            "/api/v1/tasks/statuses",
            &bob_token,
            json!({"key": "blocked", "name": "Blocked", "position": 25}),
        )
        .await;
    assert_eq!(error_of(refused).await.0, StatusCode::FORBIDDEN);
    let added = app
        .post(
            "/api/v1/tasks/statuses",
            &pm_token,
            json!({"key": "blocked", "name": "Blocked", "position": 25}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    let keys: Vec<String> = body(app.get("/api/v1/tasks/statuses", &bob_token).await)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "todo",
            "in_progress",
            "blocked",
            "review",
            "done",
            "cancelled"
        ]
    );
    let unknown = app
        .patch(
            &format!("/api/v1/tasks/{}", own["id"].as_str().unwrap()),
            &ann_token,
            json!({"status": "lost"}),
        )
        .await;
    assert_eq!(error_of(unknown).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn reassignment_notifies_the_new_assignee_live_and_in_their_inbox() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, pm_token) = app
        .user_with_role(&admin, "pam", "production_manager")
        .await;
    let (ann, _) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let task = body(
        app.post(
            "/api/v1/tasks",
            &pm_token,
            json!({"title": "Banner", "task_type": "print", "assignee": ann}),
        )
        .await,
    )
    .await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    let moved = body(
        app.patch(
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            &pm_token,
            json!({"assignee": bob}),
        )
        .await,
    )
    .await;
    assert_eq!(moved["assignee"], bob.as_str());
    let mut topics = Vec::new();
    for _ in 0..3 {
        let e = bob_ws.next_of("event").await;
        topics.push(e["topic"].as_str().unwrap().to_string());
        if e["topic"] == "notification.created" {
            assert!(e["payload"]["text"].as_str().unwrap().contains("Banner"));
        }
    }
    topics.sort();
    assert_eq!(
        topics,
        ["notification.created", "task.assigned", "task.updated"]
    );
    let inbox = body(app.get("/api/v1/notifications", &bob_token).await).await;
    assert!(
        inbox.to_string().contains("assigned you the task"),
        "{inbox}"
    );
    let rows = history(&app, &pm_token, task["id"].as_str().unwrap()).await;
    let assign = rows.iter().find(|r| r["action"] == "assign").unwrap();
    assert_eq!(assign["old"], json!(json!(ann).to_string()));
    assert_eq!(assign["new"], json!(json!(bob).to_string()));
}

#[tokio::test]
async fn a_mention_in_a_task_comment_notifies_that_user() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let task = body(
        app.post(
            "/api/v1/tasks",
            &ann_token,
            json!({"title": "Flyer", "task_type": "design"}),
        )
        .await,
    )
    .await;
    let id = task["id"].as_str().unwrap();
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    let comment = body(
        app.post(
            &format!("/api/v1/tasks/{id}/comments"),
            &ann_token,
            json!({"body": "@bob can you check the colours? @nobody"}),
        )
        .await,
    )
    .await;
    assert_eq!(comment["mentions"], json!([bob]));
    let mut saw_notification = false;
    for _ in 0..2 {
        let e = bob_ws.next_of("event").await;
        if e["topic"] == "notification.created" {
            assert_eq!(e["payload"]["kind"], "mention");
            saw_notification = true;
        } else {
            assert_eq!(e["topic"], "task.commented");
        }
    }
    assert!(saw_notification);
    let comments = body(
        app.get(&format!("/api/v1/tasks/{id}/comments"), &bob_token)
            .await,
    )
    .await;
    assert_eq!(
        comments["items"][0]["body"],
        "@bob can you check the colours? @nobody"
    );
    let rows = history(&app, &ann_token, id).await;
    assert!(rows.iter().any(|r| r["action"] == "comment"));
}

#[tokio::test]
async fn lists_filter_and_page_and_the_board_counts_each_status() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, pm_token) = app
        .user_with_role(&admin, "pam", "production_manager")
        .await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let now = app.clock_now();
    let mut ids = Vec::new();
    for i in 0..7 {
        let due = match i % 3 {
            0 => json!(now - Duration::hours(5)),
            1 => json!(now + Duration::hours(10)),
            _ => json!(now + Duration::days(20)),
        };
        let t = body(
            app.post(
                "/api/v1/tasks",
                &pm_token,
                json!({"title": format!("T{i}"), "task_type": if i < 4 { "print" } else { "design" },
                       "assignee": if i % 2 == 0 { Some(ann.clone()) } else { None }, "due_at": due,
                       "priority": if i == 6 { "urgent" } else { "normal" }}),
            )
            .await,
        )
        .await;
        ids.push(t["id"].as_str().unwrap().to_string());
    }
    body(
        app.patch(
            &format!("/api/v1/tasks/{}", ids[3]),
            &pm_token,
            json!({"status": "done"}),
        )
        .await,
    )
    .await;

    // Three pages of three, newest first, each task once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/tasks?limit=3&after={a}"),
            None => "/api/v1/tasks?limit=3".to_string(),
        };
        let page = body(app.get(&path, &ann_token).await).await;
        for t in page["items"].as_array().unwrap() {
            seen.push(t["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_string()),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let titles = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_string())
            .collect()
    };
    let overdue = body(
        app.get("/api/v1/tasks?due=overdue&sort=due", &ann_token)
            .await,
    )
    .await;
    assert_eq!(titles(&overdue), ["T0", "T6"], "T3 is done, so not overdue");
    let soon = body(
        app.get("/api/v1/tasks?due=soon&soon_hours=24", &ann_token)
            .await,
    )
    .await;
    assert_eq!(titles(&soon), ["T4", "T1"]);
    let mine = body(
        app.get("/api/v1/tasks?assignee=me&task_type=print", &ann_token)
            .await,
    )
    .await;
    assert_eq!(titles(&mine), ["T2", "T0"]);
    let urgent = body(app.get("/api/v1/tasks?priority=urgent", &ann_token).await).await;
    assert_eq!(titles(&urgent), ["T6"]);

    let board = body(app.get("/api/v1/tasks/board?limit=2", &ann_token).await).await;
    let columns: Vec<(String, u64, usize)> = board
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["status"]["key"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
                c["items"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("todo".to_string(), 6, 2),
            ("in_progress".to_string(), 0, 0),
            ("review".to_string(), 0, 0),
            ("done".to_string(), 1, 1),
            ("cancelled".to_string(), 0, 0)
        ]
    );
    assert!(board[0]["next_cursor"].is_string());
}

#[tokio::test]
async fn the_suggested_assignee_has_done_this_kind_of_work_and_has_room() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, pm_token) = app
        .user_with_role(&admin, "pam", "production_manager")
        .await;
    let (ann, _) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, _) = app.user_with_role(&admin, "bob", "user").await;
    // Ann finished two print jobs; Bob has three open tasks.
    for _ in 0..2 {
        let t = body(
            app.post(
                "/api/v1/tasks",
                &pm_token,
                json!({"title": "p", "task_type": "print", "assignee": ann}),
            )
            .await,
        )
        .await;
        body(
            app.patch(
                &format!("/api/v1/tasks/{}", t["id"].as_str().unwrap()),
                &pm_token,
                json!({"status": "done"}),
            )
            .await,
        )
        .await;
    }
    for _ in 0..3 {
        body(
            app.post(
                "/api/v1/tasks",
                &pm_token,
                json!({"title": "o", "task_type": "design", "assignee": bob}),
            )
            .await,
        )
        .await;
    }
    let ranked = body(
        app.get("/api/v1/tasks/suggest-assignee?task_type=print", &pm_token)
            .await,
    )
    .await;
    assert_eq!(ranked[0]["username"], "ann");
    assert_eq!(ranked[0]["done_of_type_90d"], 2);
    let bob_row = ranked
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["username"] == "bob")
        .unwrap();
    assert_eq!(bob_row["open_tasks"], 3);
    assert_eq!(bob_row["score"], 0.25);
}
