//! Throttle state for a UI on the answers that sent a code, as headers: ZITADEL's JSON bodies stay exactly
//! as they are, and clients that do not know the headers ignore them.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::user::{CodeTimes, User};
use crate::service::Services;

/// When the code just sent stops working (RFC 3339).
pub const CODE_EXPIRES_AT: &str = "x-phoneverify-code-expires-at";
/// The earliest time another SMS code may be sent to this user (RFC 3339).
pub const NEXT_SEND_AT: &str = "x-phoneverify-next-send-at";
/// The same, as whole seconds from now (rounded up), for clients whose clock is not to be trusted.
pub const NEXT_SEND_IN: &str = "x-phoneverify-next-send-in";

/// An answer with the code's times as headers (none if no code is pending).
pub struct WithCodeTimes<T> {
    pub body: T,
    pub times: Option<CodeTimes>,
    pub now: DateTime<Utc>,
}

impl<T> WithCodeTimes<T> {
    /// `body` with the times of `user`'s pending code as of now.
    pub fn of(services: &Services, user: &User, body: T) -> Self {
        Self {
            body,
            times: services.code_times(user),
            now: services.clock.now(),
        }
    }
}

impl<T: IntoResponse> IntoResponse for WithCodeTimes<T> {
    fn into_response(self) -> Response {
        let mut response = self.body.into_response();
        if let Some(times) = self.times {
            insert_times(response.headers_mut(), times, self.now);
        }
        response
    }
}

fn insert_times(headers: &mut HeaderMap, times: CodeTimes, now: DateTime<Utc>) {
    let wait_ms = (times.next_sms_at - now).num_milliseconds().max(0);
    let values = [
        (CODE_EXPIRES_AT, rfc3339(times.expires_at)),
        // Rounded up like the wait: a client that waits until then is not refused.
        (NEXT_SEND_AT, rfc3339(ceil_to_second(times.next_sms_at))),
        (NEXT_SEND_IN, ((wait_ms + 999) / 1000).to_string()),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

fn ceil_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let fraction = chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
    if fraction.is_zero() {
        t
    } else {
        t - fraction + chrono::Duration::seconds(1)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_headers_carry_both_times_and_the_wait_rounded_up() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let times = CodeTimes {
            expires_at: now + chrono::Duration::minutes(10),
            next_sms_at: now + chrono::Duration::milliseconds(22_100),
        };
        let response = WithCodeTimes {
            body: "{}",
            times: Some(times),
            now,
        }
        .into_response();
        let h = response.headers();
        assert_eq!(h[CODE_EXPIRES_AT], "2026-01-02T03:14:05Z");
        assert_eq!(h[NEXT_SEND_AT], "2026-01-02T03:04:28Z");
        assert_eq!(h[NEXT_SEND_IN], "23");
    }

    #[test]
    fn no_pending_code_no_headers() {
        let response = WithCodeTimes {
            body: "{}",
            times: None,
            now: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        }
        .into_response();
        assert!(response.headers().get(NEXT_SEND_AT).is_none());
    }
}
