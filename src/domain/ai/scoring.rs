//! Lead scoring: 0–100 with the reasons that add up to it. Four factors:
//! data completeness, reachable contacts, engagement and recency, and fit.
//! Fit is the win chance a logistic regression learned from this
//! instance's own won and lost leads (`fit`) once there are enough of them;
//! before that, a smoothed win rate of the lead's industry, and before
//! `MIN_HISTORY` closed leads, neutral. Kept current by a background task
//! that listens to CRM events and writes `score` and `sort_score` with a
//! targeted UPDATE.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::fit::{self, FitInput, LearnedFit};
use crate::domain::actor::Actor;
use crate::domain::crm::contacts::{self, Contact};
use crate::domain::crm::leads::{self, Lead};
use crate::domain::crm::pipeline;
use crate::domain::error::DomainResult;
use crate::domain::features::{self, Feature};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

/// Closed leads needed before the win-rate rule replaces a neutral fit.
pub const MIN_HISTORY: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub factor: &'static str,
    pub points: i64,
    pub max: i64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub score: i64,
    pub reasons: Vec<Reason>,
}

/// Activity on a lead, as the score needs it.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// Calls and follow-ups that reached someone (answered, replied, done).
    pub conversations: usize,
    /// All logged touches, reached or not.
    pub touches: usize,
    pub last_touch: Option<DateTime<Utc>>,
}

/// What fit is judged by: the learned model when there is one, else won
/// and lost counts, overall and per industry.
#[derive(Debug, Clone, Default)]
pub struct FitModel {
    pub won: usize,
    pub lost: usize,
    pub by_industry: HashMap<String, (usize, usize)>,
    pub learned: Option<LearnedFit>,
}

impl FitModel {
    /// Whether the win-rate rule has enough history.
    pub fn has_history(&self) -> bool {
        self.won + self.lost >= MIN_HISTORY
    }
}

/// The fit reason from the learned model: the win chance as points, and
/// the features that moved it most.
fn learned_fit(model: &LearnedFit, input: &FitInput) -> (i64, String) {
    let (chance, parts) = model.predict(input);
    let strongest: Vec<String> = parts
        .iter()
        .take(3)
        .map(|c| format!("{} {:+.1}", c.feature, c.log_odds))
        .collect();
    let why = if strongest.is_empty() {
        "nothing it learned applies to this lead".to_string()
    } else {
        strongest.join(", ")
    };
    (
        (chance * 25.0).round() as i64,
        format!(
            "learned from {} closed leads ({} won, {} lost): {:.0}% chance to win; {why}",
            model.samples,
            model.won,
            model.lost,
            chance * 100.0
        ),
    )
}

/// The pure rule: the same inputs always give the same score and reasons.
pub fn score(
    lead: &Lead,
    contacts: &[Contact],
    activity: &Activity,
    fit: &FitModel,
    now: DateTime<Utc>,
) -> Scored {
    let mut reasons = Vec::new();

    let filled = [
        lead.website.is_some(),
        lead.industry.is_some(),
        lead.country.is_some(),
        lead.timezone.is_some(),
        !contacts.is_empty(),
    ];
    let n = filled.iter().filter(|f| **f).count() as i64;
    reasons.push(Reason {
        factor: "completeness",
        points: n * 4,
        max: 20,
        detail: format!(
            "{n} of 5 key fields filled (website, industry, country, timezone, a contact)"
        ),
    });

    let emails = contacts.iter().filter(|c| c.email.is_some()).count();
    let phones = contacts.iter().filter(|c| c.phone.is_some()).count();
    let reach = (if emails > 0 { 10 } else { 0 })
        + (if phones > 0 { 10 } else { 0 })
        + (if contacts.len() > 1 { 5 } else { 0 });
    reasons.push(Reason {
        factor: "reachability",
        points: reach,
        max: 25,
        detail: format!(
            "{} contact(s): {emails} with email, {phones} with phone",
            contacts.len()
        ),
    });

    let engaged = (activity.conversations as i64 * 6 + activity.touches as i64 * 2).min(15);
    let recency = match activity
        .last_touch
        .into_iter()
        .chain(lead.last_contacted_at)
        .max()
    {
        Some(t) if now - t <= Duration::days(7) => 15,
        Some(t) if now - t <= Duration::days(30) => 9,
        Some(t) if now - t <= Duration::days(90) => 4,
        _ => 0,
    };
    reasons.push(Reason {
        factor: "engagement",
        points: engaged + recency,
        max: 30,
        detail: format!(
            "{} conversation(s) in {} touch(es); {}",
            activity.conversations,
            activity.touches,
            match recency {
                15 => "touched this week",
                9 => "touched this month",
                4 => "touched this quarter",
                _ => "not touched for over 90 days",
            }
        ),
    });

    let (fit_points, fit_detail) = if let Some(model) = &fit.learned {
        learned_fit(model, &FitInput::of(lead, contacts, activity.touches))
    } else if fit.has_history() {
        // Laplace-smoothed win rate of the lead's industry (or of all leads).
        let (won, lost, scope) = match lead
            .industry
            .as_deref()
            .and_then(|i| fit.by_industry.get(&i.to_lowercase()))
        {
            Some(&(w, l)) => (w, l, "its industry"),
            None => (fit.won, fit.lost, "all closed leads"),
        };
        let rate = (won as f64 + 1.0) / ((won + lost) as f64 + 2.0);
        (
            (rate * 25.0).round() as i64,
            format!(
                "{won} won and {lost} lost in {scope}: {:.0}% win rate",
                rate * 100.0
            ),
        )
    } else {
        (
            12,
            format!(
                "neutral until {MIN_HISTORY} leads are won or lost ({} so far)",
                fit.won + fit.lost
            ),
        )
    };
    reasons.push(Reason {
        factor: "fit",
        points: fit_points,
        max: 25,
        detail: fit_detail,
    });

    let total: i64 = reasons.iter().map(|r| r.points).sum();
    Scored {
        score: total.clamp(0, 100),
        reasons,
    }
}

#[derive(Deserialize)]
struct Touch {
    outcome: String,
    at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Closed {
    industry: Option<String>,
    status: String,
}

const REACHED: &[&str] = &["connected", "interested", "callback", "replied", "done"];

async fn activity(ctx: &Ctx, lead: &str) -> DomainResult<Activity> {
    let results = ctx
        .store
        .run(
            "SELECT outcome, at FROM call WHERE lead = $lead;
             SELECT outcome, at FROM follow_up_history WHERE lead = $lead AND outcome != 'pending';",
            json!({"lead": lead}),
        )
        .await?;
    let mut touches: Vec<Touch> = results.rows(0)?;
    touches.extend(results.rows::<Touch>(1)?);
    Ok(Activity {
        conversations: touches
            .iter()
            .filter(|t| REACHED.contains(&t.outcome.as_str()))
            .count(),
        touches: touches.len(),
        last_touch: touches.iter().map(|t| t.at).max(),
    })
}

pub async fn fit_model(ctx: &Ctx) -> DomainResult<FitModel> {
    if let Some(model) = fit::current(ctx).await? {
        return Ok(FitModel {
            won: model.won,
            lost: model.lost,
            learned: Some(model),
            ..Default::default()
        });
    }
    let statuses = pipeline::list_all(ctx).await?;
    let won: Vec<String> = statuses
        .iter()
        .filter(|s| s.is_won)
        .map(|s| s.id.clone())
        .collect();
    let lost: Vec<String> = statuses
        .iter()
        .filter(|s| s.is_lost)
        .map(|s| s.id.clone())
        .collect();
    let rows: Vec<Closed> = ctx
        .store
        .run(
            "SELECT industry, status FROM lead WHERE deleted_at IS NONE AND status IN $closed",
            json!({"closed": won.iter().chain(&lost).collect::<Vec<_>>()}),
        )
        .await?
        .rows(0)?;
    let mut model = FitModel::default();
    for row in rows {
        let is_won = won.contains(&row.status);
        if is_won {
            model.won += 1;
        } else {
            model.lost += 1;
        }
        if let Some(industry) = row.industry {
            let entry = model
                .by_industry
                .entry(industry.to_lowercase())
                .or_default();
            if is_won {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    Ok(model)
}

async fn compute_for(ctx: &Ctx, lead: &Lead, fit: &FitModel) -> DomainResult<Scored> {
    let contacts = contacts::of_lead(ctx, &lead.id).await?;
    let activity = activity(ctx, &lead.id).await?;
    Ok(score(lead, &contacts, &activity, fit, ctx.now()))
}

/// Writes `score` and `sort_score` only; the CRM core owns the rest of the row.
async fn write(ctx: &Ctx, lead_id: &str, score: i64) -> DomainResult<()> {
    ctx.store
        .run(
            "UPDATE type::record('lead', $id) SET score = $s, sort_score = $k",
            json!({"id": lead_id, "s": score, "k": leads::score_key(score, lead_id)}),
        )
        .await?;
    Ok(())
}

/// Recomputes one lead's score and stores it when it changed.
pub async fn refresh(ctx: &Ctx, lead_id: &str) -> DomainResult<Option<Scored>> {
    let Some(lead) = leads::find(ctx, lead_id).await? else {
        return Ok(None);
    };
    if lead.deleted_at.is_some() {
        return Ok(None);
    }
    let fit = fit_model(ctx).await?;
    let scored = compute_for(ctx, &lead, &fit).await?;
    if scored.score != lead.score {
        write(ctx, &lead.id, scored.score).await?;
    }
    Ok(Some(scored))
}

/// A lead's score with its reasons, recomputed now (`GET /ai/leads/{id}/score`).
pub async fn explain(ctx: &Ctx, actor: &Actor, lead_id: &str) -> DomainResult<Scored> {
    actor.require(Permission::AiUse)?;
    features::require(ctx, Feature::LeadScoring)?;
    let lead = leads::load_visible(ctx, actor, lead_id, false).await?;
    let fit = fit_model(ctx).await?;
    let scored = compute_for(ctx, &lead, &fit).await?;
    if scored.score != lead.score {
        write(ctx, &lead.id, scored.score).await?;
    }
    Ok(scored)
}

/// Rescores every live lead (after switching scoring on, or when fit moved).
pub async fn recompute_all(ctx: &Ctx, actor: &Actor) -> DomainResult<usize> {
    actor.require(Permission::AiManage)?;
    features::require(ctx, Feature::LeadScoring)?;
    let leads: Vec<Lead> = ctx
        .store
        .run(
            &format!("{} lead WHERE deleted_at IS NONE", leads::SELECT_LEAD),
            json!({}),
        )
        .await?
        .rows(0)?;
    let fit = fit_model(ctx).await?;
    let mut changed = 0;
    for lead in leads {
        let scored = compute_for(ctx, &lead, &fit).await?;
        if scored.score != lead.score {
            write(ctx, &lead.id, scored.score).await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The lead an event is about: its payload's `lead` is the lead or its id.
fn lead_of(payload: &serde_json::Value) -> Option<String> {
    let lead = &payload["lead"];
    lead.as_str()
        .or_else(|| lead["id"].as_str())
        .map(str::to_string)
}

fn rescores(topic: &str) -> bool {
    matches!(
        topic,
        "lead.created" | "lead.updated" | "lead.restored" | "follow_up.logged" | "call.logged"
    ) || topic.starts_with("contact.")
}

/// Listens to the event bus and keeps scores (and the derived relations
/// of the relationship map) current. Events are only a
/// wake-up: the score is recomputed from stored rows, so a missed event
/// costs freshness until the next change, never correctness of the rule.
pub async fn run_scorer(
    ctx: Arc<Ctx>,
    mut rx: tokio::sync::broadcast::Receiver<Arc<crate::domain::events::Event>>,
) {
    loop {
        let event = match rx.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "the scorer fell behind the event bus");
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        if !rescores(&event.topic) {
            continue;
        }
        let Some(lead) = lead_of(&event.payload) else {
            continue;
        };
        if features::is_on(&ctx, Feature::LeadScoring) {
            if let Err(e) = refresh(&ctx, &lead).await {
                tracing::warn!(error = %e, lead = %lead, "could not rescore a lead");
            }
        }
        // The derived edges are kept up to date even while the relationship
        // map is switched off, so it is right the moment it is on again.
        if let Err(e) = super::graph::refresh_derived(&ctx, &lead).await {
            tracing::warn!(error = %e, lead = %lead, "could not refresh a lead's relations");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(industry: Option<&str>) -> Lead {
        let t = Utc::now();
        Lead {
            id: "l".into(),
            company_name: "Acme".into(),
            website: None,
            domain: None,
            industry: industry.map(str::to_string),
            status: "new".into(),
            country: None,
            state: None,
            timezone: None,
            owner: None,
            created_by: "u".into(),
            source: None,
            tags: vec![],
            score: 0,
            last_contacted_at: None,
            next_follow_up_at: None,
            created_at: t,
            updated_at: t,
            deleted_at: None,
        }
    }

    fn contact(email: bool, phone: bool) -> Contact {
        let t = Utc::now();
        Contact {
            id: "c".into(),
            lead: "l".into(),
            name: "Ana".into(),
            position: None,
            phone: phone.then(|| "+14155550100".into()),
            email: email.then(|| "ana@acme.com".into()),
            linkedin: None,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn a_complete_reachable_recently_engaged_lead_outscores_a_bare_one() {
        let now = Utc::now();
        let mut rich = lead(Some("saas"));
        rich.website = Some("https://acme.com".into());
        rich.country = Some("US".into());
        rich.timezone = Some("America/New_York".into());
        let active = Activity {
            conversations: 2,
            touches: 3,
            last_touch: Some(now - Duration::days(2)),
        };
        let fit = FitModel::default();
        let high = score(
            &rich,
            &[contact(true, true), contact(true, false)],
            &active,
            &fit,
            now,
        );
        let mid = score(
            &rich,
            &[contact(true, false)],
            &Activity::default(),
            &fit,
            now,
        );
        let low = score(&lead(None), &[], &Activity::default(), &fit, now);
        assert!(
            high.score > mid.score && mid.score > low.score,
            "{high:?} {mid:?} {low:?}"
        );
        assert_eq!(
            high.score,
            high.reasons.iter().map(|r| r.points).sum::<i64>()
        );
        assert!(high.score <= 100);
    }

    #[test]
    fn fit_follows_the_industries_this_instance_wins_once_there_is_history() {
        let now = Utc::now();
        let mut fit = FitModel {
            won: 8,
            lost: 8,
            ..Default::default()
        };
        fit.by_industry.insert("saas".into(), (8, 0));
        fit.by_industry.insert("retail".into(), (0, 8));
        let s = score(&lead(Some("SaaS")), &[], &Activity::default(), &fit, now);
        let r = score(&lead(Some("Retail")), &[], &Activity::default(), &fit, now);
        assert!(s.score > r.score);
        let young = FitModel {
            won: 2,
            lost: 1,
            ..Default::default()
        };
        let n = score(&lead(Some("saas")), &[], &Activity::default(), &young, now);
        assert!(n.reasons[3].detail.starts_with("neutral"));
    }

    #[test]
    fn events_name_their_lead_as_an_object_or_an_id() {
        assert_eq!(lead_of(&json!({"lead": {"id": "a"}})).as_deref(), Some("a"));
        assert_eq!(lead_of(&json!({"lead": "b"})).as_deref(), Some("b"));
        assert!(rescores("contact.deleted") && !rescores("chat.message"));
    }
}
