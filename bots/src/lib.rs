//! The chat command language shared by Telegram, Discord and the web chat.
