//! The `after` cursor of every list: the last item's sort key, URL-safe
//! base64, so clients treat it as opaque and a page is a range scan from it.
//! A cursor that no page gave out is a malformed request (400
//! `bad_request`), whichever list it is sent to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::clock::db_time;
use super::error::{DomainError, DomainResult};
use crate::store::Store;

/// Longer than any sort key a list writes (the lead sorts carry a field
/// and the id).
const MAX_KEY_LEN: usize = 600;

/// The most items a page of a list holds; a larger `limit` is taken as this.
pub const MAX_PAGE: usize = 200;

pub fn encode(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The sort key a cursor from `encode` holds; anything else is refused as
/// the `after` parameter.
pub fn decode(raw: &str) -> DomainResult<String> {
    URL_SAFE_NO_PAD
        .decode(raw.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty() && s.len() < MAX_KEY_LEN)
        .ok_or_else(not_a_cursor)
}

/// A page of a list and the cursor of the next, absent on the last page.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items in list order: the extra one
    /// only says that there is a next page, whose cursor `key` makes from
    /// this page's last item.
    pub fn from_one_more(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = more.then(|| items.last().map(key)).flatten();
        Page { items, next_cursor }
    }

    /// The same page with each item turned into another type.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// What a list answers for an `after` that no page of it gave out.
pub fn not_a_cursor() -> DomainError {
    DomainError::Malformed {
        field: "after",
        reason: "is not a cursor from a previous page".into(),
    }
}

/// The cursor of a list ordered by time, then by id: the last item's
/// time and id.
pub fn encode_at(at: DateTime<Utc>, id: &str) -> String {
    encode(&format!("{}|{id}", db_time(at)))
}

/// The time and id an `encode_at` cursor holds.
pub fn decode_at(raw: &str) -> DomainResult<(DateTime<Utc>, String)> {
    let key = decode(raw)?;
    key.split_once('|')
        .and_then(|(at, id)| {
            let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
            (!id.is_empty()).then(|| (at, id.to_string()))
        })
        .ok_or_else(not_a_cursor)
}

/// How a list ordered by a time, then by record id, is read a page at a
/// time: which table and time field, and which way. The `after` cursor is
/// `encode_at` of the last item's time and id; the page is the rows past
/// it in that order, a range scan of an index that ends in the time field.
#[derive(Debug, Clone, Copy)]
pub struct TimeOrder {
    table: &'static str,
    field: &'static str,
    newest_first: bool,
    uuid_ids: bool,
}

/// Where a page of a `TimeOrder` list starts: the condition that keeps the
/// rows past the cursor (none on the first page), with the values it binds
/// as `$after_at` and `$after_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeBound {
    condition: Option<String>,
    pub at: Option<String>,
    pub id: Option<String>,
}

impl TimeBound {
    /// The statement to run before the page's SELECT: past the first page,
    /// a `LET` that makes the cursor's time a datetime once, because the
    /// planner seeks an index to a parameter but only filters on a cast.
    pub fn prelude(&self) -> &'static str {
        if self.condition.is_some() {
            "LET $after_time = <datetime>$after_at;\n"
        } else {
            ""
        }
    }

    /// How many statements `prelude` adds before the page's own result.
    pub fn statements_before(&self) -> usize {
        usize::from(self.condition.is_some())
    }

    /// The `WHERE` clause of `conds` and this bound (empty when there are
    /// neither).
    pub fn filter(&self, conds: &[&str]) -> String {
        let all: Vec<&str> = conds
            .iter()
            .copied()
            .chain(self.condition.as_deref())
            .collect();
        if all.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", all.join(" AND "))
        }
    }
}

impl TimeOrder {
    pub const fn newest_first(table: &'static str, field: &'static str) -> Self {
        TimeOrder {
            table,
            field,
            newest_first: true,
            uuid_ids: false,
        }
    }

    pub const fn oldest_first(table: &'static str, field: &'static str) -> Self {
        TimeOrder {
            table,
            field,
            newest_first: false,
            uuid_ids: false,
        }
    }

    /// For a table whose record ids are UUIDs (the audit log) rather than
    /// strings: the cursor's id must be one, and is compared as one.
    pub const fn with_uuid_ids(self) -> Self {
        TimeOrder {
            uuid_ids: true,
            ..self
        }
    }

    /// The bound of the page after `after` (the first page when `None`).
    pub fn after(&self, after: Option<&str>) -> DomainResult<TimeBound> {
        let Some(raw) = after else {
            return Ok(TimeBound {
                condition: None,
                at: None,
                id: None,
            });
        };
        let (at, id) = decode_at(raw)?;
        let id_ok = if self.uuid_ids {
            uuid::Uuid::parse_str(&id).is_ok()
        } else {
            id.len() <= 200
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !id_ok {
            return Err(not_a_cursor());
        }
        let (op, field, table) = (self.op(), self.field, self.table);
        let id_value = if self.uuid_ids {
            "<uuid>$after_id"
        } else {
            "$after_id"
        };
        Ok(TimeBound {
            // The first half is the index range from the cursor; the
            // second drops the rows at the cursor's time up to its id.
            condition: Some(format!(
                "{field} {op}= $after_time \
                 AND ({field} {op} $after_time OR id {op} type::record('{table}', {id_value}))"
            )),
            at: Some(db_time(at)),
            id: Some(id),
        })
    }

    /// The bound of a page that starts at an instant instead of after an
    /// item: the rows strictly past `at` in this order (for the `before`
    /// parameter a list kept from the time before cursors).
    pub fn past(&self, at: DateTime<Utc>) -> TimeBound {
        TimeBound {
            condition: Some(format!("{} {} $after_time", self.field, self.op())),
            at: Some(db_time(at)),
            id: None,
        }
    }

    /// The page of `select` (`SELECT … FROM <table>`) after `after`: the
    /// rows that meet `conds`, in this order, `limit` of them (1 to
    /// `MAX_PAGE`). `vars` binds the conditions' own parameters; `key`
    /// gives a row's time and id for the next page's cursor.
    #[allow(clippy::too_many_arguments)]
    pub async fn page<T: DeserializeOwned>(
        &self,
        store: &Store,
        select: &str,
        conds: &[&str],
        vars: Value,
        after: Option<&str>,
        limit: usize,
        key: impl Fn(&T) -> (DateTime<Utc>, &str),
    ) -> DomainResult<Page<T>> {
        let bound = self.after(after)?;
        self.page_from(store, select, conds, vars, bound, limit, key)
            .await
    }

    /// `page`, from a bound made by `after` or `past`.
    #[allow(clippy::too_many_arguments)]
    pub async fn page_from<T: DeserializeOwned>(
        &self,
        store: &Store,
        select: &str,
        conds: &[&str],
        vars: Value,
        bound: TimeBound,
        limit: usize,
        key: impl Fn(&T) -> (DateTime<Utc>, &str),
    ) -> DomainResult<Page<T>> {
        let limit = limit.clamp(1, MAX_PAGE);
        let sql = format!(
            "{}{select} {} {} LIMIT $limit",
            bound.prelude(),
            bound.filter(conds),
            self.order_by()
        );
        let mut vars = match vars {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        vars.insert("after_at".into(), json!(bound.at));
        vars.insert("after_id".into(), json!(bound.id));
        vars.insert("limit".into(), json!(limit + 1));
        let rows: Vec<T> = store
            .run(&sql, Value::Object(vars))
            .await?
            .rows(bound.statements_before())?;
        Ok(Page::from_one_more(rows, limit, |row| {
            let (at, id) = key(row);
            encode_at(at, id)
        }))
    }

    /// The `ORDER BY` clause of the list.
    pub fn order_by(&self) -> String {
        let dir = if self.newest_first { "DESC" } else { "ASC" };
        format!("ORDER BY {} {dir}, id {dir}", self.field)
    }

    fn op(&self) -> &'static str {
        if self.newest_first {
            "<"
        } else {
            ">"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_gives_back_its_key_and_nothing_else_is_taken() {
        assert_eq!(decode(&encode("acme|0193")).unwrap(), "acme|0193");
        for bad in ["", "%%%", "not a cursor!"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        assert!(decode(&encode(&"x".repeat(MAX_KEY_LEN))).is_err());
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_there_is_more() {
        let page = Page::from_one_more(vec![1, 2, 3], 2, |n| encode(&n.to_string()));
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(decode(&page.next_cursor.unwrap()).unwrap(), "2");
        let last = Page::from_one_more(vec![1, 2], 2, |n| encode(&n.to_string()));
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn a_time_cursor_gives_back_its_time_and_id() {
        let at = DateTime::parse_from_rfc3339("2026-05-01T09:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(decode_at(&encode_at(at, "n1")).unwrap(), (at, "n1".into()));
        assert!(decode_at(&encode("no bar")).is_err());
        assert!(decode_at(&encode("yesterday|n1")).is_err());
        assert!(matches!(
            decode_at("!!"),
            Err(DomainError::Malformed { field: "after", .. })
        ));
    }

    #[test]
    fn a_time_order_continues_past_the_cursor_in_its_direction() {
        let at = DateTime::parse_from_rfc3339("2026-05-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let newest = TimeOrder::newest_first("call", "at");
        assert_eq!(newest.after(None).unwrap().filter(&[]), "");
        assert_eq!(
            newest.after(None).unwrap().filter(&["lead = $lead"]),
            "WHERE lead = $lead"
        );
        let bound = newest.after(Some(&encode_at(at, "c1"))).unwrap();
        assert!(bound
            .filter(&["lead = $lead"])
            .starts_with("WHERE lead = $lead AND at <= $after_time AND (at < $after_time"));
        assert_eq!(bound.statements_before(), 1);
        assert_eq!(newest.after(None).unwrap().prelude(), "");
        assert_eq!(bound.id.as_deref(), Some("c1"));
        assert_eq!(newest.order_by(), "ORDER BY at DESC, id DESC");
        let oldest = TimeOrder::oldest_first("task_comment", "created_at");
        assert!(oldest
            .after(Some(&encode_at(at, "c1")))
            .unwrap()
            .filter(&[])
            .contains("id > type::record('task_comment', $after_id)"));
        assert!(newest.after(Some(&encode_at(at, "x'); DROP"))).is_err());
        let past = newest.past(at);
        assert_eq!(past.filter(&[]), "WHERE at < $after_time");
        assert_eq!(past.statements_before(), 1);
        assert_eq!(past.id, None);
        assert!(oldest
            .past(at)
            .filter(&["task = $task"])
            .ends_with("task = $task AND created_at > $after_time"));
        let audit = newest.with_uuid_ids();
        assert!(audit.after(Some(&encode_at(at, "c1"))).is_err());
        let uuid = "0193a4b2-7c00-7000-8000-000000000001";
        assert!(audit
            .after(Some(&encode_at(at, uuid)))
            .unwrap()
            .filter(&[])
            .contains("<uuid>$after_id"));
    }
}
