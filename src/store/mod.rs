//! The SurrealDB connection: one code path for `mem://`, `surrealkv://` and
//! `ws://`, plus the helpers every domain module uses to speak to it.
//!
//! Rows cross this boundary as `serde_json::Value` and are read into plain
//! serde structs, so the domain never depends on SurrealDB's own value types.
//! Every query binds its inputs as parameters; nothing user-supplied is ever
//! formatted into SurrealQL.

pub mod lookups;
pub mod migrations;
pub mod transaction;

pub use transaction::Transaction;

use serde::de::DeserializeOwned;
use serde_json::Value;
use surrealdb::engine::any::Any;
use surrealdb::Surreal;

use crate::config::{Config, DatabaseAuthLevel, DatabaseKind};

/// What went wrong below the domain. The message is for the log only.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a record with the same unique value exists: {0}")]
    Duplicate(String),
    #[error("the transaction conflicted with another; retry")]
    Conflict,
    /// A rule enforced inside a transaction (`THROW "..."`) refused the change.
    #[error("{0}")]
    Rule(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("unexpected data shape: {0}")]
    Decode(String),
    /// A record id was asked for with an empty key, which SurrealDB
    /// refuses as no id at all: it names no record.
    #[error("an empty record key")]
    EmptyKey,
}

impl From<surrealdb::Error> for StoreError {
    fn from(e: surrealdb::Error) -> Self {
        let message = e.message().to_string();
        if e.is_thrown() || message.starts_with("An error occurred: ") {
            StoreError::Rule(
                message
                    .trim_start_matches("An error occurred: ")
                    .to_string(),
            )
        } else if message.contains("for the Record ID but this is not a valid id") {
            StoreError::EmptyKey
        } else if e.is_already_exists() || message.contains("already contains") {
            StoreError::Duplicate(message)
        } else if message.contains("conflict") || message.contains("Resource busy") {
            // The engine's words stay in the log; the client is told only
            // that it collided with another write.
            tracing::debug!(%message, "store conflict");
            StoreError::Conflict
        } else {
            StoreError::Database(message)
        }
    }
}

/// One `SELECT` statement and nothing else: safe to run again.
fn is_single_select(sql: &str) -> bool {
    let sql = sql.trim().trim_end_matches(';');
    sql.get(..7)
        .is_some_and(|head| head.eq_ignore_ascii_case("SELECT "))
        && !sql.contains(';')
}

/// The handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Surreal<Any>,
}

impl Store {
    /// Opens the store named by the configuration (creating a SurrealKV
    /// folder when needed) and selects the namespace and database.
    pub async fn connect(config: &Config) -> Result<Store, StoreError> {
        let kind = config
            .database_kind()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let url = match &kind {
            DatabaseKind::SurrealKv(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| StoreError::Database(e.to_string()))?;
                }
                format!("surrealkv://{}", path.display())
            }
            DatabaseKind::Memory => "mem://".to_string(),
            DatabaseKind::Remote => config.database_url.clone(),
        };
        let db = surrealdb::engine::any::connect(url).await?;
        if kind == DatabaseKind::Remote {
            if let (Some(user), Some(pass)) = (&config.database_user, &config.database_password) {
                let (username, password) = (user.clone(), pass.clone());
                let (namespace, database) =
                    (config.database_ns.clone(), config.database_db.clone());
                match config.database_auth_level {
                    DatabaseAuthLevel::Root => {
                        db.signin(surrealdb::opt::auth::Root { username, password })
                            .await?;
                    }
                    DatabaseAuthLevel::Namespace => {
                        db.signin(surrealdb::opt::auth::Namespace {
                            namespace,
                            username,
                            password,
                        })
                        .await?;
                    }
                    DatabaseAuthLevel::Database => {
                        db.signin(surrealdb::opt::auth::Database {
                            namespace,
                            database,
                            username,
                            password,
                        })
                        .await?;
                    }
                }
            }
        }
        let (ns, name) = (
            safe_ident(&config.database_ns),
            safe_ident(&config.database_db),
        );
        // Namespace and database names are checked identifiers, not user input.
        let define = format!("DEFINE NAMESPACE IF NOT EXISTS {ns}; USE NS {ns}; DEFINE DATABASE IF NOT EXISTS {name};");
        if let Err(e) = db.query(define).await.and_then(|r| r.check()) {
            // A server user scoped to one database may not define others; the
            // `use_*` below then says whether it can work at all.
            tracing::debug!(error = %e, "could not define namespace/database");
        }
        db.use_ns(ns).use_db(name).await?;
        Ok(Store { db })
    }

    /// Runs SurrealQL with bound variables and returns every statement's
    /// result; any failed statement fails the whole call.
    pub async fn run(&self, sql: &str, vars: Value) -> Result<Results, StoreError> {
        // A lone SELECT changed nothing, so one that lost a race with a
        // concurrent write is run again rather than shown to a reader as a
        // conflict.
        if !is_single_select(sql) {
            return self.run_once(sql, vars).await;
        }
        let mut retries = 2;
        loop {
            match self.run_once(sql, vars.clone()).await {
                Err(StoreError::Conflict) if retries > 0 => {
                    retries -= 1;
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// Runs a write that only records when something was last used. When
    /// several requests find the same record due at once, all but one lose
    /// the race with a conflict; what they meant to write is written, so
    /// that is not a failure of the request they are serving.
    pub async fn touch(&self, sql: &str, vars: Value) -> Result<(), StoreError> {
        match self.run_once(sql, vars).await {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn run_once(&self, sql: &str, vars: Value) -> Result<Results, StoreError> {
        let mut response = self.db.query(sql).bind(to_variables(vars)).await?;
        let count = response.num_statements();
        let mut errors = response.take_errors();
        if !errors.is_empty() {
            // The first real cause, not the "not executed due to a failed
            // transaction" echoes of the statements after it.
            let mut keys: Vec<usize> = errors.keys().copied().collect();
            keys.sort_unstable();
            let pick = keys
                .iter()
                .find(|k| !errors[k].message().contains("failed transaction"))
                .or(keys.first())
                .copied()
                .unwrap_or_default();
            return Err(errors
                .remove(&pick)
                .map(StoreError::from)
                .unwrap_or(StoreError::Conflict));
        }
        let mut values = Vec::with_capacity(count);
        for i in 0..count {
            let v: surrealdb::types::Value = response.take(i).map_err(StoreError::from)?;
            values.push(v.into_json_value());
        }
        Ok(Results(values))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.db.query("RETURN 1").await.is_ok()
    }

    pub fn raw(&self) -> &Surreal<Any> {
        &self.db
    }
}

/// Waits until the embedded engine has let go of a SurrealKV folder after
/// the last `Store` was dropped: the engine shuts down on a background task,
/// and a restart (or `ea-crm admin`) that comes too soon would find the
/// folder still locked. Returns whether the folder was released in time.
pub async fn wait_until_released(kind: &DatabaseKind, timeout: std::time::Duration) -> bool {
    use fs2::FileExt;
    let DatabaseKind::SurrealKv(path) = kind else {
        return true;
    };
    let lock = path.join("LOCK");
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&lock)
        {
            Err(_) => return true,
            Ok(file) => {
                if file.try_lock_exclusive().is_ok() {
                    let _ = FileExt::unlock(&file);
                    return true;
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// JSON inputs to SurrealDB variables. JSON `null` becomes NONE (and is
/// dropped inside objects), because `option<T>` fields accept NONE, not NULL.
fn to_variables(vars: Value) -> surrealdb::types::Object {
    let mut object = surrealdb::types::Object::new();
    if let Value::Object(map) = vars {
        for (k, v) in map {
            object.insert(k, to_surreal(v));
        }
    }
    object
}

fn to_surreal(value: Value) -> surrealdb::types::Value {
    use surrealdb::types::{SurrealValue, Value as Sv};
    match value {
        Value::Null => Sv::None,
        Value::Object(map) => {
            let mut object = surrealdb::types::Object::new();
            for (k, v) in map {
                if !v.is_null() {
                    object.insert(k, to_surreal(v));
                }
            }
            Sv::Object(object)
        }
        Value::Array(items) => items
            .into_iter()
            .map(to_surreal)
            .collect::<Vec<_>>()
            .into_value(),
        leaf => leaf.into_value(),
    }
}

fn safe_ident(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if clean.is_empty() {
        "main".into()
    } else {
        clean
    }
}

/// The results of a multi-statement query, one JSON value per statement.
pub struct Results(Vec<Value>);

impl Results {
    /// Rows of statement `i`, decoded.
    pub fn rows<T: DeserializeOwned>(&self, i: usize) -> Result<Vec<T>, StoreError> {
        match self.0.get(i) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    serde_json::from_value(v.clone()).map_err(|e| StoreError::Decode(e.to_string()))
                })
                .collect(),
            Some(other) => Ok(vec![serde_json::from_value(other.clone())
                .map_err(|e| StoreError::Decode(e.to_string()))?]),
        }
    }

    /// The first row of statement `i`, if any.
    pub fn first<T: DeserializeOwned>(&self, i: usize) -> Result<Option<T>, StoreError> {
        Ok(self.rows(i)?.into_iter().next())
    }

    /// Statement `i`'s result as raw JSON.
    pub fn value(&self, i: usize) -> &Value {
        self.0.get(i).unwrap_or(&Value::Null)
    }

    /// The last statement's result; with `BEGIN … COMMIT` wrapping, the
    /// statement before `COMMIT` is usually the one callers want.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::is_single_select;

    #[test]
    fn only_a_lone_select_counts_as_safe_to_run_again() {
        assert!(is_single_select("SELECT * FROM lead"));
        assert!(is_single_select("  select data FROM ONLY setting:x;  "));
        assert!(!is_single_select("SELECT * FROM a; DELETE b"));
        assert!(!is_single_select("UPDATE lead SET x = 1"));
        assert!(!is_single_select("SELECTED"));
    }
}
