//! Turning what people type into the forms the CRM stores and matches on:
//! websites and their domains, company names for duplicate detection,
//! phone numbers in E.164, tags.

use super::super::error::{DomainError, DomainResult};

/// A website as typed ("Acme.com", "http://www.acme.com/about") becomes
/// `https://acme.com/about` with its bare domain `acme.com` kept for dedup.
pub fn parse_website(raw: &str) -> DomainResult<(String, String)> {
    let trimmed = raw.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|_| DomainError::invalid("website", "is not a web address"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DomainError::invalid(
            "website",
            "must be an http or https address",
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| DomainError::invalid("website", "has no host"))?
        .to_ascii_lowercase();
    let domain = host.strip_prefix("www.").unwrap_or(&host).to_string();
    let labels: Vec<&str> = domain.split('.').collect();
    let valid = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if !valid {
        return Err(DomainError::invalid(
            "website",
            format!("`{trimmed}` has no valid domain"),
        ));
    }
    let path = url.path().trim_end_matches('/');
    Ok((format!("https://{domain}{path}"), domain))
}

/// Legal-form words that do not tell companies apart.
const LEGAL_FORMS: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "ag",
    "corp",
    "corporation",
    "co",
    "company",
    "sa",
    "sas",
    "sarl",
    "bv",
    "nv",
    "plc",
    "srl",
    "spa",
    "oy",
    "ab",
    "as",
    "kg",
    "pty",
    "lp",
    "llp",
    "the",
];

/// The company name as compared for duplicates: lower-case, without
/// punctuation or legal form ("ACME, Inc." and "Acme" match).
pub fn company_key(name: &str) -> String {
    let lowered = name.to_lowercase();
    let words: Vec<String> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let kept: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| !LEGAL_FORMS.contains(w))
        .collect();
    if kept.is_empty() {
        words.join(" ")
    } else {
        kept.join(" ")
    }
}

/// The keys dedup blocks similar company names on (stored as
/// `lead.name_keys`): the first four characters of each word of the
/// `company_key` that has at least three, each once. Two names that share
/// none are not compared ("Globex Intl" and "Globex" share `glob`). The
/// backfill in migration 0029 computes the same in SurrealQL.
pub fn name_keys(name: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for word in company_key(name).split(' ') {
        let prefix: String = word.chars().take(4).collect();
        if prefix.chars().count() >= 3 && !keys.contains(&prefix) {
            keys.push(prefix);
        }
    }
    keys
}

pub fn parse_company_name(raw: &str) -> DomainResult<String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DomainError::invalid(
            "company_name",
            "must be 1 to 200 characters",
        ));
    }
    Ok(name)
}

/// A phone number in E.164, read with the lead's country as the default
/// region for numbers written without a country code.
pub fn parse_phone(raw: &str, default_country: Option<&str>) -> DomainResult<String> {
    let region = default_country.and_then(|c| c.parse::<phonenumber::country::Id>().ok());
    let number = phonenumber::parse(region, raw.trim()).map_err(|_| {
        DomainError::invalid("phone", format!("`{}` is not a phone number", raw.trim()))
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(DomainError::invalid(
            "phone",
            format!("`{}` is not a valid phone number", raw.trim()),
        ));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A LinkedIn profile or company address.
pub fn parse_linkedin(raw: &str) -> DomainResult<String> {
    let (url, domain) =
        parse_website(raw).map_err(|_| DomainError::invalid("linkedin", "is not a web address"))?;
    if domain == "linkedin.com" || domain.ends_with(".linkedin.com") {
        Ok(url)
    } else {
        Err(DomainError::invalid(
            "linkedin",
            "must be a linkedin.com address",
        ))
    }
}

/// Tags: trimmed, lower-case, unique, at most 20 of at most 40 characters.
pub fn parse_tags(raw: &[String]) -> DomainResult<Vec<String>> {
    let mut tags: Vec<String> = raw
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    if tags.len() > 20 || tags.iter().any(|t| t.chars().count() > 40) {
        return Err(DomainError::invalid(
            "tags",
            "at most 20 tags of at most 40 characters",
        ));
    }
    Ok(tags)
}

/// An optional free-text field: trimmed, empty means absent.
pub fn optional_text(
    raw: Option<&str>,
    field: &'static str,
    max: usize,
) -> DomainResult<Option<String>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(s) => Ok(Some(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websites_are_normalised_and_keep_their_domain() {
        assert_eq!(
            parse_website("Acme.com").unwrap(),
            ("https://acme.com".into(), "acme.com".into())
        );
        assert_eq!(
            parse_website(" http://WWW.Acme.com/about/ ").unwrap(),
            ("https://acme.com/about".into(), "acme.com".into())
        );
        assert_eq!(
            parse_website("shop.acme.co.uk").unwrap().1,
            "shop.acme.co.uk"
        );
        for bad in [
            "",
            "acme",
            "ftp://acme.com",
            "http://",
            "acme..com",
            "not a site.com",
        ] {
            assert!(parse_website(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn name_keys_are_the_distinct_four_character_prefixes_of_the_longer_words() {
        assert_eq!(name_keys("Globex International Inc."), vec!["glob", "inte"]);
        assert_eq!(name_keys("Müller & Söhne AG"), vec!["müll", "söhn"]);
        assert_eq!(name_keys("AB Tech Techno"), vec!["tech"]);
        assert_eq!(name_keys("Co"), Vec::<String>::new());
    }

    #[test]
    fn company_keys_ignore_case_punctuation_and_legal_form() {
        assert_eq!(company_key("ACME, Inc."), "acme");
        assert_eq!(company_key("Acme GmbH"), "acme");
        assert_eq!(company_key("The Acme Company"), "acme");
        assert_eq!(company_key("Müller & Söhne AG"), "müller söhne");
        assert_eq!(
            company_key("Co"),
            "co",
            "a name that is only a legal form keeps it"
        );
    }

    #[test]
    fn phones_become_e164_using_the_lead_country_as_default() {
        assert_eq!(parse_phone("+49 30 901820", None).unwrap(), "+4930901820");
        assert_eq!(
            parse_phone("030 901820", Some("DE")).unwrap(),
            "+4930901820"
        );
        assert_eq!(
            parse_phone("(415) 555-2671", Some("US")).unwrap(),
            "+14155552671"
        );
        assert!(parse_phone("12", Some("US")).is_err());
        assert!(parse_phone("call me", None).is_err());
    }

    #[test]
    fn tags_are_lowercased_and_unique() {
        let tags = parse_tags(&["SaaS".into(), " saas ".into(), "B2B".into(), "".into()]).unwrap();
        assert_eq!(tags, ["b2b", "saas"]);
    }

    #[test]
    fn linkedin_addresses_must_be_linkedin() {
        assert!(parse_linkedin("linkedin.com/in/jane").is_ok());
        assert!(parse_linkedin("https://www.linkedin.com/company/acme").is_ok());
        assert!(parse_linkedin("facebook.com/jane").is_err());
    }
}
