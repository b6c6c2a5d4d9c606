//! The code an authenticator app shows (RFC 6238: HMAC-SHA-1, 30-second
//! steps, six digits), written out here rather than borrowed from the
//! service, for the API and browser test crates (each includes this file
//! with `#[path]`).

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The code for the base32 `secret` at `unix_seconds`.
pub fn app_code(secret: &str, unix_seconds: i64) -> String {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .expect("the secret is base32");
    let counter = (unix_seconds / 30) as u64;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}
