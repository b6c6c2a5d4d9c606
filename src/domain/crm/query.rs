//! Listing, searching and counting leads: filters, full-text search, sort
//! orders and cursor pages. Every query carries the actor's scope, so a
//! `leads.read.own` user's lists, searches, exports and counts hold only
//! their own leads.

use crate::domain::cursor;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::leads::{Lead, Scope, SELECT_LEAD};
use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Creation time (the id is a UUIDv7, so this is the primary key order).
    #[default]
    Created,
    Updated,
    Company,
    Score,
}

impl SortKey {
    pub fn parse(raw: &str) -> DomainResult<SortKey> {
        match raw {
            "created" | "created_at" => Ok(SortKey::Created),
            "updated" | "updated_at" => Ok(SortKey::Updated),
            "company" | "company_name" => Ok(SortKey::Company),
            "score" => Ok(SortKey::Score),
            other => Err(DomainError::invalid(
                "sort",
                format!("`{other}`: use created, updated, company or score"),
            )),
        }
    }

    fn field(self) -> &'static str {
        match self {
            SortKey::Created => "sort_created",
            SortKey::Updated => "sort_updated",
            SortKey::Company => "sort_company",
            SortKey::Score => "sort_score",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpDue {
    Today,
    Overdue,
    Week,
}

impl FollowUpDue {
    pub fn parse(raw: &str) -> DomainResult<FollowUpDue> {
        match raw {
            "today" => Ok(FollowUpDue::Today),
            "overdue" => Ok(FollowUpDue::Overdue),
            "week" | "this_week" => Ok(FollowUpDue::Week),
            other => Err(DomainError::invalid(
                "follow_up_due",
                format!("`{other}`: use today, overdue or week"),
            )),
        }
    }

    /// The window in the given timezone, as [from, to).
    pub fn window(
        self,
        now: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> (Option<DateTime<Utc>>, DateTime<Utc>) {
        let start_of_day = start_of_local_day(now, tz);
        match self {
            FollowUpDue::Today => (Some(start_of_day), start_of_day + Duration::days(1)),
            FollowUpDue::Overdue => (None, now),
            FollowUpDue::Week => (Some(start_of_day), start_of_day + Duration::days(7)),
        }
    }
}

/// Midnight of `now`'s local date in `tz`, as UTC.
pub fn start_of_local_day(now: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local = now.with_timezone(&tz).date_naive();
    let midnight = local.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<String>,
    pub owner: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub industry: Option<String>,
    pub tag: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub follow_up_due: Option<FollowUpDue>,
    /// Full-text search over company, website and contact names and emails.
    pub q: Option<String>,
    /// The trash instead of live leads.
    pub deleted: bool,
    /// Leads whose AI score is at least this.
    pub score_min: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub sort: SortKey,
    pub descending: bool,
    pub after: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct LeadPage {
    pub items: Vec<Lead>,
    pub next_cursor: Option<String>,
}

/// Conditions and variables for a filter, within the actor's scope.
async fn conditions(
    ctx: &Ctx,
    actor: &Actor,
    filter: &LeadFilter,
) -> DomainResult<(Vec<String>, Map<String, Value>)> {
    let scope = Scope::of(actor)?;
    let (mut conds, mut vars) = filter_conditions(ctx, actor, filter).await?;
    if let Some(search) = Search::of(filter)? {
        search.index_conditions(&mut conds, &mut vars);
    }
    if let Some(c) = scope.condition() {
        conds.push(c.to_string());
        vars.insert("scope_user".into(), json!(scope.user()));
    }
    Ok((conds, vars))
}

/// Conditions and variables for a filter alone, without the actor's scope
/// and without its search (`q`), which [`Search`] turns into conditions.
async fn filter_conditions(
    ctx: &Ctx,
    actor: &Actor,
    filter: &LeadFilter,
) -> DomainResult<(Vec<String>, Map<String, Value>)> {
    let mut conds: Vec<String> = Vec::new();
    let mut vars = Map::new();
    // `live` (maintained by the schema from `deleted_at`) leads the compound
    // sort indexes, so "not in the trash" is part of the index range and the
    // page's LIMIT stops the index walk; a `deleted_at IS NONE` filter after
    // the walk made the first page read every row after its cursor.
    conds.push(if filter.deleted {
        "live = false".into()
    } else {
        "live = true".into()
    });
    let mut eq = |field: &str, value: &Option<String>| {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            conds.push(format!("{field} = $f_{field}"));
            vars.insert(format!("f_{field}"), json!(v));
        }
    };
    eq("status", &filter.status);
    eq("owner", &filter.owner);
    eq("industry", &filter.industry);
    if let Some(min) = filter.score_min {
        conds.push("score >= $f_score_min".into());
        vars.insert("f_score_min".into(), json!(min));
    }
    let country = match filter.country.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(crate::domain::geo::parse_country(c)?),
        None => None,
    };
    if let Some(code) = country {
        conds.push("country = $f_country".into());
        vars.insert("f_country".into(), json!(code));
    }
    if let Some(s) = filter.state.as_deref().filter(|s| !s.trim().is_empty()) {
        // Within a country a state is read as a lead's is (a code, its
        // part after the dash or a name); alone it must be a full code.
        let code = match country {
            Some(c) => crate::domain::geo::parse_state(c, s)?.to_string(),
            None => s.trim().to_ascii_uppercase(),
        };
        conds.push("state = $f_state".into());
        vars.insert("f_state".into(), json!(code));
    }
    if let Some(t) = filter
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        conds.push("tags CONTAINS $f_tag".into());
        vars.insert("f_tag".into(), json!(t.to_lowercase()));
    }
    if let Some(from) = filter.created_from {
        conds.push("created_at >= <datetime>$f_created_from".into());
        vars.insert("f_created_from".into(), json!(db_time(from)));
    }
    if let Some(to) = filter.created_to {
        conds.push("created_at < <datetime>$f_created_to".into());
        vars.insert("f_created_to".into(), json!(db_time(to)));
    }
    if let Some(due) = filter.follow_up_due {
        let tz = actor_timezone(ctx, actor).await?;
        let (from, to) = due.window(ctx.now(), tz);
        // NONE sorts before every date, so "no follow-up" must be excluded.
        conds.push(
            "next_follow_up_at IS NOT NONE AND next_follow_up_at < <datetime>$f_due_to".into(),
        );
        vars.insert("f_due_to".into(), json!(db_time(to)));
        if let Some(from) = from {
            conds.push("next_follow_up_at >= <datetime>$f_due_from".into());
            vars.insert("f_due_from".into(), json!(db_time(from)));
        }
    }
    Ok((conds, vars))
}

pub async fn actor_timezone(ctx: &Ctx, actor: &Actor) -> DomainResult<chrono_tz::Tz> {
    let user = crate::domain::users::find_record(ctx, &actor.user_id).await?;
    Ok(user
        .and_then(|u| u.user.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC))
}

fn encode_cursor(lead: &Lead, sort: SortKey) -> String {
    cursor::encode(&sort_value(lead, sort))
}

/// The lead's stored `sort_*` value for `sort` (what a cursor carries).
fn sort_value(lead: &Lead, sort: SortKey) -> String {
    match sort {
        SortKey::Created => lead.id.clone(),
        SortKey::Updated => format!("{}|{}", db_time(lead.updated_at), lead.id),
        SortKey::Company => format!(
            "{}|{}",
            super::normalize::company_key(&lead.company_name),
            lead.id
        ),
        SortKey::Score => format!("{:03}|{}", lead.score.clamp(0, 999), lead.id),
    }
}

/// A search (`q`): its words, as the full-text index's analyzer is handed
/// them.
#[derive(Debug, Clone, PartialEq)]
struct Search {
    words: Vec<String>,
}

impl Search {
    fn of(filter: &LeadFilter) -> DomainResult<Option<Search>> {
        let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) else {
            return Ok(None);
        };
        if q.chars().count() > 200 {
            return Err(DomainError::invalid("q", "must be at most 200 characters"));
        }
        // The analyzer splits on punctuation too; handing it only the words
        // keeps "jane@acme.com" a search for jane, acme and com.
        let words: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return Err(DomainError::invalid(
                "q",
                "needs at least one letter or digit",
            ));
        }
        Ok(Some(Search { words }))
    }

    fn query(&self) -> String {
        self.words.join(" ")
    }

    /// Binds `$f_q` and each word as `$f_w{i}`.
    fn bind(&self, vars: &mut Map<String, Value>) {
        vars.insert("f_q".into(), json!(self.query()));
        for (i, word) in self.words.iter().enumerate() {
            vars.insert(format!("f_w{i}"), json!(word));
        }
    }

    /// Each word as a substring of the stored text, folded as the analyzer
    /// folds it.
    fn stored_text_conditions(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.words.len())
            .map(|i| format!("string::contains(string::slug(search_text), string::slug($f_w{i}))"))
    }

    /// The matches found through the full-text index: what a count reads,
    /// and a search page when the word is rare.
    fn index_conditions(&self, conds: &mut Vec<String>, vars: &mut Map<String, Value>) {
        self.bind(vars);
        conds.push("search_text @@ $f_q".into());
        // The full-text index can keep a word a record no longer holds
        // (seen after a contact's erasure rewrote the search text), so each
        // hit is checked against the stored text.
        conds.extend(self.stored_text_conditions());
    }

    /// The same matches as [`Search::index_conditions`], tested on one lead
    /// at a time (for a walk of a sort index): the index finds a lead when
    /// every query term (`$f_terms`, the words through the `crm_query`
    /// analyzer) is among the terms it indexed for the lead, the edge
    /// n-grams `search::analyze('crm_text', ..)` gives. The cheap substring
    /// tests come first, so most leads of a rare word's walk are never
    /// analyzed.
    fn row_test(&self) -> String {
        let mut tests: Vec<String> = self.stored_text_conditions().collect();
        tests.push("search::analyze('crm_text', search_text) CONTAINSALL $f_terms".into());
        tests.join(" AND ")
    }

    /// The terms the full-text index looks up for this search. None: no
    /// lead can match (every word is shorter than the index's two-letter
    /// n-grams).
    async fn terms(&self, ctx: &Ctx) -> DomainResult<Option<Value>> {
        let terms: Value = ctx
            .store
            .run(
                "RETURN search::analyze('crm_query', $q);",
                json!({"q": self.query()}),
            )
            .await?
            .value(0)
            .clone();
        Ok(terms
            .as_array()
            .is_some_and(|t| !t.is_empty())
            .then_some(terms))
    }

    /// Whether the full-text index holds few enough leads for this search
    /// (at most a walk's budget, `ctx.search_walk_budget`, over
    /// [`INDEX_HIT_COST`]) that a page through it costs less than walking
    /// on. The index stops counting one past that.
    async fn is_rare(&self, ctx: &Ctx) -> DomainResult<bool> {
        let cap = (ctx.search_walk_budget / INDEX_HIT_COST).max(1);
        let hits: Vec<Value> = ctx
            .store
            .run(
                "SELECT VALUE id FROM lead WHERE search_text @@ $q LIMIT $cap",
                json!({"q": self.query(), "cap": cap + 1}),
            )
            .await?
            .rows(0)?;
        Ok(hits.len() <= cap)
    }
}

/// How many times a lead costs more read through the full-text index
/// than walked along a sort index (each hit is fetched, then all are
/// sorted): a word with fewer hits than the walk's budget over this is
/// "rare", cheaper through the index.
const INDEX_HIT_COST: usize = 4;

/// The largest step of a search walk: the engine reads an index range in
/// batches of 1,000 entries.
const SEARCH_STEP_MAX: usize = 1_000;

/// One page of the lead list in a sort order: the filter's conditions,
/// the range condition from the cursor and the bound variables.
struct PageWalk {
    conds: Vec<String>,
    vars: Map<String, Value>,
    sort: SortKey,
    descending: bool,
    limit: usize,
    /// The own-scope user, whose page is two walks (owned, created) merged.
    scope_user: Option<String>,
}

impl PageWalk {
    fn field(&self) -> &'static str {
        self.sort.field()
    }

    fn dir(&self) -> &'static str {
        if self.descending {
            "DESC"
        } else {
            "ASC"
        }
    }

    /// The conditions of each walk: one for everyone, two (owner, creator)
    /// for an own-scope user. "Owned or created by me" as one OR condition
    /// walks the whole table; two walks of the (owner | created_by, live,
    /// sort) indexes, each stopping at the limit, merged here, give the same
    /// page.
    fn walks(&self) -> Vec<Vec<String>> {
        match self.scope_user {
            None => vec![self.conds.clone()],
            Some(_) => ["owner = $scope_user", "created_by = $scope_user"]
                .iter()
                .map(|who| {
                    let mut all = self.conds.clone();
                    all.push(who.to_string());
                    all
                })
                .collect(),
        }
    }

    fn vars(&self) -> Map<String, Value> {
        let mut vars = self.vars.clone();
        if let Some(user) = &self.scope_user {
            vars.insert("scope_user".into(), json!(user));
        }
        vars
    }

    /// Whether sort key `a` comes before `b` in this page's order.
    fn before(&self, a: &str, b: &str) -> bool {
        if self.descending {
            a > b
        } else {
            a < b
        }
    }

    /// The page through the walks' indexes with `extra` conditions; each
    /// walk stops at the limit.
    async fn index_page(&self, ctx: &Ctx, extra: &[String]) -> DomainResult<Vec<Lead>> {
        let (field, dir) = (self.field(), self.dir());
        let sql: Vec<String> = self
            .walks()
            .into_iter()
            .map(|mut conds| {
                conds.extend(extra.iter().cloned());
                format!(
                    "{SELECT_LEAD} lead WHERE {} ORDER BY {field} {dir} LIMIT $limit;",
                    conds.join(" AND ")
                )
            })
            .collect();
        let results = ctx
            .store
            .run(&sql.join("\n"), Value::Object(self.vars()))
            .await?;
        if sql.len() == 1 {
            return Ok(results.rows(0)?);
        }
        Ok(merge_walks(
            results.rows(0)?,
            results.rows(1)?,
            self.sort,
            self.descending,
            self.limit + 1,
        ))
    }
}

pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    filter: &LeadFilter,
    page: &PageRequest,
) -> DomainResult<LeadPage> {
    let scope = Scope::of(actor)?;
    let (mut conds, mut vars) = filter_conditions(ctx, actor, filter).await?;
    let search = Search::of(filter)?;
    let limit = page.limit.clamp(1, 500);
    let field = page.sort.field();
    let cmp = if page.descending { "<" } else { ">" };
    // Without a cursor the page still starts from an open bound on the sort
    // field: a range condition is what makes the planner walk the sort
    // index instead of sorting every match.
    let bound = match &page.after {
        Some(after) => cursor::decode(after)?,
        None if page.descending => char::MAX.to_string(),
        None => String::new(),
    };
    conds.push(format!("{field} {cmp} $after"));
    vars.insert("after".into(), json!(bound));
    // One more than the page: it only says there is a next page.
    vars.insert("limit".into(), json!(limit + 1));
    let walk = PageWalk {
        conds,
        vars,
        sort: page.sort,
        descending: page.descending,
        limit,
        scope_user: scope.user().map(str::to_string),
    };
    let rows = match search {
        None => walk.index_page(ctx, &[]).await?,
        Some(search) => return search_page(ctx, &walk, &search).await,
    };
    // The cursor is the last lead kept, not the extra one.
    let cursor::Page { items, next_cursor } =
        cursor::Page::from_one_more(rows, limit, |l| encode_cursor(l, page.sort));
    Ok(LeadPage { items, next_cursor })
}

/// One walk of a search page: the sort index from the page's cursor under
/// its conditions, read in steps. Each step is one range scan whose LIMIT
/// the engine stops at; the leads it reads stay in the database, only the
/// matches come back.
struct SearchWalk {
    sql: String,
    vars: Map<String, Value>,
    /// The matches read so far, in the page's order.
    hits: Vec<Lead>,
    read: usize,
    step: usize,
    /// The sort key of the last lead read, while the range goes on past
    /// it: the walk has looked at every lead up to there.
    stopped_at: Option<String>,
    /// The range has no more leads.
    ended: bool,
}

#[derive(serde::Deserialize)]
struct Step {
    hits: Vec<Lead>,
    read: usize,
    last: Option<String>,
}

impl SearchWalk {
    fn new(walk: &PageWalk, search: &Search, terms: &Value, conds: &[String]) -> SearchWalk {
        let sql = format!(
            "LET $w = ({});
             RETURN {{ hits: $w[WHERE _hit = true], read: array::len($w), last: array::last($w)._key }};",
            step_select(walk.sort, walk.descending, conds, &search.row_test())
        );
        let mut vars = walk.vars();
        search.bind(&mut vars);
        vars.insert("f_terms".into(), terms.clone());
        SearchWalk {
            sql,
            vars,
            hits: Vec::new(),
            read: 0,
            // Most leads of a common word match: a page and a quarter first.
            step: walk.limit + 1 + (walk.limit + 1) / 4,
            stopped_at: None,
            ended: false,
        }
    }

    /// Whether the walk has `need` matches or has seen its whole range.
    fn done(&self, need: usize) -> bool {
        self.ended || self.hits.len() >= need
    }

    /// Walks on until [`SearchWalk::done`] or `budget` leads are read; with
    /// `judge_early`, also after any step whose share of matches would not
    /// fill the page within the budget.
    async fn go(
        &mut self,
        ctx: &Ctx,
        need: usize,
        budget: usize,
        judge_early: bool,
    ) -> DomainResult<()> {
        while !self.done(need) && self.read < budget {
            let step = self.step.min(budget - self.read);
            self.vars.insert("step".into(), json!(step));
            let found: Option<Step> = ctx
                .store
                .run(&self.sql, Value::Object(self.vars.clone()))
                .await?
                .first(1)?;
            let Some(found) = found else {
                return Err(DomainError::Internal(
                    "a search step answered nothing".into(),
                ));
            };
            self.read += found.read;
            self.hits.extend(found.hits);
            match found.last.filter(|_| found.read == step) {
                Some(last) => {
                    self.vars.insert("after".into(), json!(last));
                    self.stopped_at = Some(last);
                }
                // The range ended within this step.
                None => {
                    self.stopped_at = None;
                    self.ended = true;
                }
            }
            if self.done(need) {
                break;
            }
            let missing = need - self.hits.len();
            if judge_early && self.hits.len() * budget < need * self.read {
                break;
            }
            self.step = next_step(missing, self.hits.len(), self.read, step);
        }
        Ok(())
    }
}

/// A page of a search. A full-text index answers "which leads hold this
/// word" in time that grows with the answer, and then every hit must be
/// sorted; a word most leads share would cost seconds at a hundred thousand
/// leads. So the page walks the sort order's index from the cursor instead,
/// testing each lead against the search's terms ([`Search::row_test`]), and
/// stops once it has a page: a common word costs a page's worth of leads.
///
/// A rare word would make that walk read the whole table, so each walk
/// reads at most `ctx.search_walk_budget` leads (`SEARCH_WALK_BUDGET`).
/// As soon as a walk's share of matches says it would not fill the page
/// within that, a word the index holds rarely enough
/// ([`Search::is_rare`]) is read through the index, as every search used
/// to be; a word in between (too many hits to sort, too few to fill a page
/// within the budget) walks on to the budget and answers the matches found,
/// possibly fewer than `limit` or none, with a `next_cursor` where the walk
/// stopped. Either way every match comes once and in order across the
/// pages.
async fn search_page(ctx: &Ctx, walk: &PageWalk, search: &Search) -> DomainResult<LeadPage> {
    let Some(terms) = search.terms(ctx).await? else {
        return Ok(LeadPage {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let need = walk.limit + 1;
    let budget = ctx.search_walk_budget.max(1);
    let mut walks: Vec<SearchWalk> = walk
        .walks()
        .iter()
        .map(|conds| SearchWalk::new(walk, search, &terms, conds))
        .collect();
    for w in &mut walks {
        w.go(ctx, need, budget, true).await?;
    }
    if walks.iter().any(|w| !w.done(need)) {
        if search.is_rare(ctx).await? {
            return index_search_page(ctx, walk, search).await;
        }
        for w in &mut walks {
            w.go(ctx, need, budget, false).await?;
        }
    }
    // Every walk has looked at its range up to where it stopped; past the
    // earliest such point a match of one walk may still be missing from
    // another, so the page ends there.
    let frontier = walks
        .iter()
        .filter_map(|w| w.stopped_at.clone())
        .reduce(|a, b| if walk.before(&a, &b) { a } else { b });
    let mut hits = Vec::new();
    for w in walks {
        hits.extend(w.hits);
    }
    let mut kept = merge_walks(hits, Vec::new(), walk.sort, walk.descending, usize::MAX);
    if let Some(end) = &frontier {
        kept.retain(|l| !walk.before(end, &sort_value(l, walk.sort)));
    }
    if kept.len() > walk.limit {
        let cursor::Page { items, next_cursor } =
            cursor::Page::from_one_more(kept, walk.limit, |l| encode_cursor(l, walk.sort));
        return Ok(LeadPage { items, next_cursor });
    }
    Ok(LeadPage {
        items: kept,
        next_cursor: frontier.map(|end| cursor::encode(&end)),
    })
}

/// A search page read through the full-text index: every hit, sorted.
async fn index_search_page(ctx: &Ctx, walk: &PageWalk, search: &Search) -> DomainResult<LeadPage> {
    let mut extra = Vec::new();
    let mut vars = walk.vars.clone();
    search.index_conditions(&mut extra, &mut vars);
    let through_index = PageWalk {
        conds: walk.conds.clone(),
        vars,
        sort: walk.sort,
        descending: walk.descending,
        limit: walk.limit,
        scope_user: walk.scope_user.clone(),
    };
    let rows = through_index.index_page(ctx, &extra).await?;
    let cursor::Page { items, next_cursor } =
        cursor::Page::from_one_more(rows, walk.limit, |l| encode_cursor(l, walk.sort));
    Ok(LeadPage { items, next_cursor })
}

/// One step of a search walk: the next `$step` leads of the sort index
/// range under `conds`, each with its sort key and whether `test` holds.
fn step_select(sort: SortKey, descending: bool, conds: &[String], test: &str) -> String {
    let field = sort.field();
    let dir = if descending { "DESC" } else { "ASC" };
    format!(
        "SELECT *, record::id(id) AS id, {field} AS _key, ({test}) AS _hit FROM lead \
         WHERE {} ORDER BY {field} {dir} LIMIT $step",
        conds.join(" AND ")
    )
}

/// The statement of one step of a search walk for live leads from
/// `$after`, for everyone (`who` None) or one of an own-scope user's walks
/// (`owner = ..`, `created_by = ..`): for plan tests.
#[doc(hidden)]
pub fn search_step_statement(sort: SortKey, descending: bool, who: Option<&str>) -> String {
    let cmp = if descending { "<" } else { ">" };
    let mut conds = vec![
        "live = true".to_string(),
        format!("{} {cmp} $after", sort.field()),
    ];
    conds.extend(who.map(str::to_string));
    let search = Search {
        words: vec!["holdings".into()],
    };
    step_select(sort, descending, &conds, &search.row_test())
}

/// The next step of a search walk: enough leads for the `missing` matches
/// at the share of matches read so far (a quarter more, for luck), or four
/// times the last step when nothing has matched yet.
fn next_step(missing: usize, matched: usize, read: usize, last: usize) -> usize {
    let step = match (missing * read).checked_div(matched) {
        Some(expected) => expected + expected / 4 + 1,
        None => last * 4,
    };
    step.max(missing).min(SEARCH_STEP_MAX)
}

/// The first `limit` leads of two walks in the same order, each lead once
/// (a lead the user both owns and created is in both). Each walk holds its
/// first `limit` rows, so these are the first `limit` of the union too.
fn merge_walks(
    a: Vec<Lead>,
    b: Vec<Lead>,
    sort: SortKey,
    descending: bool,
    limit: usize,
) -> Vec<Lead> {
    let mut all: Vec<(String, Lead)> = a
        .into_iter()
        .chain(b)
        .map(|l| (sort_value(&l, sort), l))
        .collect();
    all.sort_by(|x, y| x.0.cmp(&y.0));
    all.dedup_by(|x, y| x.0 == y.0);
    if descending {
        all.reverse();
    }
    all.into_iter().take(limit).map(|(_, l)| l).collect()
}

/// How many leads the filter matches within the actor's scope. A count
/// filtered only by trash, status and owner (and the actor's scope) sums the
/// rows of `lead_count`, which the database keeps with every change to a
/// lead, so it costs the same at a million leads as at ten; any other
/// filter walks the leads it matches through its index.
pub async fn count(ctx: &Ctx, actor: &Actor, filter: &LeadFilter) -> DomainResult<u64> {
    if let Some(tally) = TallyFilter::of(filter) {
        return count_from_tally(ctx, actor, &tally).await;
    }
    let (conds, vars) = conditions(ctx, actor, filter).await?;
    let sql = format!(
        "SELECT count() FROM lead WHERE {} GROUP ALL",
        conds.join(" AND ")
    );
    let row: Option<Value> = ctx.store.run(&sql, Value::Object(vars)).await?.first(0)?;
    Ok(row.and_then(|r| r["count"].as_u64()).unwrap_or(0))
}

/// The part of a lead filter that `lead_count` can answer: trash or live,
/// status and owner. `None` for a filter with anything else in it.
#[derive(Debug, PartialEq)]
struct TallyFilter<'a> {
    deleted: bool,
    status: Option<&'a str>,
    owner: Option<&'a str>,
}

impl<'a> TallyFilter<'a> {
    fn of(filter: &'a LeadFilter) -> Option<TallyFilter<'a>> {
        fn given(value: &Option<String>) -> Option<&str> {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let LeadFilter {
            status,
            owner,
            country,
            state,
            industry,
            tag,
            created_from,
            created_to,
            follow_up_due,
            q,
            deleted,
            score_min,
        } = filter;
        let others = [country, state, industry, tag, q]
            .into_iter()
            .any(|v| given(v).is_some())
            || created_from.is_some()
            || created_to.is_some()
            || follow_up_due.is_some()
            || score_min.is_some();
        (!others).then(|| TallyFilter {
            deleted: *deleted,
            status: given(status),
            owner: given(owner),
        })
    }
}

async fn count_from_tally(ctx: &Ctx, actor: &Actor, tally: &TallyFilter<'_>) -> DomainResult<u64> {
    let scope = Scope::of(actor)?;
    let mut conds = vec!["live = $live".to_string()];
    let mut vars = Map::new();
    vars.insert("live".into(), json!(!tally.deleted));
    if let Some(status) = tally.status {
        conds.push("status = $status".into());
        vars.insert("status".into(), json!(status));
    }
    if let Some(owner) = tally.owner {
        conds.push("owner = $owner".into());
        vars.insert("owner".into(), json!(owner));
    }
    // Each lead is in exactly one row, and a row has one owner and one
    // creator, so the scope's "owner or creator" counts no lead twice.
    if let Some(c) = scope.condition() {
        conds.push(c.to_string());
        vars.insert("scope_user".into(), json!(scope.user()));
    }
    let sql = format!(
        "SELECT math::sum(leads) AS n FROM lead_count WHERE {} GROUP ALL",
        conds.join(" AND ")
    );
    let row: Option<Value> = ctx.store.run(&sql, Value::Object(vars)).await?.first(0)?;
    Ok(row.and_then(|r| r["n"].as_u64()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trash_status_and_owner_are_counted_from_the_tally() {
        let plain = LeadFilter::default();
        assert_eq!(
            TallyFilter::of(&plain),
            Some(TallyFilter {
                deleted: false,
                status: None,
                owner: None
            })
        );
        let by_status = LeadFilter {
            status: Some(" won ".into()),
            owner: Some("".into()),
            deleted: true,
            ..LeadFilter::default()
        };
        assert_eq!(
            TallyFilter::of(&by_status),
            Some(TallyFilter {
                deleted: true,
                status: Some("won"),
                owner: None
            })
        );
        let blank_country = LeadFilter {
            country: Some("  ".into()),
            ..LeadFilter::default()
        };
        assert!(TallyFilter::of(&blank_country).is_some());
        for walked in [
            LeadFilter {
                country: Some("DE".into()),
                ..LeadFilter::default()
            },
            LeadFilter {
                q: Some("acme".into()),
                ..LeadFilter::default()
            },
            LeadFilter {
                score_min: Some(10),
                ..LeadFilter::default()
            },
            LeadFilter {
                follow_up_due: Some(FollowUpDue::Today),
                ..LeadFilter::default()
            },
        ] {
            assert_eq!(TallyFilter::of(&walked), None, "{walked:?}");
        }
    }

    #[test]
    fn today_is_the_local_day_of_the_actor() {
        let now: DateTime<Utc> = "2026-03-10T23:30:00Z".parse().unwrap();
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let (from, to) = FollowUpDue::Today.window(now, berlin);
        assert_eq!(
            from.unwrap().to_rfc3339(),
            "2026-03-10T23:00:00+00:00",
            "already the 11th in Berlin"
        );
        assert_eq!(to.to_rfc3339(), "2026-03-11T23:00:00+00:00");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let raw = cursor::encode("acme|0193");
        assert_eq!(cursor::decode(&raw).unwrap(), "acme|0193");
        assert!(cursor::decode("%%%").is_err());
    }
}
