//! A batch of statements sent as one SurrealDB transaction, so a change and
//! its audit rows land together or not at all.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Results, Store, StoreError};

#[derive(Default)]
pub struct Transaction {
    statements: Vec<String>,
    vars: Map<String, Value>,
    serial: usize,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `$name` for every statement of the batch.
    pub fn bind(&mut self, name: &str, value: impl Serialize) -> &mut Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.vars.insert(name.to_string(), value);
        self
    }

    /// Adds a statement; returns the index of its result in `commit`'s
    /// `Results`.
    pub fn push(&mut self, statement: impl Into<String>) -> usize {
        self.statements.push(statement.into());
        // Index 0 of the results is `BEGIN`.
        self.statements.len()
    }

    /// A number unique within this batch, for helpers that bind variables
    /// of their own.
    pub fn next_serial(&mut self) -> usize {
        self.serial += 1;
        self.serial
    }

    pub async fn commit(self, store: &Store) -> Result<Results, StoreError> {
        let mut sql = String::from("BEGIN TRANSACTION;\n");
        for statement in &self.statements {
            sql.push_str(statement.trim_end_matches(';'));
            sql.push_str(";\n");
        }
        sql.push_str("COMMIT TRANSACTION;");
        store.run(&sql, Value::Object(self.vars)).await
    }
}
