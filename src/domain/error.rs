//! The one error type of the business rules. HTTP, WebSocket and bot
//! replies each map it in exactly one place.

use crate::domain::crm::duplicates::DuplicateCandidate;
use crate::store::StoreError;

fn duplicate_message(candidates: &[DuplicateCandidate]) -> String {
    let names: Vec<String> = candidates
        .iter()
        .map(|c| format!("{} ({})", c.company_name, c.id))
        .collect();
    format!(
        "this lead may already exist: {}; create it anyway with allow_duplicate",
        names.join(", ")
    )
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("authentication required")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadCredentials,
    /// A sign-in whose password was right, for an account that also needs
    /// a code.
    #[error("this account signs in with a second factor: send `code`, the 6-digit code from the authenticator app (or a recovery code)")]
    SecondFactorRequired,
    #[error("wrong or already used two-factor code")]
    WrongSecondFactor,
    /// A session whose role requires a second factor the user has not set
    /// up: it may set one up and nothing else.
    #[error(
        "your role requires two-factor sign-in: set it up first (POST /api/v1/auth/2fa/setup)"
    )]
    SecondFactorSetupRequired,
    #[error("missing permission `{0}`")]
    Forbidden(String),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A value that is not even of its kind (a paging cursor that no page
    /// gave out): the request is malformed, not against a rule.
    #[error("{field}: {reason}")]
    Malformed { field: &'static str, reason: String },
    #[error("{0}")]
    Conflict(String),
    /// A new lead looks like leads already stored (`crm::duplicates`);
    /// nothing was created.
    #[error("{}", duplicate_message(.0))]
    Duplicate(Vec<DuplicateCandidate>),
    /// The caller made the change conditional on a version of the record
    /// (HTTP `If-Match`) that is no longer the current one; nothing changed.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The service has more of this work queued than it takes on; nothing
    /// was done.
    #[error("the service is busy; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// Closed for maintenance to everyone but admins.
    #[error("{message}")]
    Maintenance {
        message: String,
        retry_after_secs: u64,
    },
    /// A part of the service an admin switched off (`domain::features`).
    #[error("{name} is switched off by an admin (feature `{feature}`)")]
    FeatureDisabled {
        feature: &'static str,
        name: &'static str,
    },
    #[error("internal error")]
    Internal(String),
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(_) => {
                DomainError::Conflict("a record with that value already exists".into())
            }
            StoreError::Conflict => {
                DomainError::Conflict("the record changed at the same time; try again".into())
            }
            StoreError::Rule(message) => DomainError::Conflict(message),
            // An id sent empty names nothing; whichever lookup it reached
            // finds nothing.
            StoreError::EmptyKey => DomainError::NotFound("record"),
            other => DomainError::Internal(other.to_string()),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
