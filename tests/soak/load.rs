//! The mixed load: each client owns its users and keeps a model of them, so it knows what every answer
//! should be, and records each mutation answered with success as the event it must have written.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::client::KeepAlive;

/// An answered mutation: `event_type` must be in `user`'s events at `sequence`.
#[derive(Debug, Clone)]
pub struct Expected {
    pub user: String,
    pub sequence: i64,
    pub event_type: &'static str,
}

#[derive(Debug, Default)]
pub struct Report {
    pub requests: u64,
    /// Answers by operation and status.
    pub statuses: BTreeMap<(&'static str, u16), u64>,
    pub expected: Vec<Expected>,
    /// Wrong guesses answered 400 against a pending code: each writes `user.human.phone.verification.failed`.
    pub failed_guesses: u64,
    /// Answers that were not what the model says (the first few), and transport errors.
    pub problems: Vec<String>,
    pub users: Vec<String>,
}

enum Pending {
    None,
    Known(String),
    /// Sent by SMS: the client cannot know it.
    Unknown,
}

struct Phone {
    number: String,
    verified: bool,
    pending: Pending,
    wrong: u32,
}

struct User {
    id: String,
    phone: Option<Phone>,
    last_sequence: i64,
}

/// Fewer wrong guesses per code than `code.max_attempts` (5), so the right code always verifies.
const MAX_WRONG: u32 = 3;
const MAX_PROBLEMS: usize = 20;

pub fn run_client(
    port: u16,
    token: &str,
    client: usize,
    requests: u64,
    deadline: std::time::Instant,
    seed: u64,
) -> Report {
    let mut http = KeepAlive::new(port, token);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = Report::default();
    let mut users: Vec<User> = Vec::new();
    while report.requests < requests && std::time::Instant::now() < deadline {
        let pick = rng.random_range(0..100);
        if users.len() < 3 || pick < 4 {
            create(&mut http, &mut report, &mut users, client);
            continue;
        }
        let i = rng.random_range(0..users.len());
        let user = &mut users[i];
        match pick {
            4..=33 => read(&mut http, &mut report, user),
            34..=47 => set_phone(&mut http, &mut report, user, &mut rng),
            48..=67 => resend(&mut http, &mut report, user, rng.random_bool(0.5)),
            68..=79 => verify(&mut http, &mut report, user, false),
            80..=93 => verify(&mut http, &mut report, user, true),
            _ => remove(&mut http, &mut report, user),
        }
    }
    report.users = users.into_iter().map(|u| u.id).collect();
    report
}

fn call(
    http: &mut KeepAlive,
    report: &mut Report,
    op: &'static str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    report.requests += 1;
    match http.call(method, path, body.as_ref()) {
        Ok((status, value)) => {
            *report.statuses.entry((op, status)).or_default() += 1;
            if status >= 500 {
                problem(report, format!("{op}: {status} {value}"));
            }
            Some((status, value))
        }
        Err(e) => {
            *report.statuses.entry((op, 0)).or_default() += 1;
            problem(report, format!("{op}: no answer: {e}"));
            None
        }
    }
}

fn problem(report: &mut Report, text: String) {
    if report.problems.len() < MAX_PROBLEMS {
        report.problems.push(text);
    } else if report.problems.len() == MAX_PROBLEMS {
        report.problems.push("… more".into());
    }
}

fn sequence(value: &Value) -> Option<i64> {
    value["details"]["sequence"].as_str()?.parse().ok()
}

/// Records the answered sequence (and `earlier` events just before it, oldest first).
fn expect(report: &mut Report, user: &mut User, op: &str, value: &Value, types: &[&'static str]) {
    let Some(seq) = sequence(value) else {
        problem(report, format!("{op}: no details.sequence in {value}"));
        return;
    };
    let first = seq + 1 - types.len() as i64;
    for (k, event_type) in types.iter().enumerate() {
        report.expected.push(Expected {
            user: user.id.clone(),
            sequence: first + k as i64,
            event_type,
        });
    }
    user.last_sequence = user.last_sequence.max(seq);
}

fn create(http: &mut KeepAlive, report: &mut Report, users: &mut Vec<User>, client: usize) {
    let name = format!(
        "soak-{client}-{}-{:08x}",
        users.len(),
        rand::random::<u32>()
    );
    let body = json!({"username": name, "profile": {"givenName": "Soak", "familyName": "Client"},
        "email": {"email": format!("{name}@example.com")}});
    let Some((status, value)) = call(
        http,
        report,
        "create user",
        "POST",
        "/v2/users/human",
        Some(body),
    ) else {
        return;
    };
    let id = value["userId"].as_str().map(str::to_owned);
    match (status, id) {
        (200 | 201, Some(id)) => {
            let mut user = User {
                id,
                phone: None,
                last_sequence: 0,
            };
            expect(
                report,
                &mut user,
                "create user",
                &value,
                &["user.human.added"],
            );
            users.push(user);
        }
        _ => problem(report, format!("create user: {status} {value}")),
    }
}

fn read(http: &mut KeepAlive, report: &mut Report, user: &mut User) {
    let path = format!("/v2/users/{}", user.id);
    let Some((status, value)) = call(http, report, "read", "GET", &path, None) else {
        return;
    };
    if status != 200 {
        return problem(report, format!("read {}: {status} {value}", user.id));
    }
    let seen = sequence(&value).unwrap_or(-1);
    if seen < user.last_sequence {
        problem(
            report,
            format!(
                "read {}: sequence {seen} < answered {}",
                user.id, user.last_sequence
            ),
        );
    }
    let phone = &value["user"]["human"]["phone"];
    let (number, verified) = (
        phone["phone"].as_str(),
        phone["isVerified"].as_bool().unwrap_or(false),
    );
    let model = user.phone.as_ref().map(|p| (p.number.as_str(), p.verified));
    if number.map(|n| (n, verified)) != model {
        problem(
            report,
            format!(
                "read {}: phone {phone} but the client expects {model:?}",
                user.id
            ),
        );
    }
}

fn set_phone(http: &mut KeepAlive, report: &mut Report, user: &mut User, rng: &mut StdRng) {
    let number = format!("+4179{:07}", rng.random_range(0..10_000_000u32));
    if user.phone.as_ref().is_some_and(|p| p.number == number) {
        return;
    }
    let by_sms = rng.random_bool(0.3);
    let body = if by_sms {
        json!({"phone": number, "sendCode": {}})
    } else {
        json!({"phone": number, "returnCode": {}})
    };
    let path = format!("/v2/users/{}/phone", user.id);
    let Some((status, value)) = call(http, report, "set phone", "POST", &path, Some(body)) else {
        return;
    };
    if status != 200 {
        return problem(report, format!("set phone {}: {status} {value}", user.id));
    }
    let pending = match value["verificationCode"].as_str() {
        Some(code) if !by_sms => Pending::Known(code.to_owned()),
        None if by_sms => Pending::Unknown,
        _ => {
            return problem(
                report,
                format!(
                    "set phone {}: code in answer does not fit: {value}",
                    user.id
                ),
            );
        }
    };
    expect(
        report,
        user,
        "set phone",
        &value,
        &["user.human.phone.changed", "user.human.phone.code.added"],
    );
    user.phone = Some(Phone {
        number,
        verified: false,
        pending,
        wrong: 0,
    });
}

fn resend(http: &mut KeepAlive, report: &mut Report, user: &mut User, by_sms: bool) {
    let body = if by_sms {
        json!({"sendCode": {}})
    } else {
        json!({"returnCode": {}})
    };
    let path = format!("/v2/users/{}/phone/resend", user.id);
    let Some((status, value)) = call(http, report, "resend", "POST", &path, Some(body)) else {
        return;
    };
    let Some(phone) = user.phone.as_mut().filter(|p| !p.verified) else {
        if !(400..500).contains(&status) {
            problem(
                report,
                format!(
                    "resend {} without a pending code: {status} {value}",
                    user.id
                ),
            );
        }
        return;
    };
    if status != 200 {
        return problem(report, format!("resend {}: {status} {value}", user.id));
    }
    phone.pending = match value["verificationCode"].as_str() {
        Some(code) => Pending::Known(code.to_owned()),
        None => Pending::Unknown,
    };
    phone.wrong = 0;
    expect(
        report,
        user,
        "resend",
        &value,
        &["user.human.phone.code.added"],
    );
}

fn verify(http: &mut KeepAlive, report: &mut Report, user: &mut User, right: bool) {
    let known = match user.phone.as_ref().map(|p| (&p.pending, p.wrong)) {
        Some((Pending::Known(code), wrong)) => Some((code.clone(), wrong)),
        // Past the limit a guess is refused without an event; the model stays below it.
        Some((Pending::Unknown, wrong)) if wrong >= MAX_WRONG => return,
        _ => None,
    };
    let guess = match (&known, right) {
        (Some((code, _)), true) => code.clone(),
        // A different code of the same shape: the first digit moved by one.
        (Some((code, wrong)), false) if *wrong < MAX_WRONG => {
            let first = code.as_bytes()[0];
            let moved = if first == b'9' {
                '0'
            } else {
                char::from(first + 1)
            };
            format!("{moved}{}", &code[1..])
        }
        (Some(_), false) => return,
        (None, _) => "123456".to_owned(),
    };
    let op = if right {
        "verify right"
    } else {
        "verify wrong"
    };
    let path = format!("/v2/users/{}/phone/verify", user.id);
    let body = json!({"verificationCode": guess});
    let Some((status, value)) = call(http, report, op, "POST", &path, Some(body)) else {
        return;
    };
    let pending = user
        .phone
        .as_ref()
        .is_some_and(|p| !matches!(p.pending, Pending::None));
    match (known, right) {
        (Some(_), true) if status == 200 => {
            expect(report, user, op, &value, &["user.human.phone.verified"]);
            if let Some(p) = user.phone.as_mut() {
                p.verified = true;
                p.pending = Pending::None;
            }
        }
        (Some(_), false) if status == 400 => {
            report.failed_guesses += 1;
            if let Some(p) = user.phone.as_mut() {
                p.wrong += 1;
            }
        }
        // A guess at an unknown (SMS) code is most likely wrong and, if so, recorded as a failed attempt.
        (None, _) if pending && status == 400 => {
            report.failed_guesses += 1;
            if let Some(p) = user.phone.as_mut() {
                p.wrong += 1;
            }
        }
        (None, _) if pending && status == 200 => {
            expect(report, user, op, &value, &["user.human.phone.verified"]);
            if let Some(p) = user.phone.as_mut() {
                p.verified = true;
                p.pending = Pending::None;
            }
        }
        (None, _) if !pending && (400..500).contains(&status) => {}
        _ => problem(report, format!("{op} {}: {status} {value}", user.id)),
    }
}

fn remove(http: &mut KeepAlive, report: &mut Report, user: &mut User) {
    let path = format!("/v2/users/{}/phone", user.id);
    let Some((status, value)) = call(http, report, "remove phone", "DELETE", &path, None) else {
        return;
    };
    match (user.phone.is_some(), status) {
        (true, 200) => {
            expect(
                report,
                user,
                "remove phone",
                &value,
                &["user.human.phone.removed"],
            );
            user.phone = None;
        }
        (false, 400..=499) => {}
        _ => problem(
            report,
            format!("remove phone {}: {status} {value}", user.id),
        ),
    }
}
