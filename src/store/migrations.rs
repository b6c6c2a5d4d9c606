//! Versioned schema migrations, applied in order at start.
//!
//! Each migration runs in one transaction together with the row that records
//! it, so a crash mid-way leaves nothing half-applied, and two instances that
//! start at once cannot both apply the same version (the record's key is the
//! version: the second insert conflicts and its transaction rolls back).

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

/// One schema step: its number, its name and its SurrealQL.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. Append only: a shipped migration is never
/// edited, because databases out there recorded its checksum.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "identity",
        sql: include_str!("migrations/0001_identity.surql"),
    },
    Migration {
        version: 2,
        name: "crm",
        sql: include_str!("migrations/0002_crm.surql"),
    },
    Migration {
        version: 3,
        name: "chat",
        sql: include_str!("migrations/0003_chat.surql"),
    },
    Migration {
        version: 4,
        name: "webhooks",
        sql: include_str!("migrations/0004_webhooks.surql"),
    },
    Migration {
        version: 5,
        name: "ai",
        sql: include_str!("migrations/0005_ai.surql"),
    },
    Migration {
        version: 6,
        name: "tasks",
        sql: include_str!("migrations/0006_tasks.surql"),
    },
    Migration {
        version: 7,
        name: "bots",
        sql: include_str!("migrations/0007_bots.surql"),
    },
    Migration {
        version: 8,
        name: "bridged_messages",
        sql: include_str!("migrations/0008_bridged_messages.surql"),
    },
    Migration {
        version: 9,
        name: "task_files_first_contact_fit",
        sql: include_str!("migrations/0009_task_files_first_contact_fit.surql"),
    },
    Migration {
        version: 10,
        name: "backups",
        sql: include_str!("migrations/0010_backups.surql"),
    },
    Migration {
        version: 11,
        name: "lead_live_sort",
        sql: include_str!("migrations/0011_lead_live_sort.surql"),
    },
    Migration {
        version: 12,
        name: "presence",
        sql: include_str!("migrations/0012_presence.surql"),
    },
    Migration {
        version: 13,
        name: "typing",
        sql: include_str!("migrations/0013_typing.surql"),
    },
    Migration {
        version: 14,
        name: "socket_tickets",
        sql: include_str!("migrations/0014_socket_tickets.surql"),
    },
    Migration {
        version: 15,
        name: "second_factor",
        sql: include_str!("migrations/0015_second_factor.surql"),
    },
    Migration {
        version: 16,
        name: "lead_notes",
        sql: include_str!("migrations/0016_lead_notes.surql"),
    },
    Migration {
        version: 17,
        name: "last_login",
        sql: include_str!("migrations/0017_last_login.surql"),
    },
    Migration {
        version: 18,
        name: "caller_lead_rights",
        sql: include_str!("migrations/0018_caller_lead_rights.surql"),
    },
    Migration {
        version: 19,
        name: "notifications",
        sql: include_str!("migrations/0019_notifications.surql"),
    },
    Migration {
        version: 20,
        name: "idempotency_keys",
        sql: include_str!("migrations/0020_idempotency_keys.surql"),
    },
    Migration {
        version: 21,
        name: "feature_switches",
        sql: include_str!("migrations/0021_feature_switches.surql"),
    },
    Migration {
        version: 22,
        name: "trash_and_erasure",
        sql: include_str!("migrations/0022_trash_and_erasure.surql"),
    },
    Migration {
        version: 23,
        name: "bot_outbox",
        sql: include_str!("migrations/0023_bot_outbox.surql"),
    },
    Migration {
        version: 24,
        name: "room_read_markers",
        sql: include_str!("migrations/0024_room_read_markers.surql"),
    },
    Migration {
        version: 25,
        name: "import_jobs",
        sql: include_str!("migrations/0025_import_jobs.surql"),
    },
    Migration {
        version: 26,
        name: "lead_count",
        sql: include_str!("migrations/0026_lead_count.surql"),
    },
    Migration {
        version: 27,
        name: "list_cursors",
        sql: include_str!("migrations/0027_list_cursors.surql"),
    },
    Migration {
        version: 28,
        name: "search_query_analyzer",
        sql: include_str!("migrations/0028_search_query_analyzer.surql"),
    },
    Migration {
        version: 29,
        name: "dedup_name_keys",
        sql: include_str!("migrations/0029_dedup_name_keys.surql"),
    },
    Migration {
        version: 30,
        name: "lead_day_rollups",
        sql: include_str!("migrations/0030_lead_day_rollups.surql"),
    },
    Migration {
        version: 31,
        name: "task_and_follow_up_rollups",
        sql: include_str!("migrations/0031_task_and_follow_up_rollups.surql"),
    },
    Migration {
        version: 32,
        name: "response_rollups",
        sql: include_str!("migrations/0032_response_rollups.surql"),
    },
    Migration {
        version: 33,
        name: "message_rollups",
        sql: include_str!("migrations/0033_message_rollups.surql"),
    },
    Migration {
        version: 34,
        name: "workload_rollups",
        sql: include_str!("migrations/0034_workload_rollups.surql"),
    },
    Migration {
        version: 35,
        name: "lead_month_rollups",
        sql: include_str!("migrations/0035_lead_month_rollups.surql"),
    },
];

#[derive(Debug, Deserialize)]
pub struct AppliedMigration {
    pub version: u32,
    pub name: String,
    pub checksum: String,
}

/// Applies every migration not yet recorded; returns how many it applied.
pub async fn migrate(store: &Store) -> Result<usize, StoreError> {
    migrate_up_to(store, u32::MAX).await
}

/// Applies the migrations not yet recorded up to version `last`: a
/// database as an older release left it, for testing what a later
/// migration does to its data.
pub async fn migrate_up_to(store: &Store, last: u32) -> Result<usize, StoreError> {
    store
        .run(
            "DEFINE TABLE IF NOT EXISTS migration SCHEMAFULL;
             DEFINE FIELD IF NOT EXISTS version ON migration TYPE int;
             DEFINE FIELD IF NOT EXISTS name ON migration TYPE string;
             DEFINE FIELD IF NOT EXISTS checksum ON migration TYPE string;
             DEFINE FIELD IF NOT EXISTS applied_at ON migration TYPE datetime;",
            json!({}),
        )
        .await?;
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version <= last) {
        let done = applied_versions(store).await?;
        if let Some(previous) = done.iter().find(|m| m.version == migration.version) {
            if previous.checksum != checksum(migration.sql) {
                tracing::warn!(
                    version = migration.version,
                    "migration {} changed since it was applied; the database keeps the old one",
                    migration.name
                );
            }
            continue;
        }
        let sql = format!(
            "BEGIN TRANSACTION;\n{}\nCREATE type::record('migration', $version) SET version = $version, name = $name, checksum = $checksum, applied_at = time::now();\nCOMMIT TRANSACTION;",
            migration.sql
        );
        let outcome = store
            .run(
                &sql,
                json!({"version": migration.version, "name": migration.name, "checksum": checksum(migration.sql)}),
            )
            .await;
        match outcome {
            Ok(_) => {
                tracing::info!(
                    version = migration.version,
                    name = migration.name,
                    "migration applied"
                );
                applied += 1;
            }
            // Another instance applied it first: its transaction won.
            Err(StoreError::Duplicate(_)) | Err(StoreError::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(applied)
}

/// The migrations the database has recorded, oldest first.
pub async fn applied_versions(store: &Store) -> Result<Vec<AppliedMigration>, StoreError> {
    store
        .run(
            "SELECT version, name, checksum FROM migration ORDER BY version",
            json!({}),
        )
        .await?
        .rows(0)
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}
