//! Bootstrap, restarts, secrets at rest and an unreachable database (spec section 10, architecture).

use anyhow::Result;
use phoneverify::domain::ids::{OrgId, UserId};
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(lifecycle;
    bootstrap_creates_org_admin_and_token_file, restart_keeps_everything_and_continues_sequences,
    codes_are_never_stored_or_logged_in_clear, unreachable_database_answers_503,
    rebuilt_projections_equal_the_live_ones,
);

async fn bootstrap_creates_org_admin_and_token_file(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let path = app.dir.path().join("admin.token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        check_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
    }
    let memberships = app
        .services
        .store
        .memberships(&UserId::from_stored(app.admin_id.clone()))
        .await?;
    check_eq!(memberships.len(), 1);
    check_eq!(memberships[0].roles, vec!["IAM_OWNER".to_string()]);
    let org = app
        .services
        .store
        .org(&OrgId::from_stored(app.org_id.clone()))
        .await?;
    check_eq!(org.map(|o| o.name.to_string()), Some("DEFAULT".to_string()));
    // The admin can do admin things with the token from the file.
    app.post("/v2/organizations")
        .json(json!({"name": "Second"}))
        .send()
        .await
        .ok()?;
    Ok(())
}

async fn restart_keeps_everything_and_continues_sequences(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    let token_before = app.admin_token.clone();
    let admin_before = app.admin_id.clone();
    let jwks_before = app.get("/oauth/v2/keys").anonymous().send().await.body;
    let app = app.restart().await?;
    check_eq!(app.admin_token, token_before);
    check_eq!(app.admin_id, admin_before);
    check_eq!(
        app.get("/oauth/v2/keys").anonymous().send().await.body,
        jwks_before
    );
    let r = app.resend(&id).return_code().send().await;
    check_eq!(r.sequence()?, 4);
    let code = r.verification_code()?;
    let r = app.verify(&id, &code).send().await;
    check_eq!(r.sequence()?, 5);
    let sequences: Vec<i64> = app
        .services
        .store
        .events(&id)
        .await?
        .iter()
        .map(|e| e.sequence)
        .collect();
    check_eq!(sequences, vec![1, 2, 3, 4, 5]);
    Ok(())
}

async fn codes_are_never_stored_or_logged_in_clear(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    // A code that went out by SMS and one that was returned.
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    let queued = app
        .services
        .store
        .claim_jobs(app.now(), app.now(), 10)
        .await?;
    check_eq!(queued.len(), 1);
    // The lease ended at once, so the worker can take the job now.
    check_eq!(app.deliver().await?, 1);
    let sent_code = app.codes_sent_to(PHONE_A).pop().unwrap_or_default();
    check_eq!(sent_code.len(), 6);
    let returned = app.returned_code(&id).await?;
    let sealed = &queued[0].encrypted_code;
    for event in app.events(&id).await? {
        let payload = event.payload.map(|p| p.to_string()).unwrap_or_default();
        anyhow::ensure!(
            !payload.contains(&returned) && !payload.contains(&sent_code),
            "code in {}: {payload}",
            event.event_type
        );
    }
    anyhow::ensure!(
        !sealed.contains(&sent_code),
        "the job carries the code encrypted"
    );
    // The projection keeps only the keyed hash.
    let pending = app
        .services
        .store
        .user(&UserId::from_stored(id.clone()))
        .await?
        .and_then(|u| u.phone().and_then(|p| p.code.clone()));
    let hash = pending.map(|c| c.hash).unwrap_or_default();
    anyhow::ensure!(!hash.is_empty() && !hash.contains(&returned), "hash {hash}");
    Ok(())
}

async fn unreachable_database_answers_503(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    app.services.store.close().await;
    let started = std::time::Instant::now();
    let r = app.get("/readyz").anonymous().send().await;
    check_eq!((r.status, r.body["code"].clone()), (503, json!(14)));
    let r = app.get("/auth/v1/users/me").send().await;
    check_eq!((r.status, r.body["code"].clone()), (503, json!(14)));
    anyhow::ensure!(
        !r.text.to_lowercase().contains("pool"),
        "no driver detail: {}",
        r.text
    );
    anyhow::ensure!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered quickly"
    );
    check_eq!(app.get("/healthz").anonymous().send().await.status, 200);
    Ok(())
}

async fn rebuilt_projections_equal_the_live_ones(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    // A history touching every projection and every kind of event.
    let org = app.org("Acme").await?;
    let (ada, code) = app.with_pending_code("ada", PHONE_A).await?;
    app.verify(&ada, "000").send().await;
    app.verify(&ada, &code).send().await.ok()?;
    let bob = app.human_in(&org, "bob").await?;
    app.grant_org_role(&org, &bob, "ORG_USER_MANAGER").await?;
    app.grant_iam_role(&bob, "IAM_OWNER_VIEWER").await?;
    app.set_phone(&bob, PHONE_A).send().await.ok()?;
    app.deliver().await?;
    app.resend(&bob).return_code().send().await.ok()?;
    let carl = app.human("carl").await?;
    app.deactivate(&carl).send().await.ok()?;
    let dora = app.human("dora").await?;
    app.delete_user(&dora).send().await.ok()?;
    let bot = app.machine("bot").await?;
    let pats = format!("/management/v1/users/{bot}/pats");
    app.post(&pats).send().await.ok()?;
    let removed = app.post(&pats).send().await.field("tokenId")?;
    app.delete(&format!("{pats}/{removed}")).send().await.ok()?;

    let live = app.services.store.projections().await?;
    check_eq!(live.pats.len(), 1);
    check_eq!(live.users.len(), 6);
    let folded = app.services.rebuild_projections().await?;
    anyhow::ensure!(folded > 20, "folded {folded} events");
    check_eq!(app.services.store.projections().await?, live);

    // From nothing: wipe the read models by rebuilding from an empty fold, then rebuild for real.
    let empty = |_: &[phoneverify::domain::events::StoredEvent]| {
        Ok(phoneverify::store::Projections::default())
    };
    app.services.store.rebuild_projections(&empty).await?;
    check_eq!(app.services.store.projections().await?.users.len(), 0);
    app.services.rebuild_projections().await?;
    check_eq!(app.services.store.projections().await?, live);
    // And the API works on the rebuilt state.
    app.resend(&bob).return_code().send().await.ok()?;
    Ok(())
}
