//! What an event's `data` holds, topic by topic, as the document shows it
//! (the callbacks of `POST /webhooks`). The payloads are the domain's own
//! records, sent with absent values left out like every answer; where a
//! record is sent exactly as an answer shows it, the answer's schema is
//! named (`LeadView`, `ContactView`, `TaskView`, `CallView`, `CommentView`,
//! `ImportReportView`), so a receiver's types match its client's. A test
//! sends every topic and checks each body against this.

use serde_json::{json, Value};

use crate::domain::webhooks::TEST_TOPIC;

/// Schemas of records that only webhooks send, under `components/schemas`.
pub fn shared_schemas() -> [(&'static str, Value); 3] {
    [
        (
            "WebhookFollowUp",
            json!({
                "type": "object",
                "description": "A follow-up as stored: one of a lead's three tiers.",
                "required": ["lead", "tier", "outcome", "notes"],
                "properties": {
                    "lead": {"type": "string", "description": "The lead's id."},
                    "tier": {"type": "integer", "minimum": 1, "maximum": 3},
                    "scheduled_at": {"type": "string", "format": "date-time"},
                    "done_at": {"type": "string", "format": "date-time"},
                    "outcome": {"type": "string", "enum": ["pending", "done", "no_answer", "replied", "skipped"]},
                    "notes": {"type": "string"},
                    "logged_by": {"type": "string", "description": "The user id of whoever logged it."},
                    "updated_at": {"type": "string", "format": "date-time"}
                }
            }),
        ),
        (
            "WebhookNote",
            json!({
                "type": "object",
                "description": "A note on a lead.",
                "required": ["id", "lead", "author", "author_name", "text", "created_at"],
                "properties": {
                    "id": {"type": "string"},
                    "lead": {"type": "string", "description": "The lead's id."},
                    "author": {"type": "string", "description": "The author's user id."},
                    "author_name": {"type": "string", "description": "The author's display name when the note was written."},
                    "text": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "edited_at": {"type": "string", "format": "date-time", "description": "The last edit; absent for a note never edited."}
                }
            }),
        ),
        (
            "WebhookTaskFile",
            json!({
                "type": "object",
                "description": "A file attached to a task (download it with `GET /tasks/{id}/files/{file_id}`).",
                "required": ["id", "uploader", "name", "content_type", "size", "created_at"],
                "properties": {
                    "id": {"type": "string"},
                    "comment": {"type": "string", "description": "The comment it was attached to, if any."},
                    "uploader": {"type": "string", "description": "The uploader's user id."},
                    "name": {"type": "string"},
                    "content_type": {"type": "string"},
                    "size": {"type": "integer", "format": "int64"},
                    "created_at": {"type": "string", "format": "date-time"}
                }
            }),
        ),
    ]
}

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn id(about: &str) -> Value {
    json!({"type": "string", "description": about})
}

fn strings(about: &str) -> Value {
    json!({"type": "array", "items": {"type": "string"}, "description": about})
}

/// Which door the change came through.
fn via() -> Value {
    json!({
        "type": "string",
        "enum": ["api", "web", "telegram", "discord", "system", "after_third_follow_up"],
        "description": "Where the change was made: the API, the web panel, a bot, the service itself, or (status changes only) the rule applied after a lead's third follow-up."
    })
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// The schema of `data` for `topic`; `None` for a topic not in the catalogue.
pub fn data_schema(topic: &str) -> Option<Value> {
    let lead = || schema("LeadView");
    let task = || schema("TaskView");
    Some(match topic {
        "lead.created" => object(
            &["lead", "contacts", "via"],
            json!({"lead": lead(), "contacts": {"type": "array", "items": schema("ContactView")}, "via": via()}),
        ),
        "lead.updated" => object(
            &["lead", "fields", "via"],
            json!({"lead": lead(), "fields": strings("The fields that changed."), "via": via()}),
        ),
        "lead.status_changed" => object(
            &["lead", "from", "to", "via"],
            json!({"lead": lead(), "from": id("The status key before."), "to": id("The status key now."), "via": via()}),
        ),
        "lead.deleted" => object(
            &["lead", "via"],
            json!({"lead": lead(), "via": via(), "merged_into": id("When the lead went away by a merge: the lead it was merged into.")}),
        ),
        "lead.restored" => object(&["lead", "via"], json!({"lead": lead(), "via": via()})),
        "lead.purged" => object(
            &["lead", "via"],
            json!({"lead": id("The purged lead's id; nothing else of it is kept."), "via": via()}),
        ),
        "lead.assigned" => object(
            &["lead", "via"],
            json!({"lead": lead(), "from": id("The previous owner's user id; absent: none."), "to": id("The new owner's user id; absent: unassigned."), "via": via()}),
        ),
        "contact.created" | "contact.updated" => object(
            &["contact", "lead"],
            json!({"contact": schema("ContactView"), "lead": id("The lead's id.")}),
        ),
        "contact.deleted" => object(
            &["contact", "lead"],
            json!({"contact": id("The deleted contact's id."), "lead": id("The lead's id.")}),
        ),
        "contact.erased" => object(
            &["contact", "lead", "fields", "via"],
            json!({"contact": schema("ContactView"), "lead": id("The lead's id."), "fields": strings("The fields that were erased."), "via": via()}),
        ),
        "follow_up.logged" => object(
            &["lead", "follow_up", "via"],
            json!({"lead": lead(), "follow_up": schema("WebhookFollowUp"), "via": via()}),
        ),
        "call.logged" => object(
            &["call", "lead", "via"],
            json!({"call": schema("CallView"), "lead": lead(), "via": via()}),
        ),
        "note.created" | "note.updated" | "note.deleted" => object(
            &["lead_id", "note", "via"],
            json!({"lead_id": id("The lead's id."), "note": schema("WebhookNote"), "via": via()}),
        ),
        "import.completed" => schema("ImportReportView"),
        "task.created" => object(&["task", "via"], json!({"task": task(), "via": via()})),
        "task.updated" => object(
            &["task", "fields", "via"],
            json!({"task": task(), "fields": strings("The fields that changed."), "via": via()}),
        ),
        "task.assigned" => object(
            &["task", "by"],
            json!({"task": task(), "from": id("The previous assignee's user id; absent: none."), "to": id("The new assignee's user id; absent: unassigned."), "by": id("Who assigned it (user id).")}),
        ),
        "task.commented" => object(
            &["task_id", "title", "comment"],
            json!({"task_id": id("The task's id."), "title": id("The task's title."), "comment": schema("CommentView")}),
        ),
        "task.file_attached" | "task.file_removed" => object(
            &["task_id", "title", "file", "by"],
            json!({"task_id": id("The task's id."), "title": id("The task's title."), "file": schema("WebhookTaskFile"), "by": id("Who attached or removed it (user id).")}),
        ),
        TEST_TOPIC => object(
            &["webhook_id", "message", "requested_by"],
            json!({"webhook_id": id("The endpoint tested."), "message": id("A fixed text."), "requested_by": id("The username of whoever asked for the test.")}),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhooks::WEBHOOK_TOPICS;

    #[test]
    fn every_topic_in_the_catalogue_has_a_data_schema() {
        for (topic, _) in WEBHOOK_TOPICS {
            assert!(data_schema(topic).is_some(), "{topic}");
        }
        assert!(data_schema("lead.nothing").is_none());
    }
}
