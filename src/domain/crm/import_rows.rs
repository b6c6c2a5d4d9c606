//! The part of the import that needs no database: reading CSV as a
//! stream, mapping headers to fields, and turning each row into a checked,
//! normalised lead draft or a row error. `import.rs` runs these on a file
//! and looks up, merges and writes the results; the fuzz target
//! `fuzz/fuzz_targets/csv_import.rs` runs them on arbitrary bytes.
//!
//! Promise: none of these functions panics on any input; every data row
//! comes out as exactly one `ParsedRow`, numbered by its line in the file.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use super::contacts::NewContact;
use super::export::undo_defuse_formula;
use super::leads::{self, LeadDraft, NewLead};
use crate::domain::error::{DomainError, DomainResult};

/// The fields a column can fill.
pub const FIELDS: &[&str] = &[
    "company_name",
    "website",
    "industry",
    "status",
    "country",
    "state",
    "timezone",
    "owner",
    "source",
    "tags",
    "contact_name",
    "contact_first_name",
    "contact_last_name",
    "contact_position",
    "contact_email",
    "contact_phone",
    "contact_linkedin",
];

/// Common spellings of each field in exported spreadsheets.
const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "company_name",
        &[
            "company",
            "company name",
            "organization",
            "organisation",
            "account",
            "account name",
            "business",
            "business name",
            "lead",
            "lead name",
        ],
    ),
    (
        "website",
        &[
            "url",
            "web",
            "site",
            "web site",
            "domain",
            "homepage",
            "website url",
        ],
    ),
    ("industry", &["sector", "vertical"]),
    ("status", &["stage", "lead status", "pipeline stage"]),
    ("country", &["country code", "nation"]),
    (
        "state",
        &["region", "province", "state code", "subdivision"],
    ),
    ("timezone", &["tz", "time zone"]),
    (
        "owner",
        &[
            "assigned to",
            "assignee",
            "rep",
            "sales rep",
            "account owner",
            "lead owner",
        ],
    ),
    ("source", &["lead source", "channel", "origin"]),
    ("tags", &["tag", "labels", "label"]),
    (
        "contact_name",
        &["name", "contact", "full name", "contact person", "person"],
    ),
    (
        "contact_first_name",
        &["first name", "firstname", "given name"],
    ),
    (
        "contact_last_name",
        &["last name", "lastname", "surname", "family name"],
    ),
    (
        "contact_position",
        &["title", "job title", "position", "role"],
    ),
    (
        "contact_email",
        &["email", "e mail", "email address", "mail"],
    ),
    (
        "contact_phone",
        &[
            "phone",
            "telephone",
            "tel",
            "mobile",
            "phone number",
            "cell",
        ],
    ),
    (
        "contact_linkedin",
        &["linkedin", "linkedin url", "linkedin profile"],
    ),
];

fn normalise_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Maps header positions to fields: explicit mappings (header -> field)
/// first, then exact field names, then synonyms.
pub fn map_headers(
    headers: &[String],
    explicit: &BTreeMap<String, String>,
) -> DomainResult<BTreeMap<usize, &'static str>> {
    let mapping = guess_fields(headers, explicit)?;
    if !mapping.values().any(|f| *f == "company_name") {
        return Err(DomainError::invalid(
            "mapping",
            "no column maps to company_name",
        ));
    }
    Ok(mapping)
}

/// The field each column would fill, without requiring a company column
/// (the wizard shows this before the user completes the mapping).
pub fn guess_fields(
    headers: &[String],
    explicit: &BTreeMap<String, String>,
) -> DomainResult<BTreeMap<usize, &'static str>> {
    let mut mapping = BTreeMap::new();
    let explicit: BTreeMap<String, String> = explicit
        .iter()
        .map(|(h, f)| (normalise_header(h), f.trim().to_string()))
        .collect();
    if let Some((header, _)) = explicit
        .iter()
        .find(|(_, f)| !f.is_empty() && !FIELDS.contains(&f.as_str()))
    {
        return Err(DomainError::invalid(
            "mapping",
            format!("column `{header}` maps to an unknown field"),
        ));
    }
    for (i, header) in headers.iter().enumerate() {
        let h = normalise_header(header);
        let field = if let Some(f) = explicit.get(&h) {
            FIELDS.iter().find(|x| **x == f.as_str()).copied()
        } else if let Some(f) = FIELDS.iter().find(|f| normalise_header(f) == h) {
            Some(*f)
        } else {
            SYNONYMS
                .iter()
                .find(|(_, names)| names.contains(&h.as_str()))
                .map(|(f, _)| *f)
        };
        if let Some(f) = field {
            if !mapping.values().any(|v| *v == f) {
                mapping.insert(i, f);
            }
        }
    }
    Ok(mapping)
}

/// One data line of the file.
#[derive(Debug, Clone)]
pub struct Line {
    /// The line in the file (the header is line 1).
    pub number: usize,
    pub cells: Result<Vec<String>, String>,
}

/// The data lines of a CSV file, read one record at a time.
pub struct CsvLines<R: Read> {
    records: csv::StringRecordsIntoIter<R>,
    next_number: usize,
}

/// Reads the header of a CSV file; the lines follow from the iterator.
pub fn read_csv<R: Read>(input: R) -> Result<(Vec<String>, CsvLines<R>), String> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let not_a_header = || "the first line must be a CSV header".to_string();
    let headers = csv
        .headers()
        .map(|h| h.iter().map(str::to_string).collect::<Vec<_>>())
        .map_err(|_| not_a_header())?;
    // No column of a real file is named with control characters: a first
    // line holding them is binary data that happened to decode.
    if headers
        .iter()
        .any(|h| h.chars().any(|c| c.is_control() && c != '\t'))
    {
        return Err(not_a_header());
    }
    Ok((
        headers,
        CsvLines {
            records: csv.into_records(),
            next_number: 2,
        },
    ))
}

impl<R: Read> Iterator for CsvLines<R> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let record = self.records.next()?;
        let number = self.next_number;
        self.next_number += 1;
        Some(Line {
            number,
            cells: record
                .map(|r| r.iter().map(str::to_string).collect())
                .map_err(|e| {
                    // The csv crate's messages name byte offsets; the line is
                    // enough for the person fixing the file.
                    if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                        "the line is not valid UTF-8".to_string()
                    } else {
                        "the line cannot be read as CSV".to_string()
                    }
                }),
        })
    }
}

/// A row read into fields.
#[derive(Debug, Clone, Default)]
pub struct RowFields(HashMap<&'static str, String>);

impl RowFields {
    pub fn get(&self, field: &str) -> Option<String> {
        self.0
            .get(field)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn contact(&self) -> Option<NewContact> {
        let name = self.get("contact_name").or_else(|| {
            let joined = [
                self.get("contact_first_name"),
                self.get("contact_last_name"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
        let email = self.get("contact_email");
        let name = name.or_else(|| email.clone())?;
        Some(NewContact {
            name,
            position: self.get("contact_position"),
            phone: self.get("contact_phone"),
            email,
            linkedin: self.get("contact_linkedin"),
        })
    }

    pub fn lead(&self) -> NewLead {
        NewLead {
            company_name: self.get("company_name").unwrap_or_default(),
            website: self.get("website"),
            industry: self.get("industry"),
            status: self.get("status"),
            country: self.get("country"),
            state: self.get("state"),
            timezone: self.get("timezone"),
            owner: self.get("owner"),
            source: self.get("source"),
            tags: self
                .get("tags")
                .map(|t| t.split([';', ',', '|']).map(str::to_string).collect())
                .unwrap_or_default(),
            contacts: self.contact().into_iter().collect(),
            // The import has its own duplicate policy (`on_duplicate`).
            allow_duplicate: true,
        }
    }
}

/// A data line turned into what the import acts on.
// Rows pass one at a time, so the unreadable variant's smaller size would
// save nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ParsedRow {
    /// The line could not be read; `reason` is for the person fixing it.
    Unreadable { number: usize, reason: String },
    Read {
        number: usize,
        /// The row's cells by field, for duplicate matching and merging.
        fields: RowFields,
        /// The row as a new lead, or why it cannot be one.
        draft: DomainResult<LeadDraft>,
    },
}

impl ParsedRow {
    pub fn number(&self) -> usize {
        match self {
            ParsedRow::Unreadable { number, .. } | ParsedRow::Read { number, .. } => *number,
        }
    }
}

/// Reads one line's cells into fields and checks them as a new lead.
pub fn parse_line(mapping: &BTreeMap<usize, &'static str>, line: Line) -> ParsedRow {
    match line.cells {
        Ok(cells) => {
            let fields = RowFields(
                mapping
                    .iter()
                    .filter_map(|(i, f)| {
                        cells
                            .get(*i)
                            .map(|v| (*f, undo_defuse_formula(v).to_string()))
                    })
                    .collect(),
            );
            let draft = leads::draft(fields.lead());
            ParsedRow::Read {
                number: line.number,
                fields,
                draft,
            }
        }
        Err(reason) => ParsedRow::Unreadable {
            number: line.number,
            reason,
        },
    }
}

/// A whole CSV file parsed: the column each field comes from, and its rows.
#[derive(Debug)]
pub struct ParsedFile {
    pub headers: Vec<String>,
    pub mapping: BTreeMap<usize, &'static str>,
    pub rows: Vec<ParsedRow>,
}

/// Parses CSV bytes into normalised lead drafts and row errors, at most
/// `max_rows` data rows. The import streams the same steps batch by batch.
pub fn parse_csv(
    input: &[u8],
    explicit: &BTreeMap<String, String>,
    max_rows: usize,
) -> DomainResult<ParsedFile> {
    let (headers, lines) =
        read_csv(input).map_err(|reason| DomainError::invalid("file", reason))?;
    let mapping = map_headers(&headers, explicit)?;
    let rows = lines
        .take(max_rows)
        .map(|line| parse_line(&mapping, line))
        .collect();
    Ok(ParsedFile {
        headers,
        mapping,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_line_of_control_characters_is_no_header() {
        let binary: &[u8] = b"\x05\x01\n\xff\xfe\x00not,a,header\n";
        assert_eq!(
            read_csv(binary).err().as_deref(),
            Some("the first line must be a CSV header")
        );
        let (headers, _) = read_csv(&b"Company,\tWeb site\nAcme,acme.test\n"[..]).unwrap();
        assert_eq!(headers, ["Company", "Web site"]);
    }

    #[test]
    fn common_header_spellings_map_to_fields() {
        let headers: Vec<String> = [
            "Company",
            "Web Site",
            "E-Mail",
            "First Name",
            "Last Name",
            "Job Title",
            "Mystery",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = map_headers(&headers, &BTreeMap::new()).unwrap();
        assert_eq!(m[&0], "company_name");
        assert_eq!(m[&1], "website");
        assert_eq!(m[&2], "contact_email");
        assert_eq!(m[&3], "contact_first_name");
        assert_eq!(m[&4], "contact_last_name");
        assert_eq!(m[&5], "contact_position");
        assert!(!m.contains_key(&6));
    }

    #[test]
    fn explicit_mapping_wins_and_company_is_required() {
        let headers: Vec<String> = ["Firma", "Notes"].iter().map(|s| s.to_string()).collect();
        assert!(map_headers(&headers, &BTreeMap::new()).is_err());
        let explicit = BTreeMap::from([("Firma".to_string(), "company_name".to_string())]);
        assert_eq!(
            map_headers(&headers, &explicit).unwrap()[&0],
            "company_name"
        );
        let wrong = BTreeMap::from([("Firma".to_string(), "shoe_size".to_string())]);
        assert!(map_headers(&headers, &wrong).is_err());
    }
}
