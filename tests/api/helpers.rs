//! The real app on a random port with an in-memory store, a controllable
//! clock, and helpers that sign in as each role.

use std::sync::Arc;

use ea_crm::app::App;
use ea_crm::config::Config;
use ea_crm::domain::clock::ManualClock;
use ea_crm::domain::Ctx;
use ea_crm::store::Store;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const USER_PASSWORD: &str = "user-password-123";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[path = "../common/multipart.rs"]
mod multipart_body;
pub use multipart_body::multipart;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    upload_dir: std::path::PathBuf,
    ctx: Option<Arc<Ctx>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::for_tests();
        adjust(&mut config);
        Self::start(config).await
    }

    /// The chat socket's URL, without credentials.
    pub fn ws_url(&self) -> String {
        format!("{}/api/v1/ws", self.base.replace("http://", "ws://"))
    }

    pub async fn start(config: Config) -> TestApp {
        Self::start_on(config, ManualClock::new(), None).await
    }

    /// A second instance on this one's store and clock, as two servers
    /// sharing one database would be.
    pub async fn second_instance(&self) -> TestApp {
        self.second_instance_with(|_| {}).await
    }

    pub async fn second_instance_with(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::for_tests();
        adjust(&mut config);
        let store = self.ctx().store.clone();
        Self::start_on(config, self.clock.clone(), Some(store)).await
    }

    pub async fn start_on(config: Config, clock: ManualClock, store: Option<Store>) -> TestApp {
        init_logging();
        let upload_dir = config.upload_dir.clone();
        let app = App::build_with(config, Arc::new(clock.clone()), store)
            .await
            .expect("app builds");
        let base = format!("http://{}", app.addr);
        let ctx = app.ctx.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            base,
            client: reqwest::Client::builder().build().unwrap(),
            clock,
            upload_dir,
            ctx: Some(ctx),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Now on the app's clock.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use ea_crm::domain::clock::Clock;
        self.clock.now()
    }

    pub fn upload_dir(&self) -> std::path::PathBuf {
        self.upload_dir.clone()
    }

    /// The domain context, for tests that look at stored rows directly.
    pub fn ctx(&self) -> &Ctx {
        self.ctx.as_ref().expect("app is running")
    }

    /// Stops the server and waits until it has let go of the store.
    pub async fn stop(mut self) {
        self.ctx = None;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The service's OpenAPI document.
    pub async fn openapi(&self) -> Value {
        let response = self
            .client
            .get(self.url("/openapi.json"))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        response.json().await.expect("the document is JSON")
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let rb = self.client.request(method, self.url(path));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_json(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Switches the feature `key` on or off as `admin`; returns the answer.
    pub async fn switch_feature(&self, admin: &str, key: &str, enabled: bool) -> Value {
        ok(self
            .put_json(
                &format!("/api/v1/features/{key}"),
                admin,
                json!({ "enabled": enabled }),
            )
            .await)
        .await
    }

    /// Sends `body` with an `Idempotency-Key` header, as a client that may
    /// retry does.
    pub async fn send_with_key(
        &self,
        method: Method,
        path: &str,
        token: &str,
        key: &str,
        body: Value,
    ) -> Response {
        self.request(method, path, Some(token))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    /// Posts `body` as a file of `content_type` (a CSV, a workbook).
    pub async fn post_file(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        self.request(Method::POST, path, Some(token))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Uploads a file called `name` holding `bytes` as multipart form data
    /// (with the text `fields` first), under an `Idempotency-Key` when one
    /// is given.
    pub async fn upload(
        &self,
        path: &str,
        token: &str,
        key: Option<&str>,
        fields: &[(&str, &str)],
        name: &str,
        bytes: &[u8],
    ) -> Response {
        let (content_type, body) = multipart(fields, name, bytes);
        let mut request = self
            .request(Method::POST, path, Some(token))
            .header("content-type", content_type);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.body(body).send().await.unwrap()
    }

    /// Makes an API key from the session `token`, narrowed to `permissions`
    /// (all of the owner's when empty), and returns its secret.
    pub async fn api_key(&self, token: &str, permissions: &[&str]) -> String {
        let mut body = json!({"name": format!("key-{}", permissions.join("-"))});
        if !permissions.is_empty() {
            body["permissions"] = json!(permissions);
        }
        let response = self.post("/api/v1/api-keys", token, body).await;
        assert_eq!(response.status(), StatusCode::OK, "create an API key");
        let created: Value = response.json().await.unwrap();
        created["key"].as_str().unwrap().to_string()
    }

    pub async fn login_response(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Signs in as a browser does: the session in a cookie, no token in
    /// the answer.
    pub async fn cookie_login_response(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password, "cookie": true}))
            .send()
            .await
            .unwrap()
    }

    /// Signs in and returns the session token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let response = self.login_response(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user with `role` and returns (id, session token).
    pub async fn user_with_role(
        &self,
        admin: &str,
        username: &str,
        role: &str,
    ) -> (String, String) {
        let response = self
            .post(
                "/api/v1/users",
                admin,
                json!({"username": username, "email": format!("{username}@example.com"),
                       "password": USER_PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "create {username}");
        let user: Value = response.json().await.unwrap();
        let token = self.login(username, USER_PASSWORD).await;
        (user["id"].as_str().unwrap().to_string(), token)
    }

    /// Creates a lead for `company` as the user behind `token`; returns its id.
    pub async fn create_lead(&self, token: &str, company: &str) -> String {
        let response = self
            .post("/api/v1/leads", token, json!({"company_name": company}))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "create lead {company}");
        let created: Value = response.json().await.unwrap();
        created["lead"]["id"].as_str().unwrap().to_string()
    }

    /// Creates a lead from `body` as the user behind `token`, whether or
    /// not it duplicates a stored one; returns its id.
    pub async fn create_lead_from(&self, token: &str, mut body: Value) -> String {
        body["allow_duplicate"] = json!(true);
        let created = ok(self.post("/api/v1/leads", token, body).await).await;
        created["lead"]["id"].as_str().unwrap().to_string()
    }

    /// Creates a design task called `title`; returns its id.
    pub async fn create_task(&self, token: &str, title: &str) -> String {
        let created = ok(self
            .post(
                "/api/v1/tasks",
                token,
                json!({"title": title, "task_type": "design"}),
            )
            .await)
        .await;
        created["id"].as_str().unwrap().to_string()
    }

    /// Creates a group room called `name`; returns its id.
    pub async fn create_room(&self, token: &str, name: &str) -> String {
        let created = ok(self
            .post(
                "/api/v1/rooms",
                token,
                json!({"name": name, "kind": "group"}),
            )
            .await)
        .await;
        created["id"].as_str().unwrap().to_string()
    }

    /// Adds a note to a lead as the user behind `token`; returns the note.
    pub async fn add_note(&self, token: &str, lead: &str, text: &str) -> Value {
        ok(self
            .post(
                &format!("/api/v1/leads/{lead}/notes"),
                token,
                json!({"text": text}),
            )
            .await)
        .await
    }

    /// Every item of a paged list (`{items, next_cursor}`), read `limit` at
    /// a time by following `next_cursor`.
    pub async fn walk(&self, token: &str, path: &str, limit: usize) -> Vec<Value> {
        self.walk_whole_pages(token, path, limit).await.0
    }

    /// Like `walk`, also counting the pages read: the items of every page,
    /// in order, and how many pages the list gave out before one came
    /// without a `next_cursor` (an empty last page counts as one).
    pub async fn walk_whole_pages(
        &self,
        token: &str,
        path: &str,
        limit: usize,
    ) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        for pages in 1..=200 {
            let page_path = match &after {
                Some(cursor) => format!("{path}{sep}limit={limit}&after={cursor}"),
                None => format!("{path}{sep}limit={limit}"),
            };
            let page = ok(self.get(&page_path, token).await).await;
            let got = page["items"].as_array().unwrap_or_else(|| panic!("{page}"));
            assert!(got.len() <= limit, "{page}");
            items.extend(got.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => after = Some(cursor.to_string()),
                None => return (items, pages),
            }
        }
        panic!("{path} did not end in 200 pages");
    }

    /// Every item of a paged list, read in the largest pages.
    pub async fn all_items(&self, token: &str, path: &str) -> Vec<Value> {
        self.walk(token, path, 200).await
    }

    /// A room's whole history, oldest first, read through the API a page at
    /// a time by sequence number.
    pub async fn room_history(&self, token: &str, room: &str) -> Vec<Value> {
        let mut history = Vec::new();
        let mut after = 0;
        loop {
            let response = self
                .get(
                    &format!("/api/v1/rooms/{room}/messages?after={after}&limit=200"),
                    token,
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK, "history of {room}");
            let page: Vec<Value> = response.json().await.unwrap();
            let Some(last) = page.last() else {
                return history;
            };
            after = last["seq"].as_i64().unwrap();
            history.extend(page);
        }
    }
}

/// An app with its admin signed in, a production manager (`pam`) signed
/// in, and two users (`ann`, `bob`, by id): the cast of the analytics
/// tests.
pub struct Team {
    pub app: TestApp,
    pub admin: String,
    pub pm: String,
    pub ann: String,
    pub bob: String,
}

impl Team {
    pub async fn spawn() -> Team {
        let app = TestApp::spawn().await;
        let admin = app.admin_token().await;
        let (_, pm) = app
            .user_with_role(&admin, "pam", "production_manager")
            .await;
        let (ann, _) = app.user_with_role(&admin, "ann", "user").await;
        let (bob, _) = app.user_with_role(&admin, "bob", "user").await;
        Team {
            app,
            admin,
            pm,
            ann,
            bob,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // `Config::for_tests` gives each app an upload folder of its own in
        // the temp dir; thousands of runs would leave thousands behind. A
        // folder a test chose (a backup's source) is the test's to keep.
        let generated = self
            .upload_dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("ea-crm-uploads-"));
        if generated {
            let _ = std::fs::remove_dir_all(&self.upload_dir);
        }
    }
}

/// Checks an answer is 200 and reads its JSON body.
pub async fn ok(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text}"))
}

/// Reads a JSON error body and checks its shape and that it leaks nothing.
pub async fn error_of(response: Response) -> (StatusCode, String, String) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is not JSON: {text}"));
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {text}"))
        .to_string();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.message in {text}"))
        .to_string();
    assert_no_internals(&text);
    (status, code, message)
}

pub fn assert_no_internals(text: &str) {
    let lower = text.to_lowercase();
    for leak in [
        "surreal",
        "select ",
        "panicked",
        "/src/",
        ".rs:",
        "backtrace",
        "/root/",
        "stack",
    ] {
        assert!(!lower.contains(leak), "response leaks `{leak}`: {text}");
    }
}

/// A workbook with a header row and one lead (`company`), as a
/// spreadsheet program would save it.
pub fn xlsx_with_one_lead(company: &str) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "Company").unwrap();
    sheet.write_string(0, 1, "Country").unwrap();
    sheet.write_string(1, 0, company).unwrap();
    sheet.write_string(1, 1, "DE").unwrap();
    book.save_to_buffer().unwrap()
}

/// `workbook` with its part `name` replaced by `content`, deflated as
/// tightly as possible: how a crafted file is made.
pub fn xlsx_with_part(workbook: &[u8], name: &str, content: &[u8]) -> Vec<u8> {
    use std::io::{Cursor, Read, Write};
    let mut from = zip::ZipArchive::new(Cursor::new(workbook)).unwrap();
    let mut to = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    for i in 0..from.len() {
        let mut part = from.by_index(i).unwrap();
        let part_name = part.name().unwrap().to_string();
        let mut bytes = Vec::new();
        part.read_to_end(&mut bytes).unwrap();
        to.start_file(part_name.as_str(), options).unwrap();
        to.write_all(if part_name == name { content } else { &bytes })
            .unwrap();
    }
    to.finish().unwrap().into_inner()
}

/// Logs go to the test output when `TEST_LOG` is set (e.g. `TEST_LOG=debug`).
fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}

/// The ids among `leads` that `base` cannot read back: what a crash or a
/// killed instance lost of what it acknowledged.
pub async fn unreadable_leads(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    leads: &[String],
) -> Vec<String> {
    let mut missing = Vec::new();
    for id in leads {
        let r = client
            .get(format!("{base}/api/v1/leads/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::OK {
            missing.push(id.clone());
        }
    }
    missing
}

/// Every message id stored in `room`, read through the history API a page
/// at a time by sequence number.
pub async fn room_message_ids(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    room: &str,
) -> std::collections::HashSet<String> {
    let mut stored = std::collections::HashSet::new();
    let mut after = 0;
    loop {
        let page: Value = client
            .get(format!(
                "{base}/api/v1/rooms/{room}/messages?after={after}&limit=200"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page
            .as_array()
            .or(page["items"].as_array())
            .cloned()
            .unwrap_or_default();
        let Some(last) = items.last() else { break };
        after = last["seq"].as_i64().unwrap();
        stored.extend(
            items
                .iter()
                .filter_map(|m| m["id"].as_str().map(String::from)),
        );
    }
    stored
}

/// The `Set-Cookie` values of a response, as sent.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}
