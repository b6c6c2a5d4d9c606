//! The new records of an import batch written as one `INSERT` per table
//! (leads, contacts, audit rows) instead of statements per record: a
//! batch's cost was its statement count (#14). Each record is stored as the
//! single-record helpers store it (`leads::push_create`,
//! `contacts::push_insert`, `audit::record_about`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::contacts::{self, Contact};
use super::leads::{self, PreparedLead};
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::store::Transaction;

/// The rows of one `INSERT`, bound as `$var` when the batch is finished.
struct Rows {
    var: String,
    rows: Vec<Value>,
}

impl Rows {
    fn start(tx: &mut Transaction, name: &str, statement: fn(&str) -> String) -> Rows {
        let var = format!("{name}_{}", tx.next_serial());
        tx.push(statement(&var));
        Rows {
            var,
            rows: Vec::new(),
        }
    }

    fn finish(self, tx: &mut Transaction) {
        tx.bind(&self.var, self.rows);
    }
}

/// A batch's inserts, gathered while its rows are worked through.
pub(crate) struct BatchInsert {
    leads: Rows,
    contacts: Rows,
    audit: Rows,
}

impl BatchInsert {
    /// Puts the inserts into `tx` here, ahead of what the batch writes
    /// after: a lead created by one row and updated by a later row of the
    /// batch must exist before its update. `finish` binds their rows.
    pub(crate) fn start(tx: &mut Transaction) -> BatchInsert {
        BatchInsert {
            leads: Rows::start(tx, "new_leads", leads::insert_statement),
            contacts: Rows::start(tx, "new_contacts", contacts::insert_statement),
            audit: Rows::start(tx, "new_audit", audit::insert_statement),
        }
    }

    /// A new lead with its contacts and their audit rows, as
    /// `leads::push_create` writes them; returns the contacts.
    pub(crate) fn create_lead(&mut self, actor: &Actor, prepared: &PreparedLead) -> Vec<Contact> {
        let lead = &prepared.lead;
        let contacts = prepared.new_contacts();
        self.leads
            .rows
            .push(leads::stored_row(lead, &contacts::search_names(&contacts)));
        self.audit_about(
            actor,
            Some(&lead.id),
            "lead",
            &lead.id,
            "create",
            &audit::created(&leads::audited(lead)),
            lead.created_at,
        );
        for contact in &contacts {
            self.add_contact(actor, contact);
        }
        contacts
    }

    /// A new contact and its audit row, as `contacts::push_insert` writes
    /// them.
    pub(crate) fn add_contact(&mut self, actor: &Actor, contact: &Contact) {
        self.contacts
            .rows
            .push(serde_json::to_value(contact).unwrap_or(Value::Null));
        self.audit_about(
            actor,
            Some(&contact.lead),
            "contact",
            &contact.id,
            "create",
            &audit::created(&contacts::audited(contact)),
            contact.created_at,
        );
    }

    /// Audit rows as `audit::record_about` writes them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn audit_about(
        &mut self,
        actor: &Actor,
        subject: Option<&str>,
        entity: &str,
        entity_id: &str,
        action: &str,
        changes: &[FieldChange],
        at: DateTime<Utc>,
    ) {
        self.audit.rows.extend(audit::rows_about(
            actor, subject, entity, entity_id, action, changes, at,
        ));
    }

    pub(crate) fn finish(self, tx: &mut Transaction) {
        self.leads.finish(tx);
        self.contacts.finish(tx);
        self.audit.finish(tx);
    }
}
