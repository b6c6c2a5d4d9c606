//! AI features: lead scoring, intent detection, duplicate detection and
//! merging, drafted messages. Model-backed features go through
//! [`AiService`], which tries the remote provider when one is configured
//! and falls back to the deterministic local one on any failure; scoring
//! and dedup are computed locally from this instance's own data. Model
//! output is data: features return proposals, and nothing runs from them
//! without a user's confirmation.

pub mod dedup;
pub mod drafting;
pub mod fit;
pub mod graph;
pub mod intent;
pub mod local;
pub mod openrouter;
pub mod patterns;
pub mod provider;
pub mod schema;
pub mod scoring;
pub mod usage;

use serde::Serialize;

use crate::config::Config;
use crate::domain::actor::Actor;
use crate::domain::error::DomainResult;
use crate::domain::features::{self, Feature};
use crate::domain::Ctx;
use local::Local;
use openrouter::{OpenRouter, RemoteSettings};
use provider::{Answer, Provider, ProviderError};

/// The providers in force; built once from the configuration.
pub struct AiService {
    pub local: Local,
    pub remote: Option<OpenRouter>,
}

/// A feature's answer and who gave it.
#[derive(Debug, Clone, Serialize)]
pub struct Served<T> {
    pub value: T,
    /// `openrouter` or `local`.
    pub provider: &'static str,
    /// Why the remote provider was not used, when one is configured.
    pub fallback_reason: Option<&'static str>,
}

impl AiService {
    pub fn from_config(config: &Config) -> Self {
        AiService {
            local: Local,
            remote: RemoteSettings::from_config(config).map(OpenRouter::new),
        }
    }

    /// `remote` is the remote provider's outcome, when one is configured;
    /// its failure is logged, recorded and answered by `local` instead
    /// (a lazy future, so it only runs when needed).
    async fn settle<T>(
        &self,
        ctx: &Ctx,
        actor: &Actor,
        feature: Feature,
        remote: Option<Result<Answer<T>, ProviderError>>,
        local: impl std::future::Future<Output = Result<Answer<T>, ProviderError>>,
    ) -> DomainResult<Served<T>> {
        let mut fallback_reason = None;
        if let (Some(provider), Some(outcome)) = (&self.remote, remote) {
            let (code, tokens) = match &outcome {
                Ok(a) => ("ok", a.tokens),
                Err(e) => (e.code(), Default::default()),
            };
            // An open circuit made no call, so it cost nothing to record.
            if !matches!(outcome, Err(ProviderError::CircuitOpen)) {
                usage::record(
                    ctx,
                    feature,
                    Some(&actor.user_id),
                    provider.model(),
                    code,
                    tokens,
                )
                .await;
            }
            match outcome {
                Ok(answer) => {
                    return Ok(Served {
                        value: answer.value,
                        provider: provider.name(),
                        fallback_reason: None,
                    })
                }
                Err(e) => {
                    tracing::warn!(feature = feature.key(), error = %e, "model call failed; answering locally");
                    fallback_reason = Some(e.code());
                }
            }
        }
        let answer = local
            .await
            .map_err(|e| crate::domain::error::DomainError::Internal(e.to_string()))?;
        Ok(Served {
            value: answer.value,
            provider: self.local.name(),
            fallback_reason,
        })
    }

    /// What the status page shows about the providers.
    pub fn status(&self) -> ProviderStatus {
        match &self.remote {
            Some(r) => ProviderStatus {
                provider: "openrouter",
                model: Some(r.model().to_string()),
                circuit_open: r.breaker.is_open(),
            },
            None => ProviderStatus {
                provider: "local",
                model: None,
                circuit_open: false,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProviderStatus {
    pub provider: &'static str,
    pub model: Option<String>,
    pub circuit_open: bool,
}

/// Intent detection for the bots' confirm flow and `POST /ai/intent`.
pub async fn detect_intent(
    ctx: &Ctx,
    actor: &Actor,
    text: &str,
    timezone: Option<&str>,
) -> DomainResult<Served<intent::IntentView>> {
    actor.require(crate::domain::permissions::Permission::AiUse)?;
    features::require(ctx, Feature::Intent)?;
    let text: String = text.chars().take(bots::intent::MAX_INTENT_CHARS).collect();
    if text.trim().is_empty() {
        return Err(crate::domain::error::DomainError::invalid(
            "text", "is empty",
        ));
    }
    let timezone = match timezone.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => crate::domain::geo::parse_timezone(t)?,
        None => chrono_tz::UTC,
    };
    let request = provider::IntentRequest {
        text,
        now: ctx.now(),
        timezone,
    };
    let remote = match &ctx.ai.remote {
        Some(r) => Some(r.detect_intent(&request).await),
        None => None,
    };
    let local = ctx.ai.local.detect_intent(&request);
    ctx.ai
        .settle(ctx, actor, Feature::Intent, remote, local)
        .await
}

#[derive(serde::Deserialize)]
struct TouchRow {
    kind: String,
    outcome: String,
    at: chrono::DateTime<chrono::Utc>,
}

/// A follow-up email or chat message for a lead, from its latest touches,
/// in the rep's tone. The draft is returned for the rep to edit; nothing
/// is sent.
pub async fn draft(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    channel: drafting::DraftChannel,
    tone: drafting::Tone,
) -> DomainResult<Served<drafting::Draft>> {
    actor.require(crate::domain::permissions::Permission::AiUse)?;
    features::require(ctx, Feature::Drafting)?;
    let lead = crate::domain::crm::leads::load_visible(ctx, actor, lead_id, false).await?;
    let contacts = crate::domain::crm::contacts::of_lead(ctx, &lead.id).await?;
    let results = ctx
        .store
        .run(
            "SELECT 'call' AS kind, outcome, at FROM call WHERE lead = $lead ORDER BY at DESC LIMIT 5;
             SELECT 'follow_up' AS kind, outcome, at FROM follow_up_history WHERE lead = $lead AND outcome != 'pending' ORDER BY at DESC LIMIT 5;",
            serde_json::json!({"lead": lead.id}),
        )
        .await?;
    let mut touches: Vec<TouchRow> = results.rows(0)?;
    touches.extend(results.rows::<TouchRow>(1)?);
    touches.sort_by_key(|t| std::cmp::Reverse(t.at));
    let now = ctx.now();
    let input = drafting::DraftInput {
        company: lead.company_name.clone(),
        // The first contact with an email is the one a follow-up goes to.
        contact_name: contacts
            .iter()
            .find(|c| c.email.is_some())
            .or(contacts.first())
            .map(|c| {
                c.name
                    .split_whitespace()
                    .next()
                    .unwrap_or(&c.name)
                    .to_string()
            }),
        rep_name: actor.username.clone(),
        channel,
        tone,
        status: lead.status.clone(),
        history: touches
            .into_iter()
            .take(5)
            .map(|t| drafting::HistoryLine {
                kind: t.kind,
                outcome: t.outcome,
                days_ago: (now - t.at).num_days().max(0),
            })
            .collect(),
    };
    let remote = match &ctx.ai.remote {
        Some(r) => Some(r.draft(&input).await),
        None => None,
    };
    let local = ctx.ai.local.draft(&input);
    ctx.ai
        .settle(ctx, actor, Feature::Drafting, remote, local)
        .await
}
