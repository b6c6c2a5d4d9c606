//! Duplicates at entry: before a lead is created (API, panel, bots), the
//! live leads its creator can see that share its website domain, its
//! company name (as compared for duplicates), or a contact's email or phone
//! are offered instead, and the lead is created only when the creator says
//! so (`allow_duplicate`).
//!
//! Every lookup is one index (`lead.domain`, `lead.company_key`,
//! `contact.email`, `contact.phone`), so the check costs the same at a
//! thousand leads as at a million. A lead the creator cannot see is not a
//! candidate, as in the import: naming it would tell them it exists. With
//! smart dedup switched off (`Feature::Dedup`) nothing is checked.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::contacts::PreparedContact;
use super::leads::{PreparedLead, Scope};
use super::normalize::{company_key, parse_phone, parse_website};
use crate::domain::actor::Actor;
use crate::domain::ai::dedup::{likeness, DedupLead};
use crate::domain::error::DomainResult;
use crate::domain::features::{self, Feature};
use crate::domain::{geo, users, Ctx};

/// The most candidates one check reports.
const MAX_CANDIDATES: usize = 10;

/// What a new lead is compared on, normalised as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DuplicateProbe {
    pub company_name: String,
    pub domain: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
}

impl DuplicateProbe {
    /// From a lead about to be written.
    pub(crate) fn of(prepared: &PreparedLead) -> Self {
        let contacts = &prepared.contacts;
        DuplicateProbe {
            company_name: prepared.lead.company_name.clone(),
            domain: prepared.lead.domain.clone(),
            emails: contacts
                .iter()
                .filter_map(|c: &PreparedContact| c.email.clone())
                .collect(),
            phones: contacts.iter().filter_map(|c| c.phone.clone()).collect(),
        }
    }

    /// From what someone has typed so far: each value is read as the
    /// stored field would be, and one that is not (yet) valid is left out
    /// rather than refused, since the form is still being filled in.
    pub fn typed(
        company_name: Option<&str>,
        website: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
        country: Option<&str>,
    ) -> Self {
        fn present(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let country = present(country).and_then(|c| geo::parse_country(c).ok());
        DuplicateProbe {
            company_name: present(company_name).unwrap_or_default().to_string(),
            domain: present(website).and_then(|w| parse_website(w).ok().map(|(_, d)| d)),
            emails: present(email)
                .and_then(|e| users::parse_email(e).ok())
                .into_iter()
                .collect(),
            phones: present(phone)
                .and_then(|p| parse_phone(p, country).ok())
                .into_iter()
                .collect(),
        }
    }

    fn key(&self) -> Option<String> {
        Some(company_key(&self.company_name)).filter(|k| !k.is_empty())
    }
}

/// A stored lead the new one may duplicate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateCandidate {
    pub id: String,
    pub company_name: String,
    pub website: Option<String>,
    pub domain: Option<String>,
    pub status: String,
    pub owner: Option<String>,
    /// 0..1: the chance it is the same company.
    pub confidence: f64,
    /// Why, in words ("same website domain acme.com").
    pub signals: Vec<String>,
}

/// A stored lead as a candidate shows it (and as the scope rule reads it).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoredLead {
    pub(crate) id: String,
    pub(crate) company_name: String,
    pub(crate) website: Option<String>,
    pub(crate) domain: Option<String>,
    pub(crate) status: String,
    pub(crate) owner: Option<String>,
    pub(crate) created_by: String,
}

impl StoredLead {
    pub(crate) fn visible_in(&self, scope: &Scope) -> bool {
        scope.allows_owned_by(self.owner.as_deref(), &self.created_by)
    }

    pub(crate) fn into_candidate(
        self,
        confidence: f64,
        signals: Vec<String>,
    ) -> DuplicateCandidate {
        DuplicateCandidate {
            id: self.id,
            company_name: self.company_name,
            website: self.website,
            domain: self.domain,
            status: self.status,
            owner: self.owner,
            confidence,
            signals,
        }
    }
}

/// Candidates in the order they are offered: most likely first, then by
/// company name and id.
pub(crate) fn most_likely_first(candidates: &mut [DuplicateCandidate]) {
    candidates.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.company_name.cmp(&b.company_name))
            .then_with(|| a.id.cmp(&b.id))
    });
}

#[derive(Deserialize)]
struct MatchedContact {
    lead: String,
    email: Option<String>,
    phone: Option<String>,
}

pub(crate) const LEAD_FIELDS: &str =
    "record::id(id) AS id, company_name, website, domain, status, owner, created_by";

/// The live leads `actor` can see that the probe may duplicate, most
/// likely first; empty while smart dedup is off.
pub async fn check(
    ctx: &Ctx,
    actor: &Actor,
    probe: &DuplicateProbe,
) -> DomainResult<Vec<DuplicateCandidate>> {
    // Whoever may see no lead may be told of none.
    let scope = Scope::of(actor)?;
    if !features::is_on(ctx, Feature::Dedup) {
        return Ok(Vec::new());
    }
    // One statement per key the probe has: `domain = NONE` would match
    // every lead without a website.
    let mut statements = Vec::new();
    let mut vars = Map::new();
    if let Some(domain) = &probe.domain {
        statements.push(format!(
            "SELECT {LEAD_FIELDS} FROM lead WHERE domain = $domain AND deleted_at IS NONE"
        ));
        vars.insert("domain".into(), json!(domain));
    }
    if let Some(key) = probe.key() {
        statements.push(format!(
            "SELECT {LEAD_FIELDS} FROM lead WHERE company_key = $key AND deleted_at IS NONE"
        ));
        vars.insert("key".into(), json!(key));
    }
    let lead_statements = statements.len();
    // Separate lookups, not one with OR (an OR of two indexes is a scan).
    let mut contact_statements = 0;
    for (field, values) in [("email", &probe.emails), ("phone", &probe.phones)] {
        if values.is_empty() {
            continue;
        }
        statements.push(format!(
            "SELECT lead, email, phone FROM contact WHERE {field} IN ${field}s"
        ));
        vars.insert(format!("{field}s"), json!(values));
        contact_statements += 1;
    }
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let results = ctx
        .store
        .run(&statements.join(";\n"), Value::Object(vars))
        .await?;
    let mut stored: Vec<StoredLead> = Vec::new();
    for i in 0..lead_statements {
        stored.extend(results.rows::<StoredLead>(i)?);
    }
    let mut matched: Vec<MatchedContact> = Vec::new();
    for i in lead_statements..lead_statements + contact_statements {
        matched.extend(results.rows::<MatchedContact>(i)?);
    }
    let mut missing: Vec<String> = matched
        .iter()
        .map(|c| c.lead.clone())
        .filter(|id| !stored.iter().any(|l| &l.id == id))
        .collect();
    missing.sort();
    missing.dedup();
    missing.truncate(MAX_CANDIDATES * 2);
    stored.extend(live_leads(ctx, &missing).await?);
    Ok(rank(probe, stored, &matched, &scope))
}

/// The live leads among `ids`: one statement of record-id lookups.
pub(crate) async fn live_leads(ctx: &Ctx, ids: &[String]) -> DomainResult<Vec<StoredLead>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(ctx
        .store
        .run(
            &format!(
                "SELECT {LEAD_FIELDS} FROM array::map($ids, |$id| type::record('lead', $id))
                 WHERE deleted_at IS NONE"
            ),
            json!({ "ids": ids }),
        )
        .await?
        .rows(0)?)
}

/// Candidates for a lead about to be created.
pub(crate) async fn of_prepared(
    ctx: &Ctx,
    actor: &Actor,
    prepared: &PreparedLead,
) -> DomainResult<Vec<DuplicateCandidate>> {
    check(ctx, actor, &DuplicateProbe::of(prepared)).await
}

/// The visible leads scored against the probe, most likely first.
fn rank(
    probe: &DuplicateProbe,
    stored: Vec<StoredLead>,
    matched: &[MatchedContact],
    scope: &Scope,
) -> Vec<DuplicateCandidate> {
    let new = DedupLead {
        id: String::new(),
        company_name: probe.company_name.clone(),
        domain: probe.domain.clone(),
        emails: probe.emails.clone(),
        phones: probe.phones.clone(),
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut out: Vec<DuplicateCandidate> = stored
        .into_iter()
        .filter(|l| l.visible_in(scope))
        .filter(|l| seen.insert(l.id.clone()))
        .filter_map(|l| {
            let theirs = matched.iter().filter(|c| c.lead == l.id);
            let old = DedupLead {
                id: l.id.clone(),
                company_name: l.company_name.clone(),
                domain: l.domain.clone(),
                emails: theirs.clone().filter_map(|c| c.email.clone()).collect(),
                phones: theirs.filter_map(|c| c.phone.clone()).collect(),
            };
            let (confidence, signals) = likeness(&new, &old)?;
            Some(l.into_candidate(confidence, signals))
        })
        .collect();
    most_likely_first(&mut out);
    out.truncate(MAX_CANDIDATES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str, name: &str, domain: Option<&str>, owner: &str) -> StoredLead {
        StoredLead {
            id: id.into(),
            company_name: name.into(),
            website: domain.map(|d| format!("https://{d}")),
            domain: domain.map(str::to_string),
            status: "new".into(),
            owner: Some(owner.into()),
            created_by: owner.into(),
        }
    }

    #[test]
    fn what_someone_types_is_read_as_it_would_be_stored_and_half_typed_values_are_left_out() {
        let probe = DuplicateProbe::typed(
            Some(" Acme, Inc. "),
            Some("https://www.Acme.com/about"),
            Some("Jane@Acme.com"),
            Some("+1 415 555"),
            Some("US"),
        );
        assert_eq!(probe.company_name, "Acme, Inc.");
        assert_eq!(probe.domain.as_deref(), Some("acme.com"));
        assert_eq!(probe.emails, vec!["jane@acme.com".to_string()]);
        assert!(probe.phones.is_empty(), "a partial phone is no evidence");
        assert_eq!(probe.key().as_deref(), Some("acme"));
        assert_eq!(
            DuplicateProbe::typed(None, None, None, None, None).key(),
            None
        );
    }

    #[test]
    fn candidates_are_ranked_by_evidence_and_only_those_the_creator_can_see_count() {
        let probe = DuplicateProbe {
            company_name: "Acme".into(),
            domain: Some("acme.com".into()),
            emails: vec!["jane@acme.com".into()],
            phones: Vec::new(),
        };
        let leads = vec![
            stored("same-name", "ACME Inc.", None, "rep"),
            stored("same-site", "Acme Corporation", Some("acme.com"), "rep"),
            stored("hidden", "Acme", Some("acme.com"), "someone-else"),
            stored("by-email", "Roadrunner Supplies", None, "rep"),
        ];
        let matched = vec![MatchedContact {
            lead: "by-email".into(),
            email: Some("jane@acme.com".into()),
            phone: None,
        }];
        let found = rank(&probe, leads, &matched, &Scope::Own("rep".into()));
        let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["same-site", "by-email", "same-name"]);
        assert!(found[0].signals.iter().any(|s| s.contains("acme.com")));
        assert!(found[1].signals.iter().any(|s| s.contains("jane@acme.com")));
        assert!(found
            .iter()
            .all(|c| c.confidence > 0.0 && c.confidence <= 1.0));
    }
}
