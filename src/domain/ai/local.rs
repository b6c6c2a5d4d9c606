//! The local provider: deterministic and offline. Intents come from the
//! `bots` crate's rules, drafts from templates. It is the default without
//! an API key and the fallback whenever the remote provider fails.

use super::drafting::{self, Draft, DraftInput};
use super::intent::{self, IntentView};
use super::provider::{Answer, IntentRequest, Provider, ProviderError};

#[derive(Debug, Default, Clone, Copy)]
pub struct Local;

impl Provider for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn detect_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<Answer<IntentView>, ProviderError> {
        let context = bots::ParseContext {
            now: request.now,
            timezone: request.timezone,
            bot_username: None,
        };
        Ok(Answer::free(intent::from_rules(&bots::detect_intent(
            &request.text,
            &context,
        ))))
    }

    async fn draft(&self, input: &DraftInput) -> Result<Answer<Draft>, ProviderError> {
        Ok(Answer::free(drafting::local_draft(input)))
    }
}
