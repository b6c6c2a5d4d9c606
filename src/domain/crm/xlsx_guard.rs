//! What a workbook must keep to before calamine opens it.
//!
//! calamine reads a whole `.xlsx` when it opens one: it reserves room for
//! as many shared strings as `<sst uniqueCount=…>` claims before reading
//! any (a 1 KB file claiming four billion aborts the process), and it
//! unpacks each part however large it really is (a zip bomb reads tens of
//! GB). So the archive is checked first, with nothing held in memory but a
//! read buffer: how many parts it has, the sizes they declare and their
//! compression ratio, the sizes they really unpack to, and the shared
//! strings' counts against the size of the part that holds them.

use std::io::{self, BufReader, Read, Seek};

/// The bounds a workbook must keep. [`LIMITS`] is what the import uses;
/// tests use smaller ones.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Parts (files) in the archive.
    pub parts: usize,
    /// Unpacked bytes of one part.
    pub part_bytes: u64,
    /// Unpacked bytes of the shared strings, which calamine keeps in memory.
    pub shared_strings_bytes: u64,
    /// Unpacked bytes of all parts together.
    pub total_bytes: u64,
    /// Largest unpacked-to-packed ratio of a part bigger than `ratio_from`.
    pub ratio: u64,
    /// Parts up to this size may compress as well as they like.
    pub ratio_from: u64,
}

const MIB: u64 = 1024 * 1024;

/// Generous for a 100,000-row sheet (about 40 MiB of XML, 15× packed).
pub const LIMITS: Limits = Limits {
    parts: 1000,
    part_bytes: 256 * MIB,
    shared_strings_bytes: 64 * MIB,
    total_bytes: 512 * MIB,
    ratio: 200,
    ratio_from: MIB,
};

/// The fewest bytes a string (`<si><t>a</t></si>`, 17) or a reference to
/// one (`<c t="s"><v>0</v></c>`, 21) takes, rounded down for slack: a
/// count above the part's size over this is a lie.
const BYTES_PER_STRING: u64 = 10;

/// How far into the shared strings their `<sst>` element must start.
const ROOT_WINDOW: u64 = 64 * 1024;

const NOT_XLSX: &str = "the file is not an XLSX workbook";

/// Checks the workbook `file` against `limits`; the error is the reason,
/// worded for the person importing.
pub fn check(file: impl Read + Seek, limits: &Limits) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(file).map_err(|_| NOT_XLSX.to_string())?;
    if archive.len() > limits.parts {
        return Err(format!(
            "the workbook holds more than {} parts",
            limits.parts
        ));
    }
    check_declared(&mut archive, limits)?;
    check_unpacked(&mut archive)
}

/// The sizes the archive's directory declares: cheap to read, and they
/// bound the unpacking that follows.
fn check_declared<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    limits: &Limits,
) -> Result<(), String> {
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let part = archive.by_index_raw(i).map_err(|_| NOT_XLSX.to_string())?;
        let size = part.size();
        if size > limits.part_bytes
            || (is_shared_strings(&part) && size > limits.shared_strings_bytes)
        {
            return Err(too_large(limits));
        }
        if size > limits.ratio_from && size / part.compressed_size().max(1) > limits.ratio {
            return Err(format!(
                "the workbook is compressed more than {} to 1, which a spreadsheet never is",
                limits.ratio
            ));
        }
        total = total.saturating_add(size);
    }
    if total > limits.total_bytes {
        return Err(too_large(limits));
    }
    Ok(())
}

/// What the parts really unpack to (a part may declare less than it
/// holds), and the shared strings' counts.
fn check_unpacked<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> Result<(), String> {
    let mut total: u64 = 0;
    let mut referenced: u64 = 0;
    for i in 0..archive.len() {
        let part = archive.by_index(i).map_err(|_| NOT_XLSX.to_string())?;
        let shared_strings = is_shared_strings(&part);
        let mut part = Bounded {
            limit: part.size(),
            inner: part,
            read: 0,
            overflowed: false,
        };
        let counts = if shared_strings {
            Some(sst_counts(BufReader::new((&mut part).take(ROOT_WINDOW)))?)
        } else {
            None
        };
        if let Err(e) = io::copy(&mut part, &mut io::sink()) {
            // zip 9 also stops a part at its declared size (as invalid
            // data); this check does not rely on it.
            return Err(
                if part.overflowed || e.kind() == io::ErrorKind::InvalidData {
                    "a part of the workbook does not unpack to what it declares".into()
                } else {
                    tracing::debug!(error = %e, "an xlsx part cannot be unpacked");
                    NOT_XLSX.into()
                },
            );
        }
        total += part.read;
        if let Some(counts) = counts {
            if counts.unique > part.read / BYTES_PER_STRING + 1 {
                return Err(miscounted());
            }
            referenced = referenced.max(counts.total);
        }
    }
    if referenced > total / BYTES_PER_STRING + 1 {
        return Err(miscounted());
    }
    Ok(())
}

fn too_large(limits: &Limits) -> String {
    format!(
        "the workbook is too large once unpacked (over {} MiB)",
        limits.total_bytes / MIB
    )
}

fn miscounted() -> String {
    "the workbook claims more shared strings than it holds".into()
}

/// Whether calamine could read `part` as the shared strings (it looks the
/// name up ignoring case and slash direction).
fn is_shared_strings<R: Read>(part: &zip::read::ZipFile<'_, R>) -> bool {
    part.name()
        .map(|n| {
            n.replace('\\', "/")
                .to_ascii_lowercase()
                .ends_with("sharedstrings.xml")
        })
        .unwrap_or(true)
}

/// The `uniqueCount` and `count` of a shared-strings part's `<sst>`.
#[derive(Debug, Default, PartialEq)]
struct SstCounts {
    unique: u64,
    total: u64,
}

/// Reads up to the first `<sst>` element (calamine skips whatever comes
/// before one) and its counts; the reader is the part's first
/// [`ROOT_WINDOW`] bytes.
fn sst_counts(reader: impl io::BufRead) -> Result<SstCounts, String> {
    use quick_xml::events::Event;
    let malformed = || "the workbook's shared strings are malformed".to_string();
    let mut xml = quick_xml::Reader::from_reader(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "sst" => {
                let mut counts = SstCounts::default();
                for attr in e.attributes().with_checks(false) {
                    let attr = attr.map_err(|_| malformed())?;
                    let slot = match attr.key.local_name().as_ref() {
                        "uniqueCount" => &mut counts.unique,
                        "count" => &mut counts.total,
                        _ => continue,
                    };
                    let value = attr.value.as_bytes();
                    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                        return Err(malformed());
                    }
                    // Saturating: twenty digits are as wrong as ten.
                    let n = value.iter().fold(0u64, |n, d| {
                        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                    });
                    *slot = (*slot).max(n);
                }
                return Ok(counts);
            }
            Ok(Event::Eof) | Err(_) => return Err(malformed()),
            Ok(_) => {}
        }
    }
}

/// A part's reader that fails once it yields more than `limit` bytes.
struct Bounded<R> {
    inner: R,
    limit: u64,
    read: u64,
    overflowed: bool,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the limit is enough to know.
        let room = (self.limit - self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.limit {
            self.overflowed = true;
            return Err(io::Error::other("part larger than declared"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    const SMALL: Limits = Limits {
        parts: 4,
        part_bytes: 4096,
        shared_strings_bytes: 2048,
        total_bytes: 6000,
        ratio: 20,
        ratio_from: 1024,
    };

    fn archive(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in parts {
            out.start_file(*name, options).unwrap();
            out.write_all(content).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    /// Bytes that do not compress.
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u32 = 2_463_534_242;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    fn check_small(bytes: Vec<u8>) -> Result<(), String> {
        check(Cursor::new(bytes), &SMALL)
    }

    const SST: &[u8] = br#"<?xml version="1.0"?><sst xmlns="x" count="2" uniqueCount="2"><si><t>a</t></si><si><t>b</t></si></sst>"#;

    #[test]
    fn a_small_honest_workbook_passes() {
        assert_eq!(
            check_small(archive(&[
                ("xl/sharedStrings.xml", SST),
                ("a.xml", b"<a/>")
            ])),
            Ok(())
        );
    }

    #[test]
    fn too_many_parts_too_large_a_part_or_too_much_in_all_are_refused() {
        let many = archive(&[("1", b""), ("2", b""), ("3", b""), ("4", b""), ("5", b"")]);
        assert!(check_small(many).unwrap_err().contains("parts"));
        let big = noise(4097);
        assert!(check_small(archive(&[("a", &big)])).is_err());
        let strings = vec![b' '; 2049];
        assert!(check_small(archive(&[("xl/SharedStrings.xml", &strings)])).is_err());
        let half = noise(3500);
        assert!(check_small(archive(&[("a", &half), ("b", &half)]))
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn a_part_that_compresses_too_well_is_refused() {
        let blank = vec![b' '; 4000];
        assert!(check_small(archive(&[("a", &blank)]))
            .unwrap_err()
            .contains("compressed"));
    }

    #[test]
    fn a_part_that_unpacks_larger_than_it_declares_is_refused() {
        let content = b"0123456789".repeat(300);
        let mut bytes = archive(&[("a", &content)]);
        // Rewrite the declared size (3000) to 100 in both headers.
        let declared = 3000u32.to_le_bytes();
        let mut patched = 0;
        for at in 0..bytes.len() - 4 {
            if bytes[at..at + 4] == declared {
                bytes[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
                patched += 1;
            }
        }
        assert_eq!(patched, 2, "local and central headers");
        let refused = check_small(bytes).unwrap_err();
        assert!(refused.contains("declares"), "{refused}");
    }

    #[test]
    fn shared_string_counts_beyond_the_parts_size_are_refused() {
        let huge = br#"<sst uniqueCount="4000000000"><si><t>a</t></si></sst>"#;
        assert!(check_small(archive(&[("xl/sharedStrings.xml", huge)]))
            .unwrap_err()
            .contains("shared strings"));
        let referenced =
            br#"<sst count="99999999999999999999999" uniqueCount="1"><si><t>a</t></si></sst>"#;
        assert!(check_small(archive(&[("xl/sharedStrings.xml", referenced)])).is_err());
        let signed = br#"<sst uniqueCount="+1"><si><t>a</t></si></sst>"#;
        assert!(check_small(archive(&[("xl/sharedStrings.xml", signed)])).is_err());
    }

    #[test]
    fn shared_strings_must_start_within_their_first_bytes() {
        let mut late = b"<!--".to_vec();
        late.extend(std::iter::repeat_n(b'-', ROOT_WINDOW as usize));
        late.extend(b"--><sst uniqueCount=\"1\"/>");
        let limits = Limits {
            part_bytes: MIB,
            shared_strings_bytes: MIB,
            total_bytes: MIB,
            ratio: 10_000,
            ..SMALL
        };
        let bytes = archive(&[("xl/sharedStrings.xml", &late)]);
        assert!(check(Cursor::new(bytes), &limits)
            .unwrap_err()
            .contains("malformed"));
    }

    #[test]
    fn what_is_not_a_zip_archive_is_not_a_workbook() {
        assert_eq!(
            check_small(b"company\nAcme\n".to_vec()),
            Err(NOT_XLSX.to_string())
        );
    }
}
