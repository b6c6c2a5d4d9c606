//! The Telegram adapter: long polling with teloxide's Bot API client.
//!
//! It translates only: an update becomes text (or a pressed button) for
//! `bots::Engine` as the linked account; a `Reply` becomes a message with
//! an inline keyboard whose buttons carry the key of an action parked in
//! the database (callback data is limited to 64 bytes).
//!
//! Promises: a 429 is waited out for the `retry_after` Telegram gives and
//! the request is sent again; a lost connection is retried with doubling
//! pauses up to a minute; each failure is shown to admins in the bot
//! status. Tokens and message bodies are never logged. Updates are handled
//! in order within a chat and concurrently across chats ([`Lanes`]), so a
//! slow answer (the model reading a mention) holds up no other chat.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bots::{Platform, Reply};
use futures_util::FutureExt;
use teloxide::payloads::{GetUpdatesSetters, SendMessageSetters, SetWebhookSetters};
use teloxide::requests::{Request, Requester};
use teloxide::types::{
    BotCommand, CallbackQuery, Chat, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Message,
    MessageId, Update, UpdateKind, User,
};
use teloxide::{ApiError, Bot, RequestError};

use super::bridging;
use super::lanes::Lanes;
use super::outbox::{Courier, Couriers, SendError, SendFuture};
use super::status::StatusBoard;
use crate::domain::bot_outbox;
use crate::domain::Ctx;

pub const PLATFORM: &str = "telegram";

/// Settings of the adapter.
pub struct TelegramSettings {
    pub token: String,
    pub api_url: String,
    /// Seconds Telegram may hold a `getUpdates` open; under the client's
    /// own 17-second timeout.
    pub poll_timeout_secs: u32,
    /// Webhook mode instead of long polling.
    pub webhook: Option<WebhookSettings>,
}

/// Telegram posts updates to `url` with `secret` in a header; the HTTP
/// route checks it and hands the update over `updates`.
pub struct WebhookSettings {
    pub url: String,
    pub secret: String,
    pub updates: tokio::sync::mpsc::Receiver<Update>,
}

/// What the webhook route needs: the secret to check, and where to put a
/// verified update.
pub struct WebhookInbox {
    pub secret: String,
    pub updates: tokio::sync::mpsc::Sender<Update>,
}

/// Updates accepted but not yet handled before the route answers 503
/// (Telegram then retries).
pub const WEBHOOK_QUEUE: usize = 256;

impl WebhookInbox {
    /// Whether the request carries the configured secret, compared in time
    /// independent of where it differs.
    pub fn verifies(&self, header: Option<&str>) -> bool {
        header.is_some_and(|h| crate::domain::tokens::constant_time_eq(h, &self.secret))
    }
}

/// Longest pause between attempts after the network failed.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Attempts per outgoing request before it is given up.
const SEND_ATTEMPTS: u32 = 5;
/// Updates being handled or waiting for their chat's earlier ones before
/// polling waits: a `getUpdates` batch is at most 100.
const UPDATES_IN_FLIGHT: usize = 256;

/// Runs the bot until the task is aborted.
pub async fn run(
    ctx: Arc<Ctx>,
    status: Arc<StatusBoard>,
    couriers: Arc<Couriers>,
    mut settings: TelegramSettings,
) {
    status.register(PLATFORM);
    let url = match reqwest::Url::parse(&settings.api_url) {
        Ok(url) => url,
        Err(_) => {
            status.failed(PLATFORM, "TELEGRAM_API_URL is not a URL", ctx.now());
            return;
        }
    };
    let bot = Bot::new(settings.token.clone()).set_api_url(url);
    let mut backoff = FIRST_BACKOFF;
    let username = loop {
        match bot.get_me().send().await {
            Ok(me) => break me.username.clone(),
            Err(e) => {
                report(&ctx, &status, "getMe", &e);
                backoff = pause_after(&e, backoff).await;
            }
        }
    };
    status.connected(PLATFORM, username.as_deref(), ctx.now());
    let commands: Vec<BotCommand> = bots::command_list()
        .into_iter()
        .map(|(word, summary)| BotCommand::new(word, summary))
        .collect();
    if let Err(e) = with_retries(|| bot.set_my_commands(commands.clone()).send()).await {
        report(&ctx, &status, "setMyCommands", &e);
    }
    let adapter = Arc::new(Adapter {
        ctx: ctx.clone(),
        bot: bot.clone(),
        username,
    });
    couriers.register(adapter.clone());
    if let Some(webhook) = settings.webhook.take() {
        return run_webhook(&ctx, &status, &bot, &adapter, webhook).await;
    }
    // Where the last run stopped: Telegram keeps what was sent meanwhile
    // (for a day), and hands it over from this offset.
    let mut offset: i32 = match bot_outbox::cursor(&ctx, OFFSET_CURSOR).await {
        Ok(stored) => stored.and_then(|o| o.parse().ok()).unwrap_or(0),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the stored telegram update offset");
            0
        }
    };
    let progress = Arc::new(Progress::new(ctx.clone(), offset));
    let mut lanes = Lanes::new(UPDATES_IN_FLIGHT);
    backoff = FIRST_BACKOFF;
    loop {
        let polled = bot
            .get_updates()
            .offset(offset)
            .timeout(settings.poll_timeout_secs)
            .send()
            .await;
        match polled {
            Ok(updates) => {
                status.connected(PLATFORM, None, ctx.now());
                backoff = FIRST_BACKOFF;
                for update in updates {
                    // Acknowledged before handling: an update that makes the
                    // handler fail is not fetched again and again. The
                    // stored offset follows the updates as they finish.
                    offset = offset.max(update.id.0 as i32 + 1);
                    let id = update.id.0 as i32;
                    progress.started(id, offset).await;
                    dispatch(&mut lanes, &adapter, update, Some((progress.clone(), id))).await;
                }
            }
            Err(e) => {
                report(&ctx, &status, "getUpdates", &e);
                backoff = pause_after(&e, backoff).await;
            }
        }
    }
}

/// The `bot_cursor` row of the update offset.
const OFFSET_CURSOR: &str = "telegram";

/// Hands an update to its chat's lane: after that chat's earlier updates,
/// beside other chats'. With `progress`, the update's id is reported done
/// once it has been handled.
async fn dispatch(
    lanes: &mut Lanes<i64>,
    adapter: &Arc<Adapter>,
    update: Update,
    progress: Option<(Arc<Progress>, i32)>,
) {
    let lane = update
        .chat()
        .map(|chat| chat.id.0)
        .or_else(|| update.from().map(|user| user.id.0 as i64))
        .unwrap_or_default();
    let adapter = adapter.clone();
    lanes
        .run(lane, async move {
            // A handler that panics has still finished with its update:
            // otherwise the stored offset would stop below it for good.
            let handled = AssertUnwindSafe(adapter.handle(update))
                .catch_unwind()
                .await;
            if let Some((progress, id)) = progress {
                progress.finished(id).await;
            }
            if let Err(panic) = handled {
                std::panic::resume_unwind(panic);
            }
        })
        .await;
}

/// The update offset that is safe to store while updates are handled
/// concurrently: below every update still being handled, so after a crash
/// or a restart an unfinished update is read again (a mirrored message is
/// not mirrored twice) and a finished one is not run twice.
struct Progress {
    ctx: Arc<Ctx>,
    /// Held while the offset is stored, so stored offsets only grow.
    state: tokio::sync::Mutex<ProgressState>,
}

struct ProgressState {
    in_flight: std::collections::BTreeSet<i32>,
    /// One past the newest update fetched.
    next: i32,
    stored: i32,
}

impl Progress {
    fn new(ctx: Arc<Ctx>, stored: i32) -> Self {
        Progress {
            ctx,
            state: tokio::sync::Mutex::new(ProgressState {
                in_flight: Default::default(),
                next: stored,
                stored,
            }),
        }
    }

    async fn started(&self, id: i32, next: i32) {
        let mut state = self.state.lock().await;
        state.in_flight.insert(id);
        state.next = state.next.max(next);
    }

    async fn finished(&self, id: i32) {
        let mut state = self.state.lock().await;
        state.in_flight.remove(&id);
        let safe = state.in_flight.first().copied().unwrap_or(state.next);
        if safe <= state.stored {
            return;
        }
        match bot_outbox::set_cursor(&self.ctx, OFFSET_CURSOR, &safe.to_string()).await {
            Ok(()) => state.stored = safe,
            Err(e) => tracing::warn!(error = %e, "cannot store the telegram update offset"),
        }
    }
}

/// Registers the webhook, then handles the updates the route verified.
async fn run_webhook(
    ctx: &Ctx,
    status: &StatusBoard,
    bot: &Bot,
    adapter: &Arc<Adapter>,
    webhook: WebhookSettings,
) {
    let WebhookSettings {
        url,
        secret,
        mut updates,
    } = webhook;
    let Ok(url) = reqwest::Url::parse(&url) else {
        status.failed(PLATFORM, "TELEGRAM_WEBHOOK_URL is not a URL", ctx.now());
        return;
    };
    let mut backoff = FIRST_BACKOFF;
    loop {
        let set = bot
            .set_webhook(url.clone())
            .secret_token(secret.clone())
            .send()
            .await;
        match set {
            Ok(_) => break,
            Err(e) => {
                report(ctx, status, "setWebhook", &e);
                backoff = pause_after(&e, backoff).await;
            }
        }
    }
    status.connected(PLATFORM, None, ctx.now());
    let mut lanes = Lanes::new(UPDATES_IN_FLIGHT);
    while let Some(update) = updates.recv().await {
        dispatch(&mut lanes, adapter, update, None).await;
    }
}

fn report(ctx: &Ctx, status: &StatusBoard, method: &str, e: &RequestError) {
    let what = describe(e);
    tracing::warn!(method, error = %what, "telegram request failed");
    status.failed(PLATFORM, &format!("{method}: {what}"), ctx.now());
}

/// The error in words that carry no token (reqwest errors include the
/// URL, and the URL includes the token).
fn describe(e: &RequestError) -> String {
    match e {
        RequestError::Api(api) => format!("Telegram said: {api}"),
        RequestError::RetryAfter(s) => format!("rate limited for {} s", s.seconds()),
        RequestError::Network(n) if n.is_timeout() => "network timeout".into(),
        RequestError::Network(n) if n.is_connect() => "cannot connect".into(),
        RequestError::Network(_) => "network error".into(),
        RequestError::MigrateToChatId(_) => "the group moved to a supergroup".into(),
        RequestError::InvalidJson { .. } => "unreadable answer from Telegram".into(),
        RequestError::Io(_) => "I/O error".into(),
    }
}

/// Waits as long as the error asks: Telegram's `retry_after` for a 429,
/// else the current backoff. Returns the next backoff.
async fn pause_after(e: &RequestError, backoff: Duration) -> Duration {
    match e {
        RequestError::RetryAfter(s) => {
            tokio::time::sleep(s.duration()).await;
            backoff
        }
        _ => {
            tokio::time::sleep(backoff).await;
            (backoff * 2).min(MAX_BACKOFF)
        }
    }
}

/// Sends a request, waiting out 429s and retrying network failures; an
/// answer from Telegram that is an error (other than 429) is final.
async fn with_retries<T, F, Fut>(mut request: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match request().await {
            Err(e @ (RequestError::RetryAfter(_) | RequestError::Network(_)))
                if attempt < SEND_ATTEMPTS =>
            {
                attempt += 1;
                backoff = pause_after(&e, backoff).await;
            }
            other => return other,
        }
    }
}

struct Adapter {
    ctx: Arc<Ctx>,
    bot: Bot,
    username: Option<String>,
}

impl Adapter {
    async fn handle(&self, update: Update) {
        let outcome = match update.kind {
            UpdateKind::Message(message) => self.on_message(message).await,
            UpdateKind::EditedMessage(message) => self.on_edit(message).await,
            UpdateKind::CallbackQuery(query) => self.on_button(query).await,
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "telegram update not handled");
        }
    }

    /// Whether a message is for the bot: everything in a private chat; in a
    /// group only commands and messages that mention it, so the bot does not
    /// answer the team's own conversation.
    fn is_for_me(&self, message: &Message, text: &str) -> bool {
        if message.chat.is_private() || text.trim_start().starts_with('/') {
            return true;
        }
        match &self.username {
            Some(me) => text
                .to_lowercase()
                .contains(&format!("@{}", me.to_lowercase())),
            None => false,
        }
    }

    async fn on_message(&self, message: Message) -> anyhow::Result<()> {
        let Some(from) = message.from.as_ref() else {
            return Ok(());
        };
        if from.is_bot {
            return Ok(());
        }
        let text = match message.text() {
            Some(text) if self.is_for_me(&message, text) => text,
            _ => {
                return bridging::mirror_in(
                    &self.ctx,
                    PLATFORM,
                    &message.chat.id.0.to_string(),
                    &message.id.0.to_string(),
                    &from.full_name(),
                    &incoming_body(&message),
                )
                .await
                .map(|_| ())
            }
        };
        let text = self.without_own_mention(text);
        let reply = super::handle_text(
            &self.ctx,
            Platform::Telegram,
            &from.id.0.to_string(),
            &text,
            self.username.as_deref(),
        )
        .await?;
        if let Some(reply) = reply {
            self.answer(&message.chat, from, reply).await?;
        }
        Ok(())
    }

    /// Answers `from` where only they read it: in a private chat, there;
    /// asked in a group, in their private chat with a pointer left in the
    /// group, since the group's members may have no access to the CRM data
    /// an answer shows. Telegram lets a bot write to someone only after
    /// they started a chat with it; until then the group is told how.
    async fn answer(&self, chat: &Chat, from: &User, reply: Reply) -> anyhow::Result<()> {
        let user = from.id.0.to_string();
        if chat.is_private() {
            self.send(chat.id, &user, reply).await?;
            return Ok(());
        }
        let private = ChatId::from(from.id);
        let note = match self.send(private, &user, reply).await? {
            Sent::Delivered => format!("{}: I answered you in our private chat.", from.first_name),
            Sent::Unreachable => format!(
                "{}: answers with CRM data go to a private chat. Open a chat with me{}, press Start, then ask again.",
                from.first_name,
                self.username
                    .as_deref()
                    .map(|me| format!(" (@{me})"))
                    .unwrap_or_default()
            ),
        };
        self.send(chat.id, &user, Reply::text(note)).await?;
        Ok(())
    }

    /// An edited group message: its hub copy, if it was mirrored, follows.
    async fn on_edit(&self, message: Message) -> anyhow::Result<()> {
        if message.from.as_ref().is_none_or(|f| f.is_bot) {
            return Ok(());
        }
        bridging::mirror_in_edit(
            &self.ctx,
            PLATFORM,
            &message.chat.id.0.to_string(),
            &message.id.0.to_string(),
            &incoming_body(&message),
        )
        .await
    }

    /// "@EaCrmBot log a call with Acme" → "log a call with Acme": the intent
    /// reader wants the words, not the address.
    fn without_own_mention(&self, text: &str) -> String {
        let Some(me) = &self.username else {
            return text.to_string();
        };
        let trimmed = text.trim_start();
        let mention = format!("@{me}");
        match trimmed.get(..mention.len()) {
            Some(head) if head.eq_ignore_ascii_case(&mention) => {
                let rest = trimmed[mention.len()..]
                    .trim_start_matches([',', ':'])
                    .trim();
                // "@Bot /due" keeps its command for the engine to read.
                rest.to_string()
            }
            _ => text.to_string(),
        }
    }

    async fn on_button(&self, query: CallbackQuery) -> anyhow::Result<()> {
        let user = query.from.id.0.to_string();
        let pressed = match &query.data {
            Some(key) => {
                super::press_button(
                    &self.ctx,
                    Platform::Telegram,
                    &user,
                    key,
                    self.username.as_deref(),
                )
                .await?
            }
            None => None,
        };
        let answer = with_retries(|| {
            let mut request = self.bot.answer_callback_query(query.id.clone());
            if pressed.is_none() {
                request = teloxide::payloads::AnswerCallbackQuerySetters::text(
                    request,
                    "This button has expired.",
                );
            }
            request.send()
        })
        .await;
        if let Err(e) = answer {
            tracing::warn!(error = %describe(&e), "answerCallbackQuery failed");
        }
        if let (Some(reply), Some(message)) = (pressed, &query.message) {
            self.answer(message.chat(), &query.from, reply).await?;
        }
        Ok(())
    }

    /// Sends a reply, its buttons parked under short keys for `user`.
    async fn send(&self, chat: ChatId, user: &str, reply: Reply) -> anyhow::Result<Sent> {
        let mut row = Vec::new();
        for button in &reply.buttons {
            let key =
                super::park_action(&self.ctx, Platform::Telegram, user, &button.action).await?;
            row.push(InlineKeyboardButton::callback(button.label.clone(), key));
        }
        let keyboard = (!row.is_empty()).then(|| {
            // Two buttons a row: labels of lead candidates can be long.
            InlineKeyboardMarkup::new(row.chunks(2).map(<[_]>::to_vec).collect::<Vec<_>>())
        });
        let sent = with_retries(|| {
            let mut request = self.bot.send_message(chat, reply.text.clone());
            if let Some(keyboard) = &keyboard {
                request = request.reply_markup(keyboard.clone());
            }
            request.send()
        })
        .await;
        match sent {
            Ok(_) => Ok(Sent::Delivered),
            // The user blocked the bot, left the chat or never started one:
            // nothing to retry.
            Err(RequestError::Api(
                ApiError::BotBlocked
                | ApiError::ChatNotFound
                | ApiError::CantInitiateConversation
                | ApiError::UserDeactivated,
            )) => Ok(Sent::Unreachable),
            // Telegram words some of these as teloxide does not expect
            // ("Forbidden: bot can't initiate conversation with a user");
            // from sendMessage, any "Forbidden" means the chat is closed.
            Err(RequestError::Api(ApiError::Unknown(text))) if text.starts_with("Forbidden") => {
                Ok(Sent::Unreachable)
            }
            Err(e) => Err(anyhow::anyhow!("sendMessage: {}", describe(&e))),
        }
    }
}

/// Whether a message reached its chat.
enum Sent {
    Delivered,
    /// The chat is closed to the bot (blocked, left, never started).
    Unreachable,
}

/// The hub text of a Telegram message: its text or caption, and a note of
/// what it carried. Telegram's file links contain the bot token, so files
/// are named, not linked.
fn incoming_body(message: &Message) -> String {
    let mut body = message
        .text()
        .or(message.caption())
        .unwrap_or_default()
        .to_string();
    let attached = if message.photo().is_some() {
        Some("a photo".to_string())
    } else if let Some(document) = message.document() {
        Some(
            document
                .file_name
                .clone()
                .unwrap_or_else(|| "a file".into()),
        )
    } else if message.video().is_some() {
        Some("a video".to_string())
    } else if message.voice().is_some() || message.audio().is_some() {
        Some("an audio message".to_string())
    } else {
        None
    };
    if let Some(what) = attached {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&format!("📎 sent {what} in Telegram"));
    }
    body
}

/// Why a request failed, for the outbox: the network, Telegram's servers
/// and its rate limit (with its `retry_after`) are worth another try; an
/// answer that refuses the message itself (the chat is gone, the bot was
/// blocked or removed, the text is not acceptable) is final.
fn outbox_error(method: &str, e: RequestError) -> SendError {
    let error = format!("{method}: {}", describe(&e));
    match e {
        RequestError::RetryAfter(s) => SendError::Retry {
            error,
            after: Some(s.duration()),
        },
        RequestError::Network(_) | RequestError::InvalidJson { .. } | RequestError::Io(_) => {
            SendError::retry(error)
        }
        // The bot's token or another poller: fixable by an admin, and the
        // messages should still go out once it is.
        RequestError::Api(ApiError::InvalidToken | ApiError::TerminatedByOtherGetUpdates) => {
            SendError::retry(error)
        }
        RequestError::Api(ApiError::Unknown(text))
            if !(text.starts_with("Bad Request") || text.starts_with("Forbidden")) =>
        {
            SendError::retry(error)
        }
        RequestError::Api(_) | RequestError::MigrateToChatId(_) => SendError::Refused(error),
    }
}

fn chat_of(chat_id: &str) -> Result<ChatId, SendError> {
    chat_id
        .parse()
        .map(ChatId)
        .map_err(|_| SendError::Refused("not a Telegram chat id".into()))
}

fn message_of(message_id: &str) -> Result<MessageId, SendError> {
    message_id
        .parse()
        .map(MessageId)
        .map_err(|_| SendError::Refused("not a Telegram message id".into()))
}

/// One attempt each; the outbox waits and retries. In Telegram a private
/// chat's id is the user's id, and a bot may write to anyone who has
/// written to it (which linking required).
impl Courier for Adapter {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn post<'a>(&'a self, chat_id: &'a str, text: &'a str) -> SendFuture<'a, String> {
        Box::pin(async move {
            let sent = self
                .bot
                .send_message(chat_of(chat_id)?, text)
                .send()
                .await
                .map_err(|e| outbox_error("sendMessage", e))?;
            Ok(sent.id.0.to_string())
        })
    }

    fn edit<'a>(
        &'a self,
        chat_id: &'a str,
        message_id: &'a str,
        text: &'a str,
    ) -> SendFuture<'a, ()> {
        Box::pin(async move {
            let edited = self
                .bot
                .edit_message_text(chat_of(chat_id)?, message_of(message_id)?, text)
                .send()
                .await;
            match edited {
                // Already says so.
                Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
                Err(e) => Err(outbox_error("editMessageText", e)),
            }
        })
    }

    fn delete<'a>(&'a self, chat_id: &'a str, message_id: &'a str) -> SendFuture<'a, ()> {
        Box::pin(async move {
            let deleted = self
                .bot
                .delete_message(chat_of(chat_id)?, message_of(message_id)?)
                .send()
                .await;
            match deleted {
                // Gone already.
                Ok(_) | Err(RequestError::Api(ApiError::MessageToDeleteNotFound)) => Ok(()),
                Err(e) => Err(outbox_error("deleteMessage", e)),
            }
        })
    }

    fn send_dm<'a>(&'a self, platform_user_id: &'a str, text: &'a str) -> SendFuture<'a, ()> {
        Box::pin(async move {
            self.bot
                .send_message(chat_of(platform_user_id)?, text)
                .send()
                .await
                .map_err(|e| outbox_error("sendMessage", e))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_described_without_the_url() {
        let e = RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(3));
        assert_eq!(describe(&e), "rate limited for 3 s");
    }

    #[test]
    fn the_outbox_retries_outages_and_rate_limits_and_stops_at_refusals() {
        let limited = RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(3));
        assert_eq!(
            outbox_error("sendMessage", limited),
            SendError::Retry {
                error: "sendMessage: rate limited for 3 s".into(),
                after: Some(Duration::from_secs(3)),
            }
        );
        let server = RequestError::Api(ApiError::Unknown("Internal Server Error".into()));
        assert!(matches!(
            outbox_error("sendMessage", server),
            SendError::Retry { after: None, .. }
        ));
        for refusal in [
            ApiError::ChatNotFound,
            ApiError::BotBlocked,
            ApiError::BotKicked,
            ApiError::Unknown("Forbidden: bot is not a member of the group chat".into()),
        ] {
            assert!(matches!(
                outbox_error("sendMessage", RequestError::Api(refusal)),
                SendError::Refused(_)
            ));
        }
    }
}
