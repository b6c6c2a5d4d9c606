//! Countries (ISO 3166-1), their subdivisions (ISO 3166-2) and IANA time
//! zones, from maintained data rather than hand-typed lists: the
//! `rust_iso3166` crate for ISO 3166, `chrono-tz` for the zones themselves,
//! and the IANA database's own `zone.tab` (vendored beside this file) for
//! which zones belong to which country. Countries and subdivisions are
//! also read from the names people type ("Germany", "Bavaria", "USA"),
//! see `names`; what is stored is always the ISO code.

mod names;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Serialize;

use super::error::{DomainError, DomainResult};

#[derive(Debug, Clone, Serialize)]
pub struct Country {
    pub code: &'static str,
    pub name: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Subdivision {
    /// Full ISO 3166-2 code, e.g. `US-CA`.
    pub code: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Zone {
    pub name: &'static str,
    /// The IANA comment saying which part of the country it covers.
    pub comment: &'static str,
}

pub fn countries() -> Vec<Country> {
    let mut all: Vec<Country> = rust_iso3166::ALL
        .iter()
        .map(|c| Country {
            code: c.alpha2,
            name: c.name,
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(b.name));
    all
}

/// How a typed country or subdivision was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The ISO code: alpha-2 for a country, `US-CA` for a subdivision.
    pub code: &'static str,
    /// Whether it was given as a name ("Germany") rather than a code.
    pub by_name: bool,
}

impl Reading {
    fn code(code: &'static str) -> Self {
        Reading {
            code,
            by_name: false,
        }
    }
}

/// A country as an ISO 3166-1 alpha-2 or alpha-3 code or by name, in any
/// case: "de", "DEU", "Germany", "Deutschland".
pub fn read_country(raw: &str) -> DomainResult<Reading> {
    let raw = raw.trim();
    let upper = raw.to_ascii_uppercase();
    if let Some(c) = rust_iso3166::from_alpha2(&upper).or_else(|| rust_iso3166::from_alpha3(&upper))
    {
        return Ok(Reading::code(c.alpha2));
    }
    match names::country(raw) {
        names::Lookup::Found(code) => Ok(Reading {
            code,
            by_name: true,
        }),
        found => Err(DomainError::invalid(
            "country",
            format!(
                "`{raw}` is neither an ISO 3166-1 country code nor a country name we know{}",
                several(&found)
            ),
        )),
    }
}

/// The alpha-2 code of the country `raw` gives, see [`read_country`].
pub fn parse_country(raw: &str) -> DomainResult<&'static str> {
    read_country(raw).map(|r| r.code)
}

/// The hint an ambiguous name's error ends with.
fn several(found: &names::Lookup) -> String {
    match found {
        names::Lookup::Ambiguous(codes) => {
            format!(" (it could be {}; give the code)", codes.join(" or "))
        }
        _ => String::new(),
    }
}

pub fn subdivisions(country: &str) -> DomainResult<Vec<Subdivision>> {
    let code = parse_country(country)?;
    let country = rust_iso3166::from_alpha2(code).ok_or(DomainError::NotFound("country"))?;
    let mut list: Vec<Subdivision> = country
        .subdivisions()
        .unwrap_or_default()
        .iter()
        .map(|s| Subdivision {
            code: s.code,
            name: s.name,
            kind: s.subdivision_type,
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(b.name));
    Ok(list)
}

/// A subdivision of `country` (an alpha-2 code): its full code (`US-CA`),
/// its part after the dash (`CA`) or its name within that country
/// ("California", "Bavaria"); read as the full code.
pub fn read_state(country: &str, raw: &str) -> DomainResult<Reading> {
    let raw = raw.trim();
    let upper = raw.to_ascii_uppercase();
    let full = if upper.contains('-') {
        upper
    } else {
        format!("{country}-{upper}")
    };
    if let Some(s) = rust_iso3166::iso3166_2::from_code(&full) {
        if s.country_code == country {
            return Ok(Reading::code(s.code));
        }
    }
    match names::subdivision(country, raw) {
        names::Lookup::Found(code) => Ok(Reading {
            code,
            by_name: true,
        }),
        found => Err(DomainError::invalid(
            "state",
            format!(
                "`{raw}` is neither an ISO 3166-2 code nor the name of a subdivision of {country}{}",
                several(&found)
            ),
        )),
    }
}

/// The full code of the subdivision `raw` gives, see [`read_state`].
pub fn parse_state(country: &str, raw: &str) -> DomainResult<&'static str> {
    read_state(country, raw).map(|r| r.code)
}

/// Every zone of every country, from the vendored `zone.tab`.
fn zone_table() -> &'static BTreeMap<&'static str, Vec<Zone>> {
    static TABLE: OnceLock<BTreeMap<&'static str, Vec<Zone>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: BTreeMap<&'static str, Vec<Zone>> = BTreeMap::new();
        for line in include_str!("zone.tab").lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(country), Some(_coords), Some(name)) =
                (cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            let comment = cols.next().unwrap_or("");
            table
                .entry(country)
                .or_default()
                .push(Zone { name, comment });
        }
        table
    })
}

pub fn zones_of(country: &str) -> DomainResult<Vec<Zone>> {
    let code = parse_country(country)?;
    Ok(zone_table().get(code).cloned().unwrap_or_default())
}

/// The zone a lead in `country` is in when that is not in doubt: the
/// country's only zone, or the one IANA marks as covering "most of" it.
pub fn inferred_zone(country: &str) -> Option<&'static str> {
    let zones = zone_table().get(country)?;
    match zones.as_slice() {
        [only] => Some(only.name),
        many => many
            .iter()
            .find(|z| z.comment.to_ascii_lowercase().starts_with("most"))
            .map(|z| z.name),
    }
}

/// An IANA zone name, canonicalised by chrono-tz.
pub fn parse_timezone(raw: &str) -> DomainResult<chrono_tz::Tz> {
    raw.trim().parse::<chrono_tz::Tz>().map_err(|_| {
        DomainError::invalid(
            "timezone",
            format!(
                "`{}` is not an IANA time zone such as Europe/Berlin",
                raw.trim()
            ),
        )
    })
}

/// Every IANA zone name chrono-tz knows, for pickers.
pub fn all_zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_and_states_are_checked_against_iso_3166() {
        assert_eq!(parse_country("de").unwrap(), "DE");
        assert_eq!(parse_country("DEU").unwrap(), "DE");
        assert!(parse_country("XX").is_err());
        assert_eq!(parse_state("US", "ca").unwrap(), "US-CA");
        assert_eq!(parse_state("US", "US-NY").unwrap(), "US-NY");
        assert!(
            parse_state("US", "BY").is_err(),
            "Bavaria is not a US state"
        );
        assert!(subdivisions("DE")
            .unwrap()
            .iter()
            .any(|s| s.code == "DE-BY"));
        assert!(countries().len() >= 249);
    }

    fn reason(e: DomainError) -> String {
        match e {
            DomainError::Invalid { reason, .. } => reason,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn countries_are_read_from_their_names_and_common_aliases() {
        for (typed, code) in [
            ("Germany", "DE"),
            ("germany", "DE"),
            ("Deutschland", "DE"),
            ("United States", "US"),
            ("United States of America", "US"),
            ("U.S.", "US"),
            ("u.s.a.", "US"),
            ("UK", "GB"),
            ("United Kingdom", "GB"),
            ("Great Britain", "GB"),
            ("Holland", "NL"),
            ("The Netherlands", "NL"),
            ("South Korea", "KR"),
            ("Korea, Republic of", "KR"),
            ("Republic of Korea", "KR"),
            ("North Korea", "KP"),
            ("Russia", "RU"),
            ("Russian Federation", "RU"),
            ("Czechia", "CZ"),
            ("Czech Republic", "CZ"),
            ("Ivory Coast", "CI"),
            ("côte d'ivoire", "CI"),
            ("Cote d’Ivoire", "CI"),
            ("  COTE   D'IVOIRE ", "CI"),
            ("Bolivia", "BO"),
            ("Iran", "IR"),
            ("Tanzania", "TZ"),
            ("Vietnam", "VN"),
            ("Viet Nam", "VN"),
            ("Turkey", "TR"),
            ("Türkiye", "TR"),
            ("Turkiye", "TR"),
            ("Taiwan", "TW"),
            ("Guinea Bissau", "GW"),
            ("St Kitts & Nevis", "KN"),
            ("Åland Islands", "AX"),
            ("Congo", "CG"),
            ("DR Congo", "CD"),
            ("Democratic Republic of the Congo", "CD"),
        ] {
            let read = read_country(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(read.code, code, "{typed}");
            assert!(read.by_name, "{typed} is a name");
        }
        assert_eq!(
            read_country("de").unwrap(),
            Reading {
                code: "DE",
                by_name: false
            }
        );
        assert!(!read_country("USA").unwrap().by_name, "USA is also alpha-3");
    }

    #[test]
    fn every_country_reads_by_its_own_iso_name() {
        for c in countries() {
            assert_eq!(parse_country(c.name).unwrap(), c.code, "{}", c.name);
        }
    }

    #[test]
    fn states_are_read_by_name_within_the_country() {
        for (country, typed, code) in [
            ("US", "California", "US-CA"),
            ("US", "new york", "US-NY"),
            ("US", "Washington", "US-WA"),
            ("US", "Washington, D.C.", "US-DC"),
            ("US", "District of Columbia", "US-DC"),
            ("DE", "Bavaria", "DE-BY"),
            ("DE", "Bayern", "DE-BY"),
            ("DE", "North Rhine-Westphalia", "DE-NW"),
            ("DE", "Nordrhein-Westfalen", "DE-NW"),
            ("DE", "Lower Saxony", "DE-NI"),
            ("DE", "Thuringia", "DE-TH"),
            ("DE", "Thüringen", "DE-TH"),
            ("DE", "Baden-Württemberg", "DE-BW"),
            ("DE", "Baden-Wuerttemberg", "DE-BW"),
            ("DE", "Hesse", "DE-HE"),
            ("CA", "Québec", "CA-QC"),
            ("CA", "British Columbia", "CA-BC"),
            ("CA", "Newfoundland", "CA-NL"),
            ("AU", "New South Wales", "AU-NSW"),
            ("AU", "Victoria", "AU-VIC"),
            ("AU", "Western Australia", "AU-WA"),
            ("IN", "Karnataka", "IN-KA"),
            ("IN", "Maharashtra", "IN-MH"),
            ("IN", "Tamil Nadu", "IN-TN"),
            ("IN", "Orissa", "IN-OD"),
            ("GB", "England", "GB-ENG"),
            ("GB", "Scotland", "GB-SCT"),
            ("GB", "Wales", "GB-WLS"),
            ("GB", "Northern Ireland", "GB-NIR"),
            ("GB", "City of Edinburgh", "GB-EDH"),
        ] {
            let read = read_state(country, typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(read.code, code, "{typed}");
            assert!(read.by_name, "{typed} is a name");
        }
        assert!(!read_state("US", "CA").unwrap().by_name);
    }

    #[test]
    fn every_state_of_the_big_federations_reads_by_its_own_name() {
        for country in ["US", "DE", "CA", "AU", "IN"] {
            for s in subdivisions(country).unwrap() {
                assert_eq!(parse_state(country, s.name).unwrap(), s.code, "{}", s.name);
            }
        }
    }

    #[test]
    fn unknown_and_ambiguous_names_are_refused_saying_what_was_typed() {
        let e = reason(parse_country("Atlantis").unwrap_err());
        assert!(e.contains("`Atlantis`") && e.contains("neither"), "{e}");
        let e = reason(parse_country("Korea").unwrap_err());
        assert!(
            e.contains("`Korea`") && e.contains("KP") && e.contains("KR"),
            "{e}"
        );
        let e = reason(parse_state("US", "Bavaria").unwrap_err());
        assert!(e.contains("`Bavaria`") && e.contains("US"), "{e}");
        let e = reason(parse_state("DE", "California").unwrap_err());
        assert!(e.contains("`California`"), "{e}");
        // Dhaka is both a division and a district of Bangladesh.
        let e = reason(parse_state("BD", "Dhaka").unwrap_err());
        assert!(e.contains("BD-13") && e.contains("BD-C"), "{e}");
        assert!(parse_state("DE", "US-CA").is_err());
    }

    #[test]
    fn a_country_read_by_name_still_gives_its_zone() {
        let de = parse_country("Germany").unwrap();
        assert_eq!(inferred_zone(de), Some("Europe/Berlin"));
        let jp = parse_country("japan").unwrap();
        assert_eq!(inferred_zone(jp), Some("Asia/Tokyo"));
    }

    #[test]
    fn a_zone_is_inferred_only_when_the_country_leaves_no_doubt() {
        assert_eq!(inferred_zone("FR"), Some("Europe/Paris"));
        assert_eq!(
            inferred_zone("DE"),
            Some("Europe/Berlin"),
            "IANA: most of Germany"
        );
        assert_eq!(inferred_zone("JP"), Some("Asia/Tokyo"));
        assert_eq!(inferred_zone("US"), None, "six zones, none covers most");
        assert!(zones_of("US").unwrap().len() > 20);
    }

    #[test]
    fn timezones_are_iana_names() {
        assert_eq!(
            parse_timezone("America/New_York").unwrap().name(),
            "America/New_York"
        );
        assert!(parse_timezone("Mars/Base").is_err());
        assert!(all_zones().contains(&"Europe/Berlin"));
    }
}
