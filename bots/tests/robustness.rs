//! The stable stand-in for the fuzz target (`bots/fuzz`, which needs nightly):
//! thousands of generated and edge-case messages through `parse`, `detect_intent`
//! and the date reader, asserting that nothing panics and that what comes back is
//! bounded by what went in.

use bots::{dates, detect_intent, parse, ParseContext};
use chrono::{DateTime, Utc};

/// Small deterministic generator (xorshift64*), so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

const FRAGMENTS: &[&str] = &[
    "/",
    "/lead",
    "/followup",
    "/fu",
    "/call",
    "/task",
    "/remind",
    "/status",
    "/note",
    "/contact",
    "/assign",
    "/tasks",
    "/due",
    "/show",
    "/find",
    "/link",
    "/help",
    "/xyz",
    "@",
    "@EaCrmBot",
    "@maria",
    "=",
    "==",
    "key=",
    "=value",
    "a=\"b c\"",
    "\"",
    "'",
    "“",
    "”",
    "«",
    "\\",
    "\\\"",
    "#",
    "#abc",
    "id=",
    "lead=",
    ":",
    ",",
    ".",
    "?",
    " ",
    "  ",
    "\t",
    "\n",
    "tomorrow",
    "today",
    "in",
    "2h",
    "3",
    "days",
    "next",
    "tue",
    "at",
    "9",
    "9am",
    "14:30",
    "25:99",
    "dec",
    "1",
    "2026-12-01",
    "01.12.2026",
    "31.02.2026",
    "eod",
    "feb",
    "29",
    "acme.com",
    "https://x.io/a",
    "Acme",
    "Corp",
    "1",
    "2",
    "3",
    "done",
    "no",
    "answer",
    "interested",
    "not",
    "5m",
    "1h30m",
    "99999999999h",
    "priority=high",
    "due",
    "by",
    "é",
    "ß",
    "🙂",
    "👨‍👩‍👧",
    "\u{0}",
    "\u{202e}",
    "\u{feff}",
    "ｌｅａｄ",
    "log a call with",
    "follow up",
    "remind me to",
    "mark",
    "as",
    "is now",
    "new lead",
    "what",
    "who owns",
    "-",
    "+49 30 1234",
    "jane@acme.com",
];

fn ctx(zone: chrono_tz::Tz) -> ParseContext {
    ParseContext {
        now: DateTime::parse_from_rfc3339("2026-03-28T23:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}")),
        timezone: zone,
        bot_username: Some("EaCrmBot".into()),
    }
}

/// Runs everything on `text` and checks the size of what came back.
fn exercise(text: &str, ctx: &ParseContext) {
    let parsed = format!("{:?}", parse(text, ctx));
    let intent = detect_intent(text, ctx);
    let proposal = format!("{:?}", intent.proposal(ctx.timezone));
    let _ = dates::parse_when(text, ctx);
    let _ = dates::parse_duration(text);
    // Output never grows beyond a constant plus a multiple of the input, and
    // oversized input is refused rather than echoed.
    let limit = 2_000 + 8 * text.len().min(bots::parse::MAX_INPUT_CHARS * 4);
    assert!(
        parsed.len() <= limit,
        "parse output {} for input {}",
        parsed.len(),
        text.len()
    );
    assert!(
        proposal.len() <= limit,
        "proposal {} for input {}",
        proposal.len(),
        text.len()
    );
}

#[test]
fn thousands_of_generated_messages_never_panic_and_stay_bounded() {
    let zones = [
        chrono_tz::Europe::Berlin,
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::Australia::Lord_Howe,
    ];
    let contexts: Vec<ParseContext> = zones.into_iter().map(ctx).collect();
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    for _ in 0..4_000 {
        let mut text = String::new();
        for _ in 0..rng.below(24) {
            text.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
            if rng.below(3) > 0 {
                text.push(' ');
            }
        }
        exercise(&text, &contexts[rng.below(contexts.len())]);
    }
}

#[test]
fn every_command_followed_by_every_fragment_pair_never_panics() {
    let c = ctx(chrono_tz::Europe::Berlin);
    for spec in bots::COMMANDS {
        for a in FRAGMENTS {
            for b in ["", " x", " tomorrow 9am", " \"", " =", " @u"] {
                exercise(&format!("/{} {a}{b}", spec.word), &c);
            }
        }
    }
}

#[test]
fn edge_case_messages_never_panic() {
    let c = ctx(chrono_tz::Europe::Berlin);
    let huge_word = "a".repeat(100_000);
    let cases = [
        String::new(),
        " ".repeat(10_000),
        "/".into(),
        "//".into(),
        "/@".into(),
        "/@@@".into(),
        "/lead@".into(),
        format!("/lead {huge_word}"),
        format!("/find {}", "x ".repeat(2_047)),
        "=".repeat(10_000),
        format!("/lead {}", "=".repeat(3_000)),
        format!("/lead {}", "k=v ".repeat(1_000)),
        format!("/note a {}", "\"".repeat(4_000)),
        format!("/task {}", "'\\".repeat(2_000)),
        format!("/remind {}", "in ".repeat(1_300)),
        format!("log a call with {}", "Acme ".repeat(5_000)),
        format!("remind me to {}", "tomorrow ".repeat(1_000)),
        "🙂".repeat(5_000),
        "\u{0}\u{1}\u{7f}\u{202e}\u{feff}".repeat(100),
        "/followup \"Acme\" tier= outcome= when=".into(),
        "/status \"\" \"\"".into(),
        "/call x outcome=\"\"".into(),
        "/lead website=\"\" company=\"\"".into(),
        "/show id=".into(),
        "/remind in 9999999999 days x".into(),
        "/remind 9999-12-31 23:59 x".into(),
        "/remind dec 31 2200 x".into(),
        "is now is now is now".into(),
        "mark as".into(),
        "mark to to to".into(),
        "remind @".into(),
        "remind @maria to".into(),
    ];
    for text in &cases {
        exercise(text, &c);
    }
}

#[test]
fn an_oversized_message_is_refused_without_echoing_it() {
    let c = ctx(chrono_tz::UTC);
    let text = format!("/find {}", "a".repeat(1_000_000));
    match parse(&text, &c) {
        Ok(_) => panic!("oversized input was accepted"),
        Err(e) => assert!(e.to_string().len() < 200, "{e}"),
    }
}

#[test]
fn the_fuzz_seed_corpus_and_generated_inputs_keep_the_fuzz_target_invariants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_command");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 3, "a seed corpus of a few files");
    for seed in &seeds {
        bots::fuzzing::exercise_message(&std::fs::read(seed).expect("corpus file"));
    }
    // The target's own input shape: a byte choosing zone and moment, then text.
    let mut rng = Rng(0xF0_22ED);
    for _ in 0..500 {
        let mut input = vec![(rng.next() % 256) as u8];
        for _ in 0..rng.below(10) {
            input.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes());
            input.push(b' ');
        }
        if rng.below(8) == 0 {
            input.push(0xC3);
        }
        bots::fuzzing::exercise_message(&input);
    }
}
