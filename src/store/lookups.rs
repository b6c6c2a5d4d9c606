//! Lookups of many values through an index. SurrealDB 3.3.5 turns
//! `field IN [...]` into index lookups only for up to 32 values
//! (`MAX_IN_EXPANSION_SIZE` in its index analysis); a longer list makes the
//! whole statement a table scan. So a long list is asked for 32 values at a
//! time, as several statements of one query.

use serde_json::{Map, Value};

/// The most values one `IN` list may hold and still be index lookups.
pub const MAX_INDEXED_IN: usize = 32;

/// Statements that each run `statement` for up to `MAX_INDEXED_IN` of
/// `values`: every `$list` in it stands for one chunk.
pub struct ChunkedLookup {
    /// The statements, `;`-terminated, one per chunk (none for no values).
    pub text: String,
    /// The chunks, bound as `$<name>_0`, `$<name>_1`, ...
    pub vars: Map<String, Value>,
    /// How many statements `text` holds.
    pub statements: usize,
}

impl ChunkedLookup {
    /// `name` must be a plain identifier, unique within the query the
    /// statements join.
    pub fn new<V: Into<Value> + Clone>(statement: &str, name: &str, values: &[V]) -> ChunkedLookup {
        let mut text = String::new();
        let mut vars = Map::new();
        let chunks = values.chunks(MAX_INDEXED_IN);
        let statements = chunks.len();
        for (i, chunk) in chunks.enumerate() {
            let param = format!("{name}_{i}");
            text.push_str(&statement.replace("$list", &format!("${param}")));
            text.push_str(";\n");
            vars.insert(
                param,
                Value::Array(chunk.iter().cloned().map(Into::into).collect()),
            );
        }
        ChunkedLookup {
            text,
            vars,
            statements,
        }
    }
}

/// The rows of `statement` (which holds `$list`) for all of `values`,
/// asked for `MAX_INDEXED_IN` at a time in one query; the chunks' rows one
/// after another. Only for statements whose rows each belong to one value
/// (so ordering within a value's rows survives the chunking).
pub async fn rows_for_all<T, V>(
    store: &super::Store,
    statement: &str,
    values: &[V],
) -> Result<Vec<T>, super::StoreError>
where
    T: serde::de::DeserializeOwned,
    V: Into<Value> + Clone,
{
    let lookup = ChunkedLookup::new(statement, "values", values);
    if lookup.statements == 0 {
        return Ok(Vec::new());
    }
    let results = store.run(&lookup.text, Value::Object(lookup.vars)).await?;
    let mut rows = Vec::new();
    for i in 0..lookup.statements {
        rows.extend(results.rows::<T>(i)?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_is_asked_for_in_chunks_no_longer_than_the_planner_indexes() {
        let values: Vec<String> = (0..70).map(|i| format!("v{i}")).collect();
        let lookup = ChunkedLookup::new("SELECT * FROM t WHERE f IN $list", "vals", &values);
        assert_eq!(lookup.statements, 3);
        assert_eq!(
            lookup.text,
            "SELECT * FROM t WHERE f IN $vals_0;\nSELECT * FROM t WHERE f IN $vals_1;\nSELECT * FROM t WHERE f IN $vals_2;\n"
        );
        assert_eq!(lookup.vars["vals_0"].as_array().unwrap().len(), 32);
        assert_eq!(lookup.vars["vals_2"].as_array().unwrap().len(), 6);
        assert_eq!(lookup.vars["vals_2"][0], "v64");
    }

    #[test]
    fn no_values_make_no_statements() {
        let lookup = ChunkedLookup::new(
            "SELECT * FROM t WHERE f IN $list",
            "vals",
            &Vec::<String>::new(),
        );
        assert_eq!(lookup.statements, 0);
        assert!(lookup.text.is_empty());
    }
}
