//! The relationship map: SurrealDB graph edges (`RELATE lead->related->lead`)
//! for leads on the same website domain, leads sharing a person (a contact
//! email), referrals and parent companies; and a lead's neighbourhood.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::actor::Actor;
use crate::domain::audit;
use crate::domain::clock::db_time;
use crate::domain::crm::leads::{self, Scope};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::features::{self, Feature};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::Transaction;

/// Rebuilds the derived edges of one lead from its domain and contact
/// emails; edges people entered are left alone. One transaction, so a
/// reader never sees the edges half rebuilt.
pub async fn refresh_derived(ctx: &Ctx, lead_id: &str) -> DomainResult<()> {
    ctx.store
        .run(
            "BEGIN TRANSACTION;
             LET $me = type::record('lead', $id);
             DELETE related WHERE (in = $me OR out = $me) AND kind IN ['same_domain', 'shared_person'];
             LET $live = (SELECT VALUE deleted_at FROM ONLY $me) = NONE;
             LET $domain = (SELECT VALUE domain FROM ONLY $me);
             LET $emails = (SELECT VALUE email FROM contact WHERE lead = $id AND email != NONE);
             LET $by_domain = IF $live AND $domain != NONE {
                 (SELECT VALUE id FROM lead WHERE domain = $domain AND id != $me AND deleted_at IS NONE)
             } ELSE { [] };
             LET $by_person = IF $live AND array::len($emails) > 0 {
                 array::distinct((SELECT VALUE type::record('lead', lead) FROM contact WHERE email IN $emails AND lead != $id))
             } ELSE { [] };
             FOR $other IN $by_domain {
                 RELATE $me->related->$other SET kind = 'same_domain', detail = $domain, created_at = <datetime>$now;
             };
             FOR $other IN $by_person {
                 IF (SELECT VALUE deleted_at FROM ONLY $other) = NONE {
                     RELATE $me->related->$other SET kind = 'shared_person', created_at = <datetime>$now;
                 };
             };
             COMMIT TRANSACTION;",
            json!({"id": lead_id, "now": db_time(ctx.now())}),
        )
        .await?;
    Ok(())
}

/// Edge kinds derived from the data, which hold both ways: an edge in
/// either direction says the same.
const SYMMETRIC_KINDS: &[&str] = &["same_domain", "shared_person"];

/// Adds to a merge's transaction the move of every edge of lead `$gone`
/// to lead `$keep` (both bound by the caller): an edge between the two
/// would point at itself and is dropped, and so is one the kept lead
/// already has (same kind and ends; either direction for derived kinds).
pub fn push_merge_edges(tx: &mut Transaction) {
    tx.bind("symmetric_kinds", SYMMETRIC_KINDS);
    tx.push(
        "LET $edge_keep = type::record('lead', $keep); LET $edge_gone = type::record('lead', $gone);
         FOR $e IN (SELECT * FROM related WHERE in = $edge_gone) {
             LET $other = $e.out;
             IF $other != $edge_keep
                 AND array::len((SELECT id FROM related WHERE in = $edge_keep AND out = $other AND kind = $e.kind)) = 0
                 AND ($e.kind NOT IN $symmetric_kinds
                      OR array::len((SELECT id FROM related WHERE in = $other AND out = $edge_keep AND kind = $e.kind)) = 0) {
                 RELATE $edge_keep->related->$other SET kind = $e.kind, detail = $e.detail,
                     created_by = $e.created_by, created_at = $e.created_at;
             };
         };
         FOR $e IN (SELECT * FROM related WHERE out = $edge_gone) {
             LET $other = $e.in;
             IF $other != $edge_keep
                 AND array::len((SELECT id FROM related WHERE in = $other AND out = $edge_keep AND kind = $e.kind)) = 0
                 AND ($e.kind NOT IN $symmetric_kinds
                      OR array::len((SELECT id FROM related WHERE in = $edge_keep AND out = $other AND kind = $e.kind)) = 0) {
                 RELATE $other->related->$edge_keep SET kind = $e.kind, detail = $e.detail,
                     created_by = $e.created_by, created_at = $e.created_at;
             };
         };
         DELETE related WHERE in = $edge_gone;
         DELETE related WHERE out = $edge_gone;",
    );
}

/// Edge kinds people may enter.
pub fn parse_manual_kind(raw: &str) -> DomainResult<&'static str> {
    match raw.trim() {
        "referral" => Ok("referral"),
        "parent_company" => Ok("parent_company"),
        _ => Err(DomainError::invalid(
            "kind",
            "use referral or parent_company",
        )),
    }
}

/// Records that `from` referred `to`, or that `from` is `to`'s parent company.
pub async fn relate(
    ctx: &Ctx,
    actor: &Actor,
    from: &str,
    to: &str,
    kind: &str,
) -> DomainResult<()> {
    actor.require(Permission::AiUse)?;
    actor.require(Permission::LeadsWrite)?;
    features::require(ctx, Feature::RelationshipMap)?;
    let kind = parse_manual_kind(kind)?;
    if from == to {
        return Err(DomainError::invalid("to", "a lead cannot relate to itself"));
    }
    leads::load_visible(ctx, actor, from, false).await?;
    leads::load_visible(ctx, actor, to, false).await?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("from", from)
        .bind("to", to)
        .bind("kind", kind)
        .bind("by", &actor.user_id)
        .bind("now", db_time(now));
    tx.push(
        "LET $a = type::record('lead', $from); LET $b = type::record('lead', $to);
         IF array::len((SELECT id FROM related WHERE in = $a AND out = $b AND kind = $kind)) = 0 {
             RELATE $a->related->$b SET kind = $kind, created_by = $by, created_at = <datetime>$now;
         }",
    );
    audit::record_about(
        &mut tx,
        actor,
        Some(from),
        "lead",
        from,
        "relate",
        &[audit::FieldChange::new(kind, None, Some(json!(to)))],
        now,
    );
    tx.commit(&ctx.store).await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Neighbour {
    pub lead: String,
    pub company_name: String,
    pub kind: String,
    /// `out` when this lead points at the neighbour (it referred it, it is
    /// its parent), `in` when the neighbour points here.
    pub direction: String,
    pub detail: Option<String>,
}

/// The leads one edge away that the actor may see.
pub async fn neighbourhood(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
) -> DomainResult<Vec<Neighbour>> {
    actor.require(Permission::AiUse)?;
    features::require(ctx, Feature::RelationshipMap)?;
    let lead = leads::load_visible(ctx, actor, lead_id, false).await?;
    let scope = Scope::of(actor)?;
    let rows: Vec<Neighbour> = ctx
        .store
        .run(
            "LET $me = type::record('lead', $id);
             RETURN array::concat(
                 (SELECT record::id(out) AS lead, out.company_name AS company_name, kind, 'out' AS direction, detail,
                         out.owner AS owner, out.created_by AS created_by, out.deleted_at AS gone FROM related WHERE in = $me),
                 (SELECT record::id(in) AS lead, in.company_name AS company_name, kind, 'in' AS direction, detail,
                         in.owner AS owner, in.created_by AS created_by, in.deleted_at AS gone FROM related WHERE out = $me)
             ).filter(|$r| $r.gone = NONE AND ($all OR $r.owner = $user OR $r.created_by = $user));",
            json!({"id": lead.id, "all": scope.user().is_none(), "user": scope.user()}),
        )
        .await?
        .rows(1)?;
    let mut rows = rows;
    rows.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(a.company_name.cmp(&b.company_name))
    });
    Ok(rows)
}
