//! A lead's version: what the stale-write guard of an edit compares
//! (`leads::push_update`), so it moves whenever the lead is changed, by
//! anyone and through any channel (an edit, an assignment, a follow-up or
//! call that moves its dates, a merge). The AI score, recomputed in the
//! background, is derived and does not move it: a client's conditional edit
//! is not refused because the scorer ran meanwhile. HTTP shows the version
//! as the lead's `ETag`; a change made conditional on a version
//! (`If-Match`) is refused when the lead has moved on since.

use super::leads::Lead;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::tokens;

impl Lead {
    /// The version of this lead as stored: a digest of its id and of when
    /// it last changed, to the microsecond the database compares.
    pub fn version(&self) -> String {
        let changed = format!("{}|{}", self.id, db_time(self.updated_at));
        tokens::hash_token(&changed)[..32].to_string()
    }

    /// Refuses with `PreconditionFailed` unless the lead is at one of the
    /// `expected` versions; `None` expects nothing.
    pub fn require_version(&self, expected: Option<&[String]>) -> DomainResult<()> {
        match expected {
            Some(versions) if !versions.iter().any(|v| *v == self.version()) => {
                Err(DomainError::PreconditionFailed(
                    "the lead has changed since the version you sent in If-Match; \
                     read it again and retry with its new ETag"
                        .into(),
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, SubsecRound, TimeZone, Utc};

    use super::*;

    fn lead() -> Lead {
        let at =
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + Duration::nanoseconds(1_234_567);
        Lead {
            id: "l1".into(),
            company_name: "Acme".into(),
            website: None,
            domain: None,
            industry: None,
            status: "new".into(),
            country: None,
            state: None,
            timezone: None,
            owner: Some("u1".into()),
            created_by: "u1".into(),
            source: None,
            tags: vec![],
            score: 0,
            last_contacted_at: None,
            next_follow_up_at: None,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        }
    }

    #[test]
    fn a_change_moves_the_version_and_a_new_score_does_not() {
        let before = lead();
        let mut changed = before.clone();
        changed.company_name = "Acme GmbH".into();
        changed.updated_at += Duration::milliseconds(3);
        let mut scored = before.clone();
        scored.score = 40;
        assert_ne!(before.version(), changed.version());
        assert_eq!(before.version(), scored.version());
        let mut other = before.clone();
        other.id = "l2".into();
        assert_ne!(before.version(), other.version());
    }

    #[test]
    fn a_version_does_not_see_time_below_the_microsecond_the_guard_compares() {
        let mut read_back = lead();
        read_back.updated_at = read_back.updated_at.trunc_subsecs(6);
        assert_eq!(lead().version(), read_back.version());
    }

    #[test]
    fn only_a_current_version_passes_the_precondition() {
        let l = lead();
        assert!(l.require_version(None).is_ok());
        assert!(l.require_version(Some(&[l.version()])).is_ok());
        assert!(l
            .require_version(Some(&["stale".to_string(), l.version()]))
            .is_ok());
        assert!(matches!(
            l.require_version(Some(&["stale".to_string()])),
            Err(DomainError::PreconditionFailed(_))
        ));
        assert!(matches!(
            l.require_version(Some(&[])),
            Err(DomainError::PreconditionFailed(_))
        ));
    }
}
