//! A scripted SMS-pumping attempt against the real binary: bots create users with numbers across premium,
//! shared-cost, toll-free and denied-country ranges, and resend to every number they got in as fast as
//! they can. No SMS may reach a denied country or kind of number, no more than the organization's daily
//! budget may go out, and every refusal is a clear 3 or 8 with nothing queued.

#[path = "support/gateway.rs"]
mod gateway;
#[path = "support/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gateway::Gateway;
use serde_json::{Value, json};
use server::Server;

const BUDGET: usize = 25;
const BOTS: usize = 4;
const USERS_PER_BOT: usize = 24;
const RESENDS_PER_USER: usize = 5;

const CONFIG: &str = r#"
[limits]
resend_cooldown_secs = 0
max_sends_per_phone_per_day = 10
max_sms_per_org_per_day = 25
denied_regions = ["CU", "+371"]
"#;

/// The ranges a bot cycles through, and whether an SMS to them is acceptable.
const RANGES: [(&str, usize, bool); 8] = [
    ("+41791", 6, true),  // Swiss mobile
    ("+447400", 6, true), // UK mobile
    ("+41900", 6, false), // Swiss premium rate
    ("+44909", 7, false), // UK premium rate
    ("+41840", 6, false), // Swiss shared cost
    ("+41800", 6, false), // Swiss toll free
    ("+535", 7, false),   // Cuban mobile: denied country
    ("+3712", 7, false),  // Latvian mobile: denied calling code
];

fn number(range: usize, serial: usize) -> String {
    let (prefix, digits, _) = RANGES[range];
    format!("{prefix}{serial:0digits$}")
}

fn acceptable(phone: &str) -> bool {
    RANGES
        .iter()
        .any(|(prefix, _, ok)| *ok && phone.starts_with(prefix))
}

/// One answer: the operation, HTTP status, gRPC code and error ID.
type Answer = (&'static str, u16, i64, String);

fn answer(op: &'static str, (status, body): (u16, Value)) -> Answer {
    let code = body["code"].as_i64().unwrap_or(0);
    let id = body["details"][0]["id"].as_str().unwrap_or("").to_owned();
    (op, status, code, id)
}

fn bot(client: server::Client, token: String, bot: usize) -> Vec<Answer> {
    let mut answers = Vec::new();
    for u in 0..USERS_PER_BOT {
        let serial = bot * USERS_PER_BOT + u;
        let phone = number(serial % RANGES.len(), serial);
        let body = json!({
            "username": format!("bot{bot}-{u}"), "profile": {"givenName": "B", "familyName": "ot"},
            "email": {"email": format!("bot{bot}-{u}@example.com")}, "phone": {"phone": phone}
        });
        let created = client.http("POST", "/v2/users/human", Some(&token), Some(body));
        let user = created.1["userId"].as_str().map(str::to_owned);
        answers.push(answer("create", created));
        let Some(user) = user else { continue };
        for _ in 0..RESENDS_PER_USER {
            let path = format!("/v2/users/{user}/phone/resend");
            let resent = client.http("POST", &path, Some(&token), Some(json!({"sendCode": {}})));
            answers.push(answer("resend", resent));
        }
        // And the number swapped for a premium one, as a bot that got a user in would try.
        let premium = number(2, serial);
        let path = format!("/v2/users/{user}/phone");
        let swapped = client.http("POST", &path, Some(&token), Some(json!({"phone": premium})));
        answers.push(answer("set phone", swapped));
    }
    answers
}

/// The value of `series` in a scrape (0 when absent).
fn scraped(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_pumping_attempt_gets_no_sms_to_costly_numbers_and_at_most_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pumping.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let gateway = Gateway::start(200);
    let url = format!("http://127.0.0.1:{}/sms", gateway.port);
    let server = Server::start(
        dir.path(),
        &[
            ("PHONEVERIFY_CONFIG", config.to_str().unwrap()),
            ("PHONEVERIFY_SMS__PROVIDER", "webhook"),
            ("PHONEVERIFY_SMS__WEBHOOK__URL", &url),
            ("RUST_LOG", "warn"),
        ],
    );
    let token = server.admin_token();
    let started = Instant::now();
    let bots: Vec<_> = (0..BOTS)
        .map(|b| {
            let (client, token) = (Server::attach(server.port), token.clone());
            std::thread::spawn(move || bot(client, token, b))
        })
        .collect();
    let answers: Vec<Answer> = bots
        .into_iter()
        .flat_map(|h| h.join().expect("a bot thread panicked"))
        .collect();
    let elapsed = started.elapsed();

    let mut tally: BTreeMap<(&str, u16, String), usize> = BTreeMap::new();
    for (op, status, code, id) in &answers {
        let clear = match status {
            200 | 201 => true,
            400 => *code == 3 && (id == "PHONE-r3g1n" || id == "PHONE-tyP3s"),
            429 => *code == 8 && id == "PHONE-0rgBd",
            _ => false,
        };
        assert!(
            clear,
            "{op}: {status} code {code} {id:?} is no clear refusal"
        );
        *tally.entry((op, *status, id.clone())).or_default() += 1;
    }
    eprintln!(
        "pumping: {} requests from {BOTS} bots in {:.2} s ({:.0} req/s):",
        answers.len(),
        elapsed.as_secs_f64(),
        answers.len() as f64 / elapsed.as_secs_f64()
    );
    for ((op, status, id), n) in &tally {
        eprintln!("  {op:<10} {status} {id:<12} {n:>5}");
    }
    let sends = answers
        .iter()
        .filter(|(op, status, ..)| *op != "set phone" && (*status == 200 || *status == 201))
        .count();
    assert_eq!(sends, BUDGET, "the budget is spent exactly");
    // Every swap to a premium number was refused.
    assert!(
        answers
            .iter()
            .all(|(op, status, ..)| *op != "set phone" || *status == 400)
    );

    // Every accepted send queued an SMS: a new job, or, while the user's previous one still waited, that job
    // rewritten with the new code (the replaced code never goes out). Wait until the worker has settled them.
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let (status, metrics) = server.http("GET", "/metrics", None, None);
        assert_eq!(status, 200);
        let metrics = metrics.as_str().unwrap_or_default().to_owned();
        if scraped(&metrics, "phoneverify_sms_jobs{state=\"pending\"}") == 0.0 {
            break metrics;
        }
        assert!(Instant::now() < deadline, "jobs still pending: {metrics}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let sent = scraped(&metrics, "phoneverify_sms_jobs{state=\"sent\"}");
    let dropped = scraped(&metrics, "phoneverify_sms_jobs{state=\"dropped\"}");
    assert!(
        sent >= 1.0 && sent + dropped <= BUDGET as f64,
        "at most one job per accepted send: {sent} sent, {dropped} dropped"
    );
    assert_eq!(
        scraped(&metrics, "phoneverify_sms_jobs{state=\"failed\"}"),
        0.0
    );
    let received = gateway.received();
    assert_eq!(
        received.len() as f64,
        sent,
        "each sent job reached the gateway once"
    );
    for (_, body, _) in &received {
        let sms: Value = serde_json::from_str(body).unwrap();
        let phone = sms["contextInfo"]["recipientPhoneNumber"].as_str().unwrap();
        assert!(acceptable(phone), "an SMS went to {phone}");
    }
    eprintln!(
        "pumping: {sent} SMS sent, {dropped} dropped for a newer code, the other {} codes written into a queued job",
        BUDGET as f64 - sent - dropped
    );
    // The operator's signal counts the accepted sends by country, and no denied country shows up.
    let by_country: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("phoneverify_codes_by_calling_code_total{")
                && l.contains("outcome=\"sms_issued\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(by_country, BUDGET as f64);
    assert!(!metrics.contains("calling_code=\"53\"") && !metrics.contains("calling_code=\"371\""));
}
