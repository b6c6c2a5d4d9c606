//! Who is acting: a resolved, active user with the permissions in force for
//! this request, and the channel the request came through.

use std::collections::BTreeSet;

use serde::Serialize;

use super::error::DomainError;
use super::permissions::Permission;

/// The surface a change came through; written into every audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Api,
    Web,
    Telegram,
    Discord,
    System,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Web => "web",
            Channel::Telegram => "telegram",
            Channel::Discord => "discord",
            Channel::System => "system",
        }
    }

    /// The channel `as_str` names.
    pub fn parse(name: &str) -> Option<Channel> {
        [
            Channel::Api,
            Channel::Web,
            Channel::Telegram,
            Channel::Discord,
            Channel::System,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }
}

/// How the actor proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A login session; the value is the session's record key (the token hash).
    Session(String),
    /// An API key; the value is the key's id.
    ApiKey(String),
    /// A linked chat account (Telegram, Discord); the value is the link's id.
    ChatLink(String),
    /// A slash command the user typed in the web chat; the value is the
    /// message's id. The message was posted with a checked credential.
    ChatMessage(String),
    /// An import job working for the user who uploaded the file; the value
    /// is the job's id. The upload was made with a checked credential; the
    /// job re-reads the user's permissions when it starts or resumes.
    ImportJob(String),
    /// The service itself (start-up, the CLI, schedulers).
    Internal,
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub username: String,
    pub role: String,
    pub permissions: BTreeSet<Permission>,
    pub channel: Channel,
    pub credential: Credential,
}

impl Actor {
    /// The key the per-credential request limit counts under; `None` for
    /// credentials that are not limited (the service's own work, and chat
    /// messages whose sender was limited where they typed).
    pub fn rate_limit_key(&self) -> Option<String> {
        match &self.credential {
            Credential::Session(k) => Some(format!("s:{k}")),
            Credential::ApiKey(k) => Some(format!("k:{k}")),
            Credential::ChatLink(k) => Some(format!("c:{k}")),
            Credential::ChatMessage(_) | Credential::ImportJob(_) | Credential::Internal => None,
        }
    }

    /// The user an audit row names as its actor: everyone but the service
    /// itself, whose rows carry only its name.
    pub fn audited_user(&self) -> Option<String> {
        match self.credential {
            Credential::Internal => None,
            _ => Some(self.user_id.clone()),
        }
    }

    /// The first line of every domain function that needs a permission.
    pub fn require(&self, permission: Permission) -> Result<(), DomainError> {
        if self.permissions.contains(&permission) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(permission.key().to_string()))
        }
    }

    /// Passes when the actor holds at least one of the permissions.
    pub fn require_any(&self, permissions: &[Permission]) -> Result<(), DomainError> {
        if permissions.iter().any(|p| self.permissions.contains(p)) {
            Ok(())
        } else {
            let names: Vec<&str> = permissions.iter().map(|p| p.key()).collect();
            Err(DomainError::Forbidden(names.join("` or `")))
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The service acting on its own behalf, with every permission.
    pub fn system() -> Actor {
        Actor {
            user_id: "system".into(),
            username: "system".into(),
            role: "admin".into(),
            permissions: Permission::ALL.iter().copied().collect(),
            channel: Channel::System,
            credential: Credential::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Channel;

    #[test]
    fn a_channel_parses_back_from_its_name_and_nothing_else_does() {
        for channel in [
            Channel::Api,
            Channel::Web,
            Channel::Telegram,
            Channel::Discord,
            Channel::System,
        ] {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(Channel::parse("Web"), None);
        assert_eq!(Channel::parse(""), None);
    }
}
