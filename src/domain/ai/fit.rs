//! The learned part of lead scoring: a logistic regression over this
//! instance's own won and lost leads, predicting how likely a lead is to
//! be won from its industry, country and source (one-hot), whether it has
//! a website, how many contacts it has and how many of them are reachable,
//! and its call and follow-up activity.
//!
//! Why our own code and not `linfa-logistic`: linfa 0.8 needs ndarray 0.16
//! and argmin, beside the ndarray 0.17 SurrealDB already brings, for a
//! model of a few dozen features trained on at most a few thousand rows.
//! Batch gradient descent with L2 regularisation on features scaled to
//! [0, 1] is a few dozen lines, deterministic (zero start, fixed steps), and
//! tested below against cases whose answer is known.
//!
//! The model is trained only when there are at least `MIN_CLOSED` closed
//! leads with both outcomes among them; below that, scoring keeps its
//! win-rate rule. It is stored (table `ai_fit_model`) so every instance
//! scores with the same one, retrained on demand (`POST /ai/fit/train`)
//! and by a background task every `RETRAIN_EVERY`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::crm::contacts::Contact;
use crate::domain::crm::leads::Lead;
use crate::domain::crm::pipeline;
use crate::domain::error::DomainResult;
use crate::domain::features::{self, Feature};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

/// Closed (won or lost) leads needed before the fit is learned.
pub const MIN_CLOSED: usize = 30;
/// The most recent closed leads a training run looks at.
const MAX_TRAINING_ROWS: usize = 5000;
/// How often the background task retrains.
pub const RETRAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);
const STEPS: usize = 600;
const LEARNING_RATE: f64 = 0.8;
const L2: f64 = 0.001;
/// Counts above this are treated as this many (then scaled to [0, 1]).
const COUNT_CAP: f64 = 5.0;

/// What the model knows of a lead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitInput {
    pub industry: Option<String>,
    pub country: Option<String>,
    pub source: Option<String>,
    pub has_website: bool,
    pub contacts: usize,
    /// Contacts with an email or a phone.
    pub reachable: usize,
    /// Calls and follow-ups logged (not pending).
    pub touches: usize,
}

impl FitInput {
    pub fn of(lead: &Lead, contacts: &[Contact], touches: usize) -> FitInput {
        FitInput {
            industry: lead.industry.clone(),
            country: lead.country.clone(),
            source: lead.source.clone(),
            has_website: lead.website.is_some(),
            contacts: contacts.len(),
            reachable: contacts
                .iter()
                .filter(|c| c.email.is_some() || c.phone.is_some())
                .count(),
            touches,
        }
    }

    /// Feature name → value, each in [0, 1]; one-hot categories appear only
    /// when set.
    fn features(&self) -> Vec<(String, f64)> {
        let scaled = |n: usize| (n as f64).min(COUNT_CAP) / COUNT_CAP;
        let mut out = vec![
            (
                "has_website".to_string(),
                if self.has_website { 1.0 } else { 0.0 },
            ),
            ("contacts".to_string(), scaled(self.contacts)),
            ("reachable_contacts".to_string(), scaled(self.reachable)),
            ("activity".to_string(), scaled(self.touches)),
        ];
        for (name, value) in [
            ("industry", &self.industry),
            ("country", &self.country),
            ("source", &self.source),
        ] {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                out.push((format!("{name}={}", v.to_lowercase()), 1.0));
            }
        }
        out
    }
}

/// A trained model: one weight per feature name, and a bias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedFit {
    pub features: Vec<String>,
    pub weights: Vec<f64>,
    pub bias: f64,
    pub samples: usize,
    pub won: usize,
    pub lost: usize,
    pub trained_at: DateTime<Utc>,
}

/// One feature's push on a prediction (weight × value, in log-odds).
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub feature: String,
    pub log_odds: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl LearnedFit {
    fn index(&self) -> HashMap<&str, usize> {
        self.features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.as_str(), i))
            .collect()
    }

    /// The chance of winning, and what pushed it, largest push first.
    /// Categories never seen in training add nothing.
    pub fn predict(&self, input: &FitInput) -> (f64, Vec<Contribution>) {
        let index = self.index();
        let mut z = self.bias;
        let mut parts = Vec::new();
        for (name, x) in input.features() {
            if let Some(&i) = index.get(name.as_str()) {
                let push = self.weights[i] * x;
                z += push;
                if push != 0.0 {
                    parts.push(Contribution {
                        feature: name,
                        log_odds: push,
                    });
                }
            }
        }
        parts.sort_by(|a, b| b.log_odds.abs().total_cmp(&a.log_odds.abs()));
        (sigmoid(z), parts)
    }
}

/// Why no model was trained, or the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Training {
    Trained(LearnedFit),
    NotEnoughHistory { won: usize, lost: usize },
}

/// Fits a logistic regression to `(input, won)` rows, or says why not.
pub fn train(rows: &[(FitInput, bool)], now: DateTime<Utc>) -> Training {
    let won = rows.iter().filter(|r| r.1).count();
    let lost = rows.len() - won;
    if rows.len() < MIN_CLOSED || won == 0 || lost == 0 {
        return Training::NotEnoughHistory { won, lost };
    }
    let mut features: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let encoded: Vec<(Vec<(usize, f64)>, f64)> = rows
        .iter()
        .map(|(input, is_won)| {
            let x = input
                .features()
                .into_iter()
                .map(|(name, v)| {
                    let next = features.len();
                    let i = *index.entry(name.clone()).or_insert_with(|| {
                        features.push(name);
                        next
                    });
                    (i, v)
                })
                .collect();
            (x, if *is_won { 1.0 } else { 0.0 })
        })
        .collect();
    let n = encoded.len() as f64;
    let mut weights = vec![0.0; features.len()];
    let mut bias = 0.0;
    for _ in 0..STEPS {
        let mut grad = vec![0.0; weights.len()];
        let mut grad_bias = 0.0;
        for (x, y) in &encoded {
            let z = bias + x.iter().map(|(i, v)| weights[*i] * v).sum::<f64>();
            let err = sigmoid(z) - y;
            grad_bias += err;
            for (i, v) in x {
                grad[*i] += err * v;
            }
        }
        for (w, g) in weights.iter_mut().zip(&grad) {
            *w -= LEARNING_RATE * (g / n + L2 * *w);
        }
        bias -= LEARNING_RATE * grad_bias / n;
    }
    Training::Trained(LearnedFit {
        features,
        weights,
        bias,
        samples: rows.len(),
        won,
        lost,
        trained_at: now,
    })
}

/// The stored model, if one was trained.
pub async fn current(ctx: &Ctx) -> DomainResult<Option<LearnedFit>> {
    let row: Option<Value> = ctx
        .store
        .run(
            "SELECT model FROM ONLY type::record('ai_fit_model', 'current')",
            json!({}),
        )
        .await?
        .first(0)?;
    Ok(row
        .and_then(|r| r["model"].as_str().map(str::to_string))
        .and_then(|text| serde_json::from_str::<LearnedFit>(&text).ok())
        .filter(|m| m.weights.len() == m.features.len()))
}

#[derive(Deserialize)]
struct ClosedLead {
    id: String,
    industry: Option<String>,
    country: Option<String>,
    source: Option<String>,
    website: Option<String>,
    status: String,
}

fn counts(rows: &[Value], field: &str) -> HashMap<String, usize> {
    rows.iter()
        .filter_map(|r| {
            Some((
                r["lead"].as_str()?.to_string(),
                r[field].as_u64().unwrap_or(0) as usize,
            ))
        })
        .collect()
}

/// The closed leads as training rows, with their contact and activity
/// counts aggregated in the database.
async fn history(ctx: &Ctx) -> DomainResult<Vec<(FitInput, bool)>> {
    let statuses = pipeline::list_all(ctx).await?;
    let won: Vec<String> = statuses
        .iter()
        .filter(|s| s.is_won)
        .map(|s| s.id.clone())
        .collect();
    let closed: Vec<String> = statuses
        .iter()
        .filter(|s| s.is_won || s.is_lost)
        .map(|s| s.id.clone())
        .collect();
    let leads: Vec<ClosedLead> = ctx
        .store
        .run(
            &format!(
                "SELECT record::id(id) AS id, industry, country, source, website, status, updated_at FROM lead
                 WHERE status IN $closed AND deleted_at IS NONE ORDER BY updated_at DESC, id DESC LIMIT {MAX_TRAINING_ROWS}"
            ),
            json!({"closed": closed}),
        )
        .await?
        .rows(0)?;
    let ids: Vec<&str> = leads.iter().map(|l| l.id.as_str()).collect();
    let results = ctx
        .store
        .run(
            "SELECT lead, count() AS n, count(email != NONE OR phone != NONE) AS reachable FROM contact
                WHERE lead IN $ids GROUP BY lead;
             SELECT lead, count() AS n FROM call WHERE lead IN $ids GROUP BY lead;
             SELECT lead, count() AS n FROM follow_up_history WHERE lead IN $ids AND outcome != 'pending' GROUP BY lead;",
            json!({"ids": ids}),
        )
        .await?;
    let contact_rows: Vec<Value> = results.rows(0)?;
    let (contacts, reachable) = (
        counts(&contact_rows, "n"),
        counts(&contact_rows, "reachable"),
    );
    let (calls, follow_ups) = (
        counts(&results.rows(1)?, "n"),
        counts(&results.rows(2)?, "n"),
    );
    let get = |m: &HashMap<String, usize>, id: &str| m.get(id).copied().unwrap_or(0);
    Ok(leads
        .into_iter()
        .map(|l| {
            let input = FitInput {
                has_website: l.website.is_some(),
                contacts: get(&contacts, &l.id),
                reachable: get(&reachable, &l.id),
                touches: get(&calls, &l.id) + get(&follow_ups, &l.id),
                industry: l.industry,
                country: l.country,
                source: l.source,
            };
            (input, won.contains(&l.status))
        })
        .collect())
}

/// Trains on the current history and stores the model, or removes the
/// stored one when there is not enough history any more.
pub async fn retrain(ctx: &Ctx) -> DomainResult<Training> {
    let rows = history(ctx).await?;
    let outcome = train(&rows, ctx.now());
    match &outcome {
        Training::Trained(model) => {
            ctx.store
                .run(
                    "UPSERT type::record('ai_fit_model', 'current') SET model = $model, trained_at = <datetime>$at",
                    json!({"model": serde_json::to_string(model).unwrap_or_default(),
                           "at": db_time(model.trained_at)}),
                )
                .await?;
        }
        Training::NotEnoughHistory { .. } => {
            ctx.store
                .run("DELETE type::record('ai_fit_model', 'current')", json!({}))
                .await?;
        }
    }
    Ok(outcome)
}

/// Retrains on request (`ai.manage`).
pub async fn retrain_now(ctx: &Ctx, actor: &Actor) -> DomainResult<Training> {
    actor.require(Permission::AiManage)?;
    features::require(ctx, Feature::LeadScoring)?;
    retrain(ctx).await
}

/// The stored model, for whoever may use the AI features.
pub async fn status(ctx: &Ctx, actor: &Actor) -> DomainResult<Option<LearnedFit>> {
    actor.require(Permission::AiUse)?;
    features::require(ctx, Feature::LeadScoring)?;
    current(ctx).await
}

/// Retrains now and then every `RETRAIN_EVERY`, so the fit follows the
/// history without anyone asking.
pub async fn run_trainer(ctx: Arc<Ctx>) {
    loop {
        // Retraining rewrites every lead's fit: not while an admin has the
        // service closed to work on the data, nor while scoring (whose part
        // it is) is switched off.
        if !crate::domain::maintenance::is_on(&ctx) && features::is_on(&ctx, Feature::LeadScoring) {
            if let Err(e) = retrain(&ctx).await {
                tracing::warn!(error = %e, "could not retrain the lead fit model");
            }
        }
        tokio::time::sleep(RETRAIN_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(industry: &str, website: bool, contacts: usize) -> FitInput {
        FitInput {
            industry: Some(industry.into()),
            country: Some("DE".into()),
            source: Some("web".into()),
            has_website: website,
            contacts,
            reachable: contacts,
            touches: 1,
        }
    }

    #[test]
    fn an_industry_that_always_wins_is_predicted_above_one_that_always_loses() {
        let mut rows = Vec::new();
        for i in 0..20 {
            rows.push((input("print", i % 2 == 0, i % 3), true));
            rows.push((input("mining", i % 2 == 1, i % 3), false));
        }
        let Training::Trained(model) = train(&rows, Utc::now()) else {
            panic!("40 rows with both outcomes are enough");
        };
        let (p_print, why) = model.predict(&input("Print", false, 1));
        let (p_mining, _) = model.predict(&input("mining", false, 1));
        assert!(p_print > 0.8, "{p_print}");
        assert!(p_mining < 0.2, "{p_mining}");
        assert_eq!(why[0].feature, "industry=print", "{why:?}");
        assert!(why[0].log_odds > 0.0);
        // A category it never saw adds nothing: the prediction stays between.
        let (p_new, _) = model.predict(&input("fishing", false, 1));
        assert!(p_mining < p_new && p_new < p_print, "{p_new}");
    }

    #[test]
    fn too_little_history_or_a_single_outcome_trains_nothing() {
        let few: Vec<_> = (0..29).map(|i| (input("a", true, 1), i % 2 == 0)).collect();
        assert_eq!(
            train(&few, Utc::now()),
            Training::NotEnoughHistory { won: 15, lost: 14 }
        );
        let all_won: Vec<_> = (0..50).map(|_| (input("a", true, 1), true)).collect();
        assert!(matches!(
            train(&all_won, Utc::now()),
            Training::NotEnoughHistory { won: 50, lost: 0 }
        ));
    }

    #[test]
    fn a_numeric_signal_is_learned_with_the_right_sign() {
        // More reachable contacts win; none lose; industry says nothing.
        let rows: Vec<_> = (0..60)
            .map(|i| {
                let won = i % 2 == 0;
                let mut x = input(if i % 3 == 0 { "a" } else { "b" }, true, 0);
                x.reachable = if won { 4 } else { 0 };
                (x, won)
            })
            .collect();
        let Training::Trained(model) = train(&rows, Utc::now()) else {
            panic!("enough history");
        };
        let at = |name: &str| model.weights[model.features.iter().position(|f| f == name).unwrap()];
        assert!(at("reachable_contacts") > 1.0, "{model:?}");
        let mut reachable = input("a", true, 0);
        reachable.reachable = 4;
        assert!(model.predict(&reachable).0 > model.predict(&input("a", true, 0)).0);
    }
}
