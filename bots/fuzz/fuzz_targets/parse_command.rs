//! Feeds arbitrary UTF-8 to the parser, the intent rules and the date reader;
//! the property is that none of them panics on any input, in any timezone.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;

const ZONES: [chrono_tz::Tz; 5] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::Pacific::Kiritimati,
    chrono_tz::Pacific::Pago_Pago,
    chrono_tz::Australia::Lord_Howe,
];

fuzz_target!(|data: &[u8]| {
    // The first byte picks the timezone and the moment, the rest is the message.
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let zone = ZONES[usize::from(seed) % ZONES.len()];
    // Moments around a DST change (Berlin 2026-03-29) and an ordinary day.
    let now = DateTime::<Utc>::from_timestamp(1_774_740_000 + i64::from(seed) * 3_600, 0)
        .unwrap_or_default();
    let ctx = bots::ParseContext {
        now,
        timezone: zone,
        bot_username: Some("EaCrmBot".into()),
    };
    let _ = bots::parse(text, &ctx);
    let intent = bots::detect_intent(text, &ctx);
    let _ = intent.proposal(zone);
    let _ = bots::dates::parse_when(text, &ctx);
    let _ = bots::dates::parse_duration(text);
});
