//! Typed actions on users, organizations and memberships, as the admin unless the request says otherwise.

use anyhow::Result;
use serde_json::{Value, json};

use super::app::TestApp;
use super::request::Req;

impl TestApp {
    /// A human in the default org, created by the admin; returns its id.
    pub async fn human(&self, username: &str) -> Result<String> {
        self.add_human(username, |_| {}).await
    }

    pub async fn human_in(&self, org_id: &str, username: &str) -> Result<String> {
        self.add_human(username, |body| {
            body["organization"] = json!({"orgId": org_id});
        })
        .await
    }

    /// A human whose profile names a preferred language (which picks the SMS template).
    pub async fn human_speaking(&self, username: &str, language: &str) -> Result<String> {
        self.add_human(username, |body| {
            body["profile"]["preferredLanguage"] = json!(language);
        })
        .await
    }

    async fn add_human(&self, username: &str, amend: impl FnOnce(&mut Value)) -> Result<String> {
        let mut body = json!({
            "username": username,
            "profile": {"givenName": "Given", "familyName": "Family"},
            "email": {"email": format!("{username}@example.com")}
        });
        amend(&mut body);
        self.post("/v2/users/human")
            .json(body)
            .send()
            .await
            .field("userId")
    }

    pub async fn machine(&self, username: &str) -> Result<String> {
        self.post("/management/v1/users/machine")
            .json(json!({"userName": username, "name": "Bot"}))
            .send()
            .await
            .field("userId")
    }

    pub async fn org(&self, name: &str) -> Result<String> {
        self.post("/v2/organizations")
            .json(json!({"name": name}))
            .send()
            .await
            .field("organizationId")
    }

    /// Makes `user_id` a member of `org_id` with `roles` (management v1, the org chosen by the header).
    pub fn add_org_member(&self, org_id: &str, user_id: &str, roles: &[&str]) -> Req<'_> {
        self.post("/management/v1/orgs/me/members")
            .org(org_id)
            .json(json!({"userId": user_id, "roles": roles}))
    }

    /// Makes `user_id` a member of the instance with `roles` (admin v1).
    pub fn add_iam_member(&self, user_id: &str, roles: &[&str]) -> Req<'_> {
        self.post("/admin/v1/members")
            .json(json!({"userId": user_id, "roles": roles}))
    }

    pub async fn grant_org_role(&self, org_id: &str, user_id: &str, role: &str) -> Result<()> {
        self.add_org_member(org_id, user_id, &[role])
            .send()
            .await
            .ok()?;
        Ok(())
    }

    pub async fn grant_iam_role(&self, user_id: &str, role: &str) -> Result<()> {
        self.add_iam_member(user_id, &[role]).send().await.ok()?;
        Ok(())
    }

    /// GET /v2/users/{id}.
    pub fn get_user(&self, user_id: &str) -> Req<'_> {
        self.get(&format!("/v2/users/{user_id}"))
    }

    /// DELETE /v2/users/{id}.
    pub fn delete_user(&self, user_id: &str) -> Req<'_> {
        self.delete(&format!("/v2/users/{user_id}"))
    }

    pub fn deactivate(&self, user_id: &str) -> Req<'_> {
        self.post(&format!("/v2/users/{user_id}/deactivate"))
    }

    pub fn reactivate(&self, user_id: &str) -> Req<'_> {
        self.post(&format!("/v2/users/{user_id}/reactivate"))
    }
}
