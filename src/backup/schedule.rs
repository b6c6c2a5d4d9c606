//! Scheduled backups: time is cut into BACKUP_INTERVAL slots; in each slot
//! one instance writes the archive `ea-crm backup` writes into BACKUP_DIR,
//! named by the slot, then deletes the oldest beyond BACKUP_KEEP.
//!
//! An instance claims a slot by creating its `backup_slot` record, whose key
//! is the slot: of several instances on one database only the first create
//! succeeds, so a slot is backed up once. A slot whose instance died while
//! writing stays without a backup; the next slot makes one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use crate::config::Config;
use crate::domain::clock::db_time;
use crate::domain::Ctx;
use crate::store::{Store, StoreError};

const PREFIX: &str = "ea-crm-";
const SUFFIX: &str = ".tar";

/// Where, how often and how many.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub dir: PathBuf,
    pub interval: Duration,
    pub keep: usize,
    pub poll: Duration,
}

impl Schedule {
    /// The schedule BACKUP_DIR asks for; none without it.
    pub fn from_config(config: &Config) -> Option<Schedule> {
        Some(Schedule {
            dir: config.backup_dir.clone()?,
            interval: config.backup_interval,
            keep: config.backup_keep.max(1),
            poll: Duration::from_millis(config.backup_poll_ms),
        })
    }
}

/// What happened to a slot on this instance.
#[derive(Debug, PartialEq, Eq)]
pub enum SlotOutcome {
    /// This instance wrote the archive.
    Made(PathBuf),
    /// Another instance (or an earlier run of this one) has the slot.
    Taken,
}

/// The scheduler task: checks every `poll` whether the current slot has a
/// backup yet. Errors are logged; a slot that failed is not tried again.
pub async fn run(ctx: Arc<Ctx>, config: Arc<Config>, schedule: Schedule) {
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let mut ticks = tokio::time::interval(schedule.poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut handled = None;
    loop {
        ticks.tick().await;
        let slot = slot_start(ctx.now(), schedule.interval);
        if handled == Some(slot) {
            continue;
        }
        match back_up_slot(&ctx, &config, &schedule, slot, &instance).await {
            Ok(SlotOutcome::Made(file)) => {
                handled = Some(slot);
                tracing::info!(file = %file.display(), "scheduled backup written");
            }
            Ok(SlotOutcome::Taken) => handled = Some(slot),
            // Not claimed: the database could not be reached; try again.
            Err(SlotError::Claim(e)) => {
                tracing::warn!(error = %e, "cannot claim the backup slot; retrying")
            }
            Err(SlotError::Backup(e)) => {
                handled = Some(slot);
                tracing::error!(error = %format!("{e:#}"), "scheduled backup failed");
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("claiming the slot: {0}")]
    Claim(StoreError),
    #[error("writing the backup: {0:#}")]
    Backup(anyhow::Error),
}

/// Claims `slot` and, when this instance got it, writes its archive,
/// records the outcome and prunes old archives.
pub async fn back_up_slot(
    ctx: &Ctx,
    config: &Config,
    schedule: &Schedule,
    slot: DateTime<Utc>,
    instance: &str,
) -> Result<SlotOutcome, SlotError> {
    if !claim(&ctx.store, slot, instance, ctx.now())
        .await
        .map_err(SlotError::Claim)?
    {
        return Ok(SlotOutcome::Taken);
    }
    let file = schedule.dir.join(file_name(slot));
    let written = super::backup(config, &ctx.store, &file).await;
    let (path, error) = match &written {
        Ok(_) => (Some(file.display().to_string()), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let recorded = ctx
        .store
        .run(
            "UPDATE type::record('backup_slot', $slot) SET finished_at = <datetime>$now,
                file = $file, error = $error RETURN NONE",
            json!({"slot": slot_key(slot), "now": db_time(ctx.now()), "file": path, "error": error}),
        )
        .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "cannot record the backup's outcome");
    }
    written.map_err(SlotError::Backup)?;
    match prune(&schedule.dir, schedule.keep) {
        Ok(removed) if !removed.is_empty() => {
            tracing::info!(removed = removed.len(), "old scheduled backups deleted")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot delete old scheduled backups"),
    }
    Ok(SlotOutcome::Made(file))
}

/// Creates the slot's record; `false` when it already exists.
async fn claim(
    store: &Store,
    slot: DateTime<Utc>,
    instance: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let created = store
        .run(
            "CREATE type::record('backup_slot', $slot) SET instance = $instance,
                claimed_at = <datetime>$now RETURN NONE",
            json!({"slot": slot_key(slot), "instance": instance, "now": db_time(now)}),
        )
        .await;
    match created {
        Ok(_) => Ok(true),
        // Another instance created it first (or committed alongside us).
        Err(StoreError::Duplicate(_)) | Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The start of the slot `now` falls in: slots are whole multiples of the
/// interval since the Unix epoch, the same on every instance.
pub fn slot_start(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let every = interval.as_secs().max(1) as i64;
    let start = now.timestamp().div_euclid(every) * every;
    Utc.timestamp_opt(start, 0).single().unwrap_or(now)
}

fn slot_key(slot: DateTime<Utc>) -> String {
    slot.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `ea-crm-20261125T180000Z.tar`: names sort in time order.
pub fn file_name(slot: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", slot_key(slot))
}

/// The scheduled archives in `dir`, oldest first.
pub fn archives(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) && entry.file_type()?.is_file() {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// Deletes the oldest archives beyond `keep`; returns what it deleted.
/// Only files named like scheduled backups are touched.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let found = archives(dir)?;
    let excess = found.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for path in found.into_iter().take(excess) {
        std::fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_whole_intervals_since_the_epoch() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 17, 42, 10).unwrap();
        let hourly = slot_start(at, Duration::from_secs(3600));
        assert_eq!(
            hourly,
            Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap()
        );
        let six_hourly = slot_start(at, Duration::from_secs(6 * 3600));
        assert_eq!(
            six_hourly,
            Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
        );
        assert_eq!(file_name(hourly), "ea-crm-20261125T170000Z.tar");
    }

    #[test]
    fn pruning_keeps_the_newest_and_touches_nothing_else() {
        let dir = std::env::temp_dir().join(format!("ea-crm-prune-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        for hour in 10..15 {
            let slot = Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0).unwrap();
            std::fs::write(dir.join(file_name(slot)), b"x").unwrap();
        }
        std::fs::write(dir.join("my-own-backup.tar"), b"x").unwrap();
        std::fs::write(dir.join("ea-crm-20261125T150000Z.partial"), b"x").unwrap();
        let removed = prune(&dir, 2).unwrap();
        assert_eq!(removed.len(), 3);
        let left: Vec<String> = archives(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            ["ea-crm-20261125T130000Z.tar", "ea-crm-20261125T140000Z.tar"]
        );
        assert!(dir.join("my-own-backup.tar").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
