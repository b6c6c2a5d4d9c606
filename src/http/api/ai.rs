//! `/ai`: lead scores, intent detection, duplicate candidates and merges,
//! drafted messages, and the admins' feature switches and status.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::leads::{DuplicateCandidateView, LeadView};
use super::ApiTags;
use crate::domain::ai::drafting::{self, DraftChannel, Tone};
use crate::domain::ai::intent::{self, IntentView};
use crate::domain::ai::{self, dedup, fit, graph, patterns, scoring, usage, Served};
use crate::domain::features;
use crate::domain::permissions::Permission;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct AiApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiReasonView {
    /// completeness, reachability, engagement or fit.
    factor: String,
    points: i64,
    max: i64,
    detail: String,
}

impl From<scoring::Reason> for AiReasonView {
    fn from(r: scoring::Reason) -> Self {
        AiReasonView {
            factor: r.factor.to_string(),
            points: r.points,
            max: r.max,
            detail: r.detail,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiScoreView {
    lead_id: String,
    /// 0–100.
    score: i64,
    reasons: Vec<AiReasonView>,
}

impl AiScoreView {
    /// The score does not carry its lead's id; the caller names it.
    fn new(lead_id: String, scored: scoring::Scored) -> Self {
        AiScoreView {
            lead_id,
            score: scored.score,
            reasons: scored.reasons.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiIntentInput {
    /// The chat or bot message.
    text: String,
    /// The sender's IANA zone, for "tomorrow at 10" (default UTC).
    timezone: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiIntentSlotsView {
    company: Option<String>,
    website: Option<String>,
    lead: Option<String>,
    tier: Option<u8>,
    outcome: Option<String>,
    when: Option<DateTime<Utc>>,
    title: Option<String>,
    assignee: Option<String>,
    status: Option<String>,
    text: Option<String>,
}

impl From<intent::IntentSlots> for AiIntentSlotsView {
    fn from(v: intent::IntentSlots) -> Self {
        AiIntentSlotsView {
            company: v.company,
            website: v.website,
            lead: v.lead,
            tier: v.tier,
            outcome: v.outcome,
            when: v.when,
            title: v.title,
            assignee: v.assignee,
            status: v.status,
            text: v.text,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiIntentResultView {
    /// create_lead, log_follow_up, create_task, change_status, log_call, question or none.
    kind: String,
    slots: AiIntentSlotsView,
    /// openrouter or local.
    provider: String,
    /// Why the model was not used, when one is configured.
    fallback_reason: Option<String>,
    /// Always true: an intent is a proposal; nothing runs until a user confirms.
    needs_confirmation: bool,
}

impl From<Served<IntentView>> for AiIntentResultView {
    fn from(s: Served<IntentView>) -> Self {
        AiIntentResultView {
            kind: s.value.kind,
            slots: s.value.slots.into(),
            provider: s.provider.to_string(),
            fallback_reason: s.fallback_reason.map(str::to_string),
            needs_confirmation: true,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiDuplicateView {
    lead_a: String,
    lead_b: String,
    /// 0–1.
    confidence: f64,
    /// What the two leads share.
    signals: Vec<String>,
}

impl From<dedup::Candidate> for AiDuplicateView {
    fn from(c: dedup::Candidate) -> Self {
        AiDuplicateView {
            lead_a: c.a,
            lead_b: c.b,
            confidence: c.confidence,
            signals: c.signals,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiMergeInput {
    /// The lead that stays.
    keep: String,
    /// The lead folded into it and moved to the trash.
    merge: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiDraftInputView {
    /// email (default) or chat.
    channel: Option<String>,
    /// formal, friendly (default) or brief.
    tone: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiDraftView {
    subject: Option<String>,
    body: String,
    provider: String,
    fallback_reason: Option<String>,
}

impl From<Served<drafting::Draft>> for AiDraftView {
    fn from(s: Served<drafting::Draft>) -> Self {
        AiDraftView {
            subject: s.value.subject,
            body: s.value.body,
            provider: s.provider.to_string(),
            fallback_reason: s.fallback_reason.map(str::to_string),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiFlagView {
    /// lead_scoring, intent, dedup, drafting, relationship_map or patterns.
    feature: String,
    enabled: bool,
    updated_at: Option<DateTime<Utc>>,
}

impl From<features::Switch> for AiFlagView {
    fn from(f: features::Switch) -> Self {
        AiFlagView {
            feature: f.feature.key().to_string(),
            enabled: f.enabled,
            updated_at: f.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiUsageView {
    feature: String,
    user: Option<String>,
    calls: i64,
    failures: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
}

impl From<usage::UsageTotal> for AiUsageView {
    fn from(u: usage::UsageTotal) -> Self {
        AiUsageView {
            feature: u.feature,
            user: u.user,
            calls: u.calls,
            failures: u.failures,
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiStatusView {
    /// openrouter (with the local fallback) or local.
    provider: String,
    model: Option<String>,
    /// True while repeated failures keep the model service from being called.
    circuit_open: bool,
    /// The AI features' switches (switched with `PUT /features/{key}`).
    features: Vec<AiFlagView>,
    usage: Vec<AiUsageView>,
}

impl AiStatusView {
    /// The provider, the feature switches and the usage come from three places.
    fn new(
        provider: ai::ProviderStatus,
        switches: Vec<features::Switch>,
        totals: Vec<usage::UsageTotal>,
    ) -> Self {
        AiStatusView {
            provider: provider.provider.to_string(),
            model: provider.model,
            circuit_open: provider.circuit_open,
            features: switches
                .into_iter()
                .filter(|s| s.feature.is_ai())
                .map(Into::into)
                .collect(),
            usage: totals.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiRecomputedView {
    changed: u64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiSlotView {
    /// Hour 0–23 on the lead's clock, or weekday 1 (Monday) – 7.
    slot: u32,
    attempts: u32,
    reached: u32,
    reach_rate: f64,
}

impl From<patterns::Slot> for AiSlotView {
    fn from(s: patterns::Slot) -> Self {
        AiSlotView {
            slot: s.slot,
            attempts: s.attempts,
            reached: s.reached,
            reach_rate: s.reach_rate,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiRepPatternView {
    user: String,
    activities: u32,
    reach_rate: f64,
    busiest_hour_utc: u32,
}

impl From<patterns::RepPattern> for AiRepPatternView {
    fn from(r: patterns::RepPattern) -> Self {
        AiRepPatternView {
            user: r.user,
            activities: r.activities,
            reach_rate: r.reach_rate,
            busiest_hour_utc: r.busiest_hour_utc,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiPatternsView {
    touches: u32,
    /// Best first; slots with fewer than 3 attempts come last.
    best_hours: Vec<AiSlotView>,
    best_days: Vec<AiSlotView>,
    reps: Vec<AiRepPatternView>,
}

impl From<patterns::Patterns> for AiPatternsView {
    fn from(p: patterns::Patterns) -> Self {
        AiPatternsView {
            touches: p.touches,
            best_hours: p.best_hours.into_iter().map(Into::into).collect(),
            best_days: p.best_days.into_iter().map(Into::into).collect(),
            reps: p.reps.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiRelationInput {
    /// The other lead.
    to: String,
    /// referral (this lead referred `to`) or parent_company (this lead is `to`'s parent).
    kind: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiNeighbourView {
    lead: String,
    company_name: String,
    /// same_domain, shared_person, referral or parent_company.
    kind: String,
    /// out: this lead points at the neighbour; in: the neighbour points here.
    direction: String,
    detail: Option<String>,
}

impl From<graph::Neighbour> for AiNeighbourView {
    fn from(n: graph::Neighbour) -> Self {
        AiNeighbourView {
            lead: n.lead,
            company_name: n.company_name,
            kind: n.kind,
            direction: n.direction,
            detail: n.detail,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiFitWeightView {
    /// has_website, contacts, reachable_contacts, activity, or
    /// industry=…, country=…, source=….
    feature: String,
    /// Log-odds added when the feature is fully present.
    weight: f64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AiFitView {
    /// `learned` when a trained model scores fit, `rule` when the win-rate
    /// rule does (too little history).
    mode: String,
    /// Closed leads needed (with both outcomes) before the fit is learned.
    min_closed: u64,
    samples: u64,
    won: u64,
    lost: u64,
    trained_at: Option<DateTime<Utc>>,
    /// The learned weights, strongest first.
    weights: Vec<AiFitWeightView>,
}

impl From<fit::LearnedFit> for AiFitView {
    fn from(model: fit::LearnedFit) -> Self {
        let mut weights: Vec<AiFitWeightView> = model
            .features
            .iter()
            .zip(&model.weights)
            .map(|(f, w)| AiFitWeightView {
                feature: f.clone(),
                weight: *w,
            })
            .collect();
        weights.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
        AiFitView {
            mode: "learned".into(),
            min_closed: fit::MIN_CLOSED as u64,
            samples: model.samples as u64,
            won: model.won as u64,
            lost: model.lost as u64,
            trained_at: Some(model.trained_at),
            weights,
        }
    }
}

impl AiFitView {
    /// The win-rate rule has no model to convert, only its closed-lead counts.
    fn rule(won: usize, lost: usize) -> Self {
        AiFitView {
            mode: "rule".into(),
            min_closed: fit::MIN_CLOSED as u64,
            samples: (won + lost) as u64,
            won: won as u64,
            lost: lost as u64,
            trained_at: None,
            weights: Vec::new(),
        }
    }
}

#[OpenApi(prefix_path = "/ai", tag = "ApiTags::Ai")]
impl AiApi {
    /// How lead fit is scored now: the learned model and its weights, or
    /// the win-rate rule while there is too little history.
    #[oai(path = "/fit", method = "get")]
    async fn fit_status(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<AiFitView>> {
        Ok(Json(match fit::status(&state.ctx, auth.actor()).await? {
            Some(model) => model.into(),
            None => {
                let rule = scoring::fit_model(&state.ctx).await?;
                AiFitView::rule(rule.won, rule.lost)
            }
        }))
    }

    /// Retrains the fit model on the won and lost leads now (`ai.manage`);
    /// it also retrains every six hours. Scores follow as leads change, or
    /// all at once with `POST /ai/scores/recompute`.
    #[oai(path = "/fit/train", method = "post")]
    async fn fit_train(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<AiFitView>> {
        Ok(Json(
            match fit::retrain_now(&state.ctx, auth.actor()).await? {
                fit::Training::Trained(model) => model.into(),
                fit::Training::NotEnoughHistory { won, lost } => AiFitView::rule(won, lost),
            },
        ))
    }

    /// A lead's score (0–100) with the reasons behind it, recomputed now.
    #[oai(path = "/leads/:id/score", method = "get")]
    async fn score(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<AiScoreView>> {
        let scored = scoring::explain(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(AiScoreView::new(id.0, scored)))
    }

    /// Rescores every lead (`ai.manage`).
    #[oai(path = "/scores/recompute", method = "post")]
    async fn recompute(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<AiRecomputedView>> {
        let changed = scoring::recompute_all(&state.ctx, auth.actor()).await?;
        Ok(Json(AiRecomputedView {
            changed: changed as u64,
        }))
    }

    /// What a chat message asks for, as a proposal to confirm.
    #[oai(path = "/intent", method = "post")]
    async fn intent(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<AiIntentInput>,
    ) -> ApiResult<Json<AiIntentResultView>> {
        let served = ai::detect_intent(
            &state.ctx,
            auth.actor(),
            &body.0.text,
            body.0.timezone.as_deref(),
        )
        .await?;
        Ok(Json(served.into()))
    }

    /// Candidate duplicate pairs among the leads you can see, most likely
    /// first. Leads are compared when they share a website domain, a
    /// contact's email or phone, or a company-name key (the first four
    /// letters of a word of the name); a key more than 200 live leads share
    /// is no evidence. The service walks the leads a page at a time and
    /// keeps only the `limit` best pairs, so its memory stays small, but the
    /// time grows with the number of leads: for one lead, ask
    /// `GET /ai/leads/{id}/duplicates`.
    #[oai(path = "/duplicates", method = "get")]
    async fn duplicates(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// Lowest confidence listed, 0–1 (default 0.5).
        min_confidence: Query<Option<f64>>,
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Vec<AiDuplicateView>>> {
        let found = dedup::find(
            &state.ctx,
            auth.actor(),
            min_confidence.0.unwrap_or(0.5),
            limit.0.unwrap_or(100) as usize,
        )
        .await?;
        Ok(Json(found.into_iter().map(Into::into).collect()))
    }

    /// The leads one lead may duplicate, most likely first: the other live
    /// leads you can see that share its website domain, a contact's email or
    /// phone, or a similar company name, each with the confidence and
    /// signals `GET /ai/duplicates` gives the same pair. Each is found
    /// through an index, so the answer takes as long at a million leads as
    /// at a thousand; a name key more than 200 live leads share is no
    /// evidence.
    #[oai(path = "/leads/:id/duplicates", method = "get")]
    async fn lead_duplicates(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// Lowest confidence listed, 0–1 (default 0.5).
        min_confidence: Query<Option<f64>>,
        /// Most candidates listed (default 10, at most 100).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Vec<DuplicateCandidateView>>> {
        let found = dedup::candidates_for(
            &state.ctx,
            auth.actor(),
            &id.0,
            min_confidence.0.unwrap_or(0.5),
            limit.0.unwrap_or(10) as usize,
        )
        .await?;
        Ok(Json(found.into_iter().map(Into::into).collect()))
    }

    /// Folds one lead into another, keeping every related record.
    #[oai(path = "/duplicates/merge", method = "post")]
    async fn merge(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<AiMergeInput>,
    ) -> ApiResult<Json<LeadView>> {
        let lead = dedup::merge(&state.ctx, auth.actor(), &body.0.keep, &body.0.merge).await?;
        Ok(Json(lead.into()))
    }

    /// A follow-up email or chat message for a lead, to edit and send yourself.
    #[oai(path = "/leads/:id/draft", method = "post")]
    async fn draft(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<AiDraftInputView>,
    ) -> ApiResult<Json<AiDraftView>> {
        let channel = DraftChannel::parse(body.0.channel.as_deref().unwrap_or("email"))?;
        let tone = Tone::parse(body.0.tone.as_deref().unwrap_or("friendly"))?;
        let served = ai::draft(&state.ctx, auth.actor(), &id.0, channel, tone).await?;
        Ok(Json(served.into()))
    }

    /// Which provider answers, whether its circuit is open, each feature's
    /// switch and the token use per feature and user (`ai.manage`).
    #[oai(path = "/status", method = "get")]
    async fn status(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<AiStatusView>> {
        auth.actor().require(Permission::AiManage)?;
        let ctx = &state.ctx;
        let provider = ctx.ai.status();
        let switches = features::list(ctx).await?;
        let totals = usage::totals(ctx).await?;
        Ok(Json(AiStatusView::new(provider, switches, totals)))
    }

    /// When calls and follow-ups reach people, on the leads' own clocks,
    /// and each rep's activity pattern.
    #[oai(path = "/patterns", method = "get")]
    async fn patterns(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        industry: Query<Option<String>>,
        /// An IANA zone, e.g. Europe/Berlin.
        timezone: Query<Option<String>>,
    ) -> ApiResult<Json<AiPatternsView>> {
        let p = patterns::patterns(
            &state.ctx,
            auth.actor(),
            industry.0.as_deref(),
            timezone.0.as_deref(),
        )
        .await?;
        Ok(Json(p.into()))
    }

    /// A lead's neighbourhood in the relationship map.
    #[oai(path = "/leads/:id/relations", method = "get")]
    async fn relations(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<AiNeighbourView>>> {
        let found = graph::neighbourhood(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(found.into_iter().map(Into::into).collect()))
    }

    /// Records a referral or a parent company between two leads.
    #[oai(path = "/leads/:id/relations", method = "post")]
    async fn relate(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<AiRelationInput>,
    ) -> ApiResult<Json<Vec<AiNeighbourView>>> {
        graph::relate(&state.ctx, auth.actor(), &id.0, &body.0.to, &body.0.kind).await?;
        self.relations(state, auth, id).await
    }
}
