//! CSV import of leads and contacts: header auto-mapping, a dry run, a
//! per-row error report while good rows go in, a duplicate policy, batched
//! transactions, progress on the event bus. The file is read as a stream,
//! a batch at a time, so a 100,000-row file never sits in memory whole;
//! re-running the same file changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

use super::batch_insert::BatchInsert;
use super::contacts::{self, Contact};
use super::import_rows::{self, guess_fields, Line, ParsedRow, RowFields};
use super::leads::{self, Lead, LeadDraft, LeadLookups, LeadPatch, Scope};
use super::normalize::{company_key, parse_website};
use super::outgoing::Outgoing;
use super::{pipeline, settings};
use crate::domain::actor::Actor;
use crate::domain::audit;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event};
use crate::domain::features::{self, Feature};
use crate::domain::geo;
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::lookups::ChunkedLookup;
use crate::store::Transaction;

pub use super::import_rows::{map_headers, FIELDS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// Leave the existing lead alone.
    #[default]
    Skip,
    /// Fill the existing lead with the row's non-empty values and add a new contact.
    Update,
    /// Create another lead anyway.
    Create,
}

impl std::str::FromStr for DuplicatePolicy {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "skip" => Ok(DuplicatePolicy::Skip),
            "update" => Ok(DuplicatePolicy::Update),
            "create" => Ok(DuplicatePolicy::Create),
            _ => Err(DomainError::invalid("policy", "use skip, update or create")),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub dry_run: bool,
    pub policy: DuplicatePolicy,
    /// Header -> field, for columns the auto-mapping gets wrong.
    pub mapping: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub row: usize,
    pub column: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportReport {
    pub dry_run: bool,
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub failed: usize,
    pub contacts_added: usize,
    /// The column each field was read from.
    pub mapping: BTreeMap<String, String>,
    /// Per-row problems; the first 1,000 are kept.
    pub errors: Vec<RowError>,
    /// Countries and states the file gave by name rather than by code, and
    /// the code each was read as: one entry per spelling, the first 1,000.
    pub names_read: Vec<NameRead>,
    /// Where each (field, spelling) is in `names_read`.
    #[serde(skip)]
    names_seen: HashMap<(String, String), usize>,
}

impl ImportReport {
    /// A report read back from where a job stored it, ready to go on.
    pub(crate) fn resumed(mut self) -> Self {
        self.names_seen = self
            .names_read
            .iter()
            .enumerate()
            .map(|(i, n)| ((n.field.clone(), n.typed.clone()), i))
            .collect();
        self
    }
}

/// A country or state name in the file and the ISO code it was read as,
/// e.g. country "Germany" read as DE.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NameRead {
    /// `country` or `state`.
    pub field: String,
    /// The column it was read from.
    pub column: Option<String>,
    /// As written in the file.
    pub typed: String,
    pub read_as: String,
    /// The first row (line) with this spelling.
    pub first_row: usize,
    /// How many rows had it.
    pub rows: usize,
}

const MAX_REPORTED_ERRORS: usize = 1000;
const MAX_REPORTED_NAMES: usize = 1000;
const BATCH_ROWS: usize = 250;

/// Lookups answered from memory for the whole file.
struct CachedLookups {
    statuses: Vec<String>,
    /// id and lower-case username of each active user.
    users: Vec<(String, String)>,
    rule: settings::AssignmentRule,
    round_robin: Vec<String>,
    turn: AtomicUsize,
}

impl CachedLookups {
    async fn load(ctx: &Ctx) -> DomainResult<Self> {
        let statuses = pipeline::list_all(ctx)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        let rows: Vec<serde_json::Value> = ctx
            .store
            .run("SELECT record::id(id) AS id, username, role FROM user WHERE active = true ORDER BY username", json!({}))
            .await?
            .rows(0)?;
        let rule = settings::assignment_rule(ctx).await?;
        let users: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or_default().to_string(),
                    r["username"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let round_robin = match (&rule.mode, &rule.role) {
            (settings::AssignmentMode::RoundRobin, Some(role)) => rows
                .iter()
                .filter(|r| r["role"].as_str() == Some(role))
                .map(|r| r["id"].as_str().unwrap_or_default().to_string())
                .collect(),
            _ => Vec::new(),
        };
        Ok(CachedLookups {
            statuses,
            users,
            rule,
            round_robin,
            turn: AtomicUsize::new(0),
        })
    }
}

impl LeadLookups for CachedLookups {
    async fn status(&self, raw: &str) -> DomainResult<String> {
        let key = raw.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        self.statuses
            .iter()
            .find(|s| **s == key)
            .cloned()
            .ok_or_else(|| {
                DomainError::invalid("status", format!("no pipeline status `{}`", raw.trim()))
            })
    }

    async fn user(&self, raw: &str, field: &'static str) -> DomainResult<String> {
        let raw = raw.trim().trim_start_matches('@').to_lowercase();
        self.users
            .iter()
            .find(|(id, name)| *id == raw || *name == raw)
            .map(|(id, _)| id.clone())
            .ok_or_else(|| DomainError::invalid(field, format!("no active user `{raw}`")))
    }

    async fn default_owner(&self, actor: &Actor, country: Option<&str>) -> DomainResult<String> {
        Ok(match self.rule.mode {
            settings::AssignmentMode::Manual => actor.user_id.clone(),
            settings::AssignmentMode::Territory => country
                .and_then(|c| self.rule.territories.get(c))
                .cloned()
                .unwrap_or_else(|| actor.user_id.clone()),
            settings::AssignmentMode::RoundRobin if !self.round_robin.is_empty() => {
                let turn = self.turn.fetch_add(1, Ordering::Relaxed);
                self.round_robin[turn % self.round_robin.len()].clone()
            }
            settings::AssignmentMode::RoundRobin => actor.user_id.clone(),
        })
    }
}

/// Where leads met earlier in this import (or already stored) are, by each
/// key duplicates are matched on.
#[derive(Default)]
struct KnownLeads {
    by_domain: HashMap<String, String>,
    by_company: HashMap<String, String>,
    by_email: HashMap<String, String>,
}

impl KnownLeads {
    fn find(&self, domain: Option<&str>, company: &str, email: Option<&str>) -> Option<String> {
        domain
            .and_then(|d| self.by_domain.get(d))
            .or_else(|| self.by_company.get(company))
            .or_else(|| email.and_then(|e| self.by_email.get(e)))
            .cloned()
    }

    fn remember(&mut self, id: &str, domain: Option<&str>, company: &str, email: Option<&str>) {
        if let Some(d) = domain {
            self.by_domain
                .entry(d.to_string())
                .or_insert_with(|| id.to_string());
        }
        self.by_company
            .entry(company.to_string())
            .or_insert_with(|| id.to_string());
        if let Some(e) = email {
            self.by_email
                .entry(e.to_string())
                .or_insert_with(|| id.to_string());
        }
    }
}

/// The channels a file reader feeds: its header, then its data lines.
struct FileReader {
    header: tokio::sync::oneshot::Receiver<Result<Vec<String>, String>>,
    lines: mpsc::Receiver<Line>,
    task: tokio::task::JoinHandle<()>,
}

fn csv_reader(input: impl AsyncRead + Unpin + Send + 'static) -> FileReader {
    let (header_tx, header_rx) = tokio::sync::oneshot::channel::<Result<Vec<String>, String>>();
    let (line_tx, line_rx) = mpsc::channel::<Line>(BATCH_ROWS * 2);
    let task = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new(input);
        let (headers, lines) = match import_rows::read_csv(bridge) {
            Ok(read) => read,
            Err(reason) => {
                let _ = header_tx.send(Err(reason));
                return;
            }
        };
        let _ = header_tx.send(Ok(headers));
        for line in lines {
            if line_tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    FileReader {
        header: header_rx,
        lines: line_rx,
        task,
    }
}

fn xlsx_reader(path: std::path::PathBuf) -> FileReader {
    let (header_tx, header_rx) = tokio::sync::oneshot::channel::<Result<Vec<String>, String>>();
    let (line_tx, line_rx) = mpsc::channel::<Line>(BATCH_ROWS * 2);
    let task = tokio::task::spawn_blocking(move || read_xlsx(&path, header_tx, line_tx));
    FileReader {
        header: header_rx,
        lines: line_rx,
        task,
    }
}

/// Reads CSV from `input` and imports it.
pub async fn import_csv(
    ctx: &Ctx,
    actor: &Actor,
    input: impl AsyncRead + Unpin + Send + 'static,
    options: ImportOptions,
) -> DomainResult<ImportReport> {
    require_import(ctx, actor)?;
    run_import(ctx, actor, csv_reader(input), options, BATCH_ROWS, None).await
}

/// Imports the first sheet of the XLSX file at `path`, read cell by cell
/// (calamine's streaming reader) so a large sheet is never held whole.
pub async fn import_xlsx(
    ctx: &Ctx,
    actor: &Actor,
    path: std::path::PathBuf,
    options: ImportOptions,
) -> DomainResult<ImportReport> {
    require_import(ctx, actor)?;
    run_import(ctx, actor, xlsx_reader(path), options, BATCH_ROWS, None).await
}

/// A spooled upload: CSV or the first sheet of an XLSX workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }

    pub fn parse(name: &str) -> Option<FileFormat> {
        match name {
            "csv" => Some(FileFormat::Csv),
            "xlsx" => Some(FileFormat::Xlsx),
            _ => None,
        }
    }
}

async fn file_reader(path: &std::path::Path, format: FileFormat) -> DomainResult<FileReader> {
    Ok(match format {
        FileFormat::Csv => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| DomainError::Internal(format!("cannot open a spooled import: {e}")))?;
            csv_reader(file)
        }
        FileFormat::Xlsx => xlsx_reader(path.to_path_buf()),
    })
}

/// Reads the header of a spooled file and checks `mapping` against it, so
/// a file or mapping that cannot be imported is refused before a job is
/// made for it.
pub async fn check_file(
    path: &std::path::Path,
    format: FileFormat,
    mapping: &BTreeMap<String, String>,
) -> DomainResult<()> {
    let reader = file_reader(path, format).await?;
    let headers = reader
        .header
        .await
        .map_err(|_| DomainError::invalid("file", "the file cannot be read"))?
        .map_err(|reason| DomainError::invalid("file", reason))?;
    drop(reader.lines);
    let _ = reader.task.await;
    map_headers(&headers, mapping)?;
    Ok(())
}

/// The data rows of a spooled file, read through once.
pub(crate) async fn count_rows(path: &std::path::Path, format: FileFormat) -> DomainResult<usize> {
    let mut reader = file_reader(path, format).await?;
    reader
        .header
        .await
        .map_err(|_| DomainError::invalid("file", "the file cannot be read"))?
        .map_err(|reason| DomainError::invalid("file", reason))?;
    let mut rows = 0;
    while reader.lines.recv().await.is_some() {
        rows += 1;
    }
    let _ = reader.task.await;
    Ok(rows)
}

/// What a batch did to a stored lead, kept by an import job for its undo.
#[derive(Debug, Clone)]
pub(crate) enum LeadChange {
    Created {
        lead: String,
        left_at: chrono::DateTime<chrono::Utc>,
    },
    Updated {
        before: Box<Lead>,
        left_at: chrono::DateTime<chrono::Utc>,
        contact: Option<String>,
    },
}

/// How an import job takes part in the import: where it starts, what it
/// writes with each batch (in the batch's transaction) and at the end.
pub(crate) trait JobHooks: Send {
    /// Data rows already imported by an earlier run, skipped now.
    fn skip_rows(&self) -> usize;
    /// The report as an earlier run left it.
    fn take_report(&mut self) -> Option<ImportReport>;
    /// Adds the job's progress (and what the batch changed) to the batch's
    /// transaction.
    fn push_batch(&mut self, tx: &mut Transaction, report: &ImportReport, changes: &[LeadChange]);
    /// After a batch committed; `false` stops the import here.
    fn committed(&mut self) -> bool;
    /// Adds the job's end to the last transaction.
    fn push_finish(&mut self, tx: &mut Transaction, report: &ImportReport);
    /// What `import.progress` says about the job.
    fn progress(&self) -> serde_json::Value;
}

/// Imports a spooled file as a job: from `hooks.skip_rows()` on, in
/// batches of `batch_rows`, the job's progress committed with each batch.
/// `None` when the hooks stopped it before the end.
pub(crate) async fn import_file(
    ctx: &Ctx,
    actor: &Actor,
    path: &std::path::Path,
    format: FileFormat,
    options: ImportOptions,
    batch_rows: usize,
    hooks: &mut dyn JobHooks,
) -> DomainResult<Option<ImportReport>> {
    require_import(ctx, actor)?;
    let reader = file_reader(path, format).await?;
    let mut stopped = false;
    let report = run_import(
        ctx,
        actor,
        reader,
        options,
        batch_rows,
        Some((hooks, &mut stopped)),
    )
    .await?;
    Ok((!stopped).then_some(report))
}

/// How many data rows a column preview shows.
const SAMPLE_ROWS: usize = 3;

/// A file's columns before importing: what the wizard shows so the user
/// can check and change the mapping.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnPreview {
    pub headers: Vec<String>,
    /// The field each column fills automatically (same order as `headers`).
    pub fields: Vec<Option<&'static str>>,
    /// The first few data rows, as text.
    pub samples: Vec<Vec<String>>,
}

/// The columns of a CSV file and their automatic mapping.
pub async fn preview_csv(
    ctx: &Ctx,
    actor: &Actor,
    input: impl AsyncRead + Unpin + Send + 'static,
) -> DomainResult<ColumnPreview> {
    require_import(ctx, actor)?;
    preview(csv_reader(input)).await
}

/// The columns of an XLSX workbook's first sheet and their automatic mapping.
pub async fn preview_xlsx(
    ctx: &Ctx,
    actor: &Actor,
    path: std::path::PathBuf,
) -> DomainResult<ColumnPreview> {
    require_import(ctx, actor)?;
    preview(xlsx_reader(path)).await
}

async fn preview(mut reader: FileReader) -> DomainResult<ColumnPreview> {
    let headers = reader
        .header
        .await
        .map_err(|_| DomainError::invalid("file", "the file cannot be read"))?
        .map_err(|reason| DomainError::invalid("file", reason))?;
    let mut samples = Vec::new();
    while samples.len() < SAMPLE_ROWS {
        match reader.lines.recv().await {
            Some(Line {
                cells: Ok(cells), ..
            }) => samples.push(cells),
            Some(_) => continue,
            None => break,
        }
    }
    // Dropping the receiver stops the reader at its next line.
    drop(reader.lines);
    let _ = reader.task.await;
    let guessed = guess_fields(&headers, &BTreeMap::new())?;
    let fields = (0..headers.len())
        .map(|i| guessed.get(&i).copied())
        .collect();
    Ok(ColumnPreview {
        headers,
        fields,
        samples,
    })
}

fn read_xlsx(
    path: &std::path::Path,
    header_tx: tokio::sync::oneshot::Sender<Result<Vec<String>, String>>,
    line_tx: mpsc::Sender<Line>,
) {
    use calamine::{Reader, Xlsx};
    let not_xlsx = || "the file is not an XLSX workbook".to_string();
    // calamine trusts a workbook's declared counts and sizes; check them first.
    let checked = std::fs::File::open(path)
        .map_err(|_| not_xlsx())
        .and_then(|file| {
            super::xlsx_guard::check(std::io::BufReader::new(file), &super::xlsx_guard::LIMITS)
        });
    if let Err(reason) = checked {
        let _ = header_tx.send(Err(reason));
        return;
    }
    let mut workbook: Xlsx<_> = match calamine::open_workbook(path) {
        Ok(w) => w,
        Err(_) => {
            let _ = header_tx.send(Err(not_xlsx()));
            return;
        }
    };
    let Some(sheet) = workbook.sheet_names().first().cloned() else {
        let _ = header_tx.send(Err("the workbook has no sheet".into()));
        return;
    };
    let mut cells = match workbook.worksheet_cells_reader(&sheet) {
        Ok(c) => c,
        Err(_) => {
            let _ = header_tx.send(Err(not_xlsx()));
            return;
        }
    };
    let mut header_tx = Some(header_tx);
    let mut current: Option<u32> = None;
    let mut row: Vec<String> = Vec::new();
    // Sends the finished row: the first one is the header.
    let mut flush = |number: u32, row: Vec<String>| -> bool {
        match header_tx.take() {
            Some(tx) => tx.send(Ok(row)).is_ok(),
            None => line_tx
                .blocking_send(Line {
                    number: number as usize + 1,
                    cells: Ok(row),
                })
                .is_ok(),
        }
    };
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(_) => {
                if let Some(tx) = header_tx.take() {
                    let _ = tx.send(Err(not_xlsx()));
                }
                return;
            }
        };
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(done) = current {
                if !flush(done, std::mem::take(&mut row)) {
                    return;
                }
            }
            current = Some(r);
        }
        let c = c as usize;
        if c > 1000 {
            continue;
        }
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = cell_text(cell.get_value());
    }
    if let Some(done) = current {
        flush(done, row);
    }
    if let Some(tx) = header_tx.take() {
        let _ = tx.send(Err("the sheet is empty".into()));
    }
}

/// A cell as the text a CSV would hold: whole numbers without ".0" (phone
/// numbers and postcodes are often typed as numbers).
fn cell_text(value: &calamine::DataRef<'_>) -> String {
    use calamine::{DataRef, DataType};
    match value {
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Empty | DataRef::Error(_) => String::new(),
        other => other.as_string().unwrap_or_default(),
    }
}

/// Whether the actor may import at all, and import is switched on: checked
/// by every import and preview, and by their callers before an upload is
/// read or spooled.
pub fn require_import(ctx: &Ctx, actor: &Actor) -> DomainResult<()> {
    actor.require(Permission::LeadsImport)?;
    actor.require(Permission::LeadsWrite)?;
    features::require(ctx, Feature::Import)
}

async fn run_import(
    ctx: &Ctx,
    actor: &Actor,
    file: FileReader,
    options: ImportOptions,
    batch_rows: usize,
    mut job: Option<(&mut dyn JobHooks, &mut bool)>,
) -> DomainResult<ImportReport> {
    let FileReader {
        header: header_rx,
        lines: mut line_rx,
        task: reader,
    } = file;
    let scope = Scope::of(actor)?;
    let headers = header_rx
        .await
        .map_err(|_| DomainError::invalid("file", "the file cannot be read"))?
        .map_err(|reason| DomainError::invalid("file", reason))?;
    let mapping = map_headers(&headers, &options.mapping)?;
    let mut report = ImportReport {
        dry_run: options.dry_run,
        mapping: mapping
            .iter()
            .map(|(i, f)| (f.to_string(), headers[*i].clone()))
            .collect(),
        ..Default::default()
    };
    let column_of = |field: &str| -> Option<String> {
        mapping
            .iter()
            .find(|(_, f)| **f == field)
            .map(|(i, _)| headers[*i].clone())
    };
    let mut skip = 0;
    if let Some((hooks, _)) = job.as_mut() {
        skip = hooks.skip_rows();
        if let Some(earlier) = hooks.take_report() {
            report = ImportReport {
                mapping: report.mapping,
                ..earlier.resumed()
            };
        }
    }
    let lookups = CachedLookups::load(ctx).await?;
    let mut known = KnownLeads::default();
    let batch_rows = batch_rows.max(1);
    let mut batch: Vec<Line> = Vec::with_capacity(batch_rows);
    loop {
        let next = line_rx.recv().await;
        let done = next.is_none();
        if let Some(line) = next {
            if skip > 0 {
                // Imported by an earlier run of this job.
                skip -= 1;
                continue;
            }
            batch.push(line);
        }
        if batch.len() >= batch_rows || (done && !batch.is_empty()) {
            let lines = std::mem::take(&mut batch);
            let (mut tx, writes, changes) = run_batch(
                ctx,
                actor,
                &scope,
                &options,
                &lookups,
                &mapping,
                &column_of,
                &mut known,
                lines,
                &mut report,
            )
            .await?;
            let mut progress = json!({"rows": report.rows, "created": report.created,
                "updated": report.updated, "skipped": report.skipped, "failed": report.failed,
                "dry_run": report.dry_run});
            match job.as_mut() {
                Some((hooks, stopped)) => {
                    hooks.push_batch(&mut tx, &report, &changes);
                    tx.commit(&ctx.store).await?;
                    if let (Value::Object(p), Value::Object(extra)) =
                        (&mut progress, hooks.progress())
                    {
                        p.extend(extra);
                    }
                    if !hooks.committed() {
                        **stopped = true;
                        drop(line_rx);
                        let _ = reader.await;
                        return Ok(report);
                    }
                }
                None if writes > 0 => {
                    tx.commit(&ctx.store).await?;
                }
                None => {}
            }
            ctx.events.publish(Event::new(
                "import.progress",
                Audience::Users(vec![actor.user_id.clone()]),
                progress,
            ));
        }
        if done {
            break;
        }
    }
    let _ = reader.await;
    let mut tx = Transaction::new();
    let mut out = Outgoing::new();
    if !options.dry_run {
        // Integrators hear of an import once, not once per row.
        out.add(Event::new(
            "import.completed",
            Audience::Users(vec![actor.user_id.clone()]),
            serde_json::to_value(&report).unwrap_or_default(),
        ));
    }
    if let Some((hooks, _)) = job.as_mut() {
        hooks.push_finish(&mut tx, &report);
    }
    out.commit(ctx, tx).await?;
    Ok(report)
}

/// What a row turned into.
enum Outcome {
    Create(Box<leads::PreparedLead>),
    Update {
        before: Box<Lead>,
        after: Box<Lead>,
        contact: Option<Contact>,
    },
    AddContact {
        lead: Box<Lead>,
        contact: Contact,
    },
    Unchanged,
    Skip,
}

#[allow(clippy::too_many_arguments)]
async fn run_batch(
    ctx: &Ctx,
    actor: &Actor,
    scope: &Scope,
    options: &ImportOptions,
    lookups: &CachedLookups,
    mapping: &BTreeMap<usize, &'static str>,
    column_of: &impl Fn(&str) -> Option<String>,
    known: &mut KnownLeads,
    lines: Vec<Line>,
    report: &mut ImportReport,
) -> DomainResult<(Transaction, usize, Vec<LeadChange>)> {
    let mut rows: Vec<(usize, RowFields, DomainResult<LeadDraft>)> =
        Vec::with_capacity(lines.len());
    for line in lines {
        report.rows += 1;
        match import_rows::parse_line(mapping, line) {
            ParsedRow::Read {
                number,
                fields,
                draft,
            } => rows.push((number, fields, draft)),
            ParsedRow::Unreadable { number, reason } => fail(report, number, None, reason),
        }
    }
    // Under `create` no row is matched against other leads, so neither the
    // stored ones nor those met earlier in the file are looked up.
    let matching = options.policy != DuplicatePolicy::Create;
    if matching {
        preload_existing(ctx, scope, rows.iter().map(|(_, fields, _)| fields), known).await?;
    }

    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(rows.len());
    for (number, row, draft) in rows {
        // Duplicates are matched on the raw row, so a row that only
        // repeats a known lead is skipped or merged even when it would not
        // pass as a new one.
        let domain = row
            .get("website")
            .and_then(|w| parse_website(&w).ok())
            .map(|(_, d)| d);
        let company = company_key(&row.get("company_name").unwrap_or_default());
        let email = row.get("contact_email").map(|e| e.to_lowercase());
        let existing = if matching {
            known.find(domain.as_deref(), &company, email.as_deref())
        } else {
            None
        };
        let outcome = match existing {
            None => match match draft {
                Ok(draft) => leads::prepare_draft(ctx, actor, draft, lookups).await,
                Err(e) => Err(e),
            } {
                Ok(prepared) => {
                    if matching {
                        let email = prepared.contacts.first().and_then(|c| c.email.clone());
                        known.remember(
                            &prepared.lead.id,
                            prepared.lead.domain.as_deref(),
                            &company,
                            email.as_deref(),
                        );
                    }
                    Outcome::Create(Box::new(prepared))
                }
                Err(e) => {
                    row_error(report, number, e, column_of);
                    continue;
                }
            },
            Some(_) if options.policy == DuplicatePolicy::Skip => Outcome::Skip,
            Some(id) => match merge(ctx, actor, scope, &id, &row, &outcomes).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    row_error(report, number, e, column_of);
                    continue;
                }
            },
        };
        note_names(report, number, &row, &outcome, column_of);
        outcomes.push((number, outcome));
    }

    let mut tx = Transaction::new();
    let mut writes = 0;
    let mut lead_changes: Vec<LeadChange> = Vec::new();
    // Contacts of leads written in this batch, for their search text.
    let mut batch_contacts: HashMap<String, Vec<(String, Option<String>)>> = HashMap::new();
    let writing = !options.dry_run
        && outcomes
            .iter()
            .any(|(_, o)| !matches!(o, Outcome::Unchanged | Outcome::Skip));
    // New leads, contacts and audit rows go in one statement per table;
    // only the writes of stored leads are statements of their own.
    let mut inserts = writing.then(|| BatchInsert::start(&mut tx));
    for (_, outcome) in &outcomes {
        match outcome {
            Outcome::Create(prepared) => {
                report.created += 1;
                report.contacts_added += prepared.contacts.len();
                if let Some(inserts) = inserts.as_mut() {
                    let created = inserts.create_lead(actor, prepared);
                    batch_contacts
                        .insert(prepared.lead.id.clone(), contacts::search_names(&created));
                    lead_changes.push(LeadChange::Created {
                        lead: prepared.lead.id.clone(),
                        left_at: prepared.lead.updated_at,
                    });
                    writes += 1;
                }
            }
            Outcome::Update {
                before,
                after,
                contact,
            } => {
                report.updated += 1;
                report.contacts_added += usize::from(contact.is_some());
                if let Some(inserts) = inserts.as_mut() {
                    let names =
                        search_names(ctx, &mut batch_contacts, &after.id, contact.as_ref()).await?;
                    leads::push_write(&mut tx, after, &names);
                    let changes = audit::diff(&leads::audited(before), &leads::audited(after), &[]);
                    inserts.audit_about(
                        actor,
                        Some(&after.id),
                        "lead",
                        &after.id,
                        "import_update",
                        &changes,
                        after.updated_at,
                    );
                    if let Some(c) = contact {
                        inserts.add_contact(actor, c);
                    }
                    lead_changes.push(LeadChange::Updated {
                        before: before.clone(),
                        left_at: after.updated_at,
                        contact: contact.as_ref().map(|c| c.id.clone()),
                    });
                    writes += 1;
                }
            }
            Outcome::AddContact { lead, contact } => {
                report.updated += 1;
                report.contacts_added += 1;
                if let Some(inserts) = inserts.as_mut() {
                    let names =
                        search_names(ctx, &mut batch_contacts, &lead.id, Some(contact)).await?;
                    leads::push_write(&mut tx, lead, &names);
                    inserts.add_contact(actor, contact);
                    lead_changes.push(LeadChange::Updated {
                        before: lead.clone(),
                        left_at: lead.updated_at,
                        contact: Some(contact.id.clone()),
                    });
                    writes += 1;
                }
            }
            Outcome::Unchanged => report.unchanged += 1,
            Outcome::Skip => report.skipped += 1,
        }
    }
    if let Some(inserts) = inserts {
        inserts.finish(&mut tx);
    }
    Ok((tx, writes, lead_changes))
}

/// The contact names and emails of a lead for its search text: those
/// written earlier in this batch, else the stored ones, plus `extra`.
async fn search_names(
    ctx: &Ctx,
    batch_contacts: &mut HashMap<String, Vec<(String, Option<String>)>>,
    id: &str,
    extra: Option<&Contact>,
) -> DomainResult<Vec<(String, Option<String>)>> {
    let mut names = match batch_contacts.get(id) {
        Some(n) => n.clone(),
        None => contacts::of_lead(ctx, id)
            .await?
            .iter()
            .map(|c| (c.name.clone(), c.email.clone()))
            .collect(),
    };
    names.extend(extra.map(|c| (c.name.clone(), c.email.clone())));
    batch_contacts.insert(id.to_string(), names.clone());
    Ok(names)
}

/// Loads the stored leads that rows of this batch may duplicate.
async fn preload_existing(
    ctx: &Ctx,
    scope: &Scope,
    rows: impl Iterator<Item = &RowFields>,
    known: &mut KnownLeads,
) -> DomainResult<()> {
    let mut domains = Vec::new();
    let mut companies = Vec::new();
    let mut emails = Vec::new();
    for row in rows {
        if let Some((_, d)) = row.get("website").and_then(|w| parse_website(&w).ok()) {
            domains.push(d);
        }
        if let Some(c) = row.get("company_name") {
            companies.push(company_key(&c));
        }
        if let Some(e) = row.get("contact_email") {
            emails.push(e.to_lowercase());
        }
    }
    // Separate lookups, not one with OR (an OR of them is a table scan),
    // each in chunks the planner turns into index lookups.
    const LEAD: &str =
        "SELECT record::id(id) AS id, domain, company_key, deleted_at, owner, created_by FROM lead";
    let by_domain = ChunkedLookup::new(
        &format!("{LEAD} WHERE domain IN $list"),
        "domains",
        &domains,
    );
    let by_company = ChunkedLookup::new(
        &format!("{LEAD} WHERE company_key IN $list"),
        "companies",
        &companies,
    );
    let by_email = ChunkedLookup::new(
        "SELECT lead, email, type::record('lead', lead).owner AS owner,
             type::record('lead', lead).created_by AS created_by
             FROM contact WHERE email IN $list",
        "emails",
        &emails,
    );
    let lead_statements = by_domain.statements + by_company.statements;
    let mut vars = by_domain.vars;
    vars.extend(by_company.vars);
    vars.extend(by_email.vars);
    let text = format!("{}{}{}", by_domain.text, by_company.text, by_email.text);
    if text.is_empty() {
        return Ok(());
    }
    let results = ctx
        .store
        .run(&text, serde_json::Value::Object(vars))
        .await?;
    let mut stored = Vec::new();
    for i in 0..lead_statements {
        stored.extend(results.rows::<serde_json::Value>(i)?);
    }
    let mut contacts = Vec::new();
    for i in lead_statements..lead_statements + by_email.statements {
        contacts.extend(results.rows::<serde_json::Value>(i)?);
    }
    // Only leads the importer can see count as duplicates: a row matching
    // one they cannot see goes in as their own lead rather than telling
    // them that lead exists.
    let visible = |r: &serde_json::Value| {
        scope.allows_owned_by(
            r["owner"].as_str(),
            r["created_by"].as_str().unwrap_or_default(),
        )
    };
    for row in stored
        .iter()
        .filter(|r| r["deleted_at"].is_null() && visible(r))
    {
        let id = row["id"].as_str().unwrap_or_default();
        known.remember(
            id,
            row["domain"].as_str(),
            row["company_key"].as_str().unwrap_or_default(),
            None,
        );
    }
    for row in contacts.iter().filter(|r| visible(r)) {
        if let (Some(lead), Some(email)) = (row["lead"].as_str(), row["email"].as_str()) {
            known
                .by_email
                .entry(email.to_string())
                .or_insert_with(|| lead.to_string());
        }
    }
    Ok(())
}

/// The update policy for a row that matches lead `id`: fill in the row's
/// non-empty fields and add its contact when the lead does not have it.
async fn merge(
    ctx: &Ctx,
    actor: &Actor,
    scope: &Scope,
    id: &str,
    row: &RowFields,
    earlier: &[(usize, Outcome)],
) -> DomainResult<Outcome> {
    // A lead created or changed earlier in this batch is not stored yet.
    let pending = earlier.iter().rev().find_map(|(_, o)| match o {
        Outcome::Create(p) if p.lead.id == id => Some((
            p.lead.clone(),
            p.contacts
                .iter()
                .map(|c| c.to_contact(id, p.lead.created_at))
                .collect::<Vec<_>>(),
        )),
        Outcome::Update { after, .. } if after.id == id => Some(((**after).clone(), Vec::new())),
        Outcome::AddContact { lead, .. } if lead.id == id => Some(((**lead).clone(), Vec::new())),
        _ => None,
    });
    let (before, mut known_contacts) = match pending {
        Some((lead, contacts)) => (lead, contacts),
        None => {
            let lead = leads::find(ctx, id)
                .await?
                .ok_or(DomainError::NotFound("lead"))?;
            (lead, Vec::new())
        }
    };
    if !scope.allows(&before) {
        return Err(DomainError::Conflict(
            "duplicates a lead you cannot see".into(),
        ));
    }
    if known_contacts.is_empty() {
        known_contacts = contacts::of_lead(ctx, id).await?;
    }
    for (_, o) in earlier {
        match o {
            Outcome::Update {
                after,
                contact: Some(c),
                ..
            } if after.id == id => known_contacts.push(c.clone()),
            Outcome::AddContact { lead, contact } if lead.id == id => {
                known_contacts.push(contact.clone())
            }
            _ => {}
        }
    }
    let patch = LeadPatch {
        company_name: None,
        website: row.get("website").map(Some),
        industry: row.get("industry").map(Some),
        status: row.get("status"),
        country: row.get("country").map(Some),
        state: row.get("state").map(Some),
        timezone: row.get("timezone").map(Some),
        owner: row.get("owner").map(Some),
        source: row.get("source").map(Some),
        tags: row
            .get("tags")
            .map(|t| t.split([';', ',', '|']).map(str::to_string).collect()),
    };
    let mut after = leads::apply_patch(ctx, actor, &before, patch).await?;
    let now = ctx.now();
    let contact = match row.contact() {
        Some(c) => {
            let prepared = contacts::prepare(c, after.country.as_deref())?;
            let duplicate = known_contacts.iter().any(|k| {
                (prepared.email.is_some() && k.email == prepared.email)
                    || (prepared.email.is_none() && k.name.eq_ignore_ascii_case(&prepared.name))
            });
            (!duplicate).then(|| prepared.to_contact(id, now))
        }
        None => None,
    };
    let changed = audit::diff(&leads::audited(&before), &leads::audited(&after), &[]);
    Ok(match (changed.is_empty(), contact) {
        (true, None) => Outcome::Unchanged,
        (true, Some(contact)) => Outcome::AddContact {
            lead: Box::new(before),
            contact,
        },
        (false, contact) => {
            after.updated_at = now;
            Outcome::Update {
                before: Box::new(before),
                after: Box::new(after),
                contact,
            }
        }
    })
}

/// Records the row's country and state when they were given by name, as
/// the lead took them.
fn note_names(
    report: &mut ImportReport,
    row: usize,
    fields: &RowFields,
    outcome: &Outcome,
    column_of: &impl Fn(&str) -> Option<String>,
) {
    let lead_country = match outcome {
        Outcome::Create(p) => p.lead.country.as_deref(),
        Outcome::Update { after, .. } => after.country.as_deref(),
        Outcome::AddContact { lead, .. } => lead.country.as_deref(),
        Outcome::Unchanged => None,
        // The row's values were not used.
        Outcome::Skip => return,
    };
    let country = fields
        .get("country")
        .and_then(|typed| Some((geo::read_country(&typed).ok()?, typed)));
    let state_country = lead_country.or(country.as_ref().map(|(r, _)| r.code));
    let state = fields
        .get("state")
        .and_then(|typed| Some((geo::read_state(state_country?, &typed).ok()?, typed)));
    for (field, read) in [("country", country), ("state", state)] {
        let Some((reading, typed)) = read.filter(|(r, _)| r.by_name) else {
            continue;
        };
        let key = (field.to_string(), typed);
        if let Some(&at) = report.names_seen.get(&key) {
            report.names_read[at].rows += 1;
        } else if report.names_read.len() < MAX_REPORTED_NAMES {
            report
                .names_seen
                .insert(key.clone(), report.names_read.len());
            report.names_read.push(NameRead {
                field: field.to_string(),
                column: column_of(field),
                typed: key.1,
                read_as: reading.code.to_string(),
                first_row: row,
                rows: 1,
            });
        }
    }
}

fn fail(report: &mut ImportReport, row: usize, column: Option<String>, reason: String) {
    report.failed += 1;
    if report.errors.len() < MAX_REPORTED_ERRORS {
        report.errors.push(RowError {
            row,
            column,
            reason,
        });
    }
}

fn row_error(
    report: &mut ImportReport,
    row: usize,
    error: DomainError,
    column_of: &impl Fn(&str) -> Option<String>,
) {
    let (column, reason) = match &error {
        DomainError::Invalid { field, reason } => {
            let field = match *field {
                "name" | "email" | "phone" | "linkedin" | "position" => format!("contact_{field}"),
                other => other.to_string(),
            };
            (column_of(&field).or(Some(field)), reason.clone())
        }
        DomainError::Forbidden(p) => (None, format!("missing permission `{p}`")),
        DomainError::Conflict(m) => (None, m.clone()),
        other => (None, other.to_string()),
    };
    fail(report, row, column, reason);
}
