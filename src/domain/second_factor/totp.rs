//! Time-based one-time passwords (RFC 6238) as authenticator apps compute
//! them: HMAC-SHA-1 over 30-second steps, six digits, a base32 secret.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

/// Seconds a code is valid for; every app uses 30.
pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Steps either side of now that still count, for a phone clock a little
/// off and a code typed as it changes.
const SKEW_STEPS: i64 = 1;

/// A fresh 160-bit secret (the size RFC 4226 recommends).
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The secret as a person types it into an app: base32, no padding.
pub fn encode_secret(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

pub fn decode_secret(encoded: &str) -> Option<Vec<u8>> {
    BASE32_NOPAD.decode(encoded.as_bytes()).ok()
}

/// The HOTP value (RFC 4226) of `counter`, `digits` long.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[hash.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The step a Unix time falls in.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The code an app shows during `step`.
pub fn code_for_step(secret: &[u8], step: i64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step.max(0) as u64, DIGITS),
        width = DIGITS as usize
    )
}

/// The step whose code `typed` is, looking one step either side of
/// `unix_seconds`; spaces in the typed code are ignored.
pub fn matching_step(secret: &[u8], typed: &str, unix_seconds: i64) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    (now - SKEW_STEPS..=now + SKEW_STEPS)
        .find(|&step| crate::domain::tokens::constant_time_eq(&code_for_step(secret, step), &typed))
}

/// The `otpauth://` URI apps read from a QR code or a link.
pub fn provisioning_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    // Form encoding writes a space as `+` (and a literal `+` as `%2B`);
    // apps read the label as a path, where a space is `%20`.
    let encode = |text: &str| {
        url::form_urlencoded::byte_serialize(text.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let issuer_enc = encode(issuer);
    let label = encode(&format!("{issuer}:{account}"));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={issuer_enc}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        encode_secret(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the SHA-1 seed and its eight-digit values.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn the_rfc_6238_test_vectors_hold() {
        for (time, expected) in [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(
                hotp(RFC_SEED, step_at(time) as u64, 8),
                expected,
                "at {time}"
            );
        }
    }

    #[test]
    fn six_digit_codes_are_the_last_six_digits_zero_padded() {
        assert_eq!(code_for_step(RFC_SEED, step_at(1111111109)), "081804");
    }

    #[test]
    fn a_code_matches_within_one_step_either_side_and_no_further() {
        let now = 1_700_000_000;
        let code = code_for_step(RFC_SEED, step_at(now));
        assert_eq!(matching_step(RFC_SEED, &code, now), Some(step_at(now)));
        assert_eq!(matching_step(RFC_SEED, &code, now + 30), Some(step_at(now)));
        assert_eq!(matching_step(RFC_SEED, &code, now - 30), Some(step_at(now)));
        assert_eq!(matching_step(RFC_SEED, &code, now + 90), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(matching_step(RFC_SEED, &spaced, now), Some(step_at(now)));
    }

    #[test]
    fn malformed_codes_match_nothing() {
        for typed in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert_eq!(
                matching_step(RFC_SEED, typed, 1_700_000_000),
                None,
                "{typed}"
            );
        }
    }

    #[test]
    fn secrets_round_trip_through_base32() {
        let secret = new_secret();
        let encoded = encode_secret(&secret);
        assert!(encoded
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        assert_eq!(decode_secret(&encoded).unwrap(), secret);
        assert_eq!(encode_secret(RFC_SEED), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn the_provisioning_uri_names_issuer_account_and_secret() {
        let uri = provisioning_uri("EA CRM", "maria", RFC_SEED);
        assert!(uri.starts_with(
            "otpauth://totp/EA%20CRM%3Amaria?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        ));
        assert!(uri.contains("issuer=EA%20CRM"));
    }
}
