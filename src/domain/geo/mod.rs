//! Countries (ISO 3166-1), their subdivisions (ISO 3166-2) and IANA time
//! zones, from maintained data rather than hand-typed lists: the
//! `rust_iso3166` crate for ISO 3166, `chrono-tz` for the zones themselves,
//! and the IANA database's own `zone.tab` (vendored beside this file) for
//! which zones belong to which country.

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

/// A country code, upper-cased and checked against ISO 3166-1.
pub fn parse_country(raw: &str) -> DomainResult<&'static str> {
    let code = raw.trim().to_ascii_uppercase();
    rust_iso3166::from_alpha2(&code)
        .or_else(|| rust_iso3166::from_alpha3(&code))
        .map(|c| c.alpha2)
        .ok_or_else(|| {
            DomainError::invalid(
                "country",
                format!("`{}` is not an ISO 3166-1 country code", raw.trim()),
            )
        })
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

/// A subdivision of `country`: its full code (`US-CA`) or its part after the
/// dash (`CA`), returned as the full code.
pub fn parse_state(country: &str, raw: &str) -> DomainResult<&'static str> {
    let raw = raw.trim().to_ascii_uppercase();
    let full = if raw.contains('-') {
        raw.clone()
    } else {
        format!("{country}-{raw}")
    };
    match rust_iso3166::iso3166_2::from_code(&full) {
        Some(s) if s.country_code == country => Ok(s.code),
        _ => Err(DomainError::invalid(
            "state",
            format!("`{raw}` is not an ISO 3166-2 subdivision of {country}"),
        )),
    }
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
