//! The CRM core: leads and their contacts, the three follow-up tiers,
//! calls, free-standing notes, the pipeline, settings, import and export,
//! the trash and the erasure of a contact's personal data.

mod batch_insert;
pub mod bulk;
pub mod calls;
pub mod contacts;
pub mod duplicates;
pub mod erasure;
pub mod export;
pub mod followups;
pub mod import;
pub mod import_jobs;
pub mod import_rows;
mod lead_version;
pub mod leads;
pub mod normalize;
pub mod notes;
pub(crate) mod outgoing;
pub mod pipeline;
pub mod query;
pub mod settings;
pub mod timeline;
pub mod trash;
pub mod xlsx_guard;
