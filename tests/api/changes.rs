//! `ListUserChanges` (management v1): a user's history, paged, with its editors, for those who may read the
//! user, over REST and gRPC; no payload, and so no code hash, in it.

use anyhow::{Result, ensure};
use phoneverify::rpc::proto::zitadel::management::v1 as mgmt;
use serde_json::{Value, json};

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, Protocol, TestApp};

crate::suite!(changes;
    a_users_history_names_each_event_and_its_editor, pages_run_forward_and_backward,
    only_readers_of_the_users_org_see_its_history, removed_users_keep_their_history,
    a_page_beyond_the_maximum_is_refused, the_history_is_served_over_grpc,
);

fn changes_path(user: &str) -> String {
    format!("/management/v1/users/{user}/changes/_search")
}

fn keys(body: &Value) -> Vec<String> {
    body["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|c| {
                    c["eventType"]["key"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn sequences(body: &Value) -> Vec<String> {
    body["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|c| c["sequence"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn a_users_history_names_each_event_and_its_editor(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, code) = app.with_pending_code("ada", PHONE_A).await?;
    app.verify(&id, &code).send().await.ok()?;
    let r = app
        .post(&changes_path(&id))
        .json(json!({"query": {"asc": true}}))
        .send()
        .await;
    let body = r.ok()?;
    check_eq!(
        keys(body),
        vec![
            "EventTypes.user.human.added",
            "EventTypes.user.human.phone.changed",
            "EventTypes.user.human.phone.code.added",
            "EventTypes.user.human.phone.verified",
        ]
    );
    let first = &body["result"][0];
    check_eq!(first["sequence"], "1");
    check_eq!(first["localizedMessage"], Value::Null);
    check_eq!(first["eventType"]["localizedMessage"], "User added");
    check_eq!(first["editorId"], app.admin_id.as_str());
    check_eq!(first["editorPreferredLoginName"], "admin");
    check_eq!(first["resourceOwnerId"], app.org_id.as_str());
    ensure!(
        first["changeDate"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z')),
        "a UTC timestamp: {first}"
    );
    ensure!(
        !r.text.contains("hash"),
        "no payload in the history: {}",
        r.text
    );
    Ok(())
}

async fn pages_run_forward_and_backward(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    for _ in 0..3 {
        app.resend(&id).return_code().send().await.ok()?;
    }
    // Six events: added, phone changed, code added, three more codes.
    let newest = app
        .post(&changes_path(&id))
        .json(json!({"query": {"limit": 2}}))
        .send()
        .await;
    check_eq!(sequences(newest.ok()?), vec!["6", "5"]);
    let older = app
        .post(&changes_path(&id))
        .json(json!({"query": {"limit": 2, "sequence": "5"}}))
        .send()
        .await;
    check_eq!(sequences(older.ok()?), vec!["4", "3"]);
    let forward = app
        .post(&changes_path(&id))
        .json(json!({"query": {"limit": "10", "sequence": 4, "asc": true}}))
        .send()
        .await;
    check_eq!(sequences(forward.ok()?), vec!["5", "6"]);
    // No body reads as the default query: the newest first.
    let all = app.post(&changes_path(&id)).send().await;
    check_eq!(sequences(all.ok()?).len(), 6);
    Ok(())
}

async fn only_readers_of_the_users_org_see_its_history(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let other = app.org("Other").await?;
    let stranger = app.human_in(&other, "eve").await?;
    app.grant_org_role(&other, &stranger, "ORG_OWNER").await?;
    let stranger_token = app.token_for(&stranger);
    // A user of another org is "not found", whatever the caller may do there.
    let r = app
        .post(&changes_path(&id))
        .by(&stranger_token)
        .send()
        .await;
    check_eq!(r.status, 404);
    // A plain user may not read others' history, even in its own org.
    let peer = app.human("bob").await?;
    let r = app
        .post(&changes_path(&id))
        .by(&app.token_for(&peer))
        .send()
        .await;
    check_eq!(r.status, 403);
    let r = app.post(&changes_path("4711")).send().await;
    check_eq!(r.status, 404);
    Ok(())
}

async fn removed_users_keep_their_history(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.delete_user(&id).send().await.ok()?;
    let r = app.post(&changes_path(&id)).send().await;
    check_eq!(keys(r.ok()?)[0].as_str(), "EventTypes.user.removed");
    Ok(())
}

async fn a_page_beyond_the_maximum_is_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.post(&changes_path(&id))
        .json(json!({"query": {"limit": 1001}}))
        .send()
        .await
        .invalid("ChangeQuery.Limit")?;
    app.post(&changes_path(&id))
        .json(json!({"query": {"sequence": "x"}}))
        .send()
        .await
        .invalid("sequence")?;
    Ok(())
}

async fn the_history_is_served_over_grpc(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    let rpc = app.rpc(Protocol::Grpc);
    let answer: mgmt::ListUserChangesResponse = rpc
        .call(
            mgmt::MANAGEMENT_SERVICE_SERVICE_NAME,
            "ListUserChanges",
            &mgmt::ListUserChangesRequest {
                user_id: id.clone(),
                ..Default::default()
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("ListUserChanges: {e:?}"))?;
    let sequences: Vec<u64> = answer.result.iter().map(|c| c.sequence).collect();
    check_eq!(sequences, vec![3, 2, 1]);
    let editor = &answer.result[0].editor_id;
    check_eq!(editor.as_str(), app.admin_id.as_str());
    Ok(())
}
