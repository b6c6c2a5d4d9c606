//! CSV export of the leads a filter or a list of ids selects, within the
//! caller's scope, streamed a page at a time. Its columns are the import's field names, so
//! an export re-imports to the same data.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;

use super::contacts::Contact;
use super::leads::{self, Lead, Scope};
use super::query::{self, LeadFilter, PageRequest, SortKey};
use crate::domain::actor::Actor;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

pub const COLUMNS: &[&str] = &[
    "company_name",
    "website",
    "industry",
    "status",
    "country",
    "state",
    "timezone",
    "owner",
    "source",
    "tags",
    "contact_name",
    "contact_position",
    "contact_email",
    "contact_phone",
    "contact_linkedin",
];

const PAGE: usize = 500;
/// The most ids one export may name (a bulk selection).
pub const MAX_IDS: usize = 500;

/// Which leads an export holds.
#[derive(Debug, Clone)]
pub enum Selection {
    Filter(LeadFilter),
    /// These leads, in this order; ones the caller cannot see are left out.
    Ids(Vec<String>),
}

/// Checks the caller may export, then streams CSV chunks on the returned
/// channel; a failure mid-way ends the stream with an error item.
pub async fn export_csv(
    ctx: std::sync::Arc<Ctx>,
    actor: Actor,
    selection: Selection,
) -> DomainResult<mpsc::Receiver<Result<Bytes, std::io::Error>>> {
    actor.require(Permission::LeadsExport)?;
    // Fails now, before any byte is sent, when the filter or scope is wrong.
    match &selection {
        Selection::Filter(filter) => {
            query::count(&ctx, &actor, filter).await?;
        }
        Selection::Ids(ids) => {
            Scope::of(&actor)?;
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(DomainError::invalid(
                    "ids",
                    format!("name 1 to {MAX_IDS} leads"),
                ));
            }
        }
    }
    let usernames = usernames(&ctx).await?;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        if let Err(e) = stream(&ctx, &actor, &selection, &usernames, &tx).await {
            tracing::error!(error = %e, "export stopped");
            let _ = tx.send(Err(std::io::Error::other("export stopped"))).await;
        }
    });
    Ok(rx)
}

async fn usernames(ctx: &Ctx) -> DomainResult<HashMap<String, String>> {
    let rows: Vec<serde_json::Value> = ctx
        .store
        .run("SELECT record::id(id) AS id, username FROM user", json!({}))
        .await?
        .rows(0)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some((
                r["id"].as_str()?.to_string(),
                r["username"].as_str()?.to_string(),
            ))
        })
        .collect())
}

async fn stream(
    ctx: &Ctx,
    actor: &Actor,
    selection: &Selection,
    usernames: &HashMap<String, String>,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> DomainResult<()> {
    let csv_err = |e: csv::Error| DomainError::Internal(e.to_string());
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS).map_err(csv_err)?;
    let header = writer
        .into_inner()
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    if tx.send(Ok(Bytes::from(header))).await.is_err() {
        return Ok(());
    }
    match selection {
        Selection::Filter(filter) => {
            let mut page = PageRequest {
                sort: SortKey::Created,
                descending: false,
                after: None,
                limit: PAGE,
            };
            loop {
                let result = query::list(ctx, actor, filter, &page).await?;
                if !send_page(ctx, &result.items, usernames, tx).await? {
                    return Ok(()); // the client went away
                }
                match result.next_cursor {
                    Some(cursor) => page.after = Some(cursor),
                    None => break,
                }
            }
        }
        Selection::Ids(ids) => {
            let scope = Scope::of(actor)?;
            for chunk in ids.chunks(PAGE) {
                let found = leads::find_many(ctx, chunk).await?;
                let visible: Vec<Lead> = chunk
                    .iter()
                    .filter_map(|id| found.get(id))
                    .filter(|l| l.deleted_at.is_none() && scope.allows(l))
                    .cloned()
                    .collect();
                if !send_page(ctx, &visible, usernames, tx).await? {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Writes one page of leads (a row per contact) as a chunk; false when the
/// client went away.
async fn send_page(
    ctx: &Ctx,
    items: &[Lead],
    usernames: &HashMap<String, String>,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> DomainResult<bool> {
    let csv_err = |e: csv::Error| DomainError::Internal(e.to_string());
    let ids: Vec<&str> = items.iter().map(|l| l.id.as_str()).collect();
    let contacts: Vec<Contact> = crate::store::lookups::rows_for_all(
        &ctx.store,
        "SELECT *, record::id(id) AS id FROM contact WHERE lead IN $list ORDER BY created_at, id",
        &ids,
    )
    .await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    for lead in items {
        let mine: Vec<&Contact> = contacts.iter().filter(|c| c.lead == lead.id).collect();
        if mine.is_empty() {
            writer
                .write_record(row(lead, None, usernames))
                .map_err(csv_err)?;
        }
        for contact in mine {
            writer
                .write_record(row(lead, Some(contact), usernames))
                .map_err(csv_err)?;
        }
    }
    let chunk = writer
        .into_inner()
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    Ok(tx.send(Ok(Bytes::from(chunk))).await.is_ok())
}

/// What a spreadsheet takes as the start of a formula (or, for tab and
/// CR, as a cell separator in front of one).
const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell a spreadsheet shows as text: one that would start a formula (a
/// company called `=HYPERLINK(…)`, but also a `+49…` phone number) gets a
/// leading apostrophe, which spreadsheets take as "this is text".
pub fn defuse_formula(cell: String) -> String {
    if cell.starts_with(FORMULA_LEADS) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The cell `defuse_formula` was given: the import reads it back this way,
/// so an export re-imports to the same data.
pub fn undo_defuse_formula(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_LEADS) => rest,
        _ => cell,
    }
}

fn row(lead: &Lead, contact: Option<&Contact>, usernames: &HashMap<String, String>) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let owner = lead
        .owner
        .as_ref()
        .and_then(|o| usernames.get(o))
        .cloned()
        .unwrap_or_default();
    vec![
        lead.company_name.clone(),
        text(&lead.website),
        text(&lead.industry),
        lead.status.clone(),
        text(&lead.country),
        text(&lead.state),
        text(&lead.timezone),
        owner,
        text(&lead.source),
        lead.tags.join(";"),
        contact.map(|c| c.name.clone()).unwrap_or_default(),
        contact.and_then(|c| c.position.clone()).unwrap_or_default(),
        contact.and_then(|c| c.email.clone()).unwrap_or_default(),
        contact.and_then(|c| c.phone.clone()).unwrap_or_default(),
        contact.and_then(|c| c.linkedin.clone()).unwrap_or_default(),
    ]
    .into_iter()
    .map(defuse_formula)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_start_a_formula_get_an_apostrophe_and_come_back_unchanged() {
        for cell in [
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+4930901820",
            "-1+1",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            let defused = defuse_formula(cell.to_string());
            assert_eq!(defused, format!("'{cell}"));
            assert_eq!(undo_defuse_formula(&defused), cell);
        }
        for cell in ["Acme", "'quoted", "", "a=b"] {
            assert_eq!(defuse_formula(cell.to_string()), cell);
            assert_eq!(undo_defuse_formula(cell), cell);
        }
    }
}
