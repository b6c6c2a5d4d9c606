//! A property test of the whole API surface: every operation listed in
//! `/openapi.json` is sent only invalid input (malformed or wrongly typed
//! bodies, missing required fields, wrongly typed and oversized fields,
//! impossible path ids, unparseable query values), as the admin and once
//! without credentials. Every answer must be a 4xx with the JSON error
//! shape and must not leak internals.
//!
//! Only invalid input is sent, built so that either the request parser
//! refuses it before a handler runs or the ids it names cannot exist; an
//! operation that takes no input at all is not called as the admin, since
//! there is nothing invalid to send it.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::helpers::TestApp;

/// Deterministic xorshift64*, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Random printable junk, some of it beyond ASCII.
    fn junk(&mut self, len: usize) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '0', '9', '-', '_', '.', ' ', '%', '\'', '"', '\\', '{', '}', '[', ']', ':',
            ',', 'ü', 'ß', 'é', '中', '🙂', '\u{202e}', '\u{feff}', '\u{0}', '\n', '⟨', '⟩',
        ];
        (0..len).map(|_| *self.pick(CHARS)).collect()
    }
}

/// Bodies that are not JSON at all.
const MALFORMED_JSON: &[&str] = &[
    "{",
    "{\"a\":",
    "[1,2",
    "nul",
    "{'single': 'quotes'}",
    "{\"a\": 1,}",
    "\u{feff}{\"a\":1",
    "{\"a\": \"\\ud800\"",
    "\"unterminated",
    "{\"a\": 1e999999}",
];

/// Text that is well typed but odd where an id or a name is expected.
const ODD_TEXT: &[&str] = &["", " ", "⟩", "lead:x", "\u{0}", "a\u{0}b"];

/// Path ids that cannot name a stored record.
fn impossible_ids(rng: &mut Rng) -> Vec<String> {
    let mut ids: Vec<String> = vec![
        "not-a-uuid".into(),
        "00000000-0000-0000-0000-000000000000".into(),
        "ffffffffffffffffffffffffffffffff".into(),
        "ünï🙂cödé".into(),
        "user:admin".into(),
        "lead:⟨x⟩".into(),
        "1' OR '1'='1".into(),
        "\"); REMOVE TABLE lead; --".into(),
        "..%2F..%2Fetc%2Fpasswd".into(),
        "%00".into(),
        "-1".into(),
        "99999999999999999999999999".into(),
        "a".repeat(3_000),
    ];
    for _ in 0..3 {
        let len = 1 + rng.below(40);
        ids.push(rng.junk(len));
    }
    ids
}

/// The schema a `$ref` (or poem-openapi's single-element `allOf`) names.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return resolve(spec, &spec["components"]["schemas"][name]);
    }
    if let Some([only]) = schema["allOf"].as_array().map(Vec::as_slice) {
        return resolve(spec, only);
    }
    schema
}

/// A value of the wrong JSON type for `schema`.
fn wrong_type(spec: &Value, schema: &Value, rng: &mut Rng) -> Value {
    let schema = resolve(spec, schema);
    match schema["type"].as_str() {
        Some("string") => json!(*rng.pick(&[12345, -1, 0])),
        Some("integer") | Some("number") => json!(*rng.pick(&["not a number", "1.5.2", "١٢"])),
        Some("boolean") => json!("maybe"),
        Some("array") => json!({"not": "a list"}),
        Some("object") => json!(7),
        // A one-of or untyped schema: a type nothing here uses.
        _ => json!([[[]]]),
    }
}

/// The smallest value of the right type: required fields only, first enum
/// choices, empty lists.
fn minimal_value(spec: &Value, schema: &Value, depth: usize) -> Value {
    let schema = object_schema(spec, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("string"), Some("date-time")) => json!("2030-01-01T09:00:00Z"),
        (Some("string"), Some("date")) => json!("2030-01-01"),
        (Some("string"), _) => json!("x"),
        (Some("integer") | Some("number"), _) => json!(1),
        (Some("boolean"), _) => json!(false),
        (Some("array"), _) => json!([]),
        _ if depth < 4 => {
            let mut object = Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                let field = &schema["properties"][name];
                object.insert(name.to_string(), minimal_value(spec, field, depth + 1));
            }
            Value::Object(object)
        }
        _ => json!({}),
    }
}

/// Wraps an `oneOf` of objects (tagged unions) down to its first member.
fn object_schema<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = resolve(spec, schema);
    match schema["oneOf"].as_array().and_then(|v| v.first()) {
        Some(first) => object_schema(spec, first),
        None => schema,
    }
}

struct Operation {
    method: Method,
    /// The path as listed, with `{param}` placeholders.
    path: String,
    op: Value,
}

impl Operation {
    fn params(&self, location: &str) -> Vec<&Value> {
        self.op["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter(|p| p["in"] == location).collect())
            .unwrap_or_default()
    }

    fn body_types(&self) -> Vec<String> {
        self.op["requestBody"]["content"]
            .as_object()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn json_body_schema(&self) -> Option<&Value> {
        let content = self.op["requestBody"]["content"].as_object()?;
        content
            .iter()
            .find(|(t, _)| t.starts_with("application/json"))
            .map(|(_, c)| &c["schema"])
    }

    fn takes_no_input(&self) -> bool {
        self.op["parameters"]
            .as_array()
            .is_none_or(|p| p.is_empty())
            && self.op.get("requestBody").is_none()
    }

    /// The path with every placeholder filled by `id`.
    fn path_with(&self, id: &str) -> String {
        let mut out = String::new();
        let mut rest = self.path.as_str();
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .map_or(rest.len(), |e| start + e + 1);
            out.push_str(&percent_encode(id));
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }
}

fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Fields of one body tried one by one as the wrongly typed one.
const MAX_FIELDS_ONE_BY_ONE: usize = 4;

/// A well-formed placeholder id that names nothing, for requests whose
/// invalid part is elsewhere.
const MISSING_ID: &str = "0000000000000000000000000000dead";

/// One request to send and why it is invalid.
struct Case {
    what: String,
    path: String,
    query: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    /// False for well-typed extreme values a read may accept or clamp:
    /// then any answer but a 5xx will do, and an error must still be JSON.
    must_refuse: bool,
}

fn cases_for(spec: &Value, op: &Operation, rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    let base_path = op.path_with(MISSING_ID);
    let has_path_params = !op.params("path").is_empty();

    // Bodies.
    for content_type in op.body_types() {
        if content_type.starts_with("application/json") {
            for _ in 0..3 {
                let text = rng.pick(MALFORMED_JSON);
                cases.push(Case {
                    what: format!("malformed JSON {text:?}"),
                    path: base_path.clone(),
                    query: vec![],
                    body: Some((content_type.clone(), text.as_bytes().to_vec())),
                    must_refuse: true,
                });
            }
            let schema = op.json_body_schema().unwrap_or(&Value::Null);
            let whole = wrong_type(spec, schema, rng);
            cases.push(Case {
                what: format!("a body of the wrong type {whole}"),
                path: base_path.clone(),
                query: vec![],
                body: Some((content_type.clone(), whole.to_string().into_bytes())),
                must_refuse: true,
            });
            let object = object_schema(spec, schema);
            let required: Vec<&str> = object["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !required.is_empty() {
                cases.push(Case {
                    what: format!("missing required fields {required:?}"),
                    path: base_path.clone(),
                    query: vec![],
                    body: Some((content_type.clone(), b"{}".to_vec())),
                    must_refuse: true,
                });
            }
            if let Some(properties) = object["properties"].as_object() {
                // Every field of the wrong type.
                let wrong: Map<String, Value> = properties
                    .iter()
                    .map(|(name, s)| (name.clone(), wrong_type(spec, s, rng)))
                    .collect();
                cases.push(Case {
                    what: format!(
                        "every field of the wrong type {}",
                        Value::Object(wrong.clone())
                    ),
                    path: base_path.clone(),
                    query: vec![],
                    body: Some((
                        content_type.clone(),
                        Value::Object(wrong).to_string().into_bytes(),
                    )),
                    must_refuse: true,
                });
                // Each field alone of the wrong type, the others oversized
                // strings where strings go: the wrong field keeps it invalid.
                for (name, s) in properties.iter().take(MAX_FIELDS_ONE_BY_ONE) {
                    let mut body = Map::new();
                    for (other, os) in properties {
                        let value = if other == name {
                            wrong_type(spec, s, rng)
                        } else if resolve(spec, os)["type"] == "string" {
                            json!(rng.junk(10_000))
                        } else {
                            continue;
                        };
                        body.insert(other.clone(), value);
                    }
                    cases.push(Case {
                        what: format!("field `{name}` of the wrong type beside oversized strings"),
                        path: base_path.clone(),
                        query: vec![],
                        body: Some((
                            content_type.clone(),
                            Value::Object(body).to_string().into_bytes(),
                        )),
                        must_refuse: true,
                    });
                }
            }
        } else {
            // A binary or multipart body: bytes that are no such document.
            let mut junk: Vec<u8> = (0..64).map(|_| rng.next() as u8).collect();
            junk.extend_from_slice(b"\xff\xfe\x00not,a,header\n");
            cases.push(Case {
                what: format!("junk bytes as {content_type}"),
                path: base_path.clone(),
                query: vec![],
                body: Some((content_type.clone(), junk)),
                must_refuse: true,
            });
        }
    }
    // Well-typed bodies with one text field odd (empty, a record-id
    // separator, a closing bracket, NUL): such values reach the handler, and
    // an id among them must come back as a 4xx, never as the store's
    // failure. Any answer but a 5xx will do.
    if let Some(schema) = op.json_body_schema() {
        let object = object_schema(spec, schema);
        let base = minimal_value(spec, schema, 0);
        if let (Some(properties), Value::Object(base)) = (object["properties"].as_object(), base) {
            let text_fields = properties.iter().filter(|(_, s)| {
                let s = resolve(spec, s);
                s["type"] == "string" && s["format"].is_null() && !s["enum"].is_array()
            });
            let fields: Vec<&String> = text_fields
                .take(MAX_FIELDS_ONE_BY_ONE + 2)
                .map(|(name, _)| name)
                .collect();
            for (name, odd) in fields
                .into_iter()
                .flat_map(|name| [(name, ""), (name, *rng.pick(ODD_TEXT))])
            {
                let mut body = base.clone();
                body.insert(name.clone(), json!(odd));
                cases.push(Case {
                    what: format!("field `{name}` = {odd:?}"),
                    path: base_path.clone(),
                    query: vec![],
                    body: Some((
                        "application/json".into(),
                        Value::Object(body).to_string().into_bytes(),
                    )),
                    must_refuse: false,
                });
            }
        }
    }

    // A JSON body where the operation takes another kind, or none.
    if !op.body_types().is_empty() && op.json_body_schema().is_none() {
        cases.push(Case {
            what: "a JSON body where another kind is expected".into(),
            path: base_path.clone(),
            query: vec![],
            body: Some(("application/json".into(), b"{\"a\":1}".to_vec())),
            must_refuse: true,
        });
    }

    // Path ids that cannot exist, with a body the parser accepts so the
    // id reaches the handler; with no such record nothing can change.
    if has_path_params {
        let body = op.json_body_schema().map(|schema| {
            let value = minimal_value(spec, schema, 0);
            (
                "application/json".to_string(),
                value.to_string().into_bytes(),
            )
        });
        let ids = impossible_ids(rng);
        for _ in 0..6 {
            let id = rng.pick(&ids).clone();
            cases.push(Case {
                what: format!("path id {:?}", id.chars().take(40).collect::<String>()),
                path: op.path_with(&id),
                query: vec![],
                body: body.clone(),
                must_refuse: true,
            });
        }
    }

    // Query values that cannot parse as the declared type.
    for param in op.params("query") {
        let schema = resolve(spec, &param["schema"]);
        let bad: Vec<&str> = match (schema["type"].as_str(), schema["format"].as_str()) {
            (Some("integer"), _) => vec!["abc", "1.5", "99999999999999999999999", "١"],
            (Some("number"), _) => vec!["abc", "1,5", "NaN-ish"],
            (Some("boolean"), _) => vec!["maybe", "2", "yes please"],
            (Some("string"), Some("date-time")) => vec!["yesterday", "2026-13-45T99:00:00Z"],
            (Some("string"), Some("date")) => vec!["2026-02-30", "tomorrow"],
            (Some("string"), Some("uuid")) => vec!["not-a-uuid"],
            _ if schema["enum"].is_array() => vec!["no-such-choice"],
            _ => vec![],
        };
        let name = param["name"].as_str().unwrap_or_default();
        for value in bad {
            cases.push(Case {
                what: format!("query {name}={value:?}"),
                path: base_path.clone(),
                query: vec![(name.to_string(), value.to_string())],
                body: None,
                must_refuse: true,
            });
        }
    }
    // Well-typed extremes on reads: refused or clamped, never a crash.
    if op.method == Method::GET {
        for param in op.params("query") {
            let schema = resolve(spec, &param["schema"]);
            let extremes: Vec<String> = match (schema["type"].as_str(), schema["format"].as_str()) {
                (Some("integer"), _) => [
                    "-1",
                    "0",
                    "2147483648",
                    "9223372036854775807",
                    "-9223372036854775808",
                ]
                .map(String::from)
                .to_vec(),
                (Some("string"), Some("date-time")) => {
                    ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
                        .map(String::from)
                        .to_vec()
                }
                (Some("string"), None) if !schema["enum"].is_array() => {
                    vec![rng.junk(5_000), "⟨x⟩'\"`;--".into()]
                }
                _ => vec![],
            };
            let name = param["name"].as_str().unwrap_or_default();
            for value in extremes {
                cases.push(Case {
                    what: format!(
                        "query {name}={:?}",
                        value.chars().take(40).collect::<String>()
                    ),
                    path: base_path.clone(),
                    query: vec![(name.to_string(), value)],
                    body: None,
                    must_refuse: false,
                });
            }
        }
    }
    cases
}

/// What the document promises about answers: per operation, the statuses
/// it lists; for every error, the enumerated `code` values.
struct Promises {
    codes: BTreeSet<String>,
}

impl Promises {
    fn of(spec: &Value) -> Promises {
        let codes: BTreeSet<String> = spec["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("the error code is an enumeration")
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        Promises { codes }
    }
}

/// Checks one answer against what the document promises for `op`;
/// returns a description of what is wrong with it.
fn problem(
    op: &Operation,
    promises: &Promises,
    status: StatusCode,
    content_type: &str,
    text: &str,
    must_refuse: bool,
) -> Option<String> {
    let documented = op.op["responses"]
        .as_object()
        .is_some_and(|r| r.contains_key(status.as_str()));
    if !documented {
        return Some(format!("status {status} is not in the document"));
    }
    if !must_refuse && status.is_success() {
        return None;
    }
    if !status.is_client_error() {
        return Some(format!("status {status}"));
    }
    if !content_type.starts_with("application/json") {
        return Some(format!("content type {content_type:?}"));
    }
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return Some("body is not JSON".into());
    };
    if !body["error"]["code"].is_string() || !body["error"]["message"].is_string() {
        return Some("body is not {error:{code,message}}".into());
    }
    let code = body["error"]["code"].as_str().unwrap_or_default();
    if !promises.codes.contains(code) {
        return Some(format!("error code `{code}` is not in the document"));
    }
    let lower = text.to_lowercase();
    for leak in [
        "surreal",
        "thread",
        "panicked",
        "/src/",
        ".rs:",
        "/root/",
        "/home/",
        "cargo/registry",
        "backtrace",
        "select ",
        "select\\n",
    ] {
        if lower.contains(leak) {
            return Some(format!("leaks `{leak}`"));
        }
    }
    None
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            out.push(Operation {
                method,
                path: path.clone(),
                op: op.clone(),
            });
        }
    }
    out
}

async fn send(
    app: &TestApp,
    promises: &Promises,
    prefix: &str,
    op: &Operation,
    case: &Case,
    token: Option<&str>,
) -> Option<String> {
    let mut request = app
        .request(op.method.clone(), &format!("{prefix}{}", case.path), token)
        .query(&case.query);
    if let Some((content_type, bytes)) = &case.body {
        request = request
            .header("content-type", content_type.as_str())
            .body(bytes.clone());
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.unwrap_or_default();
    problem(op, promises, status, &content_type, &text, case.must_refuse).map(|p| {
        let shown: String = text.chars().take(300).collect();
        format!(
            "{} {} [{}] {}: {p}: {shown}",
            op.method,
            op.path,
            if token.is_some() {
                "admin"
            } else {
                "anonymous"
            },
            case.what
        )
    })
}

#[tokio::test]
async fn every_operation_answers_invalid_input_with_a_documented_json_4xx_and_never_a_5xx() {
    let app = TestApp::spawn_with(|c| {
        // Thousands of requests from one token and one address are the
        // point here, not a flood to slow down.
        c.rate_limit_per_token = 1_000_000;
        c.rate_limit_per_ip = 1_000_000;
        c.login_max_attempts_per_ip = 1_000_000;
    })
    .await;
    let admin = app.admin_token().await;
    let spec: Value = app.openapi().await;
    let prefix = spec["servers"][0]["url"].as_str().unwrap_or("/api/v1");
    let operations = operations(&spec);
    let promises = Promises::of(&spec);
    assert!(operations.len() > 100, "{} operations", operations.len());

    let mut rng = Rng(0x0A11_0F0B_AD1D_0001);
    let mut failures = Vec::new();
    let mut sent = 0;
    let mut covered = BTreeSet::new();
    for op in &operations {
        let cases = cases_for(&spec, op, &mut rng);
        if op.takes_no_input() {
            assert!(cases.is_empty());
        }
        for case in &cases {
            sent += 1;
            covered.insert(format!("{} {}", op.method, op.path));
            if let Some(p) = send(&app, &promises, prefix, op, case, Some(&admin)).await {
                failures.push(p);
            }
        }
        // Without credentials: the first case, or a bare call for an
        // operation without input (refused before anything runs).
        let bare = Case {
            what: "no input".into(),
            path: op.path_with(MISSING_ID),
            query: vec![],
            body: None,
            must_refuse: true,
        };
        let anonymous = cases.first().unwrap_or(&bare);
        sent += 1;
        if let Some(p) = send(&app, &promises, prefix, op, anonymous, None).await {
            failures.push(p);
        }
    }
    // The session survived it all: nothing invalid logged the admin out.
    let me = app.get("/api/v1/auth/me", &admin).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert!(
        failures.is_empty(),
        "{} of {sent} requests were answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Most operations take some input and so were exercised as the admin.
    assert!(covered.len() * 10 >= operations.len() * 7, "{covered:?}");
}
