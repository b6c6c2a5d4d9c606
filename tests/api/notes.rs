//! A lead's free-standing notes: written by whoever may log a follow-up on
//! the lead, read by whoever can see it, changed by their author or a
//! holder of `leads.delete`, audited, and on the lead's timeline.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

fn notes_of(lead: &str) -> String {
    format!("/api/v1/leads/{lead}/notes")
}

fn note_at(lead: &str, note: &Value) -> String {
    format!(
        "/api/v1/leads/{lead}/notes/{}",
        note["id"].as_str().unwrap()
    )
}

/// Maria (a sales rep, display name "Maria Rossi") and her lead.
struct Desk {
    app: TestApp,
    admin: String,
    maria: String,
    maria_token: String,
    lead: String,
}

async fn desk() -> Desk {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    ok(app
        .patch(
            &format!("/api/v1/users/{maria}"),
            &admin,
            json!({"display_name": "Maria Rossi"}),
        )
        .await)
    .await;
    let lead = app.create_lead(&maria_token, "Acme Corp").await;
    Desk {
        app,
        admin,
        maria,
        maria_token,
        lead,
    }
}

#[tokio::test]
async fn a_rep_writes_notes_and_reads_them_newest_first_a_page_at_a_time() {
    let d = desk().await;
    let first = d
        .app
        .add_note(&d.maria_token, &d.lead, "  budget approved for Q1 ")
        .await;
    d.app.clock.advance(chrono::Duration::minutes(1));
    let second = d
        .app
        .add_note(&d.maria_token, &d.lead, "call Jane after 10")
        .await;

    assert_eq!(first["text"], "budget approved for Q1", "{first}");
    assert_eq!(first["lead"], d.lead.as_str());
    assert_eq!(
        first["author"],
        json!({"id": d.maria, "name": "Maria Rossi"})
    );
    assert!(first["created_at"].is_string(), "{first}");
    assert!(first.get("edited_at").is_none(), "never edited: {first}");

    let all = ok(d.app.get(&notes_of(&d.lead), &d.maria_token).await).await;
    let texts: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["call Jane after 10", "budget approved for Q1"]);
    assert!(all.get("next_cursor").is_none(), "{all}");

    // One at a time: the cursor leads to the older note, on the last page.
    let page = ok(d
        .app
        .get(&format!("{}?limit=1", notes_of(&d.lead)), &d.maria_token)
        .await)
    .await;
    assert_eq!(page["items"][0]["id"], second["id"]);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let page = ok(d
        .app
        .get(
            &format!("{}?limit=1&after={cursor}", notes_of(&d.lead)),
            &d.maria_token,
        )
        .await)
    .await;
    assert_eq!(page["items"][0]["id"], first["id"]);
    assert!(page.get("next_cursor").is_none(), "the last page: {page}");

    let (status, code, message) = error_of(
        d.app
            .get(
                &format!("{}?after=%21%21", notes_of(&d.lead)),
                &d.maria_token,
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    assert!(message.starts_with("after:"), "{message}");
}

#[tokio::test]
async fn the_author_edits_and_deletes_a_note_and_the_audit_keeps_both_texts() {
    let d = desk().await;
    let note = d.app.add_note(&d.maria_token, &d.lead, "budget 10k").await;
    d.app.clock.advance(chrono::Duration::minutes(5));

    let before_edit = d.app.clock_now();
    let edited = ok(d
        .app
        .patch(
            &note_at(&d.lead, &note),
            &d.maria_token,
            json!({"text": "budget 12k"}),
        )
        .await)
    .await;
    assert_eq!(edited["text"], "budget 12k");
    assert_eq!(edited["id"], note["id"]);
    assert_eq!(edited["created_at"], note["created_at"]);
    let edited_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(edited["edited_at"].clone()).unwrap();
    assert!(
        edited_at >= before_edit - chrono::Duration::milliseconds(1)
            && edited_at <= d.app.clock_now(),
        "{edited}"
    );
    let listed = ok(d.app.get(&notes_of(&d.lead), &d.maria_token).await).await;
    assert_eq!(listed["items"][0]["text"], "budget 12k");
    assert_eq!(listed["items"][0]["edited_at"], edited["edited_at"]);

    let audit = ok(d
        .app
        .get(
            &format!(
                "/api/v1/audit?entity=lead_note&entity_id={}",
                note["id"].as_str().unwrap()
            ),
            &d.admin,
        )
        .await)
    .await;
    let rows = audit["items"].as_array().unwrap();
    let edit = rows
        .iter()
        .find(|r| r["action"] == "edit")
        .unwrap_or_else(|| panic!("no edit row: {audit}"));
    assert_eq!(edit["actor"], d.maria.as_str());
    assert_eq!(edit["field"], "text");
    assert_eq!(edit["old"], "\"budget 10k\"");
    assert_eq!(edit["new"], "\"budget 12k\"");
    assert_eq!(edit["subject"], d.lead.as_str());

    let deleted = ok(d.app.delete(&note_at(&d.lead, &note), &d.maria_token).await).await;
    assert_eq!(deleted, json!({"deleted": true}));
    let listed = ok(d.app.get(&notes_of(&d.lead), &d.maria_token).await).await;
    assert_eq!(listed["items"], json!([]));
    let (status, code, _) = error_of(
        d.app
            .patch(
                &note_at(&d.lead, &note),
                &d.maria_token,
                json!({"text": "x"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let audit = ok(d
        .app
        .get(
            &format!(
                "/api/v1/audit?entity=lead_note&entity_id={}",
                note["id"].as_str().unwrap()
            ),
            &d.admin,
        )
        .await)
    .await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "delete" && r["old"] == "\"budget 12k\""),
        "{audit}"
    );
}

#[tokio::test]
async fn someone_elses_note_is_changed_only_with_leads_delete() {
    let d = desk().await;
    let (_, manager) = d.app.user_with_role(&d.admin, "mona", "manager").await;
    let admins = d.app.add_note(&d.admin, &d.lead, "priced at 40k").await;

    // Maria sees the lead and may write notes, but not rewrite the admin's.
    let (status, code, message) = error_of(
        d.app
            .patch(
                &note_at(&d.lead, &admins),
                &d.maria_token,
                json!({"text": "priced at 4k"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    assert!(message.contains("leads.delete"), "{message}");
    let (status, _, _) = error_of(
        d.app
            .delete(&note_at(&d.lead, &admins), &d.maria_token)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let listed = ok(d.app.get(&notes_of(&d.lead), &d.maria_token).await).await;
    assert_eq!(listed["items"][0]["text"], "priced at 40k");
    assert!(listed["items"][0].get("edited_at").is_none());

    // A manager (leads.delete) may; the note keeps its author.
    let mine = d.app.add_note(&d.maria_token, &d.lead, "Jane is CTO").await;
    let edited = ok(d
        .app
        .patch(
            &note_at(&d.lead, &mine),
            &manager,
            json!({"text": "Jane is the CTO"}),
        )
        .await)
    .await;
    assert_eq!(edited["author"]["id"], d.maria.as_str());
    assert_eq!(edited["text"], "Jane is the CTO");
    ok(d.app.delete(&note_at(&d.lead, &admins), &manager).await).await;
}

#[tokio::test]
async fn someone_who_cannot_see_the_lead_finds_no_notes_there() {
    let d = desk().await;
    let note = d.app.add_note(&d.maria_token, &d.lead, "private").await;
    let (_, bob) = d.app.user_with_role(&d.admin, "bob", "user").await;

    for response in [
        d.app.get(&notes_of(&d.lead), &bob).await,
        d.app
            .post(&notes_of(&d.lead), &bob, json!({"text": "hi"}))
            .await,
        d.app
            .patch(&note_at(&d.lead, &note), &bob, json!({"text": "hi"}))
            .await,
        d.app.delete(&note_at(&d.lead, &note), &bob).await,
    ] {
        let (status, code, _) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found")
        );
    }
    // The same answer as the lead itself gives him.
    let (status, _, _) =
        error_of(d.app.get(&format!("/api/v1/leads/{}", d.lead), &bob).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A note is not found under another lead's path either.
    let other = d.app.create_lead(&d.maria_token, "Other Ltd").await;
    let (status, _, _) = error_of(
        d.app
            .patch(
                &note_at(&other, &note),
                &d.maria_token,
                json!({"text": "moved"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let listed = ok(d.app.get(&notes_of(&d.lead), &d.maria_token).await).await;
    assert_eq!(listed["items"][0]["text"], "private");
}

#[tokio::test]
async fn a_note_must_have_text_and_at_most_ten_thousand_characters() {
    let d = desk().await;
    let path = notes_of(&d.lead);
    for text in ["", "   \n ", &"x".repeat(10_001)] {
        let (status, code, message) = error_of(
            d.app
                .post(&path, &d.maria_token, json!({"text": text}))
                .await,
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            "{message}"
        );
        assert!(message.starts_with("text:"), "{message}");
    }
    let (status, code, _) = error_of(d.app.post(&path, &d.maria_token, json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let listed = ok(d.app.get(&path, &d.maria_token).await).await;
    assert_eq!(listed["items"], json!([]), "nothing was stored");

    let longest = d
        .app
        .add_note(&d.maria_token, &d.lead, &"x".repeat(10_000))
        .await;
    let (status, _, message) = error_of(
        d.app
            .patch(
                &note_at(&d.lead, &longest),
                &d.maria_token,
                json!({"text": " "}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
}

#[tokio::test]
async fn notes_are_on_the_lead_timeline_with_their_authors_name() {
    let d = desk().await;
    let note = d
        .app
        .add_note(&d.maria_token, &d.lead, "met them at the fair")
        .await;
    d.app.clock.advance(chrono::Duration::minutes(1));
    ok(d.app
        .patch(
            &note_at(&d.lead, &note),
            &d.maria_token,
            json!({"text": "met them at the Hannover fair"}),
        )
        .await)
    .await;

    let timeline = ok(d
        .app
        .get(
            &format!("/api/v1/leads/{}/timeline", d.lead),
            &d.maria_token,
        )
        .await)
    .await;
    let items = timeline["items"].as_array().unwrap();
    let notes: Vec<&Value> = items.iter().filter(|i| i["kind"] == "note").collect();
    assert_eq!(notes.len(), 1, "{timeline}");
    assert_eq!(notes[0]["actor"], "Maria Rossi");
    assert_eq!(
        notes[0]["summary"],
        "Maria Rossi added a note: met them at the Hannover fair"
    );
    assert_eq!(notes[0]["at"], note["created_at"]);
    // The edit is a change of its own; the creation is the note itself.
    let note_changes: Vec<&str> = items
        .iter()
        .filter(|i| i["kind"] == "change" && i["details"]["entity"] == "lead_note")
        .map(|i| i["details"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(note_changes, ["edit"], "{timeline}");
}

#[tokio::test]
async fn a_leads_notes_page_is_one_walk_of_its_index() {
    let app = TestApp::spawn().await;
    let plan = app
        .ctx()
        .store
        .run(
            &format!("{} EXPLAIN", ea_crm::domain::crm::notes::LIST_PAGE),
            json!({"lead": "l", "after": "m", "limit": 50}),
        )
        .await
        .unwrap();
    let text = plan.value(0).to_string();
    assert!(text.contains("lead_note_lead"), "{text}");
    assert!(!text.contains("Sort"), "{text}");
}

#[tokio::test]
async fn a_merge_moves_the_merged_leads_notes_to_the_kept_lead() {
    let d = desk().await;
    let twin = ok(d
        .app
        .post(
            "/api/v1/leads",
            &d.maria_token,
            json!({"company_name": "Acme Corporation", "allow_duplicate": true}),
        )
        .await)
    .await["lead"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.app.add_note(&d.maria_token, &twin, "from the twin").await;
    d.app
        .add_note(&d.maria_token, &d.lead, "from the keeper")
        .await;

    ok(d.app
        .post(
            "/api/v1/ai/duplicates/merge",
            &d.admin,
            json!({"keep": d.lead, "merge": twin}),
        )
        .await)
    .await;

    let kept = ok(d.app.get(&notes_of(&d.lead), &d.maria_token).await).await;
    let mut texts: Vec<&str> = kept["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    texts.sort();
    assert_eq!(texts, ["from the keeper", "from the twin"], "{kept}");
}
