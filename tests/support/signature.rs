//! Checks a webhook's `ZITADEL-Signature` header (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`) the way
//! a receiver would. Shared by the test binaries that get webhook requests (`#[path]`-included).

use aws_lc_rs::hmac;

/// The header's timestamp if its signature over `body` is right for `key`; what is wrong otherwise.
pub fn check_signature(header: &str, body: &[u8], key: &str) -> Result<i64, String> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("v1", v)) => v1 = Some(v),
            _ => return Err(format!("unexpected part {part:?} in {header:?}")),
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(format!("t= or v1= missing in {header:?}"));
    };
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let expected =
        hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()), &signed).as_ref());
    if v1 != expected {
        return Err(format!("signature {v1} does not match {expected}"));
    }
    t.parse().map_err(|e| format!("timestamp {t:?}: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
