//! The app, chromedriver and WebDriver sessions for the browser tests.

#[path = "../common/multipart.rs"]
mod multipart_body;
use multipart_body::multipart;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ea_crm::app::App;
use ea_crm::config::Config;
use ea_crm::domain::clock::ManualClock;
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const USER_PASSWORD: &str = "user-password-123";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(15);

pub struct Panel {
    pub base: String,
    /// The app's clock, which the tests move.
    pub clock: ManualClock,
    driver_url: String,
    driver: Child,
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

/// Where the accessibility test finds axe-core's `axe.min.js`: the file
/// named by `EA_CRM_AXE_JS` (`.ci/run` installs axe-core from npm, pinned,
/// and sets it), else the newest such install in the same cache.
pub fn axe_script_path() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("EA_CRM_AXE_JS") {
        return Some(path.into()).filter(|p: &std::path::PathBuf| p.is_file());
    }
    let tools = Path::new(&std::env::var_os("HOME")?).join(".cache/ea-crm/tools");
    let mut found: Vec<_> = std::fs::read_dir(tools)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("axe-core-"))
        .map(|e| e.path().join("node_modules/axe-core/axe.min.js"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// What is missing to run the browser tests, if anything.
pub fn missing_browser() -> Option<String> {
    [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .find(|path| !Path::new(path).exists())
        .map(String::from)
}

impl Panel {
    /// The app and a chromedriver, or `None` when the browser is missing.
    pub async fn start() -> Option<Panel> {
        Self::start_with(|_| {}).await
    }

    /// As `start`, with the app's configuration adjusted first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Option<Panel> {
        if missing_browser().is_some() {
            return None;
        }
        let mut config = Config::for_tests();
        adjust(&mut config);
        let clock = ManualClock::new();
        let app = App::build_with(config, Arc::new(clock.clone()), None)
            .await
            .expect("app builds");
        let base = format!("http://{}", app.addr);
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver_url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(Panel {
            base,
            clock,
            driver_url,
            driver,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
        })
    }

    /// A fresh headless Chromium with its own profile, at this window size.
    pub async fn browser(&self, width: u32, height: u32) -> Browser {
        self.browser_with(width, height, false).await
    }

    /// As `browser`, in the dark colour scheme when `dark`.
    pub async fn browser_with(&self, width: u32, height: u32, dark: bool) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                    if dark { "--force-dark-mode" } else { "--no-default-browser-check" },
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.driver_url)
            .await
            .expect("a WebDriver session");
        client.set_window_size(width, height).await.ok();
        // The profile directory must outlive the browser; it goes with the test.
        std::mem::forget(profile);
        Browser { client }
    }

    pub async fn api_login(&self, username: &str, password: &str) -> String {
        let body: Value = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["token"].as_str().expect("login token").to_string()
    }

    pub async fn api(&self, token: &str, method: &str, path: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }

    /// Sends `n` test events to webhook `hook` (nothing listens at its URL,
    /// so each delivery fails) and waits until its log holds at least
    /// `at_least` deliveries.
    pub async fn failed_deliveries(&self, token: &str, hook: &str, n: usize, at_least: usize) {
        for _ in 0..n {
            self.api(token, "POST", &format!("/webhooks/{hook}/test"), json!({}))
                .await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let page = self
                .api(
                    token,
                    "GET",
                    &format!("/webhooks/{hook}/deliveries?limit=200"),
                    json!(null),
                )
                .await;
            if page["items"]
                .as_array()
                .is_some_and(|a| a.len() >= at_least)
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{page}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The status of a call expected to be refused (where `api` would fail).
    pub async fn api_status(&self, token: &str, method: &str, path: &str, body: Value) -> u16 {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Posts a `multipart/form-data` upload: the text `fields`, then a
    /// `file` field named `name` holding `bytes`; returns the JSON answer.
    pub async fn upload(
        &self,
        token: &str,
        path: &str,
        fields: &[(&str, &str)],
        name: &str,
        bytes: &[u8],
    ) -> Value {
        let (content_type, body) = multipart(fields, name, bytes);
        let res = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Posts `bytes` as the body with this content type; returns the JSON
    /// answer (a CSV import, say).
    pub async fn post_bytes(
        &self,
        token: &str,
        path: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Value {
        let res = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn status(&self, token: &str, path: &str) -> u16 {
        self.http
            .get(format!("{}/api/v1{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The admin's API token.
    pub async fn admin(&self) -> String {
        self.api_login("admin", ADMIN_PASSWORD).await
    }

    /// A new user `username` with `role`, made by the admin (password
    /// `USER_PASSWORD`), signed in through the API: their token.
    pub async fn user(&self, username: &str, role: &str) -> String {
        let admin = self.admin().await;
        self.create_user(&admin, username, role).await;
        self.api_login(username, USER_PASSWORD).await
    }

    /// A fresh browser of this size signed in to the panel as `username`
    /// (the admin, or a user made with `user` or `create_user`).
    pub async fn signed_in(&self, username: &str, width: u32, height: u32) -> Browser {
        let b = self.browser(width, height).await;
        let password = if username == "admin" {
            ADMIN_PASSWORD
        } else {
            USER_PASSWORD
        };
        b.login(self, username, password).await;
        b
    }

    pub async fn create_user(&self, admin: &str, username: &str, role: &str) {
        self.api(
            admin,
            "POST",
            "/users",
            json!({"username": username, "email": format!("{username}@example.com"),
                   "password": USER_PASSWORD, "role": role}),
        )
        .await;
    }
}

impl Drop for Panel {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Browser {
    client: Client,
}

impl Browser {
    pub async fn goto(&self, panel: &Panel, hash: &str) {
        self.client
            .goto(&format!("{}/{hash}", panel.base))
            .await
            .unwrap();
    }

    pub async fn refresh(&self) {
        self.client.refresh().await.unwrap();
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css).await.send_keys(text).await.unwrap();
    }

    pub async fn key(&self, css: &str, key: &str) {
        self.find(css).await.send_keys(key).await.unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.find(css).await.select_by_value(value).await.unwrap();
    }

    /// Sets an input's value as a script would and fires its `input` and
    /// `change` events: for controls whose typing depends on the locale
    /// (time pickers).
    pub async fn set_value(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        self.client
            .execute(
                "arguments[0].value = arguments[1];
                 arguments[0].dispatchEvent(new Event('input', {bubbles: true}));
                 arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                vec![serde_json::to_value(&element).unwrap(), json!(value)],
            )
            .await
            .unwrap();
    }

    /// Accepts the open `confirm()` dialog, waiting for it to appear.
    pub async fn accept_dialog(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.client.accept_alert().await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no dialog to accept"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Scrolls the element into view (before a screenshot).
    pub async fn scroll_to(&self, css: &str) {
        let element = self.find(css).await;
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'start'});",
                vec![serde_json::to_value(&element).unwrap()],
            )
            .await
            .unwrap();
    }

    /// Waits until the element's text contains `want`.
    pub async fn wait_text(&self, css: &str, want: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if last.contains(want) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{css}` never showed `{want}`; last text: {last}");
    }

    /// Waits until the element's DOM text (shown or not) contains `want`.
    pub async fn wait_content(&self, css: &str, want: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e
                    .prop("textContent")
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                if last.contains(want) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{css}` never held `{want}`; last text: {last}");
    }

    /// Waits until the element's text, trimmed, is exactly `want`.
    pub async fn wait_exact(&self, css: &str, want: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if last.trim() == want {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{css}` never read `{want}`; last text: {last}");
    }

    /// Whether an element matching `css` appears within `within`.
    pub async fn appears(&self, css: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.client.find(Locator::Css(css)).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Runs a script in the page and returns its result.
    pub async fn script(&self, js: &str) -> Value {
        self.client.execute(js, vec![]).await.unwrap()
    }

    /// Runs an asynchronous script in the page: its last argument is the
    /// callback that hands back the result.
    pub async fn script_async(&self, js: &str, args: Vec<Value>) -> Value {
        self.client.execute_async(js, args).await.unwrap()
    }

    /// Presses Tab `times` times, as a keyboard user moving through the page.
    pub async fn press_tab(&self, times: usize) {
        const TAB: char = '\u{E004}';
        let mut keys = KeyActions::new("keyboard".into());
        for _ in 0..times {
            keys = keys
                .then(KeyAction::Down { value: TAB })
                .then(KeyAction::Up { value: TAB });
        }
        self.client.perform_actions(keys).await.unwrap();
        self.client.release_actions().await.ok();
    }

    /// Fires the HTML5 drag-and-drop events (dragstart, dragenter,
    /// dragover, drop, dragend) from `from` onto `to` inside the page, with
    /// one shared DataTransfer, as a browser does during a drag.
    pub async fn html5_drag(&self, from: &str, to: &str) {
        self.find(from).await;
        self.find(to).await;
        self.client
            .execute(
                "const src = document.querySelector(arguments[0]);
                 const dst = document.querySelector(arguments[1]);
                 const dataTransfer = new DataTransfer();
                 const fire = (el, type) => el.dispatchEvent(
                     new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer }));
                 fire(src, 'dragstart');
                 fire(dst, 'dragenter');
                 fire(dst, 'dragover');
                 fire(dst, 'drop');
                 fire(src, 'dragend');",
                vec![json!(from), json!(to)],
            )
            .await
            .unwrap();
    }

    /// Presses on `from`, moves onto `to` in steps and releases: a real
    /// pointer drag through WebDriver actions.
    pub async fn drag(&self, from: &str, to: &str) {
        let source = self.find(from).await;
        let target = self.find(to).await;
        let mut mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: source,
                duration: None,
                x: 0,
                y: 0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        for (x, y) in [(5, 5), (20, 10)] {
            mouse = mouse.then(PointerAction::MoveBy {
                duration: Some(Duration::from_millis(100)),
                x,
                y,
            });
        }
        let mouse = mouse
            .then(PointerAction::MoveToElement {
                element: target,
                duration: Some(Duration::from_millis(300)),
                x: 0,
                y: 0,
            })
            .then(PointerAction::Pause {
                duration: Duration::from_millis(100),
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(mouse).await.unwrap();
        self.client.release_actions().await.ok();
    }

    pub async fn login(&self, panel: &Panel, username: &str, password: &str) {
        self.goto(panel, "").await;
        self.type_into("#login-username", username).await;
        self.type_into("#login-password", password).await;
        self.click("#login-form button[type=submit]").await;
        self.wait_text("#whoami", "").await;
        self.find("#nav a").await;
    }

    /// Saves the page as `docs/screenshots/<name>.png` for the README, only
    /// when `EA_CRM_SCREENSHOTS` is set: the pictures are refreshed on
    /// purpose, not rewritten (and left changed in the tree) by every run.
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("EA_CRM_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// The bot token the fake Telegram Bot API accepts.
pub const TELEGRAM_TOKEN: &str = "123456:TEST-token";

/// A fake Telegram Bot API on 127.0.0.1 with a bot and no messages: enough
/// for the bot to connect and the panel to show it. Returns its base URL.
pub async fn fake_telegram() -> String {
    use poem::listener::{Acceptor, Listener, TcpListener as PoemListener};
    use poem::web::{Json, Path};
    use poem::{handler, post, Route, Server};

    #[handler]
    async fn bot_api(Path((bot, method)): Path<(String, String)>) -> Json<Value> {
        if bot.replace("%3A", ":") != format!("bot{TELEGRAM_TOKEN}") {
            return Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));
        }
        let result = match method.to_ascii_lowercase().as_str() {
            "getme" => json!({
                "id": 999, "is_bot": true, "first_name": "EA CRM", "username": "EaCrmBot",
                "can_join_groups": true, "can_read_all_group_messages": false,
                "supports_inline_queries": false, "can_connect_to_business": false,
                "has_main_web_app": false
            }),
            "getupdates" => {
                // A short long-poll with nothing to hand out.
                tokio::time::sleep(Duration::from_millis(300)).await;
                json!([])
            }
            "setmycommands" | "setwebhook" | "deletewebhook" => json!(true),
            _ => return Json(json!({"ok": false, "error_code": 404, "description": "Not Found"})),
        };
        Json(json!({"ok": true, "result": result}))
    }

    let acceptor = PoemListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let app = Route::new().at("/:bot/:method", post(bot_api));
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    format!("http://{addr}")
}
