//! The client → server frames of the socket protocol and their decoder,
//! kept apart from the connection loop so they can be fuzzed without a
//! socket or a database (`fuzz/fuzz_targets/ws_frame.rs`).
//!
//! Promise: `decode_client_frame` never panics; on any input it returns a
//! frame or an `invalid` error whose message is short and non-empty.

use serde::Deserialize;

/// The longest error message sent back for a frame that does not decode.
pub const MAX_ERROR_CHARS: usize = 200;

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Subscribe {
        room: String,
        /// Resume: everything after this sequence number. Absent: from now.
        after_seq: Option<i64>,
    },
    Unsubscribe {
        room: String,
    },
    Send {
        client_id: Option<String>,
        room: String,
        body: String,
        reply_to: Option<String>,
        idempotency_key: Option<String>,
    },
    Typing {
        room: String,
    },
    Presence {
        status: String,
    },
    Ping {
        client_id: Option<String>,
    },
}

/// A frame the server refuses before acting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// One of the REST error codes; always `invalid` here.
    pub code: &'static str,
    pub message: String,
}

/// Turns one text frame into a client message.
pub fn decode_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    serde_json::from_str(text).map_err(|e| FrameError {
        code: "invalid",
        message: e.to_string().chars().take(MAX_ERROR_CHARS).collect(),
    })
}

/// The answer to a binary frame: the protocol is JSON text only.
pub fn binary_frame_error() -> FrameError {
    FrameError {
        code: "invalid",
        message: "send JSON text frames".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_frame_decodes_with_its_optional_fields() {
        let frame =
            decode_client_frame(r#"{"type":"send","room":"r1","body":"hi","client_id":"c"}"#)
                .unwrap();
        assert_eq!(
            frame,
            ClientFrame::Send {
                client_id: Some("c".into()),
                room: "r1".into(),
                body: "hi".into(),
                reply_to: None,
                idempotency_key: None,
            }
        );
    }

    #[test]
    fn an_unknown_type_is_an_invalid_frame_with_a_short_message() {
        let long_type = "x".repeat(10_000);
        let e = decode_client_frame(&format!(r#"{{"type":"{long_type}"}}"#)).unwrap_err();
        assert_eq!(e.code, "invalid");
        assert!(!e.message.is_empty() && e.message.chars().count() <= MAX_ERROR_CHARS);
    }
}
