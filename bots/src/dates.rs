//! Natural dates and times as sales reps type them, read in the user's timezone.
//!
//! Promises:
//! - every result is a `DateTime<Utc>`; the words are read against `ctx.now` in
//!   `ctx.timezone`, so "tomorrow 9am" is nine o'clock on the user's wall clock;
//! - a date without a time means [`DEFAULT_TIME`] (09:00 local), `eod` means
//!   [`END_OF_DAY`] (18:00 local);
//! - daylight-saving changes are handled by chrono-tz: a wall time that occurs twice
//!   resolves to the earlier instant, a wall time that does not exist (skipped by
//!   the spring-forward) moves forward to the first one that does;
//! - nothing here panics on any input, and input longer than [`MAX_WORDS`] words is
//!   never a date.
//!
//! Understood forms (case-insensitive, an optional leading `on`/`by`):
//! `now`, `today`, `tomorrow`, `tomorrow 10am`, `tomorrow at 9`, `monday 14:30`,
//! `next tue`, `this friday`, `next week`, `in 3 days`, `in 2h`, `in 30 minutes`,
//! `in a week`, `in 2 months`, `2026-12-01`, `2026-12-01 15:00`, `01.12.2026`,
//! `dec 1`, `1 dec 10:00`, `December 1st 2027`, `eod`, a bare time such as `10am`
//! (today if still ahead, else tomorrow), and RFC 3339 (`2026-12-01T15:00:00Z`).
//!
//! A bare weekday means the next such day strictly after today; `next <weekday>`
//! means the same (people use both for "the coming one"); `this <weekday>` may be today.
//! A bare number is an hour only after `at` ("tomorrow at 9"), so that
//! "tomorrow 3 people" does not read as 3 a.m.
//! Whole-day offsets (`in 3 days`, `in 1w`) land on a date, so they take the default
//! time; shorter offsets (`in 2h`, `in 1h30m`) are exact.

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::ParseContext;

/// Only for the constants below, so a bad literal fails the build, not a request.
const fn hm(h: u32, m: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(h, m, 0) {
        Some(t) => t,
        None => panic!("invalid constant time"),
    }
}

/// The local time a date without a time means, for reminders, follow-ups and tasks.
pub const DEFAULT_TIME: NaiveTime = hm(9, 0);
/// The local time `eod` ("end of day") means.
pub const END_OF_DAY: NaiveTime = hm(18, 0);
const NOON: NaiveTime = hm(12, 0);
const AFTERNOON: NaiveTime = hm(14, 0);
const MIDNIGHT: NaiveTime = hm(0, 0);
/// The longest phrase that can be a date ("December 1st 2027 at 10:30" is 5 words).
pub const MAX_WORDS: usize = 6;
/// The longest duration we accept, so arithmetic can never overflow: about ten years.
const MAX_DURATION_SECS: u64 = 10 * 366 * 86_400;

/// Reads `text` as a whole as a date/time; `None` when it is not one.
pub fn parse_when(text: &str, ctx: &ParseContext) -> Option<DateTime<Utc>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || words.len() > MAX_WORDS {
        return None;
    }
    parse_words(&words, ctx)
}

/// Reads the longest date/time at the start of `words`; returns it and how many
/// words it used. Used where a date is followed by free text
/// ("tomorrow 9am call Acme back").
pub fn parse_when_prefix(words: &[&str], ctx: &ParseContext) -> Option<(DateTime<Utc>, usize)> {
    let max = words.len().min(MAX_WORDS);
    (1..=max)
        .rev()
        .find_map(|n| parse_words(&words[..n], ctx).map(|t| (t, n)))
}

/// Reads a compact duration such as `5m`, `90s`, `1h30m`, `2d`; returns seconds.
pub fn parse_duration(text: &str) -> Option<u32> {
    let s = text.trim().to_lowercase();
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = s.as_str();
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 || digits > 6 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = unit_seconds(&rest[..unit_len])?;
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if total == 0 || total > MAX_DURATION_SECS {
        return None;
    }
    u32::try_from(total).ok()
}

fn unit_seconds(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "wk" | "wks" | "week" | "weeks" => 7 * 86_400,
        _ => return None,
    })
}

fn normalize(word: &str) -> String {
    crate::lexer::trim_punct(word).to_lowercase()
}

fn parse_words(words: &[&str], ctx: &ParseContext) -> Option<DateTime<Utc>> {
    let words: Vec<String> = words.iter().map(|w| normalize(w)).collect();
    let mut w: Vec<&str> = words.iter().map(String::as_str).collect();
    if w.iter().any(|s| s.is_empty()) {
        return None;
    }
    // "at" stays: it tells `time_part` that a bare number is an hour.
    if w.len() > 1 && matches!(w[0], "on" | "by") {
        w.remove(0);
    }
    let today = ctx.now.with_timezone(&ctx.timezone).date_naive();
    match w.as_slice() {
        [] => return None,
        ["now"] => return Some(ctx.now),
        ["eod"] | ["cob"] | ["end", "of", "day"] => {
            return localize(today, END_OF_DAY, ctx.timezone)
        }
        ["in", rest @ ..] => return relative(rest, today, ctx),
        [one] if one.contains('t') && one.len() >= 20 => {
            if let Ok(t) = DateTime::parse_from_rfc3339(one) {
                return Some(t.with_timezone(&Utc));
            }
        }
        _ => {}
    }
    if let Some((date, used)) = date_part(&w, today) {
        let rest = &w[used..];
        let time = if rest.is_empty() {
            DEFAULT_TIME
        } else {
            time_part(rest)?
        };
        return localize(date, time, ctx.timezone);
    }
    // A time alone: today if it is still ahead, else tomorrow.
    let time = time_part(&w)?;
    let at = localize(today, time, ctx.timezone)?;
    if at > ctx.now {
        Some(at)
    } else {
        localize(today.checked_add_days(Days::new(1))?, time, ctx.timezone)
    }
}

/// `in <n> <unit> [at <time>]`, `in 2h`, `in a week`.
fn relative(rest: &[&str], today: NaiveDate, ctx: &ParseContext) -> Option<DateTime<Utc>> {
    let (amount, unit, used) = match rest {
        [compact, ..] if parse_duration(compact).is_some() => {
            (u64::from(parse_duration(compact)?), "s", 1)
        }
        [n, unit, ..] => {
            let n: u64 = match *n {
                "a" | "an" | "one" => 1,
                digits => digits.parse().ok().filter(|n| *n <= 100_000)?,
            };
            (n, *unit, 2)
        }
        _ => return None,
    };
    let time_words = &rest[used..];
    if matches!(unit, "month" | "months") {
        let date = today.checked_add_months(Months::new(u32::try_from(amount).ok()?))?;
        let time = if time_words.is_empty() {
            DEFAULT_TIME
        } else {
            time_part(time_words)?
        };
        return localize(date, time, ctx.timezone);
    }
    let secs = amount.checked_mul(unit_seconds(unit)?)?;
    if secs == 0 || secs > MAX_DURATION_SECS {
        return None;
    }
    if secs % 86_400 == 0 {
        let date = today.checked_add_days(Days::new(secs / 86_400))?;
        let time = if time_words.is_empty() {
            DEFAULT_TIME
        } else {
            time_part(time_words)?
        };
        return localize(date, time, ctx.timezone);
    }
    if !time_words.is_empty() {
        return None;
    }
    ctx.now
        .checked_add_signed(Duration::seconds(i64::try_from(secs).ok()?))
}

/// A calendar date at the start of `w`, and how many words it used.
fn date_part(w: &[&str], today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let first = *w.first()?;
    match first {
        "today" => return Some((today, 1)),
        "tomorrow" | "tmrw" | "tmr" | "tomorow" => {
            return Some((today.checked_add_days(Days::new(1))?, 1))
        }
        _ => {}
    }
    if let Some(day) = weekday(first) {
        return Some((next_weekday(today, day, false)?, 1));
    }
    if first == "next" || first == "this" {
        let second = *w.get(1)?;
        if second == "week" && first == "next" {
            return Some((next_weekday(today, Weekday::Mon, false)?, 2));
        }
        return Some((next_weekday(today, weekday(second)?, first == "this")?, 2));
    }
    if let Ok(d) = NaiveDate::parse_from_str(first, "%Y-%m-%d") {
        return Some((d, 1));
    }
    if first.len() >= 8 && first.contains('.') {
        if let Ok(d) = NaiveDate::parse_from_str(first, "%d.%m.%Y") {
            return Some((d, 1));
        }
    }
    // "dec 1 [2027]" or "1 dec [2027]".
    let (month, day) = match (month(first), w.get(1).and_then(|s| day_of_month(s))) {
        (Some(m), Some(d)) => (m, d),
        _ => (month(w.get(1)?)?, day_of_month(first)?),
    };
    if let Some(year) = w.get(2).and_then(|s| year(s)) {
        return Some((NaiveDate::from_ymd_opt(year, month, day)?, 3));
    }
    // Without a year: the next time this date comes round, today included.
    (today.year()..today.year() + 9)
        .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
        .find(|d| *d >= today)
        .map(|d| (d, 2))
}

fn next_weekday(today: NaiveDate, day: Weekday, may_be_today: bool) -> Option<NaiveDate> {
    let ahead = (7 + day.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
    let ahead = if ahead == 0 && !may_be_today {
        7
    } else {
        ahead
    };
    today.checked_add_days(Days::new(u64::from(ahead)))
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "weds" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn month(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let s = s.trim_end_matches('.');
    if s.len() < 3 {
        return None;
    }
    if s == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| *m == s || (s.len() == 3 && m.starts_with(s)))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn day_of_month(s: &str) -> Option<u32> {
    let digits = s
        .strip_suffix("st")
        .or_else(|| s.strip_suffix("nd"))
        .or_else(|| s.strip_suffix("rd"))
        .or_else(|| s.strip_suffix("th"))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

fn year(s: &str) -> Option<i32> {
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|y| (1970..=2200).contains(y))
}

/// A time of day filling all of `w`: `10am`, `10 am`, `14:30`, `at 9`, `noon`.
fn time_part(w: &[&str]) -> Option<NaiveTime> {
    let (w, after_at) = match w {
        ["at", rest @ ..] => (rest, true),
        _ => (w, false),
    };
    match w {
        [one] => named_time(one).or_else(|| clock(one, after_at)),
        [n, suffix @ ("am" | "pm")] => clock(&format!("{n}{suffix}"), false),
        _ => None,
    }
}

fn named_time(s: &str) -> Option<NaiveTime> {
    Some(match s {
        "morning" => DEFAULT_TIME,
        "noon" | "midday" | "lunch" => NOON,
        "afternoon" => AFTERNOON,
        "eod" | "evening" => END_OF_DAY,
        "midnight" => MIDNIGHT,
        _ => return None,
    })
}

/// `9am`, `9:30pm`, `14:30`, and a bare hour when `bare_hour` allows it.
fn clock(s: &str, bare_hour: bool) -> Option<NaiveTime> {
    let (body, meridiem) = if let Some(b) = s.strip_suffix("am") {
        (b, Some(false))
    } else if let Some(b) = s.strip_suffix("pm") {
        (b, Some(true))
    } else {
        (s, None)
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h, m),
        Some(_) => return None,
        None => (body, "0"),
    };
    if h.is_empty() || h.len() > 2 || !h.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !m.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (mut h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match meridiem {
        Some(pm) => {
            if !(1..=12).contains(&h) {
                return None;
            }
            h = h % 12 + if pm { 12 } else { 0 };
        }
        None if !body.contains(':') && !bare_hour => return None,
        None => {}
    }
    NaiveTime::from_hms_opt(h, m, 0)
}

/// The instant a wall-clock time in `tz` names; see the module docs for DST.
pub fn localize(date: NaiveDate, time: NaiveTime, tz: Tz) -> Option<DateTime<Utc>> {
    let local: NaiveDateTime = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
        // A gap is at most a few hours anywhere; walk forward in 15-minute steps.
        LocalResult::None => (1..=16).find_map(|step| {
            let shifted = local.checked_add_signed(Duration::minutes(15 * step))?;
            tz.from_local_datetime(&shifted)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::Los_Angeles, Europe::Berlin, Pacific::Auckland, Pacific::Kiritimati};

    fn ctx(now: &str, tz: Tz) -> ParseContext {
        ParseContext {
            now: DateTime::parse_from_rfc3339(now)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|e| panic!("bad test time {now}: {e}")),
            timezone: tz,
            bot_username: None,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("bad test time {s}: {e}"))
    }

    /// Friday 2026-11-27, 10:00 in Berlin (UTC+1 in winter).
    fn berlin() -> ParseContext {
        ctx("2026-11-27T09:00:00Z", Berlin)
    }

    fn when(text: &str, c: &ParseContext) -> DateTime<Utc> {
        parse_when(text, c).unwrap_or_else(|| panic!("{text:?} should parse"))
    }

    #[test]
    fn today_and_tomorrow_without_a_time_mean_nine_local() {
        let c = berlin();
        assert_eq!(when("today", &c), utc("2026-11-27T08:00:00Z"));
        assert_eq!(when("tomorrow", &c), utc("2026-11-28T08:00:00Z"));
        assert_eq!(when("Tomorrow,", &c), utc("2026-11-28T08:00:00Z"));
    }

    #[test]
    fn tomorrow_takes_a_time_with_or_without_at() {
        let c = berlin();
        assert_eq!(when("tomorrow 10am", &c), utc("2026-11-28T09:00:00Z"));
        assert_eq!(when("tomorrow at 9", &c), utc("2026-11-28T08:00:00Z"));
        assert_eq!(when("tomorrow at 2:30 pm", &c), utc("2026-11-28T13:30:00Z"));
        assert_eq!(when("tomorrow 14:30", &c), utc("2026-11-28T13:30:00Z"));
    }

    #[test]
    fn a_bare_number_after_a_date_is_not_an_hour_without_at() {
        assert_eq!(parse_when("tomorrow 3", &berlin()), None);
    }

    #[test]
    fn weekdays_mean_the_next_one_strictly_after_today() {
        let c = berlin(); // a Friday
        assert_eq!(when("next tue", &c), utc("2026-12-01T08:00:00Z"));
        assert_eq!(when("next tuesday", &c), utc("2026-12-01T08:00:00Z"));
        assert_eq!(when("monday 14:30", &c), utc("2026-11-30T13:30:00Z"));
        assert_eq!(when("friday", &c), utc("2026-12-04T08:00:00Z"));
        assert_eq!(when("this friday eod", &c), utc("2026-11-27T17:00:00Z"));
        assert_eq!(when("next week", &c), utc("2026-11-30T08:00:00Z"));
    }

    #[test]
    fn relative_hours_and_minutes_are_exact_offsets() {
        let c = berlin();
        assert_eq!(when("in 2h", &c), utc("2026-11-27T11:00:00Z"));
        assert_eq!(when("in 30 minutes", &c), utc("2026-11-27T09:30:00Z"));
        assert_eq!(when("in an hour", &c), utc("2026-11-27T10:00:00Z"));
        assert_eq!(when("in 1h30m", &c), utc("2026-11-27T10:30:00Z"));
    }

    #[test]
    fn relative_days_weeks_and_months_land_on_a_date_at_nine() {
        let c = berlin();
        assert_eq!(when("in 3 days", &c), utc("2026-11-30T08:00:00Z"));
        assert_eq!(when("in a week", &c), utc("2026-12-04T08:00:00Z"));
        assert_eq!(when("in 2 days at 4pm", &c), utc("2026-11-29T15:00:00Z"));
        assert_eq!(when("in 2 months", &c), utc("2027-01-27T08:00:00Z"));
    }

    #[test]
    fn numeric_dates_in_iso_and_dotted_european_form() {
        let c = berlin();
        assert_eq!(when("2026-12-01", &c), utc("2026-12-01T08:00:00Z"));
        assert_eq!(when("2026-12-01 15:00", &c), utc("2026-12-01T14:00:00Z"));
        assert_eq!(when("01.12.2026", &c), utc("2026-12-01T08:00:00Z"));
        assert_eq!(
            when("on 01.12.2026 at 8am", &c),
            utc("2026-12-01T07:00:00Z")
        );
    }

    #[test]
    fn month_names_either_side_of_the_day() {
        let c = berlin();
        assert_eq!(when("dec 1", &c), utc("2026-12-01T08:00:00Z"));
        assert_eq!(when("1 dec 10:00", &c), utc("2026-12-01T09:00:00Z"));
        assert_eq!(when("December 1st 2027", &c), utc("2027-12-01T08:00:00Z"));
        assert_eq!(when("sept 3", &c), utc("2027-09-03T07:00:00Z"));
    }

    #[test]
    fn a_day_and_month_already_past_this_year_means_next_year() {
        assert_eq!(when("jan 5", &berlin()), utc("2027-01-05T08:00:00Z"));
        assert_eq!(when("nov 27", &berlin()), utc("2026-11-27T08:00:00Z"));
    }

    #[test]
    fn february_twenty_ninth_without_a_year_finds_the_next_leap_year() {
        assert_eq!(when("feb 29", &berlin()), utc("2028-02-29T08:00:00Z"));
    }

    #[test]
    fn eod_is_six_in_the_evening_local() {
        assert_eq!(when("eod", &berlin()), utc("2026-11-27T17:00:00Z"));
    }

    #[test]
    fn a_bare_time_is_today_if_ahead_else_tomorrow() {
        let c = berlin(); // 10:00 local
        assert_eq!(when("3pm", &c), utc("2026-11-27T14:00:00Z"));
        assert_eq!(when("at 8am", &c), utc("2026-11-28T07:00:00Z"));
    }

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(
            when("2026-12-01T15:00:00Z", &berlin()),
            utc("2026-12-01T15:00:00Z")
        );
    }

    #[test]
    fn nonsense_and_impossible_dates_are_not_dates() {
        let c = berlin();
        for text in [
            "",
            "2026-02-30",
            "31.02.2026",
            "25pm",
            "13am",
            "24:00",
            "10:7",
            "in",
            "in 0 days",
            "in 99999999999 hours",
            "next",
            "next blursday",
            "acme",
            "call",
            "dec",
            "32 dec",
            "tomorrow tomorrow",
            "in 3 days at soon",
            "in 2h at 5pm",
        ] {
            assert_eq!(parse_when(text, &c), None, "{text:?}");
        }
    }

    #[test]
    fn the_prefix_reader_takes_the_longest_date_and_leaves_the_text() {
        let c = berlin();
        let words: Vec<&str> = "tomorrow 9am call Acme back".split_whitespace().collect();
        assert_eq!(
            parse_when_prefix(&words, &c),
            Some((utc("2026-11-28T08:00:00Z"), 2))
        );
        let words: Vec<&str> = "call Acme".split_whitespace().collect();
        assert_eq!(parse_when_prefix(&words, &c), None);
    }

    #[test]
    fn tomorrow_nine_across_spring_forward_keeps_the_wall_clock() {
        // Berlin springs forward on 2026-03-29: 09:00 that day is UTC+2.
        let c = ctx("2026-03-28T12:00:00Z", Berlin);
        assert_eq!(when("tomorrow 9am", &c), utc("2026-03-29T07:00:00Z"));
        assert_eq!(when("today", &c), utc("2026-03-28T08:00:00Z"));
    }

    #[test]
    fn a_wall_time_skipped_by_spring_forward_moves_to_the_first_real_one() {
        let c = ctx("2026-03-28T12:00:00Z", Berlin);
        // 02:30 does not exist on 2026-03-29; 03:00 CEST is 01:00 UTC.
        assert_eq!(when("2026-03-29 02:30", &c), utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn a_wall_time_repeated_by_fall_back_takes_the_earlier_instant() {
        let c = ctx("2026-10-20T12:00:00Z", Berlin);
        // 02:30 happens twice on 2026-10-25; the first is still CEST (UTC+2).
        assert_eq!(when("2026-10-25 02:30", &c), utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn relative_days_across_a_dst_change_still_mean_nine_local() {
        let c = ctx("2026-10-24T12:00:00Z", Berlin);
        assert_eq!(when("in 2 days", &c), utc("2026-10-26T08:00:00Z"));
    }

    #[test]
    fn auckland_is_already_on_the_next_day() {
        // 20:00 UTC on Dec 1 is 09:00 on Dec 2 in Auckland (NZDT, UTC+13).
        let c = ctx("2026-12-01T20:00:00Z", Auckland);
        assert_eq!(when("today", &c), utc("2026-12-01T20:00:00Z"));
        assert_eq!(when("tomorrow 10am", &c), utc("2026-12-02T21:00:00Z"));
        assert_eq!(when("2026-12-03", &c), utc("2026-12-02T20:00:00Z"));
    }

    #[test]
    fn kiritimati_at_utc_plus_fourteen_reads_weekdays_on_its_own_calendar() {
        // 11:00 UTC Friday is 01:00 Saturday in Kiritimati.
        let c = ctx("2026-11-27T11:00:00Z", Kiritimati);
        assert_eq!(when("monday", &c), utc("2026-11-29T19:00:00Z"));
    }

    #[test]
    fn los_angeles_reads_today_behind_utc() {
        // 03:00 UTC Nov 28 is still 19:00 Nov 27 in Los Angeles (UTC-8).
        let c = ctx("2026-11-28T03:00:00Z", Los_Angeles);
        assert_eq!(when("tomorrow", &c), utc("2026-11-28T17:00:00Z"));
    }

    #[test]
    fn compact_durations_add_up_their_parts() {
        assert_eq!(parse_duration("5m"), Some(300));
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("1h30m"), Some(5_400));
        assert_eq!(parse_duration("2min"), Some(120));
        for bad in ["", "5", "m", "5x", "1h30", "0m", "9999999h", "-5m", "5 m"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
