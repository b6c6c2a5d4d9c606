//! Leads: the companies reps work. Creation (with automatic assignment),
//! edits, soft delete and restore, and the own-versus-all visibility rule
//! that every read and write goes through.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::contacts::{self, Contact, NewContact};
use super::normalize::{
    company_key, name_keys, optional_text, parse_company_name, parse_tags, parse_website,
};
use super::outgoing::Outgoing;
use super::{duplicates, pipeline, settings};
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::chat::notifications::Notification;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event};
use crate::domain::permissions::Permission;
use crate::domain::{geo, tokens, users, Ctx};
use crate::store::Transaction;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lead {
    pub id: String,
    pub company_name: String,
    pub website: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub status: String,
    pub country: Option<String>,
    pub state: Option<String>,
    pub timezone: Option<String>,
    pub owner: Option<String>,
    pub created_by: String,
    pub source: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub score: i64,
    pub last_contacted_at: Option<DateTime<Utc>>,
    pub next_follow_up_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Which leads an actor may see and change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Leads the user owns or created.
    Own(String),
}

impl Scope {
    pub fn of(actor: &Actor) -> DomainResult<Scope> {
        if actor.can(Permission::LeadsReadAll) {
            Ok(Scope::All)
        } else if actor.can(Permission::LeadsReadOwn) {
            Ok(Scope::Own(actor.user_id.clone()))
        } else {
            Err(DomainError::Forbidden(
                Permission::LeadsReadOwn.key().into(),
            ))
        }
    }

    pub fn allows(&self, lead: &Lead) -> bool {
        self.allows_owned_by(lead.owner.as_deref(), &lead.created_by)
    }

    /// `allows` for a lead known only by its owner and creator.
    pub fn allows_owned_by(&self, owner: Option<&str>, created_by: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Own(user) => owner == Some(user) || created_by == user,
        }
    }

    /// The same rule as a SurrealQL condition on `lead` rows, binding `$scope_user`.
    pub fn condition(&self) -> Option<&'static str> {
        match self {
            Scope::All => None,
            Scope::Own(_) => Some("(owner = $scope_user OR created_by = $scope_user)"),
        }
    }

    pub fn user(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Own(u) => Some(u),
        }
    }
}

pub(crate) const SELECT_LEAD: &str = "SELECT *, record::id(id) AS id FROM";

pub(crate) async fn find(ctx: &Ctx, id: &str) -> DomainResult<Option<Lead>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_LEAD} ONLY type::record('lead', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

/// The stored leads among `ids` (deleted ones too), by id: one statement
/// of primary-key lookups.
pub(crate) async fn find_many(
    ctx: &Ctx,
    ids: &[String],
) -> DomainResult<std::collections::HashMap<String, Lead>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let mut vars = serde_json::Map::new();
    let targets: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            vars.insert(format!("id_{i}"), json!(id));
            format!("type::record('lead', $id_{i})")
        })
        .collect();
    let sql = format!("{SELECT_LEAD} {}", targets.join(", "));
    let found: Vec<Lead> = ctx.store.run(&sql, Value::Object(vars)).await?.rows(0)?;
    Ok(found.into_iter().map(|l| (l.id.clone(), l)).collect())
}

/// A lead the actor may see; anything else is "not found", so ids of other
/// people's leads cannot be probed.
pub async fn load_visible(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    include_deleted: bool,
) -> DomainResult<Lead> {
    let scope = Scope::of(actor)?;
    match find(ctx, id).await? {
        Some(lead) if scope.allows(&lead) && (include_deleted || lead.deleted_at.is_none()) => {
            Ok(lead)
        }
        _ => Err(DomainError::NotFound("lead")),
    }
}

/// The company name of a lead the actor may see, for a line that mentions
/// it (a task in a list); `None` for a lead they may not see or that is gone.
pub async fn visible_name(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<Option<String>> {
    match load_visible(ctx, actor, id, false).await {
        Ok(lead) => Ok(Some(lead.company_name)),
        Err(DomainError::NotFound(_) | DomainError::Forbidden(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The lead with its contacts, as a card or detail page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LeadDetail {
    pub lead: Lead,
    pub contacts: Vec<Contact>,
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<LeadDetail> {
    let lead = load_visible(ctx, actor, id, false).await?;
    let contacts = contacts::of_lead(ctx, &lead.id).await?;
    Ok(LeadDetail { lead, contacts })
}

#[derive(Debug, Clone, Default)]
pub struct NewLead {
    pub company_name: String,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub status: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub timezone: Option<String>,
    /// A user id or username; absent: the assignment rule decides.
    pub owner: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub contacts: Vec<NewContact>,
    /// Create it even when it looks like a lead already stored.
    pub allow_duplicate: bool,
}

/// A change to a lead. `None`: leave as is; `Some(None)`: clear.
#[derive(Debug, Clone, Default)]
pub struct LeadPatch {
    pub company_name: Option<String>,
    pub website: Option<Option<String>>,
    pub industry: Option<Option<String>>,
    pub status: Option<String>,
    pub country: Option<Option<String>>,
    pub state: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub owner: Option<Option<String>>,
    pub source: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

/// Country, state and timezone checked together: the state must belong to
/// the country, and the zone is inferred from the country when not given.
fn place(
    country: Option<&str>,
    state: Option<&str>,
    timezone: Option<&str>,
) -> DomainResult<(Option<String>, Option<String>, Option<String>)> {
    let country = match country.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Some(geo::parse_country(c)?.to_string()),
        None => None,
    };
    let state = match state.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let c = country
                .as_deref()
                .ok_or_else(|| DomainError::invalid("state", "needs a country"))?;
            Some(geo::parse_state(c, s)?.to_string())
        }
        None => None,
    };
    let timezone = match timezone.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(geo::parse_timezone(t)?.name().to_string()),
        None => country
            .as_deref()
            .and_then(geo::inferred_zone)
            .map(str::to_string),
    };
    Ok((country, state, timezone))
}

/// A user named by id or username, who must be active.
pub(crate) async fn resolve_user(
    ctx: &Ctx,
    raw: &str,
    field: &'static str,
) -> DomainResult<String> {
    let raw = raw.trim().trim_start_matches('@');
    let record = match users::find_record(ctx, raw).await? {
        Some(r) => Some(r),
        None => users::find_by_username(ctx, raw).await?,
    };
    match record {
        Some(r) if r.user.active => Ok(r.user.id),
        _ => Err(DomainError::invalid(
            field,
            format!("no active user `{raw}`"),
        )),
    }
}

/// Who owns a new lead when no owner was given.
pub(crate) async fn assigned_owner(
    ctx: &Ctx,
    actor: &Actor,
    country: Option<&str>,
) -> DomainResult<String> {
    let rule = settings::assignment_rule(ctx).await?;
    match rule.mode {
        settings::AssignmentMode::Manual => Ok(actor.user_id.clone()),
        settings::AssignmentMode::Territory => Ok(country
            .and_then(|c| rule.territories.get(c))
            .cloned()
            .unwrap_or_else(|| actor.user_id.clone())),
        settings::AssignmentMode::RoundRobin => {
            let role = rule.role.unwrap_or_default();
            // The counter moves in its own statement so concurrent creations
            // take different turns.
            let results = ctx
                .store
                .run(
                    "LET $users = (SELECT VALUE record::id(id) FROM user WHERE role = $role AND active = true ORDER BY username);
                     IF array::len($users) = 0 { RETURN NONE };
                     LET $turn = (UPSERT setting:round_robin_turn SET data = <string>(<int>(data ?? '0') + 1), updated_at = time::now() RETURN VALUE data)[0];
                     RETURN $users[(<int>$turn - 1) % array::len($users)];",
                    json!({"role": role}),
                )
                .await?;
            let picked = results
                .value(results.len().saturating_sub(1))
                .as_str()
                .map(str::to_string);
            Ok(picked.unwrap_or_else(|| actor.user_id.clone()))
        }
    }
}

pub(crate) fn sort_keys(
    id: &str,
    company_key: &str,
    score: i64,
    updated_at: DateTime<Utc>,
) -> Value {
    json!({
        "sort_created": id,
        "sort_updated": format!("{}|{id}", db_time(updated_at)),
        "sort_company": format!("{company_key}|{id}"),
        "sort_score": score_key(score, id),
    })
}

/// A lead's `sort_score`: its score, then its id, so the key is unique and
/// orders by score.
pub(crate) fn score_key(score: i64, id: &str) -> String {
    format!("{:03}|{id}", score.clamp(0, 999))
}

/// The words full-text search looks at: company, website and the lead's
/// contacts' names and emails.
pub(crate) fn search_text(
    lead_name: &str,
    domain: Option<&str>,
    contacts: &[(String, Option<String>)],
) -> String {
    // The analyzer splits on punctuation, so a domain or an email is
    // searchable by each of its parts as written.
    let mut parts = vec![lead_name.to_string()];
    parts.extend(domain.map(str::to_string));
    for (name, email) in contacts {
        parts.push(name.clone());
        parts.extend(email.clone());
    }
    parts.join(" ")
}

/// The statement that writes every stored field of `lead` from `$lead`,
/// except the score of a stored lead: lead scoring owns it and updates it on
/// its own, so an edit never puts back an old score.
const WRITE_LEAD: &str = "UPSERT type::record('lead', $lead.id) SET
    company_name = $lead.company_name, company_key = $lead.company_key, name_keys = $lead.name_keys,
    website = $lead.website,
    domain = $lead.domain, industry = $lead.industry, status = $lead.status, country = $lead.country,
    state = $lead.state, timezone = $lead.timezone, owner = $lead.owner, created_by = $lead.created_by,
    source = $lead.source, tags = $lead.tags, score = score ?? $lead.score,
    last_contacted_at = IF $lead.last_contacted_at THEN <datetime>$lead.last_contacted_at ELSE NONE END,
    next_follow_up_at = IF $lead.next_follow_up_at THEN <datetime>$lead.next_follow_up_at ELSE NONE END,
    created_at = <datetime>$lead.created_at, updated_at = <datetime>$lead.updated_at,
    deleted_at = IF $lead.deleted_at THEN <datetime>$lead.deleted_at ELSE NONE END,
    search_text = $lead.search_text, sort_created = $lead.sort_created, sort_updated = $lead.sort_updated, sort_company = $lead.sort_company,
    sort_score = sort_score ?? $lead.sort_score";

/// Adds the write of `lead` (all its fields, derived ones recomputed) to `tx`
/// under the variable `$lead`; `contacts` feed the search text.
pub(crate) fn push_write(tx: &mut Transaction, lead: &Lead, contacts: &[(String, Option<String>)]) {
    let n = tx.next_serial();
    let name = format!("lead_{n}");
    tx.bind(&name, stored_row(lead, contacts));
    tx.push(WRITE_LEAD.replace("$lead", &format!("${name}")));
}

/// `lead` with the fields derived from it (company key, dedup's name keys, search text from
/// `contacts`, sort keys), as `push_write` and `insert_statement` bind it.
pub(crate) fn stored_row(lead: &Lead, contacts: &[(String, Option<String>)]) -> Value {
    let key = company_key(&lead.company_name);
    let mut row = serde_json::to_value(lead).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut row {
        map.insert("company_key".into(), json!(key));
        map.insert("name_keys".into(), json!(name_keys(&lead.company_name)));
        map.insert(
            "search_text".into(),
            json!(search_text(
                &lead.company_name,
                lead.domain.as_deref(),
                contacts
            )),
        );
        if let Value::Object(sorts) = sort_keys(&lead.id, &key, lead.score, lead.updated_at) {
            map.extend(sorts);
        }
    }
    row
}

/// Writes the array of `stored_row`s bound as `$var` as new leads in one
/// statement, each stored as `push_write` stores a lead that does not exist
/// yet (its `score` and `sort_score` taken from the row). Fails, and with
/// it the transaction, if one of the ids is taken.
pub(crate) fn insert_statement(var: &str) -> String {
    format!(
        "INSERT INTO lead (SELECT *, type::record('lead', id) AS id,
            IF last_contacted_at THEN <datetime>last_contacted_at ELSE NONE END AS last_contacted_at,
            IF next_follow_up_at THEN <datetime>next_follow_up_at ELSE NONE END AS next_follow_up_at,
            <datetime>created_at AS created_at, <datetime>updated_at AS updated_at,
            IF deleted_at THEN <datetime>deleted_at ELSE NONE END AS deleted_at
            FROM ${var}) RETURN NONE"
    )
}

/// Adds a change of a stored lead to `tx`: the write of `after`, guarded so
/// that it only lands if the lead is still as `before` was read. Two people
/// editing one lead at once then get a conflict instead of one silently
/// undoing the other.
pub(crate) fn push_update(
    tx: &mut Transaction,
    before: &Lead,
    after: &Lead,
    contacts: &[(String, Option<String>)],
) {
    let n = tx.next_serial();
    let (id, seen) = (format!("guard_id_{n}"), format!("guard_seen_{n}"));
    let seen_key = sort_keys(&before.id, "", 0, before.updated_at)["sort_updated"].clone();
    tx.bind(&id, &before.id).bind(&seen, seen_key);
    tx.push(format!(
        "IF (SELECT VALUE sort_updated FROM ONLY type::record('lead', ${id})) != ${seen} {{
            THROW 'the lead was changed by someone else meanwhile; reload it and try again'
        }}"
    ));
    push_write(tx, after, contacts);
}

/// The lead fields an audit row compares.
pub(crate) fn audited(lead: &Lead) -> Value {
    json!({
        "company_name": lead.company_name, "website": lead.website, "industry": lead.industry,
        "status": lead.status, "country": lead.country, "state": lead.state, "timezone": lead.timezone,
        "owner": lead.owner, "source": lead.source, "tags": lead.tags,
    })
}

pub(crate) fn audience(lead: &Lead) -> Audience {
    let mut users: BTreeSet<String> = BTreeSet::new();
    users.insert(lead.created_by.clone());
    if let Some(o) = &lead.owner {
        users.insert(o.clone());
    }
    Audience::Users(users.into_iter().collect())
}

/// Validated fields of a new lead, before it is written.
pub(crate) struct PreparedLead {
    pub lead: Lead,
    pub contacts: Vec<contacts::PreparedContact>,
}

impl PreparedLead {
    /// The contacts to store with the lead, created when it is.
    pub(crate) fn new_contacts(&self) -> Vec<Contact> {
        self.contacts
            .iter()
            .map(|c| c.to_contact(&self.lead.id, self.lead.created_at))
            .collect()
    }
}

/// What preparing a lead needs to look up. Single requests ask the
/// database; an import answers from a cache loaded once per file.
pub(crate) trait LeadLookups {
    /// The pipeline status with this key.
    fn status(&self, raw: &str) -> impl std::future::Future<Output = DomainResult<String>> + Send;
    /// The active user named by id or username.
    fn user(
        &self,
        raw: &str,
        field: &'static str,
    ) -> impl std::future::Future<Output = DomainResult<String>> + Send;
    /// The owner the assignment rule gives a new lead.
    fn default_owner(
        &self,
        actor: &Actor,
        country: Option<&str>,
    ) -> impl std::future::Future<Output = DomainResult<String>> + Send;
}

/// Lookups straight from the database.
pub(crate) struct LiveLookups<'a>(pub &'a Ctx);

impl LeadLookups for LiveLookups<'_> {
    async fn status(&self, raw: &str) -> DomainResult<String> {
        Ok(pipeline::require(self.0, raw).await?.id)
    }

    async fn user(&self, raw: &str, field: &'static str) -> DomainResult<String> {
        resolve_user(self.0, raw, field).await
    }

    async fn default_owner(&self, actor: &Actor, country: Option<&str>) -> DomainResult<String> {
        assigned_owner(self.0, actor, country).await
    }
}

/// A new lead's own fields checked and normalised: everything about it
/// that needs no database. Status and owner stay as given; the pipeline and
/// the user table decide on them in `prepare_draft`.
#[derive(Debug, Clone)]
pub struct LeadDraft {
    pub company_name: String,
    pub website: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub status: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub timezone: Option<String>,
    pub owner: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub contacts: Vec<contacts::PreparedContact>,
}

/// Checks and normalises a new lead's fields without any lookup, so the
/// import can run it on every row of a file (and a fuzzer on any input).
pub fn draft(input: NewLead) -> DomainResult<LeadDraft> {
    let company_name = parse_company_name(&input.company_name)?;
    let (website, domain) = match input
        .website
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        Some(w) => {
            let (url, domain) = parse_website(w)?;
            (Some(url), Some(domain))
        }
        None => (None, None),
    };
    let (country, state, timezone) = place(
        input.country.as_deref(),
        input.state.as_deref(),
        input.timezone.as_deref(),
    )?;
    let mut prepared_contacts = Vec::with_capacity(input.contacts.len());
    for c in input.contacts {
        prepared_contacts.push(contacts::prepare(c, country.as_deref())?);
    }
    Ok(LeadDraft {
        company_name,
        website,
        domain,
        industry: optional_text(input.industry.as_deref(), "industry", 100)?,
        status: input.status,
        country,
        state,
        timezone,
        owner: input.owner,
        source: optional_text(input.source.as_deref(), "source", 100)?,
        tags: parse_tags(&input.tags)?,
        contacts: prepared_contacts,
    })
}

/// Checks a new lead without writing it: the import's dry run uses this too.
pub(crate) async fn prepare(
    ctx: &Ctx,
    actor: &Actor,
    input: NewLead,
    lookups: &impl LeadLookups,
) -> DomainResult<PreparedLead> {
    actor.require(Permission::LeadsWrite)?;
    prepare_draft(ctx, actor, draft(input)?, lookups).await
}

/// Resolves a draft's status and owner and gives it an id.
pub(crate) async fn prepare_draft(
    ctx: &Ctx,
    actor: &Actor,
    draft: LeadDraft,
    lookups: &impl LeadLookups,
) -> DomainResult<PreparedLead> {
    actor.require(Permission::LeadsWrite)?;
    let status = lookups
        .status(draft.status.as_deref().unwrap_or(pipeline::INITIAL_STATUS))
        .await?;
    let owner = match draft
        .owner
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        Some(o) => {
            let id = lookups.user(o, "owner").await?;
            if id != actor.user_id {
                actor.require(Permission::LeadsAssign)?;
            }
            id
        }
        None => {
            lookups
                .default_owner(actor, draft.country.as_deref())
                .await?
        }
    };
    let now = ctx.now();
    let lead = Lead {
        id: tokens::new_id(),
        company_name: draft.company_name,
        website: draft.website,
        domain: draft.domain,
        industry: draft.industry,
        status,
        country: draft.country,
        state: draft.state,
        timezone: draft.timezone,
        owner: Some(owner),
        created_by: actor.user_id.clone(),
        source: draft.source,
        tags: draft.tags,
        score: 0,
        last_contacted_at: None,
        next_follow_up_at: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    Ok(PreparedLead {
        lead,
        contacts: draft.contacts,
    })
}

/// Adds the creation of a prepared lead, its contacts and their audit rows
/// to `tx`.
pub(crate) fn push_create(
    tx: &mut Transaction,
    actor: &Actor,
    prepared: &PreparedLead,
) -> Vec<Contact> {
    let lead = &prepared.lead;
    let now = lead.created_at;
    let contacts = prepared.new_contacts();
    push_write(tx, lead, &contacts::search_names(&contacts));
    let changes = audit::created(&audited(lead));
    audit::record_about(
        tx,
        actor,
        Some(&lead.id),
        "lead",
        &lead.id,
        "create",
        &changes,
        now,
    );
    for contact in &contacts {
        contacts::push_insert(tx, actor, contact);
    }
    contacts
}

#[tracing::instrument(skip_all, fields(actor = %actor.username))]
pub async fn create(ctx: &Ctx, actor: &Actor, input: NewLead) -> DomainResult<LeadDetail> {
    let allow_duplicate = input.allow_duplicate;
    let prepared = prepare(ctx, actor, input, &LiveLookups(ctx)).await?;
    if !allow_duplicate {
        let candidates = duplicates::of_prepared(ctx, actor, &prepared).await?;
        if !candidates.is_empty() {
            return Err(DomainError::Duplicate(candidates));
        }
    }
    let mut tx = Transaction::new();
    let contacts = push_create(&mut tx, actor, &prepared);
    let lead = prepared.lead;
    let mut out = Outgoing::new();
    out.add(Event::new(
        "lead.created",
        audience(&lead),
        json!({"lead": lead, "contacts": contacts, "via": actor.channel}),
    ));
    // A new lead given to someone (by the assignment rule or by name).
    if let Some(notice) = assignment_notice(actor, &lead, lead.created_at) {
        out.notify(notice);
    }
    out.commit(ctx, tx).await?;
    Ok(LeadDetail { lead, contacts })
}

/// Applies a patch to a copy of `before`, validating each field.
pub(crate) async fn apply_patch(
    ctx: &Ctx,
    actor: &Actor,
    before: &Lead,
    patch: LeadPatch,
) -> DomainResult<Lead> {
    let mut after = before.clone();
    if let Some(name) = &patch.company_name {
        after.company_name = parse_company_name(name)?;
    }
    if let Some(website) = &patch.website {
        match website.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
            Some(w) => {
                let (url, domain) = parse_website(w)?;
                after.website = Some(url);
                after.domain = Some(domain);
            }
            None => {
                after.website = None;
                after.domain = None;
            }
        }
    }
    if let Some(industry) = &patch.industry {
        after.industry = optional_text(industry.as_deref(), "industry", 100)?;
    }
    if let Some(source) = &patch.source {
        after.source = optional_text(source.as_deref(), "source", 100)?;
    }
    if let Some(status) = &patch.status {
        after.status = pipeline::require(ctx, status).await?.id;
    }
    if let Some(tags) = &patch.tags {
        after.tags = parse_tags(tags)?;
    }
    if patch.country.is_some() || patch.state.is_some() || patch.timezone.is_some() {
        let country = patch.country.clone().unwrap_or(after.country.clone());
        let state = patch.state.clone().unwrap_or(if patch.country.is_some() {
            None
        } else {
            after.state.clone()
        });
        let timezone = patch
            .timezone
            .clone()
            .unwrap_or(if patch.country.is_some() {
                None
            } else {
                after.timezone.clone()
            });
        let (c, s, t) = place(country.as_deref(), state.as_deref(), timezone.as_deref())?;
        after.country = c;
        after.state = s;
        after.timezone = t;
    }
    if let Some(owner) = &patch.owner {
        let new_owner = match owner.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
            Some(o) => Some(resolve_user(ctx, o, "owner").await?),
            None => None,
        };
        if new_owner != before.owner {
            actor.require(Permission::LeadsAssign)?;
            after.owner = new_owner;
        }
    }
    Ok(after)
}

/// Writes a changed lead with its audit rows and publishes what changed.
pub(crate) async fn save_changes(
    ctx: &Ctx,
    actor: &Actor,
    before: &Lead,
    after: Lead,
) -> DomainResult<Lead> {
    let names = contacts::search_names_of(ctx, &after.id).await?;
    let mut tx = Transaction::new();
    let mut out = Outgoing::new();
    match push_changes(&mut tx, &mut out, actor, before, after, &names, ctx.now()) {
        Some(saved) => {
            out.commit(ctx, tx).await?;
            Ok(saved)
        }
        None => Ok(before.clone()),
    }
}

/// Adds a changed lead, its audit rows and its events to `tx` and `out`;
/// `None` when nothing changed (and nothing was added).
pub(crate) fn push_changes(
    tx: &mut Transaction,
    out: &mut Outgoing,
    actor: &Actor,
    before: &Lead,
    mut after: Lead,
    names: &[(String, Option<String>)],
    now: DateTime<Utc>,
) -> Option<Lead> {
    let changes = audit::diff(&audited(before), &audited(&after), &[]);
    if changes.is_empty() {
        return None;
    }
    after.updated_at = now;
    push_update(tx, before, &after, names);
    if after.owner != before.owner {
        let n = tx.next_serial();
        let (lead_var, owner_var) = (format!("fu_lead_{n}"), format!("fu_owner_{n}"));
        tx.bind(&lead_var, &after.id).bind(&owner_var, &after.owner);
        tx.push(format!(
            "UPDATE follow_up SET owner = ${owner_var} WHERE lead = ${lead_var}"
        ));
    }
    audit::record_about(
        tx,
        actor,
        Some(&after.id),
        "lead",
        &after.id,
        "update",
        &changes,
        now,
    );
    change_events(out, actor, before, &after, &changes);
    Some(after)
}

fn change_events(
    out: &mut Outgoing,
    actor: &Actor,
    before: &Lead,
    after: &Lead,
    changes: &[FieldChange],
) {
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    let mut audience = audience(after);
    if let (Audience::Users(now), Audience::Users(was)) = (&mut audience, self::audience(before)) {
        now.extend(was);
        now.sort();
        now.dedup();
    }
    out.add(Event::new(
        "lead.updated",
        audience.clone(),
        json!({"lead": after, "fields": fields, "via": actor.channel}),
    ));
    if before.status != after.status {
        out.add(Event::new(
            "lead.status_changed",
            audience.clone(),
            json!({"lead": after, "from": before.status, "to": after.status, "via": actor.channel}),
        ));
    }
    if before.owner != after.owner {
        out.add(Event::new(
            "lead.assigned",
            audience,
            json!({"lead": after, "from": before.owner, "to": after.owner, "via": actor.channel}),
        ));
        if let Some(notice) = assignment_notice(actor, after, after.updated_at) {
            out.notify(notice);
        }
    }
}

/// Tells a lead's new owner, unless they gave it to themselves.
fn assignment_notice(actor: &Actor, lead: &Lead, now: DateTime<Utc>) -> Option<Notification> {
    let owner = lead.owner.as_deref().filter(|o| *o != actor.user_id)?;
    Some(
        Notification::new(
            owner,
            "lead_assigned",
            None,
            None,
            &format!(
                "@{} assigned you the lead \"{}\"",
                actor.username, lead.company_name
            ),
            now,
        )
        .about_lead(&lead.id),
    )
}

pub async fn update(ctx: &Ctx, actor: &Actor, id: &str, patch: LeadPatch) -> DomainResult<Lead> {
    update_if(ctx, actor, id, patch, None).await
}

/// `update`, only if the lead is still at one of the `expected` versions
/// (`Lead::version`); otherwise `PreconditionFailed` and nothing changes.
/// A change racing this one between the check and the write is caught by
/// the write's own guard (`push_update`) as a conflict.
pub async fn update_if(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    patch: LeadPatch,
    expected: Option<&[String]>,
) -> DomainResult<Lead> {
    actor.require(Permission::LeadsWrite)?;
    let before = load_visible(ctx, actor, id, false).await?;
    before.require_version(expected)?;
    let after = apply_patch(ctx, actor, &before, patch).await?;
    save_changes(ctx, actor, &before, after).await
}

/// Assigns a lead to a user (`leads.assign`).
pub async fn assign(ctx: &Ctx, actor: &Actor, id: &str, owner: &str) -> DomainResult<Lead> {
    actor.require(Permission::LeadsAssign)?;
    let before = load_visible(ctx, actor, id, false).await?;
    let after = apply_patch(
        ctx,
        actor,
        &before,
        LeadPatch {
            owner: Some(Some(owner.to_string())),
            ..Default::default()
        },
    )
    .await?;
    save_changes(ctx, actor, &before, after).await
}

/// Moves a lead to the trash; contacts, follow-ups, calls and history stay,
/// so `restore` brings everything back.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<()> {
    actor.require(Permission::LeadsDelete)?;
    let lead = load_visible(ctx, actor, id, false).await?;
    set_deleted(ctx, actor, lead, Some(ctx.now()), "delete").await?;
    Ok(())
}

pub async fn restore(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<Lead> {
    actor.require(Permission::LeadsDelete)?;
    let lead = load_visible(ctx, actor, id, true).await?;
    if lead.deleted_at.is_none() {
        return Ok(lead);
    }
    set_deleted(ctx, actor, lead, None, "restore").await
}

async fn set_deleted(
    ctx: &Ctx,
    actor: &Actor,
    before: Lead,
    deleted_at: Option<DateTime<Utc>>,
    action: &str,
) -> DomainResult<Lead> {
    let names = contacts::search_names_of(ctx, &before.id).await?;
    let mut tx = Transaction::new();
    let mut out = Outgoing::new();
    let after = push_deleted(
        &mut tx,
        &mut out,
        actor,
        &before,
        deleted_at,
        action,
        &names,
        ctx.now(),
    );
    out.commit(ctx, tx).await?;
    Ok(after)
}

/// Adds moving a lead to the trash (`deleted_at` set) or out of it, with
/// its audit row and event, to `tx` and `out`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_deleted(
    tx: &mut Transaction,
    out: &mut Outgoing,
    actor: &Actor,
    before: &Lead,
    deleted_at: Option<DateTime<Utc>>,
    action: &str,
    names: &[(String, Option<String>)],
    now: DateTime<Utc>,
) -> Lead {
    let mut after = before.clone();
    after.deleted_at = deleted_at;
    after.updated_at = now;
    push_update(tx, before, &after, names);
    let changes = [FieldChange::new(
        "deleted_at",
        before.deleted_at.map(|t| json!(t)),
        deleted_at.map(|t| json!(t)),
    )];
    audit::record_about(
        tx,
        actor,
        Some(&after.id),
        "lead",
        &after.id,
        action,
        &changes,
        now,
    );
    let topic = if deleted_at.is_some() {
        "lead.deleted"
    } else {
        "lead.restored"
    };
    out.add(Event::new(
        topic,
        audience(&after),
        json!({"lead": after, "via": actor.channel}),
    ));
    after
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::domain::clock::SystemClock;

    #[tokio::test]
    async fn an_edit_based_on_a_stale_read_is_refused_instead_of_undoing_another() {
        let ctx = crate::app::open_domain(&Config::for_tests(), Arc::new(SystemClock))
            .await
            .unwrap();
        let actor = Actor::system();
        let created = create(
            &ctx,
            &actor,
            NewLead {
                company_name: "Race Co".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let stale = created.lead.clone();
        update(
            &ctx,
            &actor,
            &stale.id,
            LeadPatch {
                status: Some("contacted".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut late = stale.clone();
        late.industry = Some("Late".into());
        let outcome = save_changes(&ctx, &actor, &stale, late).await;
        assert!(
            matches!(outcome, Err(DomainError::Conflict(_))),
            "{outcome:?}"
        );
        let now = find(&ctx, &stale.id).await.unwrap().unwrap();
        assert_eq!(
            (now.status.as_str(), now.industry),
            ("contacted", None),
            "the first edit stands"
        );
    }

    #[tokio::test]
    async fn edits_keep_the_score_that_scoring_wrote() {
        let ctx = crate::app::open_domain(&Config::for_tests(), Arc::new(SystemClock))
            .await
            .unwrap();
        let actor = Actor::system();
        let created = create(
            &ctx,
            &actor,
            NewLead {
                company_name: "Scored".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        ctx.store
            .run(
                "UPDATE type::record('lead', $id) SET score = 77",
                json!({"id": created.lead.id}),
            )
            .await
            .unwrap();
        update(
            &ctx,
            &actor,
            &created.lead.id,
            LeadPatch {
                industry: Some(Some("Tech".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            find(&ctx, &created.lead.id).await.unwrap().unwrap().score,
            77
        );
    }
}
