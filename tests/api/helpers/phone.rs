//! Typed actions on phones, in the three dialects: user service v2 (a user by id), auth v1 (the caller's own
//! phone) and management v1 (a user by id in the context org). Each returns a request that the test can still
//! shape (`.return_code()`, `.by(token)`, `.org(id)` ...) before it sends it.

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::app::TestApp;
use super::request::{Req, Resp};

/// A phone request whose JSON body is built field by field.
pub struct PhoneRequest<'a> {
    req: Req<'a>,
    body: Option<Map<String, Value>>,
    /// The dialect's name of the "mark it verified" flag.
    verified_flag: &'static str,
}

impl<'a> PhoneRequest<'a> {
    /// No body until a field (or `json_body`) asks for one.
    fn new(req: Req<'a>, verified_flag: &'static str) -> Self {
        Self {
            req,
            body: None,
            verified_flag,
        }
    }

    fn phone(self, phone: &str) -> Self {
        self.with("phone", json!(phone))
    }

    fn with(mut self, key: &str, value: Value) -> Self {
        self.body
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value);
        self
    }

    /// The code in the response instead of by SMS.
    pub fn return_code(self) -> Self {
        self.with("returnCode", json!({}))
    }

    /// The code by SMS, said explicitly.
    pub fn send_code(self) -> Self {
        self.with("sendCode", json!({}))
    }

    /// The number marked verified, no code.
    pub fn verified(self) -> Self {
        let flag = self.verified_flag;
        self.with(flag, json!(true))
    }

    /// An empty JSON object where the call would otherwise send no body.
    pub fn json_body(mut self) -> Self {
        self.body.get_or_insert_with(Map::new);
        self
    }

    pub fn by(mut self, token: &str) -> Self {
        self.req = self.req.by(token);
        self
    }

    pub fn org(mut self, org_id: &str) -> Self {
        self.req = self.req.org(org_id);
        self
    }

    pub async fn send(self) -> Resp {
        match self.body {
            Some(fields) => self.req.json(Value::Object(fields)).send().await,
            None => self.req.send().await,
        }
    }
}

const V2_VERIFIED: &str = "isVerified";
const V1_VERIFIED: &str = "isPhoneVerified";

impl TestApp {
    /// Sets a user's phone (v2); the code goes out by SMS unless the request says otherwise.
    pub fn set_phone(&self, user_id: &str, phone: &str) -> PhoneRequest<'_> {
        self.v2().set_phone(user_id, phone)
    }

    /// A new code for the user's pending number (v2), by SMS unless the request says otherwise.
    pub fn resend(&self, user_id: &str) -> PhoneRequest<'_> {
        self.v2().resend(user_id)
    }

    pub fn verify(&self, user_id: &str, code: &str) -> Req<'_> {
        self.v2().verify(user_id, code)
    }

    pub fn remove_phone(&self, user_id: &str) -> Req<'_> {
        self.v2().remove_phone(user_id)
    }

    fn v2(&self) -> UserPhones<'_> {
        UserPhones {
            app: self,
            prefix: "/v2",
        }
    }

    /// The v2 phone actions under their deprecated /v2beta paths.
    pub fn v2beta(&self) -> UserPhones<'_> {
        UserPhones {
            app: self,
            prefix: "/v2beta",
        }
    }

    /// The auth API v1 on the phone of the caller that `token` authenticates.
    pub fn v1_me<'a>(&'a self, token: &'a str) -> MyPhone<'a> {
        MyPhone { app: self, token }
    }

    /// The management API v1 on the phone of `user_id`, as the admin unless the request says otherwise.
    pub fn v1_managed<'a>(&'a self, user_id: &'a str) -> ManagedPhone<'a> {
        ManagedPhone { app: self, user_id }
    }

    /// A human whose phone is set and unverified; returns (id, current code).
    pub async fn with_pending_code(&self, username: &str, phone: &str) -> Result<(String, String)> {
        let id = self.human(username).await?;
        let code = self
            .set_phone(&id, phone)
            .return_code()
            .send()
            .await
            .verification_code()?;
        Ok((id, code))
    }

    /// A new code for `user_id`, returned in the response (as the admin, so no SMS and no throttle).
    pub async fn returned_code(&self, user_id: &str) -> Result<String> {
        self.resend(user_id)
            .return_code()
            .send()
            .await
            .verification_code()
    }
}

/// The user service's phone actions under one path prefix.
pub struct UserPhones<'a> {
    app: &'a TestApp,
    prefix: &'static str,
}

impl<'a> UserPhones<'a> {
    fn path(&self, user_id: &str, action: &str) -> String {
        format!("{}/users/{user_id}/phone{action}", self.prefix)
    }

    pub fn set_phone(&self, user_id: &str, phone: &str) -> PhoneRequest<'a> {
        let req = self.app.post(&self.path(user_id, ""));
        PhoneRequest::new(req, V2_VERIFIED).phone(phone)
    }

    /// Sends an empty JSON object unless the request adds to it.
    pub fn resend(&self, user_id: &str) -> PhoneRequest<'a> {
        let req = self.app.post(&self.path(user_id, "/resend"));
        PhoneRequest::new(req, V2_VERIFIED).json_body()
    }

    pub fn verify(&self, user_id: &str, code: &str) -> Req<'a> {
        self.app
            .post(&self.path(user_id, "/verify"))
            .json(json!({"verificationCode": code}))
    }

    pub fn remove_phone(&self, user_id: &str) -> Req<'a> {
        self.app.delete(&self.path(user_id, ""))
    }
}

pub struct MyPhone<'a> {
    app: &'a TestApp,
    token: &'a str,
}

impl<'a> MyPhone<'a> {
    const PATH: &'static str = "/auth/v1/users/me/phone";

    pub fn get_phone(&self) -> Req<'a> {
        self.app.get(Self::PATH).by(self.token)
    }

    /// Sets the caller's phone; the code goes out by SMS.
    pub fn set_phone(&self, phone: &str) -> PhoneRequest<'a> {
        let req = self.app.put(Self::PATH).by(self.token);
        PhoneRequest::new(req, V1_VERIFIED).phone(phone)
    }

    /// Sends no body unless the request asks for one.
    pub fn resend(&self) -> PhoneRequest<'a> {
        let req = self
            .app
            .post("/auth/v1/users/me/phone/_resend_verification")
            .by(self.token);
        PhoneRequest::new(req, V1_VERIFIED)
    }

    pub fn verify(&self, code: &str) -> Req<'a> {
        self.app
            .post("/auth/v1/users/me/phone/_verify")
            .by(self.token)
            .json(json!({"code": code}))
    }

    pub fn remove_phone(&self) -> Req<'a> {
        self.app.delete(Self::PATH).by(self.token)
    }
}

pub struct ManagedPhone<'a> {
    app: &'a TestApp,
    user_id: &'a str,
}

impl<'a> ManagedPhone<'a> {
    fn path(&self) -> String {
        format!("/management/v1/users/{}/phone", self.user_id)
    }

    pub fn get_phone(&self) -> Req<'a> {
        self.app.get(&self.path())
    }

    /// Updates the user's phone; unverified with a code by SMS unless `.verified()`.
    pub fn set_phone(&self, phone: &str) -> PhoneRequest<'a> {
        let req = self.app.put(&self.path());
        PhoneRequest::new(req, V1_VERIFIED).phone(phone)
    }

    /// Sends no body unless the request asks for one.
    pub fn resend(&self) -> PhoneRequest<'a> {
        let req = self
            .app
            .post(&format!("{}/_resend_verification", self.path()));
        PhoneRequest::new(req, V1_VERIFIED)
    }

    pub fn remove_phone(&self) -> Req<'a> {
        self.app.delete(&self.path())
    }
}
