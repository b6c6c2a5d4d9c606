//! The catalogue of event topics an endpoint can subscribe to. Registration
//! refuses anything not listed here, so a typo cannot silently subscribe to
//! nothing.

/// Every topic with a one-line description, as listed by
/// `GET /api/v1/webhooks/topics`.
pub const WEBHOOK_TOPICS: &[(&str, &str)] = &[
    ("lead.created", "A lead was created"),
    ("lead.updated", "A lead's fields were edited"),
    (
        "lead.status_changed",
        "A lead moved to another pipeline status",
    ),
    ("lead.deleted", "A lead was deleted"),
    ("lead.restored", "A deleted lead was restored"),
    ("lead.purged", "A lead in the trash was deleted for good"),
    ("lead.assigned", "A lead was assigned to a user"),
    ("contact.created", "A contact was added"),
    ("contact.updated", "A contact was edited"),
    ("contact.deleted", "A contact was deleted"),
    (
        "contact.erased",
        "A contact's personal data was erased (the payload holds only the pseudonym)",
    ),
    ("follow_up.logged", "A follow-up was logged on a lead"),
    ("call.logged", "A call was logged"),
    ("note.created", "A note was added to a lead"),
    ("note.updated", "A lead's note was edited"),
    ("note.deleted", "A lead's note was deleted"),
    ("import.completed", "A lead import finished"),
    ("task.created", "A production task was created"),
    ("task.updated", "A task's fields or status changed"),
    ("task.assigned", "A task was assigned to a user"),
    ("task.commented", "Someone commented on a task"),
    ("task.file_attached", "A file was attached to a task"),
    ("task.file_removed", "A file was removed from a task"),
    (
        TEST_TOPIC,
        "A test event sent with POST /webhooks/{id}/test (always delivered to that endpoint only)",
    ),
];

/// Whether an event on the bus may have left deliveries to make. The chat
/// hub's traffic never does, and there is a lot of it.
pub fn may_have_deliveries(topic: &str) -> bool {
    !["message.", "notification", "pins.", "typing", "presence"]
        .iter()
        .any(|chat| topic.starts_with(chat))
}

/// Subscribes to every topic.
pub const ALL_TOPICS: &str = "*";

/// Sent only on request, to one endpoint; it cannot be subscribed to.
pub const TEST_TOPIC: &str = "webhook.test";

pub fn is_known(topic: &str) -> bool {
    WEBHOOK_TOPICS.iter().any(|(t, _)| *t == topic)
}

/// Whether an endpoint subscribed to `subscribed` wants `topic`.
pub fn wants(subscribed: &[String], topic: &str) -> bool {
    topic != TEST_TOPIC && subscribed.iter().any(|s| s == ALL_TOPICS || s == topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wildcard_matches_every_topic_but_the_test_event() {
        let all = vec![ALL_TOPICS.to_string()];
        assert!(wants(&all, "lead.created"));
        assert!(!wants(&all, TEST_TOPIC));
        let some = vec!["lead.created".to_string()];
        assert!(wants(&some, "lead.created"));
        assert!(!wants(&some, "lead.updated"));
    }
}
