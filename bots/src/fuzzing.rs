//! The fuzz target's body, as a function so the stable test suite
//! (`tests/robustness.rs`) runs the seed corpus through exactly what
//! `bots/fuzz/fuzz_targets/parse_command.rs` runs.
//!
//! Checked on every input: nothing panics, in any timezone; `parse` gives a
//! command or a usage error whose reply is non-empty; text that is not a
//! `/command` is never a command; what comes back is bounded by what went in.

use chrono::{DateTime, Utc};

use crate::{dates, detect_intent, parse, ParseContext};

const ZONES: [chrono_tz::Tz; 5] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::Pacific::Kiritimati,
    chrono_tz::Pacific::Pago_Pago,
    chrono_tz::Australia::Lord_Howe,
];

/// Runs one fuzz input: the first byte picks the timezone and the moment,
/// the rest is the message. Panics when an invariant does not hold.
pub fn exercise_message(data: &[u8]) {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let zone = ZONES[usize::from(seed) % ZONES.len()];
    // Moments around a DST change (Berlin 2026-03-29) and ordinary days.
    let now = DateTime::<Utc>::from_timestamp(1_774_740_000 + i64::from(seed) * 3_600, 0)
        .unwrap_or_default();
    let ctx = ParseContext {
        now,
        timezone: zone,
        bot_username: Some("EaCrmBot".into()),
    };
    let limit = 2_000 + 8 * text.len().min(crate::parse::MAX_INPUT_CHARS * 4);
    match parse(text, &ctx) {
        Ok(command) => {
            assert!(
                text.trim_start().starts_with('/'),
                "{text:?} is not a /command yet parsed as {command:?}"
            );
            let shown = format!("{command:?}");
            assert!(shown.len() <= limit, "command of {} bytes", shown.len());
        }
        Err(usage) => {
            let reply = usage.to_string();
            assert!(!reply.trim().is_empty(), "empty usage reply for {text:?}");
            assert!(reply.len() <= limit, "usage reply of {} bytes", reply.len());
        }
    }
    let intent = detect_intent(text, &ctx);
    let proposal = format!("{:?}", intent.proposal(zone));
    assert!(
        proposal.len() <= limit,
        "proposal of {} bytes",
        proposal.len()
    );
    let _ = dates::parse_when(text, &ctx);
    let _ = dates::parse_duration(text);
}
