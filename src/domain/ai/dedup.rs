//! Smart dedup: candidate duplicate leads by website domain, company-name
//! similarity, and shared contact emails and phones, each pair with a
//! confidence; and the merge that folds one lead into another keeping
//! every contact, follow-up, call, task link and audit row.
//!
//! Candidates are found by blocking (only leads sharing a domain, an email,
//! a phone or a name token are compared), so the work grows with the
//! number of near-collisions, not with the square of the lead count.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::crm::contacts::{self};
use crate::domain::crm::leads::{self, Lead, Scope};
use crate::domain::crm::normalize::company_key;
use crate::domain::crm::outgoing::Outgoing;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::features::{self, Feature};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::Transaction;

/// What dedup compares of a lead.
#[derive(Debug, Clone, Default)]
pub struct DedupLead {
    pub id: String,
    pub company_name: String,
    pub domain: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub a: String,
    pub b: String,
    /// 0..1: the chance these are the same company, from the signals below.
    pub confidence: f64,
    pub signals: Vec<String>,
}

fn trigrams(s: &str) -> BTreeSet<String> {
    let padded: Vec<char> = format!("  {s} ").chars().collect();
    padded.windows(3).map(|w| w.iter().collect()).collect()
}

/// Dice similarity of the company keys' character trigrams (0..1): robust
/// to legal forms, case, punctuation and small typos.
pub fn name_similarity(a: &str, b: &str) -> f64 {
    let (ka, kb) = (company_key(a), company_key(b));
    if ka.is_empty() || kb.is_empty() {
        return 0.0;
    }
    if ka == kb {
        return 1.0;
    }
    let (ta, tb) = (trigrams(&ka), trigrams(&kb));
    let shared = ta.intersection(&tb).count() as f64;
    2.0 * shared / (ta.len() + tb.len()) as f64
}

/// Names below this similarity say nothing.
const NAME_THRESHOLD: f64 = 0.75;

/// How likely two leads are the same company (0..1, two decimals) and the
/// evidence for it; `None` when nothing links them.
pub fn likeness(a: &DedupLead, b: &DedupLead) -> Option<(f64, Vec<String>)> {
    let mut signals = Vec::new();
    let mut evidence = Vec::new();
    if a.domain.is_some() && a.domain == b.domain {
        evidence.push(0.9);
        signals.push(format!(
            "same website domain {}",
            a.domain.as_deref().unwrap_or_default()
        ));
    }
    let shared = |x: &[String], y: &[String]| -> Vec<String> {
        x.iter()
            .filter(|v| y.iter().any(|w| w.eq_ignore_ascii_case(v)))
            .cloned()
            .collect()
    };
    for email in shared(&a.emails, &b.emails) {
        evidence.push(0.85);
        signals.push(format!("shared contact email {email}"));
    }
    for phone in shared(&a.phones, &b.phones) {
        evidence.push(0.75);
        signals.push(format!("shared contact phone {phone}"));
    }
    let similarity = name_similarity(&a.company_name, &b.company_name);
    if similarity >= NAME_THRESHOLD {
        evidence.push(similarity * 0.8);
        signals.push(format!("similar names ({:.0}%)", similarity * 100.0));
    }
    if evidence.is_empty() {
        return None;
    }
    // Independent signals: the pair is distinct only if every one misleads.
    let confidence = 1.0 - evidence.iter().map(|e| 1.0 - e).product::<f64>();
    Some(((confidence * 100.0).round() / 100.0, signals))
}

/// The pure rule over a set of leads; pairs sorted by confidence, highest first.
pub fn candidates(leads: &[DedupLead], min_confidence: f64) -> Vec<Candidate> {
    let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, lead) in leads.iter().enumerate() {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(
            lead.domain
                .iter()
                .map(|d| format!("d:{}", d.to_lowercase())),
        );
        keys.extend(
            lead.emails
                .iter()
                .map(|e| format!("e:{}", e.to_lowercase())),
        );
        keys.extend(lead.phones.iter().map(|p| format!("p:{p}")));
        for word in company_key(&lead.company_name).split(' ') {
            let prefix: String = word.chars().take(4).collect();
            if prefix.chars().count() >= 3 {
                keys.push(format!("n:{prefix}"));
            }
        }
        for key in keys {
            let entry = blocks.entry(key).or_default();
            if entry.last() != Some(&i) {
                entry.push(i);
            }
        }
    }
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for members in blocks.values() {
        // A block as big as a common word ("tech") is no evidence; skip it.
        if members.len() > 200 {
            continue;
        }
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                pairs.insert((i.min(j), i.max(j)));
            }
        }
    }
    let mut out = Vec::new();
    for (i, j) in pairs {
        let (a, b) = (&leads[i], &leads[j]);
        if let Some((confidence, signals)) = likeness(a, b) {
            if confidence >= min_confidence {
                out.push(Candidate {
                    a: a.id.clone(),
                    b: b.id.clone(),
                    confidence,
                    signals,
                });
            }
        }
    }
    out.sort_by(|x, y| {
        y.confidence
            .total_cmp(&x.confidence)
            .then_with(|| x.a.cmp(&y.a))
            .then_with(|| x.b.cmp(&y.b))
    });
    out
}

#[derive(Deserialize)]
struct LeadRow {
    id: String,
    company_name: String,
    domain: Option<String>,
}

#[derive(Deserialize)]
struct ContactRow {
    lead: String,
    email: Option<String>,
    phone: Option<String>,
}

/// Duplicate candidates among the live leads the actor can see.
pub async fn find(
    ctx: &Ctx,
    actor: &Actor,
    min_confidence: f64,
    limit: usize,
) -> DomainResult<Vec<Candidate>> {
    actor.require(Permission::AiUse)?;
    features::require(ctx, Feature::Dedup)?;
    let scope = Scope::of(actor)?;
    let filter = scope
        .condition()
        .map(|c| format!(" AND {c}"))
        .unwrap_or_default();
    let results = ctx
        .store
        .run(
            &format!(
                "LET $leads = (SELECT record::id(id) AS id, company_name, domain FROM lead WHERE deleted_at IS NONE{filter});
                 RETURN $leads;
                 SELECT lead, email, phone FROM contact WHERE lead IN $leads.id;"
            ),
            json!({"scope_user": scope.user()}),
        )
        .await?;
    let rows: Vec<LeadRow> = results.rows(1)?;
    let contact_rows: Vec<ContactRow> = results.rows(2)?;
    let mut by_lead: BTreeMap<String, DedupLead> = rows
        .into_iter()
        .map(|r| {
            (
                r.id.clone(),
                DedupLead {
                    id: r.id,
                    company_name: r.company_name,
                    domain: r.domain,
                    ..Default::default()
                },
            )
        })
        .collect();
    for c in contact_rows {
        if let Some(lead) = by_lead.get_mut(&c.lead) {
            lead.emails.extend(c.email);
            lead.phones.extend(c.phone);
        }
    }
    let all: Vec<DedupLead> = by_lead.into_values().collect();
    let mut found = candidates(&all, min_confidence.clamp(0.0, 1.0));
    found.truncate(limit.clamp(1, 500));
    Ok(found)
}

#[derive(Debug, Clone, Deserialize)]
struct FollowUpRow {
    id: String,
    tier: i64,
    outcome: String,
    notes: String,
    logged_by: String,
    scheduled_at: Option<chrono::DateTime<chrono::Utc>>,
    done_at: Option<chrono::DateTime<chrono::Utc>>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

async fn follow_ups(ctx: &Ctx, lead: &str) -> DomainResult<Vec<FollowUpRow>> {
    Ok(ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM follow_up WHERE lead = $lead",
            json!({"lead": lead}),
        )
        .await?
        .rows(0)?)
}

async fn has_task_table(ctx: &Ctx) -> DomainResult<bool> {
    let info = ctx.store.run("INFO FOR DB", json!({})).await?;
    Ok(info.value(0)["tables"].get("task").is_some())
}

/// Folds `merge_id` into `keep_id` in one transaction: contacts, follow-ups
/// (a tier both have stays the kept lead's, the other's goes into the
/// follow-up history so nothing is lost), follow-up history, calls, notes, task
/// links, audit rows and relationship-map edges (no self-edges, no
/// duplicates) move; the merged lead is soft-deleted with
/// `merged_into`, and a `merge` audit row records it.
pub async fn merge(ctx: &Ctx, actor: &Actor, keep_id: &str, merge_id: &str) -> DomainResult<Lead> {
    actor.require(Permission::AiUse)?;
    actor.require(Permission::LeadsWrite)?;
    actor.require(Permission::LeadsDelete)?;
    features::require(ctx, Feature::Dedup)?;
    if keep_id == merge_id {
        return Err(DomainError::invalid(
            "merge",
            "cannot merge a lead into itself",
        ));
    }
    let keep = leads::load_visible(ctx, actor, keep_id, false).await?;
    let gone = leads::load_visible(ctx, actor, merge_id, false).await?;
    let kept_tiers: Vec<i64> = follow_ups(ctx, &keep.id)
        .await?
        .iter()
        .map(|f| f.tier)
        .collect();
    let moving = follow_ups(ctx, &gone.id).await?;
    let tasks = has_task_table(ctx).await?;
    let mut contacts_after = contacts::of_lead(ctx, &keep.id).await?;
    contacts_after.extend(contacts::of_lead(ctx, &gone.id).await?);
    let names: Vec<(String, Option<String>)> = contacts_after
        .iter()
        .map(|c| (c.name.clone(), c.email.clone()))
        .collect();

    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("keep", &keep.id)
        .bind("gone", &gone.id)
        .bind("now", db_time(now))
        .bind("keep_owner", &keep.owner);
    // Both leads must still be live: a concurrent delete or merge wins.
    tx.push("IF (SELECT VALUE deleted_at FROM ONLY type::record('lead', $gone)) != NONE OR (SELECT VALUE deleted_at FROM ONLY type::record('lead', $keep)) != NONE { THROW 'one of the leads was deleted or merged meanwhile' }");
    tx.push("UPDATE contact SET lead = $keep, updated_at = <datetime>$now WHERE lead = $gone");
    for fu in &moving {
        let n = tx.next_serial();
        tx.bind(&format!("fu_{n}"), json!({
            "old": fu.id, "new": format!("{}_{}", keep.id, fu.tier), "tier": fu.tier, "outcome": fu.outcome,
            "notes": fu.notes, "by": fu.logged_by,
            "scheduled_at": fu.scheduled_at.map(db_time), "done_at": fu.done_at.map(db_time),
            "updated_at": db_time(fu.updated_at),
        }));
        if kept_tiers.contains(&fu.tier) {
            tx.push(format!(
                "CREATE follow_up_history SET lead = $keep, tier = $fu_{n}.tier, outcome = $fu_{n}.outcome,
                    notes = string::concat('[merged from ', $gone, '] ', $fu_{n}.notes), by = $fu_{n}.by, by_name = $fu_{n}.by,
                    at = <datetime>$fu_{n}.updated_at,
                    scheduled_at = IF $fu_{n}.scheduled_at THEN <datetime>$fu_{n}.scheduled_at ELSE NONE END,
                    done_at = IF $fu_{n}.done_at THEN <datetime>$fu_{n}.done_at ELSE NONE END"
            ));
        } else {
            tx.push(format!(
                "CREATE type::record('follow_up', $fu_{n}.new) SET lead = $keep, tier = $fu_{n}.tier, outcome = $fu_{n}.outcome,
                    notes = $fu_{n}.notes, logged_by = $fu_{n}.by, owner = $keep_owner, updated_at = <datetime>$fu_{n}.updated_at,
                    scheduled_at = IF $fu_{n}.scheduled_at THEN <datetime>$fu_{n}.scheduled_at ELSE NONE END,
                    done_at = IF $fu_{n}.done_at THEN <datetime>$fu_{n}.done_at ELSE NONE END"
            ));
        }
        tx.push(format!("DELETE type::record('follow_up', $fu_{n}.old)"));
    }
    tx.push("UPDATE follow_up_history SET lead = $keep WHERE lead = $gone");
    tx.push("UPDATE call SET lead = $keep WHERE lead = $gone");
    tx.push("UPDATE lead_note SET lead = $keep WHERE lead = $gone");
    if tasks {
        tx.push("UPDATE task SET lead = $keep WHERE lead = $gone");
    }
    tx.push("UPDATE audit SET subject = $keep WHERE subject = $gone");
    super::graph::push_merge_edges(&mut tx);
    let mut kept = keep.clone();
    kept.updated_at = now;
    kept.last_contacted_at = keep.last_contacted_at.max(gone.last_contacted_at);
    leads::push_write(&mut tx, &kept, &names);
    tx.push("UPDATE type::record('lead', $gone) SET deleted_at = <datetime>$now, updated_at = <datetime>$now, merged_into = $keep");
    audit::record_about(
        &mut tx,
        actor,
        Some(&keep.id),
        "lead",
        &keep.id,
        "merge",
        &[FieldChange::new(
            "merged_from",
            None,
            Some(json!({"id": gone.id, "company_name": gone.company_name})),
        )],
        now,
    );
    let mut out = Outgoing::new();
    let mut gone_after = gone.clone();
    gone_after.deleted_at = Some(now);
    out.add(Event::new(
        "lead.merged",
        leads::audience(&kept),
        json!({"lead": kept, "merged": gone.id, "via": actor.channel}),
    ));
    out.add(Event::new(
        "lead.deleted",
        leads::audience(&gone_after),
        json!({"lead": gone_after, "merged_into": keep.id, "via": actor.channel}),
    ));
    out.add(Event::new(
        "lead.updated",
        leads::audience(&kept),
        json!({"lead": kept, "fields": ["contacts"], "via": actor.channel}),
    ));
    out.commit(ctx, tx).await?;
    leads::find(ctx, &keep.id)
        .await?
        .ok_or(DomainError::NotFound("lead"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(
        id: &str,
        name: &str,
        domain: Option<&str>,
        emails: &[&str],
        phones: &[&str],
    ) -> DedupLead {
        DedupLead {
            id: id.into(),
            company_name: name.into(),
            domain: domain.map(str::to_string),
            emails: emails.iter().map(|s| s.to_string()).collect(),
            phones: phones.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_that_differ_by_legal_form_or_a_typo_are_similar_and_others_are_not() {
        assert_eq!(name_similarity("Acme Corp", "ACME, Inc."), 1.0);
        assert!(name_similarity("Globex Industries", "Globex Industrie") > 0.8);
        assert!(name_similarity("Globex", "Initech") < 0.3);
    }

    #[test]
    fn the_known_duplicate_pairs_are_found_and_nothing_else() {
        let leads = vec![
            lead("1", "Acme Corp", Some("acme.com"), &[], &[]),
            lead(
                "2",
                "Acme Incorporated Holdings",
                Some("acme.com"),
                &[],
                &[],
            ),
            lead("3", "Globex", None, &["ann@globex.io"], &[]),
            lead("4", "Globex Intl", None, &["ann@globex.io"], &[]),
            lead("5", "Initech", None, &[], &["+14155550100"]),
            lead("6", "Umbrella", None, &[], &["+14155550100"]),
            lead(
                "7",
                "Hooli",
                Some("hooli.xyz"),
                &["x@hooli.xyz"],
                &["+14155550199"],
            ),
            lead("8", "Pied Piper", Some("piedpiper.com"), &[], &[]),
            lead("9", "Piedpiper Inc", None, &[], &[]),
        ];
        let found = candidates(&leads, 0.5);
        let pairs: Vec<(&str, &str)> = found.iter().map(|c| (c.a.as_str(), c.b.as_str())).collect();
        assert_eq!(pairs.len(), 4, "{found:?}");
        for expected in [("1", "2"), ("3", "4"), ("5", "6"), ("8", "9")] {
            assert!(pairs.contains(&expected), "{expected:?} in {found:?}");
        }
        // Two signals beat one.
        let globex = found.iter().find(|c| c.a == "3").unwrap();
        let phone_only = found.iter().find(|c| c.a == "5").unwrap();
        assert!(globex.confidence > phone_only.confidence);
    }
}
