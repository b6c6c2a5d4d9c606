//! Smart dedup: candidate duplicate leads by website domain, company-name
//! similarity, and shared contact emails and phones, each pair with a
//! confidence; and the merge that folds one lead into another keeping
//! every contact, follow-up, call, task link and audit row.
//!
//! Candidates are found by blocking: only leads sharing a domain, an email,
//! a phone or a company-name key (`lead.name_keys`) are compared, and a key
//! held by more than `MAX_BLOCK` live leads is no evidence. Each key's leads
//! are one index lookup, so one lead's candidates cost the same at a
//! thousand leads as at a million, and the all-pairs list walks the leads a
//! page at a time instead of loading them.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::crm::contacts::{self};
use crate::domain::crm::duplicates::{
    live_leads, most_likely_first, DuplicateCandidate, StoredLead, LEAD_FIELDS,
};
use crate::domain::crm::leads::{self, Lead, Scope};
use crate::domain::crm::normalize::{company_key, name_keys};
use crate::domain::crm::outgoing::Outgoing;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::features::{self, Feature};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::lookups::rows_for_all;
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

/// A blocking key shared by more live leads than this (anyone's, not only
/// the caller's: how common a word is does not depend on who asks) is no
/// evidence ("tech"), and its leads are not compared on it.
pub const MAX_BLOCK: usize = 200;

/// The most candidates one lead's list holds.
pub const MAX_LEAD_CANDIDATES: usize = 100;

/// Leads the all-pairs walk takes at a time.
const WALK_PAGE: usize = 100;

/// The pure rule over a set of leads in memory, pairs sorted by confidence,
/// highest first: what `find` answers for the same leads, here without a
/// store (a key's block is counted among `leads`).
pub fn candidates(leads: &[DedupLead], min_confidence: f64) -> Vec<Candidate> {
    let mut blocks: HashMap<BlockKey, Vec<usize>> = HashMap::new();
    for (i, lead) in leads.iter().enumerate() {
        for key in BlockKey::of(lead) {
            let entry = blocks.entry(key).or_default();
            if entry.last() != Some(&i) {
                entry.push(i);
            }
        }
    }
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for members in blocks.values() {
        if members.len() > MAX_BLOCK {
            continue;
        }
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                pairs.insert((i.min(j), i.max(j)));
            }
        }
    }
    let mut out: Vec<Candidate> = pairs
        .into_iter()
        .filter_map(|(i, j)| pair(&leads[i], &leads[j], min_confidence))
        .collect();
    out.sort_by(by_confidence);
    out
}

/// Two leads as one pair: the lower id is `a` (so a pair reads the same
/// whichever lead it was found from), scored if it reaches `min_confidence`.
fn pair(x: &DedupLead, y: &DedupLead, min_confidence: f64) -> Option<Candidate> {
    let (a, b) = if x.id <= y.id { (x, y) } else { (y, x) };
    let (confidence, signals) = likeness(a, b)?;
    (confidence >= min_confidence).then(|| Candidate {
        a: a.id.clone(),
        b: b.id.clone(),
        confidence,
        signals,
    })
}

fn by_confidence(x: &Candidate, y: &Candidate) -> std::cmp::Ordering {
    y.confidence
        .total_cmp(&x.confidence)
        .then_with(|| x.a.cmp(&y.a))
        .then_with(|| x.b.cmp(&y.b))
}

/// What two leads must share to be compared: a website domain, a contact
/// email or phone, or a company-name key (`normalize::name_keys`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockKey {
    Domain(String),
    Email(String),
    Phone(String),
    Name(String),
}

impl BlockKey {
    fn of(lead: &DedupLead) -> Vec<BlockKey> {
        let mut keys: Vec<BlockKey> = Vec::new();
        keys.extend(
            lead.domain
                .iter()
                .map(|d| BlockKey::Domain(d.to_lowercase())),
        );
        keys.extend(
            lead.emails
                .iter()
                .map(|e| BlockKey::Email(e.to_lowercase())),
        );
        keys.extend(lead.phones.iter().cloned().map(BlockKey::Phone));
        keys.extend(
            name_keys(&lead.company_name)
                .into_iter()
                .map(BlockKey::Name),
        );
        keys.sort();
        keys.dedup();
        keys
    }

    fn value(&self) -> &str {
        match self {
            BlockKey::Domain(v) | BlockKey::Email(v) | BlockKey::Phone(v) | BlockKey::Name(v) => v,
        }
    }

    /// The ids of the live leads holding this key, through its index
    /// (`lead_domain`, `lead_name_keys`, `contact_email`, `contact_phone`),
    /// one more than `MAX_BLOCK` at most, so a key too common to count is
    /// known without reading all of its leads. `$var` is the key's value.
    pub fn statement(&self, var: &str) -> String {
        let most = MAX_BLOCK + 1;
        match self {
            BlockKey::Domain(_) => format!(
                "SELECT VALUE record::id(id) FROM lead WHERE domain = ${var} AND deleted_at IS NONE LIMIT {most}"
            ),
            BlockKey::Name(_) => format!(
                "SELECT VALUE record::id(id) FROM lead WHERE name_keys CONTAINS ${var} AND deleted_at IS NONE LIMIT {most}"
            ),
            BlockKey::Email(_) | BlockKey::Phone(_) => {
                let field = if matches!(self, BlockKey::Email(_)) { "email" } else { "phone" };
                format!(
                    "SELECT VALUE lead FROM contact WHERE {field} = ${var}
                        AND type::record('lead', lead).deleted_at IS NONE LIMIT {most}"
                )
            }
        }
    }
}

#[derive(Deserialize)]
struct ContactRow {
    lead: String,
    email: Option<String>,
    phone: Option<String>,
}

/// A live lead as dedup compares it, with what a candidate shows of it.
struct Known {
    stored: StoredLead,
    compared: DedupLead,
}

/// `stored` with their contacts' emails and phones, each list sorted and
/// without repeats (so a pair's signals do not depend on row order).
async fn with_contacts(ctx: &Ctx, stored: Vec<StoredLead>) -> DomainResult<Vec<Known>> {
    let ids: Vec<String> = stored.iter().map(|l| l.id.clone()).collect();
    let rows: Vec<ContactRow> = rows_for_all(
        &ctx.store,
        "SELECT lead, email, phone FROM contact WHERE lead IN $list",
        &ids,
    )
    .await?;
    let mut reach: HashMap<String, (BTreeSet<String>, BTreeSet<String>)> = HashMap::new();
    for row in rows {
        let entry = reach.entry(row.lead).or_default();
        entry.0.extend(row.email);
        entry.1.extend(row.phone);
    }
    Ok(stored
        .into_iter()
        .map(|l| {
            let (emails, phones) = reach.remove(&l.id).unwrap_or_default();
            let compared = DedupLead {
                id: l.id.clone(),
                company_name: l.company_name.clone(),
                domain: l.domain.clone(),
                emails: emails.into_iter().collect(),
                phones: phones.into_iter().collect(),
            };
            Known {
                stored: l,
                compared,
            }
        })
        .collect())
}

/// The live leads among `ids` that `scope` sees: one statement of
/// record-id lookups.
async fn visible_leads(ctx: &Ctx, scope: &Scope, ids: &[String]) -> DomainResult<Vec<StoredLead>> {
    Ok(live_leads(ctx, ids)
        .await?
        .into_iter()
        .filter(|l| l.visible_in(scope))
        .collect())
}

/// One scored pair: `other` is the lead found for the probe.
struct Match<'a> {
    other: &'a Known,
    candidate: Candidate,
}

/// The leads each of `probes` may duplicate: the live leads `scope` sees
/// that share a key with it whose block holds at most `MAX_BLOCK` live
/// leads, each found through an index, scored with `likeness`. With
/// `later_only` a probe is paired only with leads whose id sorts after its
/// own, so a walk over every lead names each pair once. Each match is
/// turned into what the caller keeps by `keep`.
async fn score<T>(
    ctx: &Ctx,
    scope: &Scope,
    probes: &[Known],
    later_only: bool,
    min_confidence: f64,
    keep: impl Fn(Match<'_>) -> T,
) -> DomainResult<Vec<T>> {
    let keys_of: Vec<Vec<BlockKey>> = probes.iter().map(|p| BlockKey::of(&p.compared)).collect();
    let keys: Vec<&BlockKey> = keys_of
        .iter()
        .flatten()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut statements = Vec::with_capacity(keys.len());
    let mut vars = Map::new();
    for (i, key) in keys.iter().enumerate() {
        let var = format!("key_{i}");
        statements.push(key.statement(&var));
        vars.insert(var, json!(key.value()));
    }
    let results = ctx
        .store
        .run(&statements.join(";\n"), Value::Object(vars))
        .await?;
    let mut blocks: HashMap<&BlockKey, BTreeSet<String>> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        let members: Vec<String> = results.rows(i)?;
        if members.len() <= MAX_BLOCK {
            blocks.insert(key, members.into_iter().collect());
        }
    }
    // Who each probe is compared with.
    let mut wanted: Vec<BTreeSet<&str>> = Vec::with_capacity(probes.len());
    for (probe, keys) in probes.iter().zip(&keys_of) {
        let own = probe.stored.id.as_str();
        let others: BTreeSet<&str> = keys
            .iter()
            .filter_map(|k| blocks.get(k))
            .flatten()
            .map(String::as_str)
            .filter(|id| *id != own && (!later_only || *id > own))
            .collect();
        wanted.push(others);
    }
    let known: HashMap<&str, &Known> = probes.iter().map(|p| (p.stored.id.as_str(), p)).collect();
    let fetch: Vec<String> = wanted
        .iter()
        .flatten()
        .filter(|id| !known.contains_key(*id))
        .map(|id| id.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let fetched = with_contacts(ctx, visible_leads(ctx, scope, &fetch).await?).await?;
    let mut known = known;
    for lead in &fetched {
        known.insert(lead.stored.id.as_str(), lead);
    }
    let mut out = Vec::new();
    for (probe, others) in probes.iter().zip(&wanted) {
        for id in others {
            // Absent: trashed meanwhile, or a lead the caller cannot see.
            let Some(other) = known.get(id) else { continue };
            if !other.stored.visible_in(scope) {
                continue;
            }
            if let Some(candidate) = pair(&probe.compared, &other.compared, min_confidence) {
                out.push(keep(Match { other, candidate }));
            }
        }
    }
    Ok(out)
}

/// A page of the all-pairs walk: the live leads `scope` sees (binding
/// `$scope_user`) after the id `$after`, in id order, along the
/// `lead_live_created` index.
pub fn walk_statement(scope: &Scope) -> String {
    let filter = scope
        .condition()
        .map(|c| format!(" AND {c}"))
        .unwrap_or_default();
    format!(
        "SELECT {LEAD_FIELDS} FROM lead WHERE live = true AND sort_created > $after{filter}
         ORDER BY sort_created LIMIT {WALK_PAGE}"
    )
}

/// Duplicate candidates among the live leads the actor can see, most
/// likely first: every pair that `candidates` would name for them. The
/// leads are walked a page at a time in id order (the `lead_live_created`
/// index) and each page's candidates are found through the key indexes as
/// `candidates_for` finds them, pairing a lead only with later ones; only
/// the `limit` most likely pairs are kept. So memory holds a page and the
/// pairs kept, never the table; the time still grows with the number of
/// leads, which is why one lead's candidates are asked of `candidates_for`.
pub async fn find(
    ctx: &Ctx,
    actor: &Actor,
    min_confidence: f64,
    limit: usize,
) -> DomainResult<Vec<Candidate>> {
    actor.require(Permission::AiUse)?;
    features::require(ctx, Feature::Dedup)?;
    let scope = Scope::of(actor)?;
    let min_confidence = min_confidence.clamp(0.0, 1.0);
    let limit = limit.clamp(1, 500);
    let walk = walk_statement(&scope);
    let mut after = String::new();
    let mut found: Vec<Candidate> = Vec::new();
    loop {
        let page: Vec<StoredLead> = ctx
            .store
            .run(&walk, json!({"after": after, "scope_user": scope.user()}))
            .await?
            .rows(0)?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let more = page.len() == WALK_PAGE;
        let probes = with_contacts(ctx, page).await?;
        found.extend(score(ctx, &scope, &probes, true, min_confidence, |m| m.candidate).await?);
        if found.len() > 2 * limit {
            found.sort_by(by_confidence);
            found.truncate(limit);
        }
        if !more {
            break;
        }
    }
    found.sort_by(by_confidence);
    found.truncate(limit);
    Ok(found)
}

/// The leads that one lead the actor can see may duplicate, most likely
/// first: the other live leads they can see that share its website domain,
/// a contact email or phone, or a company-name key (a key held by more than
/// `MAX_BLOCK` live leads excepted), each found through an index, scored as
/// the all-pairs list scores the same pair.
pub async fn candidates_for(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    min_confidence: f64,
    limit: usize,
) -> DomainResult<Vec<DuplicateCandidate>> {
    actor.require(Permission::AiUse)?;
    features::require(ctx, Feature::Dedup)?;
    let scope = Scope::of(actor)?;
    let lead = leads::load_visible(ctx, actor, lead_id, false).await?;
    let probe = with_contacts(
        ctx,
        vec![StoredLead {
            id: lead.id,
            company_name: lead.company_name,
            website: lead.website,
            domain: lead.domain,
            status: lead.status,
            owner: lead.owner,
            created_by: lead.created_by,
        }],
    )
    .await?;
    let mut found = score(
        ctx,
        &scope,
        &probe,
        false,
        min_confidence.clamp(0.0, 1.0),
        |m| {
            m.other
                .stored
                .clone()
                .into_candidate(m.candidate.confidence, m.candidate.signals)
        },
    )
    .await?;
    most_likely_first(&mut found);
    found.truncate(limit.clamp(1, MAX_LEAD_CANDIDATES));
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
