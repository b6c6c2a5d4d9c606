//! The bodies of the fuzz targets in `fuzz/`, as plain functions so the
//! stable test suite runs the seed corpora and generated inputs through
//! exactly what the fuzzer runs (see docs/fuzzing.md). Each panics when an
//! invariant does not hold; none needs a database or a runtime.

use std::collections::BTreeMap;

use crate::domain::crm::import_rows::{self, ParsedRow};
use crate::domain::error::DomainError;
use crate::realtime::frames::{self, ClientFrame};

/// Rows of one input the CSV target looks at, to keep each run fast.
pub const CSV_MAX_ROWS: usize = 200;

/// CSV bytes through header mapping and row normalisation.
///
/// Invariants: the file is refused only as an `invalid` `file` or `mapping`
/// error; otherwise `company_name` is mapped once, every mapped column
/// exists, rows are numbered 2, 3, … in order, and every draft that passes
/// has a company name, a domain exactly when it has a website, an upper-case
/// two-letter country if any, and non-empty tags and contact names.
pub fn exercise_csv_import(data: &[u8]) {
    let parsed = match import_rows::parse_csv(data, &BTreeMap::new(), CSV_MAX_ROWS) {
        Ok(parsed) => parsed,
        Err(DomainError::Invalid { field, reason }) => {
            assert!(
                field == "file" || field == "mapping",
                "refused on field {field}"
            );
            assert!(!reason.is_empty());
            return;
        }
        Err(other) => panic!("a file is refused as {other:?}"),
    };
    let mapped: Vec<&str> = parsed.mapping.values().copied().collect();
    assert_eq!(
        mapped.iter().filter(|f| **f == "company_name").count(),
        1,
        "{mapped:?}"
    );
    for (column, field) in &parsed.mapping {
        assert!(*column < parsed.headers.len(), "column {column} of {field}");
        assert!(import_rows::FIELDS.contains(field));
        assert_eq!(mapped.iter().filter(|f| *f == field).count(), 1);
    }
    assert!(parsed.rows.len() <= CSV_MAX_ROWS);
    for (i, row) in parsed.rows.iter().enumerate() {
        assert_eq!(row.number(), i + 2, "rows out of order");
        match row {
            ParsedRow::Unreadable { reason, .. } => assert!(!reason.is_empty()),
            ParsedRow::Read {
                draft: Ok(draft), ..
            } => {
                assert!(!draft.company_name.trim().is_empty());
                assert_eq!(draft.website.is_some(), draft.domain.is_some());
                if let Some(country) = &draft.country {
                    assert!(
                        country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase()),
                        "country {country:?}"
                    );
                }
                assert!(draft.state.is_none() || draft.country.is_some());
                assert!(draft.tags.iter().all(|t| !t.trim().is_empty()));
                assert!(draft.contacts.len() <= 1);
                assert!(draft.contacts.iter().all(|c| !c.name.trim().is_empty()));
            }
            ParsedRow::Read { draft: Err(e), .. } => assert!(
                matches!(e, DomainError::Invalid { .. }),
                "a row is refused as {e:?}"
            ),
        }
    }
}

/// One WebSocket text frame through the client-frame decoder.
///
/// Invariants: a frame decodes only from a JSON object; a refusal is an
/// `invalid` error with a short, non-empty message; input that is not
/// UTF-8 never reaches the decoder (the socket only hands it text frames).
pub fn exercise_ws_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match frames::decode_client_frame(text) {
        Ok(frame) => {
            let value: serde_json::Value =
                serde_json::from_str(text).expect("a decoded frame is JSON");
            let kind = value["type"].as_str().expect("a decoded frame has a type");
            let expected = match frame {
                ClientFrame::Subscribe { .. } => "subscribe",
                ClientFrame::Unsubscribe { .. } => "unsubscribe",
                ClientFrame::Send { .. } => "send",
                ClientFrame::Typing { .. } => "typing",
                ClientFrame::Presence { .. } => "presence",
                ClientFrame::Ping { .. } => "ping",
            };
            assert_eq!(kind, expected);
        }
        Err(e) => {
            assert_eq!(e.code, "invalid");
            assert!(!e.message.trim().is_empty());
            assert!(e.message.chars().count() <= frames::MAX_ERROR_CHARS);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The stable stand-in for the fuzzer: the seed corpora in `fuzz/corpus/`
    //! and a few hundred generated inputs through the same functions.

    use super::*;

    /// Deterministic xorshift64*, so a failure is reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(files.len() >= 3, "a seed corpus of a few files in {dir:?}");
        files
            .iter()
            .map(|f| std::fs::read(f).expect("corpus file"))
            .collect()
    }

    const HEADERS: &[&str] = &[
        "Company",
        "company_name",
        "\u{feff}Organisation",
        "Web Site",
        "url",
        "Country",
        "State",
        "tz",
        "E-Mail",
        "First Name",
        "Last Name",
        "name",
        "Phone",
        "LinkedIn",
        "Tags",
        "status",
        "owner",
        "Mystery",
        "",
        "\"Quoted, header\"",
    ];

    const CELLS: &[&str] = &[
        "Acme Corp",
        "",
        " ",
        "acme.com",
        "https://sub.example.co.uk/path?q=1",
        "http://[::1]:99999/",
        "ftp://x",
        "xn--nxasmq6b.com",
        "DE",
        "Germany",
        "XX",
        "BY",
        "US-CA",
        "Europe/Berlin",
        "Mars/Base",
        "a@b.c",
        "not-an-email",
        "+49 30 1234567",
        "(415) 555-0100",
        "+999999999999999999999",
        "linkedin.com/in/someone",
        "hot;b2b,,|;",
        "\"quoted, cell\"",
        "\"multi\nline\"",
        "\"unterminated",
        "🙂🙂🙂",
        "\u{202e}rtl",
        "\u{0}",
        "@maria",
        "new",
    ];

    fn generated_csv(rng: &mut Rng) -> Vec<u8> {
        let columns = 1 + (rng.next() % 8) as usize;
        let separator = if rng.next() % 5 == 0 { ";" } else { "," };
        let mut text = String::new();
        let header: Vec<&str> = (0..columns).map(|_| rng.pick(HEADERS)).collect();
        text.push_str(&header.join(separator));
        for _ in 0..(rng.next() % 12) {
            text.push('\n');
            let width = (rng.next() % (columns as u64 + 2)) as usize;
            let row: Vec<&str> = (0..width).map(|_| rng.pick(CELLS)).collect();
            text.push_str(&row.join(separator));
        }
        let mut bytes = text.into_bytes();
        if rng.next() % 7 == 0 {
            let at = (rng.next() % (bytes.len() as u64 + 1)) as usize;
            bytes.insert(at, 0xff);
        }
        bytes
    }

    const FRAME_PARTS: &[&str] = &[
        r#""type":"send""#,
        r#""type":"subscribe""#,
        r#""type":"unsubscribe""#,
        r#""type":"typing""#,
        r#""type":"presence""#,
        r#""type":"ping""#,
        r#""type":"nope""#,
        r#""type":7"#,
        r#""room":"r1""#,
        r#""room":null"#,
        r#""room":["r"]"#,
        r#""body":"hi""#,
        r#""body":"\ud800""#,
        r#""after_seq":99999999999999999999"#,
        r#""after_seq":-1"#,
        r#""after_seq":1.5"#,
        r#""status":"online""#,
        r#""client_id":"c""#,
        r#""client_id":{}"#,
        r#""type":"send","type":"ping""#,
    ];

    fn generated_frame(rng: &mut Rng) -> Vec<u8> {
        let parts: Vec<&str> = (0..(rng.next() % 6))
            .map(|_| rng.pick(FRAME_PARTS))
            .collect();
        let mut text = format!("{{{}}}", parts.join(","));
        match rng.next() % 6 {
            0 => {
                text.pop();
            }
            1 => text = format!("[{text}]"),
            2 => text.insert(0, ' '),
            _ => {}
        }
        text.into_bytes()
    }

    #[test]
    fn the_csv_seed_corpus_and_generated_files_keep_the_import_invariants() {
        for seed in corpus("csv_import") {
            exercise_csv_import(&seed);
        }
        let mut rng = Rng(0xC5_F00D);
        for _ in 0..400 {
            exercise_csv_import(&generated_csv(&mut rng));
        }
    }

    #[test]
    fn the_ws_seed_corpus_and_generated_frames_keep_the_decoder_invariants() {
        for seed in corpus("ws_frame") {
            exercise_ws_frame(&seed);
        }
        let mut rng = Rng(0x50C_CE7);
        for _ in 0..400 {
            exercise_ws_frame(&generated_frame(&mut rng));
        }
    }

    #[test]
    fn a_good_csv_seed_gives_normalised_drafts() {
        let parsed = import_rows::parse_csv(
            &corpus("csv_import")
                .into_iter()
                .find(|c| c.starts_with(b"Company,Website"))
                .expect("basic.csv"),
            &BTreeMap::new(),
            CSV_MAX_ROWS,
        )
        .expect("parses");
        let ParsedRow::Read {
            draft: Ok(acme), ..
        } = &parsed.rows[0]
        else {
            panic!("{:?}", parsed.rows[0]);
        };
        assert_eq!(acme.domain.as_deref(), Some("acme.com"));
        assert_eq!(acme.country.as_deref(), Some("DE"));
        assert_eq!(acme.contacts[0].name, "Anna Schmidt");
        assert_eq!(acme.contacts[0].phone.as_deref(), Some("+49301234567"));
    }
}
