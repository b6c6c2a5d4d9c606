//! The seam between AI features and whoever answers them. Two providers
//! implement [`Provider`]: the OpenRouter-compatible remote one and the
//! deterministic local one. `AiService` asks the remote first when it is
//! configured and falls back to the local one on any failure, so a feature
//! always has an answer and a provider problem never becomes a 500.

use std::future::Future;

use serde::Serialize;

use super::drafting::{Draft, DraftInput};
use super::intent::IntentView;

/// Why a provider could not answer. Every variant ends in the local fallback.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the model service took too long")]
    Timeout,
    #[error("the model service is rate limiting us")]
    RateLimited,
    #[error("the model service is unavailable: {0}")]
    Unavailable(String),
    #[error("the model answered something that is not JSON")]
    Malformed,
    #[error("the model's answer does not match the schema: {0}")]
    Schema(String),
    #[error("the circuit is open after repeated failures")]
    CircuitOpen,
    /// A 4xx other than 429: a wrong key, model or request; retrying will not help.
    #[error("the model service refused the request with status {0}")]
    Refused(u16),
}

impl ProviderError {
    /// Failures a retry may cure: the same prompt gives the same bad JSON,
    /// so only transport trouble is retried.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout | ProviderError::RateLimited | ProviderError::Unavailable(_)
        )
    }

    /// A short stable word for the usage log and the API.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Timeout => "timeout",
            ProviderError::RateLimited => "rate_limited",
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::Malformed => "malformed",
            ProviderError::Schema(_) => "schema_violation",
            ProviderError::CircuitOpen => "circuit_open",
            ProviderError::Refused(_) => "refused",
        }
    }
}

/// Tokens one answer cost (zero for the local provider).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenUse {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// A provider's answer and what it cost.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub value: T,
    pub tokens: TokenUse,
}

impl<T> Answer<T> {
    pub fn free(value: T) -> Self {
        Answer {
            value,
            tokens: TokenUse::default(),
        }
    }
}

/// What a chat message is read against: the clock and the sender's zone.
#[derive(Debug, Clone)]
pub struct IntentRequest {
    pub text: String,
    pub now: chrono::DateTime<chrono::Utc>,
    pub timezone: chrono_tz::Tz,
}

/// One way of answering the model-backed features.
pub trait Provider: Send + Sync {
    /// `openrouter` or `local`, as reported and logged.
    fn name(&self) -> &'static str;

    fn detect_intent(
        &self,
        request: &IntentRequest,
    ) -> impl Future<Output = Result<Answer<IntentView>, ProviderError>> + Send;

    fn draft(
        &self,
        input: &DraftInput,
    ) -> impl Future<Output = Result<Answer<Draft>, ProviderError>> + Send;
}
