//! The catalogue of permissions. A permission is a value: roles hold sets of
//! them, API keys may narrow them, and `Actor::require` checks them.

use std::fmt;
use std::str::FromStr;

macro_rules! permissions {
    ($($variant:ident => $key:literal, $doc:literal;)*) => {
        /// One thing a user may be allowed to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Permission { $($variant),* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            /// The stable name used in the API and the database.
            pub fn key(self) -> &'static str {
                match self { $(Permission::$variant => $key),* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Permission::$variant => $doc),* }
            }
        }

        impl FromStr for Permission {
            type Err = UnknownPermission;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($key => Ok(Permission::$variant),)* other => Err(UnknownPermission(other.to_string())) }
            }
        }
    };
}

permissions! {
    LeadsReadAll => "leads.read.all", "See every lead";
    LeadsReadOwn => "leads.read.own", "See only leads assigned to or created by oneself";
    LeadsWrite => "leads.write", "Create and edit leads, contacts and follow-ups";
    LeadsDelete => "leads.delete", "Delete and restore leads";
    LeadsPurge => "leads.purge", "Delete trashed leads for good and empty the trash";
    LeadsAssign => "leads.assign", "Assign leads to other users";
    LeadsImport => "leads.import", "Import leads from CSV/XLSX";
    LeadsExport => "leads.export", "Export leads to CSV";
    ContactsErase => "contacts.erase", "Erase a contact's personal data on request (GDPR art. 17)";
    CallsLog => "calls.log", "Log calls and use the call queue";
    TasksRead => "tasks.read", "See production tasks";
    TasksWrite => "tasks.write", "Create tasks and update one's own tasks";
    TasksManage => "tasks.manage", "Assign, reprioritise and close any task";
    ChatUse => "chat.use", "Use the chat hub";
    ChatModerate => "chat.moderate", "Delete others' messages, manage rooms and pins";
    ChatMentionAll => "chat.mention_all", "Use @here and @all";
    UsersRead => "users.read", "See the user directory";
    UsersManage => "users.manage", "Create, edit, deactivate and delete users";
    RolesManage => "roles.manage", "Edit roles and the permission matrix";
    AuditRead => "audit.read", "Read the audit log";
    AnalyticsRead => "analytics.read", "Read analytics dashboards";
    AiUse => "ai.use", "Use AI features";
    AiManage => "ai.manage", "Switch AI features on and off";
    BotsManage => "bots.manage", "Configure bots and bridged rooms";
    SettingsManage => "settings.manage", "Edit pipeline statuses, assignment rules and webhooks";
    ApiKeysUse => "api_keys.use", "Create and revoke one's own API keys";
}

#[derive(Debug, thiserror::Error)]
#[error("unknown permission `{0}`")]
pub struct UnknownPermission(pub String);

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Parses a list of permission names, naming the first unknown one.
pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<Permission>, UnknownPermission> {
    let mut out: Vec<Permission> = items
        .iter()
        .map(|s| s.as_ref().trim().parse())
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_round_trips_through_its_key() {
        for p in Permission::ALL {
            assert_eq!(p.key().parse::<Permission>().unwrap(), *p);
        }
    }

    #[test]
    fn unknown_names_are_named_in_the_error() {
        let err = parse_list(&["leads.write", "leads.fly"]).unwrap_err();
        assert_eq!(err.0, "leads.fly");
    }
}
