//! `ea-crm backup FILE` and `ea-crm restore FILE`: the whole database (a
//! SurrealQL export: schema, migration records and every row) and the
//! uploaded files, in one tar archive.
//!
//! The embedded store is locked by the running service, so the commands run
//! while it is stopped. A restore goes only into an empty database, so it
//! can never mix two histories.

pub mod schedule;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::json;

use crate::config::Config;
use crate::store::Store;

const DATABASE_ENTRY: &str = "database.surql";
const UPLOADS_ENTRY: &str = "uploads";

#[derive(Debug)]
pub struct BackupSummary {
    pub database_bytes: u64,
    pub files: usize,
}

/// Writes the archive to `dest` (through a temporary file, renamed at the
/// end, so a failed backup never leaves a half-written archive behind).
pub async fn backup(config: &Config, store: &Store, dest: &Path) -> anyhow::Result<BackupSummary> {
    let work = scratch_dir(dest)?;
    let dump = work.join(DATABASE_ENTRY);
    store
        .raw()
        .export(&dump)
        .await
        .context("exporting the database")?;
    let database_bytes = std::fs::metadata(&dump)?.len();
    let partial = dest.with_extension("partial");
    let uploads = config.upload_dir.clone();
    let files = {
        let (dump, partial) = (dump.clone(), partial.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let mut archive = tar::Builder::new(std::fs::File::create(&partial)?);
            archive.append_path_with_name(&dump, DATABASE_ENTRY)?;
            let mut files = 0;
            for path in upload_files(&uploads)? {
                let relative = path.strip_prefix(&uploads)?;
                archive.append_path_with_name(&path, Path::new(UPLOADS_ENTRY).join(relative))?;
                files += 1;
            }
            archive.into_inner()?.sync_all()?;
            Ok(files)
        })
        .await??
    };
    std::fs::rename(&partial, dest)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(BackupSummary {
        database_bytes,
        files,
    })
}

/// Restores an archive into an empty database and the upload folder.
pub async fn restore(config: &Config, store: &Store, src: &Path) -> anyhow::Result<BackupSummary> {
    anyhow::ensure!(
        database_is_empty(store).await?,
        "the database is not empty; restore needs an empty one"
    );
    let work = scratch_dir(src)?;
    let (archive, into, uploads) = (src.to_path_buf(), work.clone(), config.upload_dir.clone());
    let files = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut archive =
            tar::Archive::new(std::fs::File::open(&archive).context("opening the archive")?);
        let mut files = 0;
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.into_owned();
            // Only the two known parts, and nothing that climbs out of them.
            if path
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                anyhow::bail!("the archive holds an unsafe path");
            }
            if path == Path::new(DATABASE_ENTRY) {
                entry.unpack(into.join(DATABASE_ENTRY))?;
            } else if let Ok(relative) = path.strip_prefix(UPLOADS_ENTRY) {
                let target = uploads.join(relative);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                entry.unpack(&target)?;
                files += 1;
            }
        }
        Ok(files)
    })
    .await??;
    let dump = work.join(DATABASE_ENTRY);
    anyhow::ensure!(dump.exists(), "the archive holds no database");
    let database_bytes = std::fs::metadata(&dump)?.len();
    store
        .raw()
        .import(&dump)
        .await
        .context("importing the database")?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(BackupSummary {
        database_bytes,
        files,
    })
}

/// Whether the database holds no table at all.
pub async fn database_is_empty(store: &Store) -> anyhow::Result<bool> {
    let info = store.run("INFO FOR DB", json!({})).await?;
    Ok(info.value(0)["tables"]
        .as_object()
        .is_none_or(|t| t.is_empty()))
}

fn upload_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !root.exists() {
        return Ok(out);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            // Spooled imports and write probes are not data.
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn scratch_dir(near: &Path) -> anyhow::Result<PathBuf> {
    let parent = near
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = parent.join(format!(".ea-crm-backup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
