//! Countries and subdivisions by the names people type: the ISO 3166 names
//! from `rust_iso3166`, the short forms those names imply, and the hand-kept
//! aliases of `names.tab`. Names are compared folded (see [`fold`]), so
//! "côte d'ivoire" and "Cote d’Ivoire" are the same name. A name that fits
//! more than one code reads as none.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// What a folded name reads as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(&'static str),
    /// Several codes carry this name; the caller must say which.
    Ambiguous(Vec<&'static str>),
    Unknown,
}

/// A name as it is compared: lower case, accents and apostrophes and full
/// stops dropped, other punctuation a space, "&" read as "and", "st" as
/// "saint", a leading "the" dropped, single spaces.
pub fn fold(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    for c in raw.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            '\'' | '’' | '‘' | '`' | '´' | 'ʼ' | '.' => {}
            '&' => text.push_str(" and "),
            'ß' => text.push_str("ss"),
            'ø' | 'Ø' => text.push('o'),
            'æ' | 'Æ' => text.push_str("ae"),
            'œ' | 'Œ' => text.push_str("oe"),
            'ł' | 'Ł' => text.push('l'),
            'đ' | 'Đ' | 'ð' | 'Ð' => text.push('d'),
            'þ' | 'Þ' => text.push_str("th"),
            'ı' => text.push('i'),
            c if c.is_alphanumeric() => text.extend(c.to_lowercase()),
            _ => text.push(' '),
        }
    }
    let mut words: Vec<&str> = text.split_whitespace().collect();
    if words.len() > 1 && words[0] == "the" {
        words.remove(0);
    }
    words
        .iter()
        .map(|w| if *w == "st" { "saint" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Folded names and the codes they stand for. A name given outright (an
/// ISO name or an alias) outranks one derived from an ISO name, so the
/// derived "Congo" of the Democratic Republic does not shadow the Congo.
#[derive(Default)]
struct NameIndex(HashMap<String, (Rank, Vec<&'static str>)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Given,
    Derived,
}

impl NameIndex {
    fn add(&mut self, name: &str, code: &'static str, rank: Rank) {
        let key = fold(name);
        if key.is_empty() {
            return;
        }
        let entry = self.0.entry(key).or_insert((rank, Vec::new()));
        if rank < entry.0 {
            *entry = (rank, Vec::new());
        }
        if rank == entry.0 && !entry.1.contains(&code) {
            entry.1.push(code);
        }
    }

    /// An ISO name and the short forms people use for it.
    fn add_iso(&mut self, name: &str, code: &'static str) {
        self.add(name, code, Rank::Given);
        for short in short_forms(name) {
            self.add(&short, code, Rank::Derived);
        }
    }

    fn find(&self, raw: &str) -> Lookup {
        match self.0.get(&fold(raw)).map(|(_, codes)| codes.as_slice()) {
            None | Some([]) => Lookup::Unknown,
            Some([one]) => Lookup::Found(one),
            Some(many) => Lookup::Ambiguous(many.to_vec()),
        }
    }
}

/// The forms ISO's inverted names stand for: "Bolivia (Plurinational State
/// of)" is "Bolivia" and "Plurinational State of Bolivia", "Virgin Islands
/// (British)" is "British Virgin Islands", "Edinburgh, City of" is
/// "Edinburgh" and "City of Edinburgh".
fn short_forms(name: &str) -> Vec<String> {
    let mut forms = Vec::new();
    if let (Some(open), Some(close)) = (name.find('('), name.rfind(')')) {
        if open < close {
            let base = format!("{} {}", &name[..open], &name[close + 1..]);
            let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
            let qualifier = name[open + 1..close].trim();
            if close + 1 == name.len()
                && (qualifier.ends_with(" of")
                    || qualifier.ends_with(" of the")
                    || !qualifier.contains(' '))
            {
                forms.push(format!("{qualifier} {base}"));
            }
            forms.push(base);
        }
    } else if let Some((head, tail)) = name.split_once(", ") {
        forms.push(head.to_string());
        if !tail.contains(" and ") {
            forms.push(format!("{tail} {head}"));
        }
    }
    forms
}

/// `CODE<TAB>name` lines of `names.tab`.
fn aliases() -> impl Iterator<Item = (&'static str, &'static str)> {
    include_str!("names.tab")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
}

fn countries() -> &'static NameIndex {
    static INDEX: OnceLock<NameIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = NameIndex::default();
        for c in rust_iso3166::ALL {
            index.add_iso(c.name, c.alpha2);
        }
        for (code, name) in aliases().filter(|(code, _)| !code.contains('-')) {
            if let Some(c) = rust_iso3166::from_alpha2(code) {
                index.add(name, c.alpha2, Rank::Given);
            }
        }
        index
    })
}

fn subdivisions() -> &'static BTreeMap<&'static str, NameIndex> {
    static INDEX: OnceLock<BTreeMap<&'static str, NameIndex>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut all: BTreeMap<&'static str, NameIndex> = BTreeMap::new();
        for c in rust_iso3166::ALL {
            let index = all.entry(c.alpha2).or_default();
            for s in c.subdivisions().unwrap_or_default() {
                index.add_iso(s.name, s.code);
            }
        }
        for (code, name) in aliases().filter(|(code, _)| code.contains('-')) {
            if let Some(s) = rust_iso3166::iso3166_2::from_code(code) {
                all.entry(s.country_code)
                    .or_default()
                    .add(name, s.code, Rank::Given);
            }
        }
        all
    })
}

/// The ISO 3166-1 alpha-2 code of the country `raw` names.
pub fn country(raw: &str) -> Lookup {
    countries().find(raw)
}

/// The ISO 3166-2 code of the subdivision of `country` (alpha-2) that `raw`
/// names.
pub fn subdivision(country: &str, raw: &str) -> Lookup {
    subdivisions()
        .get(country)
        .map_or(Lookup::Unknown, |index| index.find(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_punctuation_and_spacing() {
        assert_eq!(fold("Côte d'Ivoire"), "cote divoire");
        assert_eq!(fold("  cote   d’ivoire "), "cote divoire");
        assert_eq!(fold("U.S.A."), "usa");
        assert_eq!(fold("Guinea-Bissau"), "guinea bissau");
        assert_eq!(fold("The Netherlands"), "netherlands");
        assert_eq!(fold("St. Kitts & Nevis"), "saint kitts and nevis");
        assert_eq!(fold("Karnātaka"), "karnataka");
        assert_eq!(fold("Thüringen"), "thuringen");
    }

    #[test]
    fn inverted_iso_names_give_their_short_forms() {
        assert_eq!(
            short_forms("Bolivia (Plurinational State of)"),
            ["Plurinational State of Bolivia", "Bolivia"]
        );
        assert_eq!(
            short_forms("Virgin Islands (British)"),
            ["British Virgin Islands", "Virgin Islands"]
        );
        assert_eq!(short_forms("Cocos (Keeling) Islands"), ["Cocos Islands"]);
        assert_eq!(
            short_forms("Edinburgh, City of"),
            ["Edinburgh", "City of Edinburgh"]
        );
        assert_eq!(short_forms("Bonaire, Sint Eustatius and Saba"), ["Bonaire"]);
        assert!(short_forms("Germany").is_empty());
    }

    #[test]
    fn every_alias_names_a_real_code_and_reads_as_it() {
        for (code, name) in aliases() {
            match code.split_once('-') {
                None => {
                    assert!(rust_iso3166::from_alpha2(code).is_some(), "{code}");
                    assert_eq!(country(name), Lookup::Found(code), "{name}");
                }
                Some((c, _)) => {
                    assert!(rust_iso3166::iso3166_2::from_code(code).is_some(), "{code}");
                    assert_eq!(subdivision(c, name), Lookup::Found(code), "{name}");
                }
            }
        }
    }

    #[test]
    fn a_name_several_codes_carry_reads_as_none() {
        assert!(matches!(
            country("Korea"),
            Lookup::Ambiguous(codes) if codes.contains(&"KP") && codes.contains(&"KR")
        ));
        assert!(matches!(
            country("Virgin Islands"),
            Lookup::Ambiguous(codes) if codes.len() == 2
        ));
        assert!(matches!(
            subdivision("BD", "Dhaka"),
            Lookup::Ambiguous(codes) if codes.contains(&"BD-13") && codes.contains(&"BD-C")
        ));
        assert_eq!(country("Atlantis"), Lookup::Unknown);
        assert_eq!(subdivision("ZZ", "Bavaria"), Lookup::Unknown);
    }

    #[test]
    fn a_given_name_outranks_a_derived_one() {
        // "Congo" is the ISO name of CG and the short form of "Congo
        // (Democratic Republic of the)".
        assert_eq!(country("Congo"), Lookup::Found("CG"));
        assert_eq!(
            country("Democratic Republic of the Congo"),
            Lookup::Found("CD")
        );
    }
}
