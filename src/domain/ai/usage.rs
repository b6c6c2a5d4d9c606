//! Token use, recorded per feature and per user for every remote call
//! (including failed ones, so an outage shows on the status page).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::provider::TokenUse;
use crate::domain::clock::db_time;
use crate::domain::error::DomainResult;
use crate::domain::features::Feature;
use crate::domain::Ctx;

/// One remote call's record. Failing to write it must not fail the feature.
pub async fn record(
    ctx: &Ctx,
    feature: Feature,
    user: Option<&str>,
    model: &str,
    outcome: &str,
    tokens: TokenUse,
) {
    let written = ctx
        .store
        .run(
            "CREATE ai_usage SET feature = $feature, user = $user, provider = 'openrouter', model = $model,
                outcome = $outcome, prompt_tokens = $p, completion_tokens = $c, at = <datetime>$at",
            json!({"feature": feature.key(), "user": user, "model": model, "outcome": outcome,
                   "p": tokens.prompt_tokens, "c": tokens.completion_tokens, "at": db_time(ctx.now())}),
        )
        .await;
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not record AI token use");
    }
}

/// Totals for one feature and user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageTotal {
    pub feature: String,
    pub user: Option<String>,
    pub calls: i64,
    pub failures: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

pub async fn totals(ctx: &Ctx) -> DomainResult<Vec<UsageTotal>> {
    Ok(ctx
        .store
        .run(
            "SELECT feature, user, count() AS calls, math::sum(IF outcome = 'ok' THEN 0 ELSE 1 END) AS failures,
                math::sum(prompt_tokens) AS prompt_tokens, math::sum(completion_tokens) AS completion_tokens
             FROM ai_usage GROUP BY feature, user",
            json!({}),
        )
        .await?
        .rows(0)?)
}
