//! The SMS-pumping guards: country rules, number types, test numbers, the per-organization daily budget,
//! the code's times as headers and the per-country counters. Each refusal is 3 or 8 and writes nothing.

use anyhow::{Context, Result, ensure};
use chrono::Duration;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, Resp, TestApp};

crate::suite!(sms_pumping;
    countries_are_checked_when_a_number_is_set_and_before_each_send,
    costly_kinds_of_number_are_refused_unless_allowed,
    test_numbers_take_a_fixed_code_reach_no_provider_and_expire,
    the_org_budget_caps_sms_per_organization_per_day,
    answers_that_send_a_code_carry_its_times,
    sends_and_verifications_are_counted_by_calling_code,
);

const GERMAN_MOBILE: &str = "+4915112345678";
const UK_MOBILE: &str = "+447400123456";

fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// What a refused send must leave untouched: the user's events and the queued SMS.
async fn written(app: &TestApp, user: &str) -> Result<(usize, i64)> {
    Ok((
        app.event_types(user).await?.len(),
        app.job_counts().await?.pending,
    ))
}

async fn countries_are_checked_when_a_number_is_set_and_before_each_send(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, "[limits]\nallowed_regions = [\"CH\", \"+44\"]\n").await?;
    let ch = app.human("ch").await?;
    let uk = app.human("uk").await?;
    app.set_phone(&ch, PHONE_A).send().await.ok()?;
    app.set_phone(&uk, UK_MOBILE).send().await.ok()?;
    let before = written(&app, &ch).await?;
    // Not on the allow-list: refused in every API, with or without an SMS, and nothing is written.
    app.set_phone(&ch, GERMAN_MOBILE)
        .send()
        .await
        .err(400, 3, "PHONE-r3g1n")?;
    app.set_phone(&ch, GERMAN_MOBILE)
        .return_code()
        .send()
        .await
        .err(400, 3, "PHONE-r3g1n")?;
    let me = app.token_for(&ch);
    app.v1_me(&me)
        .set_phone(GERMAN_MOBILE)
        .send()
        .await
        .err(400, 3, "PHONE-r3g1n")?;
    app.v1_managed(&ch)
        .set_phone(GERMAN_MOBILE)
        .send()
        .await
        .err(400, 3, "PHONE-r3g1n")?;
    check_eq!(written(&app, &ch).await?, before);

    // The operator denies the UK later: a number already set is checked again before its next SMS.
    let app = app
        .restart_with("[limits]\ndenied_regions = [\"GB\"]\n")
        .await?;
    let before = written(&app, &uk).await?;
    app.resend(&uk)
        .send_code()
        .send()
        .await
        .err(400, 3, "PHONE-r3g1n")?;
    app.v1_managed(&uk)
        .resend()
        .send()
        .await
        .err(400, 3, "PHONE-r3g1n")?;
    check_eq!(written(&app, &uk).await?, before);
    // Every other country is allowed now; a deny-list entry by calling code works as well.
    app.set_phone(&ch, GERMAN_MOBILE).send().await.ok()?;
    let app = app
        .restart_with("[limits]\ndenied_regions = [\"+49\"]\n")
        .await?;
    app.resend(&ch).send().await.err(400, 3, "PHONE-r3g1n")?;
    app.resend(&uk).send().await.ok()?;
    Ok(())
}

async fn costly_kinds_of_number_are_refused_unless_allowed(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let before = written(&app, &id).await?;
    // Premium rate (CH, UK), shared cost, toll free, and a landline, which cannot read an SMS.
    for number in [
        "+41900123456",
        "+449001234567",
        "+41840123456",
        "+41800123456",
        "+41446681800",
    ] {
        let r = app.set_phone(&id, number).send().await;
        r.err(400, 3, "PHONE-tyP3s")
            .with_context(|| number.to_owned())?;
    }
    check_eq!(written(&app, &id).await?, before);
    // Creating a user with such a number creates nothing: the username stays free.
    let r = app
        .post("/v2/users/human")
        .json(serde_json::json!({
            "username": "premium", "profile": {"givenName": "G", "familyName": "F"},
            "email": {"email": "premium@example.com"}, "phone": {"phone": "+41900123456"}
        }))
        .send()
        .await;
    r.err(400, 3, "PHONE-tyP3s")?;
    app.human("premium").await?;
    check_eq!(app.job_counts().await?.pending, 0);

    let app = app
        .restart_with("[limits]\nallowed_number_types = [\"mobile\", \"premium_rate\"]\n")
        .await?;
    app.set_phone(&id, "+41900123456").send().await.ok()?;
    check_eq!(app.job_counts().await?.pending, 1);
    Ok(())
}

const TEST_NUMBERS: &str = "[limits]
resend_cooldown_secs = 0
max_sends_per_phone_per_day = 1
max_sms_per_org_per_day = 1
[[limits.test_numbers]]
number = \"+41790000001\"
code = \"424242\"
expires = \"2026-06-02T09:00:00Z\"
[[limits.test_numbers]]
number = \"+4190012*\"
code = \"135790\"
expires = \"2026-06-02T09:00:00Z\"
";

async fn test_numbers_take_a_fixed_code_reach_no_provider_and_expire(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, TEST_NUMBERS).await?;
    let reviewer = app.human("reviewer").await?;
    let premium = app.human("premium").await?;
    // Far over the per-number cap and the org budget of 1: test numbers count against neither.
    app.set_phone(&reviewer, "+41790000001").send().await.ok()?;
    for _ in 0..3 {
        app.resend(&reviewer).send().await.ok()?;
    }
    // A prefix covers a whole range, even one whose kind would otherwise be refused.
    app.set_phone(&premium, "+41900123456").send().await.ok()?;
    check_eq!(app.job_counts().await?.pending, 0);
    app.verify(&reviewer, "424242").send().await.ok()?;
    app.verify(&premium, "135790").send().await.ok()?;
    app.deliver().await?;
    check_eq!(app.codes_sent_to("+41790000001").len(), 0);

    // Past `expires` the number is an ordinary one: a random code, by SMS, under the caps.
    app.clock.advance(Duration::days(1));
    let late = app.human("late").await?;
    app.set_phone(&late, "+41790000001").send().await.ok()?;
    check_eq!(app.job_counts().await?.pending, 1);
    app.deliver().await?;
    let sent = app.codes_sent_to("+41790000001");
    check_eq!(sent.len(), 1);
    if sent[0] != "424242" {
        app.verify(&late, "424242")
            .send()
            .await
            .err(400, 3, "COMMAND-eis9R")?;
    }
    app.set_phone(&premium, "+41900123457")
        .send()
        .await
        .err(400, 3, "PHONE-tyP3s")?;
    Ok(())
}

const BUDGET: &str = "[limits]\nresend_cooldown_secs = 0\nmax_sends_per_phone_per_day = 0\nmax_sms_per_org_per_day = 2\n";

async fn the_org_budget_caps_sms_per_organization_per_day(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, BUDGET).await?;
    let a = app.human("a").await?;
    let c = app.human("c").await?;
    app.set_phone(&a, PHONE_A).send().await.ok()?;
    app.set_phone(&c, PHONE_B).send().await.ok()?;
    let before = written(&app, &a).await?;
    // The clock stands at 09:00 UTC: the budget is renewed at midnight, 15 hours away.
    let r = app.resend(&a).send().await;
    r.err(429, 8, "PHONE-0rgBd")?;
    check_eq!(header(&r, "retry-after"), Some("54000"));
    check_eq!(
        r.body["details"][1],
        serde_json::json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "54000s"})
    );
    let me = app.token_for(&c);
    app.v1_me(&me)
        .resend()
        .send()
        .await
        .err(429, 8, "PHONE-0rgBd")?;
    check_eq!(written(&app, &a).await?, before);
    // A returned code costs no SMS; another organization has its own budget.
    app.resend(&a).return_code().send().await.ok()?;
    let other = app.org("other").await?;
    let o = app.human_in(&other, "o").await?;
    app.set_phone(&o, "+41795550000").send().await.ok()?;
    // The next UTC day renews it.
    app.clock.advance(Duration::hours(15));
    app.resend(&a).send().await.ok()?;
    Ok(())
}

async fn answers_that_send_a_code_carry_its_times(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, "[limits]\nresend_cooldown_secs = 30\n").await?;
    let id = app.human("ada").await?;
    let now = app.now();
    let at = |secs: i64| {
        (now + Duration::seconds(secs))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let r = app.set_phone(&id, PHONE_A).send().await;
    r.ok()?;
    // The default code expiry is 600 s.
    check_eq!(
        header(&r, "x-phoneverify-code-expires-at"),
        Some(at(600).as_str())
    );
    check_eq!(
        header(&r, "x-phoneverify-next-send-at"),
        Some(at(30).as_str())
    );
    check_eq!(header(&r, "x-phoneverify-next-send-in"), Some("30"));
    // Ten seconds on, a returned code is not throttled and shows the cooldown still running.
    app.clock.advance(Duration::seconds(10));
    let r = app.resend(&id).return_code().send().await;
    r.ok()?;
    check_eq!(
        header(&r, "x-phoneverify-code-expires-at"),
        Some(at(610).as_str())
    );
    check_eq!(header(&r, "x-phoneverify-next-send-in"), Some("20"));
    // The refusal says the same in Retry-After and its RetryInfo detail.
    let r = app.resend(&id).send_code().send().await;
    r.err(429, 8, "PHONE-c0oLd")?;
    check_eq!(header(&r, "retry-after"), Some("20"));
    check_eq!(r.body["details"][1]["retryDelay"], "20s");
    // v1 answers carry them too; marking a number verified leaves no code, so no times.
    app.clock.advance(Duration::seconds(20));
    let r = app.v1_managed(&id).resend().send().await;
    r.ok()?;
    check_eq!(header(&r, "x-phoneverify-next-send-in"), Some("30"));
    let r = app
        .v1_managed(&id)
        .set_phone(PHONE_B)
        .verified()
        .send()
        .await;
    r.ok()?;
    check_eq!(header(&r, "x-phoneverify-code-expires-at"), None);
    Ok(())
}

async fn sends_and_verifications_are_counted_by_calling_code(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let ch = app.human("ch").await?;
    let uk = app.human("uk").await?;
    app.set_phone(&ch, PHONE_A).send().await.ok()?;
    app.set_phone(&uk, UK_MOBILE).send().await.ok()?;
    app.resend(&uk).send().await.ok()?;
    let code = app.returned_code(&ch).await?;
    app.verify(&ch, &code).send().await.ok()?;
    let r = app.get("/metrics").anonymous().send().await;
    ensure!(r.status == 200, "{}", r.text);
    let series = |code: u16, outcome: &str| {
        let name = format!(
            "phoneverify_codes_by_calling_code_total{{calling_code=\"{code}\",outcome=\"{outcome}\"}}"
        );
        crate::metrics::value(&r.text, &name)
    };
    check_eq!(series(41, "sms_issued"), 1.0);
    check_eq!(series(41, "verified"), 1.0);
    check_eq!(series(44, "sms_issued"), 2.0);
    check_eq!(series(44, "verified"), 0.0);
    Ok(())
}
