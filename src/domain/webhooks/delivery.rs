//! One delivery attempt: the signed POST, what counts as success, and when
//! to try again.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;

use super::addresses::{self, AddressPolicy};
use super::signing;

/// What one attempt came to. The receiver's reply body is neither read
/// nor kept: the delivery log would otherwise show whatever an address
/// answers, which makes a webhook a way to read it.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
    pub duration: Duration,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Worth another try: network error, timeout, 408, 429, 5xx.
    Retry,
    /// The receiver refused it for good (other 4xx, redirects), or its
    /// address may not be reached.
    Reject,
}

/// What a request carries besides the body.
pub struct Envelope<'a> {
    pub url: &'a str,
    pub secret: &'a str,
    pub delivery_id: &'a str,
    pub topic: &'a str,
    pub body: &'a str,
    pub now: DateTime<Utc>,
    pub timeout: Duration,
}

/// POSTs the body with its signature headers, unless the URL names an
/// address `policy` refuses (a name is checked by the client's resolver,
/// [`addresses::CheckedResolver`]).
pub async fn attempt(
    client: &reqwest::Client,
    policy: &AddressPolicy,
    e: Envelope<'_>,
) -> AttemptOutcome {
    let timestamp = e.now.timestamp();
    let started = Instant::now();
    let refused = |error: String| AttemptOutcome {
        status: None,
        error: Some(error),
        retry_after: None,
        duration: started.elapsed(),
        verdict: Verdict::Reject,
    };
    let literal = reqwest::Url::parse(e.url)
        .ok()
        .and_then(|url| match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        });
    if let Some(refusal) = literal.and_then(|ip| policy.refusal(ip)) {
        return refused(refusal.to_string());
    }
    let sent = client
        .post(e.url)
        .timeout(e.timeout)
        .header("content-type", "application/json")
        .header("x-ea-event", e.topic)
        .header("x-ea-delivery", e.delivery_id)
        .header("x-ea-timestamp", timestamp.to_string())
        .header(
            "x-ea-signature",
            signing::signature(e.secret, timestamp, e.body),
        )
        .body(e.body.to_string())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(err) => {
            if let Some(refusal) = addresses::refusal_in(&err) {
                return refused(refusal.to_string());
            }
            return AttemptOutcome {
                status: None,
                error: Some(describe(&err, e.timeout)),
                retry_after: None,
                duration: started.elapsed(),
                verdict: Verdict::Retry,
            };
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, e.now));
    let verdict = classify(status);
    let error = (verdict != Verdict::Delivered).then(|| format!("HTTP {status}"));
    AttemptOutcome {
        status: Some(status.as_u16()),
        error,
        retry_after,
        duration: started.elapsed(),
        verdict,
    }
}

pub fn classify(status: StatusCode) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Delivered,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Reject,
    }
}

/// The error without the URL, which may carry a token in its query.
fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        format!("timed out after {} s", timeout.as_secs_f32())
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        let mut text = err.to_string();
        if let Some(url) = err.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        text
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// How long to wait before attempt `attempts + 1`: exponential from `base`,
/// capped at `max`, with "equal jitter" (half fixed, half random) so that
/// many deliveries failing together do not return together. A receiver's
/// `Retry-After` wins, within the same cap.
pub fn backoff(
    attempts: u32,
    base: Duration,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(max);
    }
    let exp = base
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)))
        .min(max);
    let half = exp / 2;
    let jitter_ms = rand::thread_rng().gen_range(0..=half.as_millis().max(1) as u64);
    half + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses_are_timeouts_throttling_and_server_errors() {
        for (code, verdict) in [
            (200, Verdict::Delivered),
            (204, Verdict::Delivered),
            (301, Verdict::Reject),
            (400, Verdict::Reject),
            (404, Verdict::Reject),
            (408, Verdict::Retry),
            (429, Verdict::Retry),
            (500, Verdict::Retry),
            (503, Verdict::Retry),
        ] {
            assert_eq!(
                classify(StatusCode::from_u16(code).unwrap()),
                verdict,
                "{code}"
            );
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_yields_to_retry_after() {
        let (base, max) = (Duration::from_secs(10), Duration::from_secs(300));
        let first = backoff(1, base, max, None);
        assert!(first >= Duration::from_secs(5) && first <= Duration::from_secs(10));
        let fourth = backoff(4, base, max, None);
        assert!(fourth >= Duration::from_secs(40) && fourth <= Duration::from_secs(80));
        assert!(backoff(30, base, max, None) <= max);
        assert_eq!(
            backoff(1, base, max, Some(Duration::from_secs(120))),
            Duration::from_secs(120)
        );
        assert_eq!(backoff(1, base, max, Some(Duration::from_secs(9999))), max);
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
