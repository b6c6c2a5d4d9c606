//! One action on many leads at once: assign, change status, move to the
//! trash or restore. Each lead is checked against the actor's permission
//! and scope on its own and reported on its own; the changes go in batched
//! transactions, each lead with its audit row. A batch that meets a
//! concurrent edit is retried lead by lead, so one conflict costs only its
//! own lead.

use std::collections::{BTreeSet, HashMap};

use super::contacts::{self, Contact};
use super::leads::{self, Lead, Scope};
use super::outgoing::Outgoing;
use super::pipeline;
use crate::domain::actor::Actor;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::Transaction;

/// The most leads one request may name.
pub const MAX_IDS: usize = 500;
/// Leads per transaction.
const BATCH: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// A user id or username.
    Assign(String),
    /// A pipeline status key.
    Status(String),
    Delete,
    Restore,
}

impl BulkAction {
    /// The action from its wire name and its one argument.
    pub fn parse(
        action: &str,
        owner: Option<String>,
        status: Option<String>,
    ) -> DomainResult<BulkAction> {
        let given = |v: Option<String>, field: &'static str| {
            v.filter(|v| !v.trim().is_empty())
                .ok_or_else(|| DomainError::invalid(field, format!("is required for `{action}`")))
        };
        match action {
            "assign" => Ok(BulkAction::Assign(given(owner, "owner")?)),
            "status" => Ok(BulkAction::Status(given(status, "status")?)),
            "delete" => Ok(BulkAction::Delete),
            "restore" => Ok(BulkAction::Restore),
            other => Err(DomainError::invalid(
                "action",
                format!("`{other}`: use assign, status, delete or restore"),
            )),
        }
    }

    fn permission(&self) -> Permission {
        match self {
            BulkAction::Assign(_) => Permission::LeadsAssign,
            BulkAction::Status(_) => Permission::LeadsWrite,
            BulkAction::Delete | BulkAction::Restore => Permission::LeadsDelete,
        }
    }
}

/// One lead the action could not be applied to, and why.
#[derive(Debug)]
pub struct BulkFailure {
    pub id: String,
    pub error: DomainError,
}

#[derive(Debug, Default)]
pub struct BulkOutcome {
    /// Leads changed, in request order.
    pub updated: Vec<String>,
    /// Leads already as asked (nothing written).
    pub unchanged: Vec<String>,
    pub failed: Vec<BulkFailure>,
}

/// The action resolved once for the whole request.
enum Resolved {
    Owner(Option<String>),
    Status(String),
    Deleted(bool),
}

#[tracing::instrument(skip_all, fields(actor = %actor.username, ids = ids.len()))]
pub async fn apply(
    ctx: &Ctx,
    actor: &Actor,
    ids: Vec<String>,
    action: BulkAction,
) -> DomainResult<BulkOutcome> {
    let ids = distinct(ids)?;
    let mut outcome = BulkOutcome::default();
    // Without the permission or any lead scope, every lead is refused alike,
    // each with the reason, so the caller's per-id handling stays one path.
    let allowed = actor
        .require(action.permission())
        .and_then(|()| Scope::of(actor));
    let scope = match allowed {
        Ok(scope) => scope,
        Err(e) => {
            outcome.failed = ids
                .into_iter()
                .map(|id| BulkFailure {
                    id,
                    error: e.clone(),
                })
                .collect();
            return Ok(outcome);
        }
    };
    let resolved = match &action {
        BulkAction::Assign(owner) => {
            Resolved::Owner(Some(leads::resolve_user(ctx, owner, "owner").await?))
        }
        BulkAction::Status(status) => Resolved::Status(pipeline::require(ctx, status).await?.id),
        BulkAction::Delete => Resolved::Deleted(true),
        BulkAction::Restore => Resolved::Deleted(false),
    };
    for chunk in ids.chunks(BATCH) {
        run_batch(ctx, actor, &scope, &resolved, chunk, &mut outcome).await?;
    }
    Ok(outcome)
}

/// The ids without blanks and repeats, in their first order; at most `MAX_IDS`.
fn distinct(ids: Vec<String>) -> DomainResult<Vec<String>> {
    if ids.is_empty() {
        return Err(DomainError::invalid("ids", "name at least one lead"));
    }
    if ids.len() > MAX_IDS {
        return Err(DomainError::invalid(
            "ids",
            format!("at most {MAX_IDS} leads per request"),
        ));
    }
    let mut seen = BTreeSet::new();
    Ok(ids
        .into_iter()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty() && seen.insert(id.clone()))
        .collect())
}

async fn search_names(
    ctx: &Ctx,
    ids: &[&str],
) -> DomainResult<HashMap<String, Vec<(String, Option<String>)>>> {
    let rows: Vec<Contact> = crate::store::lookups::rows_for_all(
        &ctx.store,
        "SELECT *, record::id(id) AS id FROM contact WHERE lead IN $list ORDER BY created_at ASC, id ASC",
        ids,
    )
    .await?;
    let mut by_lead: HashMap<String, Vec<Contact>> = HashMap::new();
    for c in rows {
        by_lead.entry(c.lead.clone()).or_default().push(c);
    }
    Ok(by_lead
        .into_iter()
        .map(|(lead, cs)| (lead, contacts::search_names(&cs)))
        .collect())
}

/// The lead as the action leaves it; `None` when it is already so.
fn changed(before: &Lead, resolved: &Resolved) -> Option<Lead> {
    let mut after = before.clone();
    match resolved {
        Resolved::Owner(owner) => after.owner = owner.clone(),
        Resolved::Status(status) => after.status = status.clone(),
        Resolved::Deleted(_) => return None,
    }
    (after.owner != before.owner || after.status != before.status).then_some(after)
}

/// Adds one lead's change to `tx`/`out`; false when there was nothing to do.
fn push_one(
    tx: &mut Transaction,
    out: &mut Outgoing,
    actor: &Actor,
    lead: &Lead,
    resolved: &Resolved,
    names: &[(String, Option<String>)],
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    match resolved {
        Resolved::Deleted(delete) => {
            if lead.deleted_at.is_some() == *delete {
                return false;
            }
            let (at, action) = if *delete {
                (Some(now), "delete")
            } else {
                (None, "restore")
            };
            leads::push_deleted(tx, out, actor, lead, at, action, names, now);
            true
        }
        _ => match changed(lead, resolved) {
            Some(after) => leads::push_changes(tx, out, actor, lead, after, names, now).is_some(),
            None => false,
        },
    }
}

async fn run_batch(
    ctx: &Ctx,
    actor: &Actor,
    scope: &Scope,
    resolved: &Resolved,
    chunk: &[String],
    outcome: &mut BulkOutcome,
) -> DomainResult<()> {
    let found = leads::find_many(ctx, chunk).await?;
    let restoring = matches!(resolved, Resolved::Deleted(false));
    // Only restore sees the trash; any other action treats a trashed lead
    // as gone, as the single-lead calls do.
    let mut work: Vec<&Lead> = Vec::new();
    for id in chunk {
        match found.get(id) {
            Some(lead) if scope.allows(lead) && (restoring || lead.deleted_at.is_none()) => {
                work.push(lead)
            }
            _ => outcome.failed.push(BulkFailure {
                id: id.clone(),
                error: DomainError::NotFound("lead"),
            }),
        }
    }
    write_batch(ctx, actor, scope, resolved, &work, outcome).await
}

/// Writes the action for `work` (leads as read, already checked) in one
/// transaction, falling back to one lead at a time on a conflict.
async fn write_batch(
    ctx: &Ctx,
    actor: &Actor,
    scope: &Scope,
    resolved: &Resolved,
    work: &[&Lead],
    outcome: &mut BulkOutcome,
) -> DomainResult<()> {
    if work.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = work.iter().map(|l| l.id.as_str()).collect();
    let names = search_names(ctx, &ids).await?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    let mut out = Outgoing::new();
    let mut written = Vec::new();
    for lead in work {
        let lead_names = names.get(&lead.id).map(Vec::as_slice).unwrap_or(&[]);
        if push_one(&mut tx, &mut out, actor, lead, resolved, lead_names, now) {
            written.push(*lead);
        } else {
            outcome.unchanged.push(lead.id.clone());
        }
    }
    if written.is_empty() {
        return Ok(());
    }
    match out.commit(ctx, tx).await {
        Ok(_) => outcome.updated.extend(written.iter().map(|l| l.id.clone())),
        Err(DomainError::Conflict(_)) => {
            // Someone changed one of these leads meanwhile: the whole batch
            // rolled back, so each lead goes again alone, re-read fresh.
            for lead in written {
                one_by_one(ctx, actor, scope, resolved, &lead.id, outcome).await;
            }
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

async fn one_by_one(
    ctx: &Ctx,
    actor: &Actor,
    scope: &Scope,
    resolved: &Resolved,
    id: &str,
    outcome: &mut BulkOutcome,
) {
    let attempt = async {
        let restoring = matches!(resolved, Resolved::Deleted(false));
        let lead = match leads::find(ctx, id).await? {
            Some(l) if scope.allows(&l) && (restoring || l.deleted_at.is_none()) => l,
            _ => return Err(DomainError::NotFound("lead")),
        };
        let names = contacts::search_names_of(ctx, id).await?;
        let mut tx = Transaction::new();
        let mut out = Outgoing::new();
        if !push_one(&mut tx, &mut out, actor, &lead, resolved, &names, ctx.now()) {
            return Ok(false);
        }
        out.commit(ctx, tx).await?;
        Ok(true)
    };
    match attempt.await {
        Ok(true) => outcome.updated.push(id.to_string()),
        Ok(false) => outcome.unchanged.push(id.to_string()),
        Err(error) => outcome.failed.push(BulkFailure {
            id: id.to_string(),
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::domain::clock::SystemClock;
    use crate::domain::crm::leads::{LeadPatch, NewLead};

    #[tokio::test]
    async fn a_batch_that_meets_a_concurrent_edit_is_retried_lead_by_lead() {
        let ctx = crate::app::open_domain(&Config::for_tests(), Arc::new(SystemClock))
            .await
            .unwrap();
        let actor = Actor::system();
        let mut stale = Vec::new();
        for name in ["Stale One", "Stale Two"] {
            let created = leads::create(
                &ctx,
                &actor,
                NewLead {
                    company_name: name.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            stale.push(created.lead);
        }
        // Someone edits the first lead after the batch read it.
        leads::update(
            &ctx,
            &actor,
            &stale[0].id,
            LeadPatch {
                industry: Some(Some("Shipping".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut outcome = BulkOutcome::default();
        let work: Vec<&Lead> = stale.iter().collect();
        write_batch(
            &ctx,
            &actor,
            &Scope::All,
            &Resolved::Status("contacted".into()),
            &work,
            &mut outcome,
        )
        .await
        .unwrap();
        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        assert_eq!(outcome.updated.len(), 2);
        let first = leads::find(&ctx, &stale[0].id).await.unwrap().unwrap();
        assert_eq!(
            (first.status.as_str(), first.industry.as_deref()),
            ("contacted", Some("Shipping")),
            "the retry re-read the lead, keeping the other edit"
        );
        let second = leads::find(&ctx, &stale[1].id).await.unwrap().unwrap();
        assert_eq!(second.status, "contacted");
    }

    #[test]
    fn ids_are_deduplicated_and_limited() {
        let ids = distinct(vec!["a".into(), " a ".into(), "".into(), "b".into()]).unwrap();
        assert_eq!(ids, vec!["a", "b"]);
        assert!(distinct(vec![]).is_err());
        assert!(distinct((0..=MAX_IDS).map(|i| i.to_string()).collect()).is_err());
    }

    #[test]
    fn actions_need_their_argument() {
        assert_eq!(
            BulkAction::parse("status", None, Some("won".into())).unwrap(),
            BulkAction::Status("won".into())
        );
        assert!(BulkAction::parse("assign", None, None).is_err());
        assert!(BulkAction::parse("explode", None, None).is_err());
    }
}
