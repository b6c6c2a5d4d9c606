//! How a report's time range is cut so that roll-ups answer most of it:
//! whole UTC months (from a monthly roll-up, when the report has one),
//! whole UTC days (from a daily roll-up), and the parts of a day at the
//! range's ends (from the rows themselves, each shorter than a day).
//!
//! With months, a year's range reads twelve months of roll-up rows and at
//! most two stretches of days shorter than a month each, instead of 365
//! days of them.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};

use super::Range;

/// A range cut into roll-up spans and live edges.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The whole months [first, end) as YYYY-MM, when there are any.
    pub months: Option<(String, String)>,
    /// Spans of whole days [first, end) as YYYY-MM-DD outside those months:
    /// at most one without months, at most two (before and after) with.
    pub days: Vec<(String, String)>,
    /// The parts of the range outside whole days, each shorter than a day.
    pub edges: Vec<Range>,
}

/// Whether a report has a monthly roll-up to read whole months from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Days,
    Months,
}

fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
}

fn day_key(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn month_key(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// The first day of the month after `d`'s.
fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("the first of a month exists")
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("the first of a month exists")
}

impl Split {
    pub fn of(range: Range, grain: Grain) -> Split {
        let floor_from = day_start(range.from);
        // The first midnight at or after `from`, the last at or before `to`.
        let first = if floor_from == range.from {
            floor_from
        } else {
            floor_from + Duration::days(1)
        };
        let end = day_start(range.to);
        if first > end {
            // Inside one day.
            return Split {
                months: None,
                days: Vec::new(),
                edges: vec![range],
            };
        }
        let mut edges = Vec::new();
        if range.from < first {
            edges.push(Range {
                from: range.from,
                to: first,
            });
        }
        if end < range.to {
            edges.push(Range {
                from: end,
                to: range.to,
            });
        }
        let (first, end) = (first.date_naive(), end.date_naive());
        let mut split = Split {
            months: None,
            days: Vec::new(),
            edges,
        };
        if first == end {
            return split;
        }
        // The first month start at or after `first`, the last at or before `end`.
        let first_month = if first.day() == 1 {
            first
        } else {
            next_month(first)
        };
        let end_month = month_start(end);
        if grain == Grain::Days || first_month >= end_month {
            split.days.push((day_key(first), day_key(end)));
            return split;
        }
        split.months = Some((month_key(first_month), month_key(end_month)));
        if first < first_month {
            split.days.push((day_key(first), day_key(first_month)));
        }
        if end_month < end {
            split.days.push((day_key(end_month), day_key(end)));
        }
        split
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn range(from: &str, to: &str) -> Range {
        Range {
            from: at(from),
            to: at(to),
        }
    }

    fn days(spans: &[(&str, &str)]) -> Vec<(String, String)> {
        spans
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_range_of_whole_days_reads_only_roll_ups() {
        let split = Split::of(
            range("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            Grain::Days,
        );
        assert_eq!(split.days, days(&[("2026-01-01", "2026-02-01")]));
        assert!(split.edges.is_empty());
        assert_eq!(split.months, None);
    }

    #[test]
    fn a_whole_month_is_read_from_the_monthly_roll_up_when_there_is_one() {
        let r = range("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
        let split = Split::of(r, Grain::Months);
        assert_eq!(split.months, Some(("2026-01".into(), "2026-02".into())));
        assert!(split.days.is_empty() && split.edges.is_empty());
    }

    #[test]
    fn the_partial_days_at_both_ends_are_counted_live() {
        let split = Split::of(
            range("2025-12-01T14:30:00Z", "2026-12-01T09:15:00Z"),
            Grain::Days,
        );
        assert_eq!(split.days, days(&[("2025-12-02", "2026-12-01")]));
        assert_eq!(
            split.edges,
            vec![
                range("2025-12-01T14:30:00Z", "2025-12-02T00:00:00Z"),
                range("2026-12-01T00:00:00Z", "2026-12-01T09:15:00Z"),
            ]
        );
    }

    #[test]
    fn a_year_not_aligned_to_anything_is_months_two_stretches_of_days_and_two_edges() {
        let split = Split::of(
            range("2025-12-01T14:30:00Z", "2026-12-03T09:15:00Z"),
            Grain::Months,
        );
        assert_eq!(split.months, Some(("2026-01".into(), "2026-12".into())));
        assert_eq!(
            split.days,
            days(&[("2025-12-02", "2026-01-01"), ("2026-12-01", "2026-12-03")])
        );
        assert_eq!(split.edges.len(), 2);
    }

    #[test]
    fn days_within_one_month_stay_days() {
        let split = Split::of(
            range("2026-03-03T00:00:00Z", "2026-03-20T00:00:00Z"),
            Grain::Months,
        );
        assert_eq!(split.months, None);
        assert_eq!(split.days, days(&[("2026-03-03", "2026-03-20")]));
        // Across a month's end but holding no whole month.
        let split = Split::of(
            range("2026-03-20T00:00:00Z", "2026-04-10T00:00:00Z"),
            Grain::Months,
        );
        assert_eq!(split.months, None);
        assert_eq!(split.days, days(&[("2026-03-20", "2026-04-10")]));
    }

    #[test]
    fn a_range_across_one_midnight_has_no_whole_day() {
        let split = Split::of(
            range("2026-03-01T20:00:00Z", "2026-03-02T04:00:00Z"),
            Grain::Months,
        );
        assert!(split.days.is_empty() && split.months.is_none());
        assert_eq!(
            split.edges,
            vec![
                range("2026-03-01T20:00:00Z", "2026-03-02T00:00:00Z"),
                range("2026-03-02T00:00:00Z", "2026-03-02T04:00:00Z"),
            ]
        );
    }

    #[test]
    fn a_range_inside_one_day_is_counted_live_whole() {
        let r = range("2026-03-01T08:00:00Z", "2026-03-01T09:00:00Z");
        let split = Split::of(r, Grain::Months);
        assert!(split.days.is_empty() && split.months.is_none());
        assert_eq!(split.edges, vec![r]);
    }

    /// The parts are disjoint and cover the range exactly, whatever its
    /// length and alignment, in both grains.
    #[test]
    fn the_parts_cover_the_range_exactly() {
        let date = |s: &str| -> DateTime<Utc> {
            let d = if s.len() == 7 {
                NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
            } else {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
            };
            d.unwrap().and_time(NaiveTime::MIN).and_utc()
        };
        for from in [at("2026-05-05T13:07:11Z"), at("2026-01-31T00:00:00Z")] {
            for hours in [
                1,
                11,
                23,
                24,
                25,
                47,
                48,
                49,
                24 * 40,
                24 * 365 + 5,
                24 * 800,
            ] {
                let r = Range {
                    from,
                    to: from + Duration::hours(hours),
                };
                for grain in [Grain::Days, Grain::Months] {
                    let split = Split::of(r, grain);
                    let mut parts: Vec<(DateTime<Utc>, DateTime<Utc>)> =
                        split.edges.iter().map(|e| (e.from, e.to)).collect();
                    for e in &split.edges {
                        assert!(e.to - e.from < Duration::days(1), "{hours}h: {e:?}");
                    }
                    for (a, b) in &split.days {
                        parts.push((date(a), date(b)));
                    }
                    if let Some((a, b)) = &split.months {
                        parts.push((date(a), date(b)));
                    }
                    parts.sort();
                    assert_eq!(parts.first().unwrap().0, r.from, "{hours}h {grain:?}");
                    assert_eq!(parts.last().unwrap().1, r.to, "{hours}h {grain:?}");
                    for w in parts.windows(2) {
                        assert_eq!(w[0].1, w[1].0, "{hours}h {grain:?}: {parts:?}");
                    }
                }
            }
        }
    }
}
