//! Roles: named sets of permissions. Seven are built in; admins add their
//! own and edit the permission matrix. The Admin role always holds every
//! permission, including ones added by later versions.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actor::Actor;
use super::audit::{self, FieldChange};
use super::error::{DomainError, DomainResult};
use super::permissions::{self, Permission};
use super::Ctx;
use crate::store::Transaction;

pub const ADMIN_ROLE: &str = "admin";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    /// The role's stable key, e.g. `lead_generator`.
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub built_in: bool,
    /// Holders must sign in with a second factor.
    #[serde(default)]
    pub require_second_factor: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Role {
    /// The permissions in force for holders of this role.
    pub fn effective_permissions(&self) -> BTreeSet<Permission> {
        if self.id == ADMIN_ROLE {
            return Permission::ALL.iter().copied().collect();
        }
        self.permissions
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

struct BuiltIn {
    key: &'static str,
    name: &'static str,
    description: &'static str,
    permissions: &'static [Permission],
}

use Permission::*;

const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        key: ADMIN_ROLE,
        name: "Admin",
        description: "Everything, including users, roles and settings",
        permissions: &[],
    },
    BuiltIn {
        key: "manager",
        name: "Manager",
        description: "Runs the sales team: every lead, assignment, import/export, analytics",
        permissions: &[
            LeadsReadAll,
            LeadsWrite,
            LeadsDelete,
            LeadsPurge,
            LeadsAssign,
            LeadsImport,
            LeadsExport,
            CallsLog,
            TasksRead,
            TasksWrite,
            TasksManage,
            ChatUse,
            ChatModerate,
            ChatMentionAll,
            UsersRead,
            AuditRead,
            AnalyticsRead,
            AiUse,
            ApiKeysUse,
        ],
    },
    BuiltIn {
        key: "user",
        name: "User",
        description: "A sales rep working their own leads",
        permissions: &[
            LeadsReadOwn,
            LeadsWrite,
            CallsLog,
            TasksRead,
            TasksWrite,
            ChatUse,
            UsersRead,
            AiUse,
            ApiKeysUse,
        ],
    },
    BuiltIn {
        key: "caller",
        name: "Caller",
        description: "Works the call queue and manages their own leads",
        // Lead management as the original describes it (adding a contact,
        // correcting a phone number, moving a lead on), within their own
        // leads: the queue is those leads.
        permissions: &[
            LeadsReadOwn,
            LeadsWrite,
            CallsLog,
            TasksRead,
            ChatUse,
            UsersRead,
        ],
    },
    BuiltIn {
        key: "lead_generator",
        name: "Lead Generator",
        description: "Finds and imports new leads",
        permissions: &[
            LeadsReadOwn,
            LeadsWrite,
            LeadsImport,
            TasksRead,
            ChatUse,
            UsersRead,
            AiUse,
        ],
    },
    BuiltIn {
        key: "marketing_manager",
        name: "Marketing Manager",
        description: "Reads every lead and the funnel analytics; exports lists",
        permissions: &[
            LeadsReadAll,
            LeadsExport,
            TasksRead,
            ChatUse,
            ChatMentionAll,
            UsersRead,
            AnalyticsRead,
            AiUse,
            ApiKeysUse,
        ],
    },
    BuiltIn {
        key: "production_manager",
        name: "Production Manager",
        description: "Runs production tasks and their analytics",
        permissions: &[
            LeadsReadAll,
            TasksRead,
            TasksWrite,
            TasksManage,
            ChatUse,
            ChatModerate,
            ChatMentionAll,
            UsersRead,
            AnalyticsRead,
            AiUse,
            ApiKeysUse,
        ],
    },
];

/// The keys of the built-in roles, in display order.
pub fn built_in_keys() -> Vec<&'static str> {
    BUILT_IN.iter().map(|b| b.key).collect()
}

/// Creates the built-in roles that do not exist yet; edits admins made to
/// existing ones are kept.
pub async fn seed_built_in(ctx: &Ctx) -> DomainResult<()> {
    let rows: Vec<serde_json::Value> = BUILT_IN
        .iter()
        .map(|b| {
            let perms: Vec<&str> = if b.key == ADMIN_ROLE {
                Permission::ALL.iter().map(|p| p.key()).collect()
            } else {
                b.permissions.iter().map(|p| p.key()).collect()
            };
            json!({"key": b.key, "name": b.name, "description": b.description, "permissions": perms})
        })
        .collect();
    ctx.store
        .run(
            "FOR $r IN $rows {
                INSERT IGNORE INTO role {
                    id: type::record('role', $r.key), name: $r.name, description: $r.description,
                    permissions: $r.permissions, built_in: true, created_at: time::now(), updated_at: time::now()
                };
            }",
            json!({"rows": rows}),
        )
        .await?;
    Ok(())
}

const SELECT_ROLE: &str = "SELECT *, record::id(id) AS id FROM";

pub async fn find(ctx: &Ctx, key: &str) -> DomainResult<Option<Role>> {
    if key.is_empty() {
        return Ok(None);
    }
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_ROLE} ONLY type::record('role', $key)"),
            json!({"key": key}),
        )
        .await?
        .first(0)?)
}

pub async fn list(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<Role>> {
    actor.require_any(&[RolesManage, UsersManage, UsersRead])?;
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_ROLE} role ORDER BY built_in DESC, name ASC"),
            json!({}),
        )
        .await?
        .rows(0)?)
}

pub async fn get(ctx: &Ctx, actor: &Actor, key: &str) -> DomainResult<Role> {
    actor.require_any(&[RolesManage, UsersManage, UsersRead])?;
    find(ctx, key).await?.ok_or(DomainError::NotFound("role"))
}

#[derive(Debug, Clone, Default)]
pub struct NewRole {
    pub key: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// Require holders to sign in with a second factor.
    pub require_second_factor: Option<bool>,
}

fn parse_key(key: &str) -> DomainResult<String> {
    let key = key.trim().to_ascii_lowercase();
    let ok = (2..=40).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && key.starts_with(|c: char| c.is_ascii_lowercase());
    if ok {
        Ok(key)
    } else {
        Err(DomainError::invalid(
            "key",
            "2 to 40 characters: lowercase letters, digits and _, starting with a letter",
        ))
    }
}

fn parse_name(name: &str) -> DomainResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(DomainError::invalid("name", "must be 1 to 80 characters"));
    }
    Ok(name.to_string())
}

fn parse_permissions(items: &[String]) -> DomainResult<Vec<String>> {
    permissions::parse_list(items)
        .map(|list| list.into_iter().map(|p| p.key().to_string()).collect())
        .map_err(|e| DomainError::invalid("permissions", e.to_string()))
}

/// `roles.manage` is no way up: a role gains only permissions the actor
/// holds (what it `had` already may stay).
fn check_grantable(actor: &Actor, permissions: &[String], had: &[String]) -> DomainResult<()> {
    let added = permissions.iter().filter(|p| !had.contains(p));
    for key in added {
        let held = key.parse::<Permission>().is_ok_and(|p| actor.can(p));
        if !held {
            return Err(DomainError::Forbidden(format!(
                "{key} (to grant it to a role)"
            )));
        }
    }
    Ok(())
}

pub async fn create(ctx: &Ctx, actor: &Actor, input: NewRole) -> DomainResult<Role> {
    actor.require(RolesManage)?;
    let key = parse_key(&input.key)?;
    let name = parse_name(&input.name)?;
    let permissions = parse_permissions(&input.permissions)?;
    check_grantable(actor, &permissions, &[])?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("key", &key)
        .bind("name", &name)
        .bind("description", input.description.trim())
        .bind("permissions", &permissions)
        .bind("now", super::clock::db_time(now));
    tx.push(
        "CREATE type::record('role', $key) SET name = $name, description = $description,
            permissions = $permissions, built_in = false, created_at = <datetime>$now, updated_at = <datetime>$now",
    );
    let changes = vec![
        FieldChange::new("name", None, Some(json!(name))),
        FieldChange::new("permissions", None, Some(json!(permissions))),
    ];
    audit::record(&mut tx, actor, "role", &key, "create", &changes, now);
    tx.commit(&ctx.store).await.map_err(|e| match e {
        crate::store::StoreError::Duplicate(_) => {
            DomainError::Conflict(format!("a role `{key}` or named `{name}` already exists"))
        }
        other => other.into(),
    })?;
    find(ctx, &key).await?.ok_or(DomainError::NotFound("role"))
}

pub async fn update(ctx: &Ctx, actor: &Actor, key: &str, patch: RolePatch) -> DomainResult<Role> {
    actor.require(RolesManage)?;
    let before = find(ctx, key).await?.ok_or(DomainError::NotFound("role"))?;
    let mut after = before.clone();
    if let Some(name) = &patch.name {
        after.name = parse_name(name)?;
    }
    if let Some(description) = &patch.description {
        after.description = description.trim().to_string();
    }
    if let Some(perms) = &patch.permissions {
        if before.id == ADMIN_ROLE {
            return Err(DomainError::Conflict(
                "the Admin role always holds every permission".into(),
            ));
        }
        after.permissions = parse_permissions(perms)?;
        check_grantable(actor, &after.permissions, &before.permissions)?;
    }
    if let Some(required) = patch.require_second_factor {
        if before.id == ADMIN_ROLE
            && actor.role != ADMIN_ROLE
            && required != before.require_second_factor
        {
            return Err(DomainError::Forbidden(
                "admin (only admins change how admins sign in)".into(),
            ));
        }
        after.require_second_factor = required;
    }
    let changes = audit::diff(
        &json!({"name": before.name, "description": before.description, "permissions": before.permissions,
            "require_second_factor": before.require_second_factor}),
        &json!({"name": after.name, "description": after.description, "permissions": after.permissions,
            "require_second_factor": after.require_second_factor}),
        &[],
    );
    if changes.is_empty() {
        return Ok(before);
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("key", key)
        .bind("name", &after.name)
        .bind("description", &after.description)
        .bind("permissions", &after.permissions)
        .bind("required", after.require_second_factor)
        .bind("now", super::clock::db_time(now));
    tx.push(
        "UPDATE type::record('role', $key) SET name = $name, description = $description,
            permissions = $permissions, require_second_factor = $required, updated_at = <datetime>$now",
    );
    audit::record(&mut tx, actor, "role", key, "update", &changes, now);
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    find(ctx, key).await?.ok_or(DomainError::NotFound("role"))
}

pub async fn delete(ctx: &Ctx, actor: &Actor, key: &str) -> DomainResult<()> {
    actor.require(RolesManage)?;
    let role = find(ctx, key).await?.ok_or(DomainError::NotFound("role"))?;
    if role.built_in {
        return Err(DomainError::Conflict(
            "built-in roles cannot be deleted".into(),
        ));
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("key", key);
    // Checked inside the transaction so a user cannot be given the role
    // between the check and the delete.
    tx.push("IF (SELECT count() FROM user WHERE role = $key GROUP ALL)[0].count > 0 { THROW 'the role is still held by users; give them another role first' }");
    tx.push("DELETE type::record('role', $key)");
    audit::record(&mut tx, actor, "role", key, "delete", &[], now);
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    Ok(())
}

/// The permission matrix: every permission, and which roles hold it.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub permissions: Vec<PermissionInfo>,
    pub roles: Vec<MatrixRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PermissionInfo {
    pub key: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    pub role: String,
    pub name: String,
    pub editable: bool,
    pub permissions: Vec<String>,
    pub require_second_factor: bool,
}

pub fn catalogue() -> Vec<PermissionInfo> {
    Permission::ALL
        .iter()
        .map(|p| PermissionInfo {
            key: p.key().into(),
            description: p.description().into(),
        })
        .collect()
}

pub async fn matrix(ctx: &Ctx, actor: &Actor) -> DomainResult<Matrix> {
    let roles = list(ctx, actor).await?;
    Ok(Matrix {
        permissions: catalogue(),
        roles: roles
            .into_iter()
            .map(|r| MatrixRow {
                editable: r.id != ADMIN_ROLE,
                require_second_factor: r.require_second_factor,
                permissions: r
                    .effective_permissions()
                    .iter()
                    .map(|p| p.key().to_string())
                    .collect(),
                role: r.id,
                name: r.name,
            })
            .collect(),
    })
}
