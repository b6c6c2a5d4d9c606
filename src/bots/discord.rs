//! The Discord adapter: serenity's gateway client for events, its REST
//! client for answers.
//!
//! It translates only: a message (`/lead …`, `!lead …`, a DM, or a mention
//! of the bot) or a slash command becomes text for `bots::Engine` as the
//! linked account; a pressed button runs the action parked under its
//! `custom_id`; a `Reply` becomes a message with buttons. Slash commands
//! are registered from `bots::command_list()`, each taking its arguments
//! as one text option, so they read exactly like typed commands.
//!
//! Promises: serenity keeps the gateway alive (heartbeats, reconnect and
//! resume); the status board shows each loss and recovery. Against
//! discord.com serenity's rate limiter waits out 429s. With
//! `DISCORD_API_URL` set, requests go to that proxy (or the tests' fake)
//! and serenity's limiter is off, since serenity sends around the proxy
//! otherwise; the adapter itself then waits and retries a 429 or a lost
//! connection. Tokens and message bodies are never logged.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bots::{Platform, Reply};
use serenity::all::{
    Attachment, ButtonStyle, ChannelId, Command, CommandDataOptionValue, CommandInteraction,
    CommandOptionType, ComponentInteraction, ConnectionStage, Context, CreateActionRow,
    CreateButton, CreateCommand, CreateCommandOption, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage, EditMessage, EventHandler, GatewayIntents,
    GetMessages, GuildId, Http, HttpBuilder, Interaction, Message, MessageId, MessageUpdateEvent,
    Ready, ResumedEvent, ShardStageUpdateEvent, UserId,
};
use serenity::async_trait;

use super::bridging;
use super::outbox::{Courier, Couriers, SendError, SendFuture};
use super::status::StatusBoard;
use crate::domain::{bot_outbox, bridges, Ctx};

pub const PLATFORM: &str = "discord";

/// Where serenity sends REST calls unless told otherwise.
const DISCORD_ORIGIN: &str = "https://discord.com";
/// Discord refuses messages longer than this.
const MAX_MESSAGE_CHARS: usize = 2000;
/// Buttons per action row, and rows per message.
const BUTTONS_PER_ROW: usize = 5;
const MAX_ROWS: usize = 5;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Attempts per outgoing request before it is given up.
const SEND_ATTEMPTS: u32 = 5;

pub struct DiscordSettings {
    pub token: String,
    /// `https://discord.com/api` (the default), or a proxy's base URL.
    pub api_url: String,
}

impl DiscordSettings {
    /// The proxy to send REST calls to, if any: serenity replaces
    /// `https://discord.com` in its URLs with it.
    fn proxy(&self) -> Option<String> {
        let base = self.api_url.trim().trim_end_matches('/');
        let base = base.strip_suffix("/api").unwrap_or(base);
        (base != DISCORD_ORIGIN).then(|| base.to_string())
    }

    fn http(&self) -> Http {
        let builder = HttpBuilder::new(&self.token);
        match self.proxy() {
            Some(proxy) => builder.proxy(proxy).ratelimiter_disabled(true).build(),
            None => builder.build(),
        }
    }
}

/// Runs the bot until the task is aborted; a client that stops (all
/// shards failed) is started again after a pause.
pub async fn run(
    ctx: Arc<Ctx>,
    status: Arc<StatusBoard>,
    couriers: Arc<Couriers>,
    settings: DiscordSettings,
) {
    status.register(PLATFORM);
    let out = Arc::new(Outbox {
        ctx: ctx.clone(),
        http: Arc::new(settings.http()),
    });
    let handler = Arc::new(Handler {
        out: out.clone(),
        status: status.clone(),
        couriers,
        me: RwLock::new(None),
        commands_registered: OnceLock::new(),
        caught_up: OnceLock::new(),
    });
    let intents = GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let built = serenity::all::ClientBuilder::new_with_http(settings.http(), intents)
            .event_handler_arc(handler.clone())
            .await;
        let outcome = match built {
            Ok(mut client) => client.start().await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            let what = describe(&e);
            tracing::warn!(error = %what, "discord client stopped");
            status.failed(PLATFORM, &format!("gateway: {what}"), ctx.now());
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The error in words that carry no token.
fn describe(e: &serenity::Error) -> String {
    use serenity::http::HttpError;
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => format!(
            "Discord answered {} ({})",
            r.status_code.as_u16(),
            r.error.message.chars().take(120).collect::<String>()
        ),
        serenity::Error::Http(HttpError::Request(r)) if r.is_timeout() => "network timeout".into(),
        serenity::Error::Http(HttpError::Request(r)) if r.is_connect() => "cannot connect".into(),
        serenity::Error::Http(_) => "HTTP error".into(),
        serenity::Error::Gateway(g) => format!("gateway: {g}"),
        serenity::Error::Tungstenite(_) => "websocket error".into(),
        serenity::Error::Json(_) => "unreadable answer from Discord".into(),
        _ => "error".into(),
    }
}

/// Whether a failed request is worth sending again: rate limited, the
/// server failed, or the network did.
fn is_transient(e: &serenity::Error) -> bool {
    use serenity::http::HttpError;
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            r.status_code.as_u16() == 429 || r.status_code.is_server_error()
        }
        serenity::Error::Http(HttpError::Request(_)) => true,
        _ => false,
    }
}

/// The `bot_cursor` row of a bridged channel's last mirrored message.
fn history_cursor(channel: &str) -> String {
    format!("discord:{channel}")
}

/// Pages of 100 messages read from a channel's history at most, per start.
const HISTORY_PAGES: usize = 10;

/// What the bot knows of itself once the gateway said READY.
#[derive(Clone)]
struct Me {
    id: UserId,
    name: String,
}

/// REST calls: replies, DMs, bridged messages, command registration.
struct Outbox {
    ctx: Arc<Ctx>,
    http: Arc<Http>,
}

impl Outbox {
    /// Sends a request, sending it again after a 429 (which reaches here
    /// only when a proxy is in use: against discord.com serenity's limiter
    /// waits them out), a server error or a network failure.
    async fn with_retries<T, F, Fut>(&self, mut request: F) -> serenity::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = serenity::Result<T>>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match request().await {
                Err(e) if attempt < SEND_ATTEMPTS && is_transient(&e) => {
                    tracing::debug!(error = %describe(&e), attempt, "discord request retried");
                    attempt += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                other => return other,
            }
        }
    }

    /// Buttons for a reply, each parked under a key for `user`.
    async fn buttons(&self, user: &str, reply: &Reply) -> anyhow::Result<Vec<CreateActionRow>> {
        let mut buttons = Vec::new();
        for (i, button) in reply.buttons.iter().enumerate() {
            let key =
                super::park_action(&self.ctx, Platform::Discord, user, &button.action).await?;
            let style = match (&button.action, i) {
                (bots::ButtonAction::Cancel, _) => ButtonStyle::Secondary,
                (_, 0) => ButtonStyle::Primary,
                _ => ButtonStyle::Secondary,
            };
            buttons.push(
                CreateButton::new(key)
                    .label(button.label.chars().take(80).collect::<String>())
                    .style(style),
            );
        }
        Ok(buttons
            .chunks(BUTTONS_PER_ROW)
            .take(MAX_ROWS)
            .map(|row| CreateActionRow::Buttons(row.to_vec()))
            .collect())
    }

    /// Sends a reply into a channel, its buttons parked for `user`.
    async fn send(&self, channel: ChannelId, user: &str, reply: Reply) -> anyhow::Result<()> {
        let rows = self.buttons(user, &reply).await?;
        let text = fit(&reply.text);
        self.with_retries(|| {
            let mut message = CreateMessage::new().content(text.clone());
            if !rows.is_empty() {
                message = message.components(rows.clone());
            }
            channel.send_message(&*self.http, message)
        })
        .await
        .map_err(|e| anyhow::anyhow!("send message: {}", describe(&e)))?;
        Ok(())
    }

    /// Answers an interaction with a message (buttons parked for `user`).
    async fn respond(
        &self,
        interaction: Responder<'_>,
        user: &str,
        reply: Reply,
        private: bool,
    ) -> anyhow::Result<()> {
        let rows = self.buttons(user, &reply).await?;
        let text = fit(&reply.text);
        self.with_retries(|| {
            let mut message = CreateInteractionResponseMessage::new()
                .content(text.clone())
                .ephemeral(private);
            if !rows.is_empty() {
                message = message.components(rows.clone());
            }
            let response = CreateInteractionResponse::Message(message);
            let http = &*self.http;
            async move {
                match interaction {
                    Responder::Command(c) => c.create_response(http, response).await,
                    Responder::Component(c) => c.create_response(http, response).await,
                }
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!("interaction response: {}", describe(&e)))
    }

    /// Registers the slash commands, one per command of the catalogue.
    async fn register_commands(&self) -> anyhow::Result<()> {
        let commands: Vec<CreateCommand> = bots::command_list()
            .into_iter()
            .map(|(word, summary)| {
                CreateCommand::new(word)
                    .description(summary.chars().take(100).collect::<String>())
                    .add_option(
                        CreateCommandOption::new(
                            CommandOptionType::String,
                            "args",
                            "What follows the command, as you would type it",
                        )
                        .required(false),
                    )
            })
            .collect();
        self.with_retries(|| Command::set_global_commands(&*self.http, commands.clone()))
            .await
            .map_err(|e| anyhow::anyhow!("register commands: {}", describe(&e)))?;
        Ok(())
    }
}

/// The hub text of a Discord message: its text, and its attachments as
/// links (Discord's attachment URLs need no token).
fn incoming_body(content: &str, attachments: &[Attachment]) -> String {
    let mut body = content.to_string();
    for file in attachments {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&format!("📎 {}: {}", file.filename, file.url));
    }
    body
}

/// An interaction that can be answered.
#[derive(Clone, Copy)]
enum Responder<'a> {
    Command(&'a CommandInteraction),
    Component(&'a ComponentInteraction),
}

/// A reply cut to Discord's length limit.
fn fit(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

impl Outbox {
    /// Answers `user` in a direct message (retrying like any reply).
    async fn dm(&self, platform_user_id: &str, reply: Reply) -> anyhow::Result<()> {
        let user = UserId::new(platform_user_id.parse()?);
        let channel = self
            .with_retries(|| user.create_dm_channel(&*self.http))
            .await
            .map_err(|e| anyhow::anyhow!("open DM: {}", describe(&e)))?;
        self.send(channel.id, platform_user_id, reply).await
    }
}

/// Why a request failed, for the outbox: a rate limit, a server error or
/// the network is worth another try (a 429 reaches here only through a
/// proxy, and is then waited out for at least a second); a refusal of the
/// message itself (403 no access, 404 unknown channel, 400) is final.
fn outbox_error(what: &str, e: serenity::Error) -> SendError {
    use serenity::http::HttpError;
    let error = format!("{what}: {}", describe(&e));
    match &e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let code = r.status_code.as_u16();
            if code == 429 {
                SendError::Retry {
                    error,
                    after: Some(RATE_LIMIT_PAUSE),
                }
            } else if r.status_code.is_server_error() || code == 401 || code == 408 {
                SendError::retry(error)
            } else {
                SendError::Refused(error)
            }
        }
        serenity::Error::Model(_) => SendError::Refused(error),
        _ => SendError::retry(error),
    }
}

/// The least a 429 is waited out for when serenity's limiter is off.
const RATE_LIMIT_PAUSE: Duration = Duration::from_secs(1);

fn id_of(raw: &str) -> Result<u64, SendError> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| SendError::Refused("not a Discord id".into()))
}

/// One attempt each; the outbox waits and retries.
impl Courier for Outbox {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn post<'a>(&'a self, chat_id: &'a str, text: &'a str) -> SendFuture<'a, String> {
        Box::pin(async move {
            let channel = ChannelId::new(id_of(chat_id)?);
            let sent = channel
                .send_message(&*self.http, CreateMessage::new().content(fit(text)))
                .await
                .map_err(|e| outbox_error("send message", e))?;
            Ok(sent.id.to_string())
        })
    }

    fn edit<'a>(
        &'a self,
        chat_id: &'a str,
        message_id: &'a str,
        text: &'a str,
    ) -> SendFuture<'a, ()> {
        Box::pin(async move {
            let channel = ChannelId::new(id_of(chat_id)?);
            let id = MessageId::new(id_of(message_id)?);
            channel
                .edit_message(&*self.http, id, EditMessage::new().content(fit(text)))
                .await
                .map_err(|e| outbox_error("edit message", e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, chat_id: &'a str, message_id: &'a str) -> SendFuture<'a, ()> {
        Box::pin(async move {
            let channel = ChannelId::new(id_of(chat_id)?);
            let id = MessageId::new(id_of(message_id)?);
            channel
                .delete_message(&*self.http, id)
                .await
                .map_err(|e| outbox_error("delete message", e))?;
            Ok(())
        })
    }

    fn send_dm<'a>(&'a self, platform_user_id: &'a str, text: &'a str) -> SendFuture<'a, ()> {
        Box::pin(async move {
            let user = UserId::new(id_of(platform_user_id)?);
            let channel = user
                .create_dm_channel(&*self.http)
                .await
                .map_err(|e| outbox_error("open DM", e))?;
            channel
                .id
                .send_message(&*self.http, CreateMessage::new().content(fit(text)))
                .await
                .map_err(|e| outbox_error("send message", e))?;
            Ok(())
        })
    }
}

/// Serenity's event handler: translates gateway events and nothing more.
struct Handler {
    out: Arc<Outbox>,
    status: Arc<StatusBoard>,
    couriers: Arc<Couriers>,
    me: RwLock<Option<Me>>,
    commands_registered: OnceLock<()>,
    /// Set once the history of bridged channels was read, after the first
    /// READY of this process.
    caught_up: OnceLock<()>,
}

impl Handler {
    fn me(&self) -> Option<Me> {
        self.me.read().ok().and_then(|m| m.clone())
    }

    fn ctx(&self) -> &Arc<Ctx> {
        &self.out.ctx
    }

    /// The command text a message carries for the bot, or `None` when it
    /// is not for the bot: everything in a DM; in a server channel only
    /// `/` or `!` commands and messages that mention the bot.
    fn text_for_me(&self, message: &Message) -> Option<String> {
        let me = self.me()?;
        let mentions = [format!("<@{}>", me.id), format!("<@!{}>", me.id)];
        let mentioned = message.mentions.iter().any(|u| u.id == me.id)
            || mentions
                .iter()
                .any(|m| message.content.contains(m.as_str()));
        let mut text = message.content.clone();
        for mention in &mentions {
            text = text.replace(mention.as_str(), " ");
        }
        let text = text.trim().trim_start_matches([',', ':']).trim();
        // `!lead …` is the same as `/lead …`: Discord's client turns a
        // typed `/` into its slash-command picker.
        let text = match text.strip_prefix('!') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                format!("/{rest}")
            }
            _ => text.to_string(),
        };
        let direct = message.guild_id.is_none();
        (direct || mentioned || text.starts_with('/')).then_some(text)
    }

    async fn on_message(&self, message: Message) -> anyhow::Result<()> {
        if message.author.bot {
            return Ok(());
        }
        let Some(text) = self.text_for_me(&message) else {
            return self.mirror_in(&message).await;
        };
        let user = message.author.id.to_string();
        let name = self.me().map(|m| m.name);
        let reply =
            super::handle_text(self.ctx(), Platform::Discord, &user, &text, name.as_deref())
                .await?;
        if let Some(reply) = reply {
            self.answer(&message, &user, reply).await?;
        }
        Ok(())
    }

    /// Answers where only the asker reads it: in a direct message, there;
    /// asked in a server channel, in a direct message with a pointer left in
    /// the channel, since the channel's members may have no access to the
    /// CRM data an answer shows (slash commands answer ephemerally instead).
    async fn answer(&self, message: &Message, user: &str, reply: Reply) -> anyhow::Result<()> {
        if message.guild_id.is_none() {
            return self.out.send(message.channel_id, user, reply).await;
        }
        let note = match self.out.dm(user, reply).await {
            Ok(()) => format!("<@{user}> I answered you in a direct message."),
            Err(e) => {
                tracing::info!(error = %e, "a channel question could not be answered by direct message");
                format!(
                    "<@{user}> answers with CRM data go to a direct message, and I could not send you one: \
                     allow direct messages from this server's members, or use a slash command (its answer is shown only to you)."
                )
            }
        };
        self.out
            .send(message.channel_id, user, Reply::text(note))
            .await
    }

    /// A channel message that is not for the bot goes to the hub room the
    /// channel is bridged to, if any, under the sender's name and platform;
    /// attachments come along as links. The last message mirrored in from
    /// a channel is remembered, so what is said there while the bot is away
    /// is read from the channel's history when it is back.
    async fn mirror_in(&self, message: &Message) -> anyhow::Result<()> {
        let name = message
            .author
            .global_name
            .as_deref()
            .unwrap_or(&message.author.name);
        let channel = message.channel_id.to_string();
        let mirrored = bridging::mirror_in(
            self.ctx(),
            PLATFORM,
            &channel,
            &message.id.to_string(),
            name,
            &incoming_body(&message.content, &message.attachments),
        )
        .await?;
        if mirrored {
            let key = history_cursor(&channel);
            let newer = match bot_outbox::cursor(self.ctx(), &key).await? {
                Some(seen) => seen
                    .parse::<u64>()
                    .map_or(true, |seen| message.id.get() > seen),
                None => true,
            };
            if newer {
                bot_outbox::set_cursor(self.ctx(), &key, &message.id.to_string()).await?;
            }
        }
        Ok(())
    }

    /// Mirrors in what each bridged channel said after the last message
    /// mirrored from it (serenity resumes a dropped gateway session within
    /// a process, but a restart starts a new one, which replays nothing).
    /// Commands and mentions of the bot in that history are not run: their
    /// moment has passed.
    async fn catch_up(&self) -> anyhow::Result<()> {
        for bridge in bridges::of_platform(self.ctx(), PLATFORM).await? {
            let Some(seen) =
                bot_outbox::cursor(self.ctx(), &history_cursor(&bridge.chat_id)).await?
            else {
                continue;
            };
            let (Ok(channel), Ok(mut after)) = (bridge.chat_id.parse::<u64>(), seen.parse::<u64>())
            else {
                continue;
            };
            let channel = ChannelId::new(channel);
            for _ in 0..HISTORY_PAGES {
                let mut page = self
                    .out
                    .with_retries(|| {
                        channel.messages(
                            &*self.out.http,
                            GetMessages::new().after(MessageId::new(after)).limit(100),
                        )
                    })
                    .await
                    .map_err(|e| anyhow::anyhow!("read channel history: {}", describe(&e)))?;
                page.sort_by_key(|m| m.id);
                let full = page.len() >= 100;
                for message in page {
                    after = after.max(message.id.get());
                    if message.author.bot || self.text_for_me(&message).is_some() {
                        continue;
                    }
                    self.mirror_in(&message).await?;
                }
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn on_command(&self, command: &CommandInteraction) -> anyhow::Result<()> {
        let args = command
            .data
            .options
            .iter()
            .find_map(|o| match &o.value {
                CommandDataOptionValue::String(s) => Some(s.as_str()),
                _ => None,
            })
            .unwrap_or_default();
        let text = format!("/{} {args}", command.data.name);
        let user = command.user.id.to_string();
        let name = self.me().map(|m| m.name);
        let reply =
            super::handle_text(self.ctx(), Platform::Discord, &user, &text, name.as_deref())
                .await?
                .unwrap_or_else(|| Reply::text("That command is not for me."));
        // In a server channel the answer is shown to the asker only.
        let private = command.guild_id.is_some();
        self.out
            .respond(Responder::Command(command), &user, reply, private)
            .await
    }

    async fn on_button(&self, press: &ComponentInteraction) -> anyhow::Result<()> {
        let user = press.user.id.to_string();
        let name = self.me().map(|m| m.name);
        let pressed = super::press_button(
            self.ctx(),
            Platform::Discord,
            &user,
            &press.data.custom_id,
            name.as_deref(),
        )
        .await?;
        match pressed {
            Some(reply) => {
                let private = press.guild_id.is_some();
                self.out
                    .respond(Responder::Component(press), &user, reply, private)
                    .await
            }
            // Shown only to whoever pressed: it is not the channel's news.
            None => {
                self.out
                    .respond(
                        Responder::Component(press),
                        &user,
                        Reply::text("This button has expired."),
                        true,
                    )
                    .await
            }
        }
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: Context, ready: Ready) {
        let name = ready.user.name.clone();
        if let Ok(mut me) = self.me.write() {
            *me = Some(Me {
                id: ready.user.id,
                name: name.clone(),
            });
        }
        self.out.http.set_application_id(ready.application.id);
        self.status
            .connected(PLATFORM, Some(&name), self.ctx().now());
        self.couriers.register(self.out.clone());
        if self.caught_up.get().is_none() {
            match self.catch_up().await {
                Ok(()) => {
                    let _ = self.caught_up.set(());
                }
                Err(e) => tracing::warn!(error = %e, "discord history not read"),
            }
        }
        // Once per process: a reconnect that identifies again finds them
        // registered already.
        if self.commands_registered.get().is_none() {
            match self.out.register_commands().await {
                Ok(()) => {
                    let _ = self.commands_registered.set(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "discord commands not registered");
                    self.status
                        .failed(PLATFORM, &e.to_string(), self.ctx().now());
                }
            }
        }
    }

    async fn resume(&self, _: Context, _: ResumedEvent) {
        self.status.connected(PLATFORM, None, self.ctx().now());
    }

    async fn shard_stage_update(&self, _: Context, event: ShardStageUpdateEvent) {
        match event.new {
            ConnectionStage::Connected => self.status.connected(PLATFORM, None, self.ctx().now()),
            ConnectionStage::Disconnected | ConnectionStage::Resuming => self.status.failed(
                PLATFORM,
                "gateway connection lost; reconnecting",
                self.ctx().now(),
            ),
            _ => {}
        }
    }

    async fn message(&self, _: Context, message: Message) {
        if let Err(e) = self.on_message(message).await {
            tracing::warn!(error = %e, "discord message not handled");
        }
    }

    /// An edited channel message: its hub copy, if mirrored, follows.
    async fn message_update(
        &self,
        _: Context,
        _: Option<Message>,
        _: Option<Message>,
        event: MessageUpdateEvent,
    ) {
        if event.author.as_ref().is_none_or(|a| a.bot) {
            return;
        }
        let Some(content) = &event.content else {
            return;
        };
        let attachments = event.attachments.clone().unwrap_or_default();
        let edited = bridging::mirror_in_edit(
            self.ctx(),
            PLATFORM,
            &event.channel_id.to_string(),
            &event.id.to_string(),
            &incoming_body(content, &attachments),
        )
        .await;
        if let Err(e) = edited {
            tracing::warn!(error = %e, "discord edit not mirrored");
        }
    }

    async fn message_delete(
        &self,
        _: Context,
        channel: ChannelId,
        message: MessageId,
        _: Option<GuildId>,
    ) {
        let deleted = bridging::mirror_in_delete(
            self.ctx(),
            PLATFORM,
            &channel.to_string(),
            &message.to_string(),
        )
        .await;
        if let Err(e) = deleted {
            tracing::warn!(error = %e, "discord delete not mirrored");
        }
    }

    async fn interaction_create(&self, _: Context, interaction: Interaction) {
        let outcome = match &interaction {
            Interaction::Command(command) => self.on_command(command).await,
            Interaction::Component(press) => self.on_button(press).await,
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "discord interaction not handled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> DiscordSettings {
        DiscordSettings {
            token: "t".into(),
            api_url: url.into(),
        }
    }

    #[test]
    fn the_default_api_url_means_no_proxy() {
        assert_eq!(settings("https://discord.com/api").proxy(), None);
        assert_eq!(settings("https://discord.com/").proxy(), None);
        assert_eq!(
            settings("http://127.0.0.1:9000/api").proxy().as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn long_replies_are_cut_to_discords_limit() {
        let long = "x".repeat(MAX_MESSAGE_CHARS + 10);
        assert_eq!(fit(&long).chars().count(), MAX_MESSAGE_CHARS);
        assert_eq!(fit("short"), "short");
    }
}
