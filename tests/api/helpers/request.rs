//! One request to the router, built up by the test, and its response with the assertions tests make on it.

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A request as the admin unless `by` or `anonymous` says otherwise.
pub struct Req<'a> {
    router: &'a Router,
    method: Method,
    path: String,
    token: Option<String>,
    body: Option<String>,
    headers: Vec<(String, String)>,
}

impl<'a> Req<'a> {
    pub(super) fn new(router: &'a Router, admin_token: &str, method: Method, path: &str) -> Self {
        Self {
            router,
            method,
            path: path.to_owned(),
            token: Some(admin_token.to_owned()),
            body: None,
            headers: vec![],
        }
    }

    pub fn by(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    pub fn anonymous(mut self) -> Self {
        self.token = None;
        self
    }

    pub fn json(mut self, v: Value) -> Self {
        self.body = Some(v.to_string());
        self
    }

    pub fn raw(mut self, s: &str) -> Self {
        self.body = Some(s.to_owned());
        self
    }

    pub fn org(self, org_id: &str) -> Self {
        self.header("x-zitadel-orgid", org_id)
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    pub async fn send(self) -> Resp {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        if let Some(t) = &self.token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        if self.body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(Body::from(self.body.unwrap_or_default()))
            .unwrap_or_else(|e| panic!("request: {e}"));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| panic!("router: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            headers,
            text,
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    /// The body of a success (200, or 201 for the two creations that answer it), or an error that shows
    /// what came instead. Tests of the status itself compare `status`.
    pub fn ok(&self) -> Result<&Value> {
        if self.status != 200 && self.status != 201 {
            bail!("expected 200/201, got {}: {}", self.status, self.text);
        }
        Ok(&self.body)
    }

    /// Asserts an error answer: HTTP status, gRPC code and error ID (in `message` and `details[0].id`).
    pub fn err(&self, http: u16, code: i64, id: &str) -> Result<()> {
        let detail_id = self.body["details"][0]["id"].as_str().unwrap_or_default();
        let message = self.body["message"].as_str().unwrap_or_default();
        if self.status != http
            || self.body["code"] != code
            || detail_id != id
            || !message.ends_with(&format!("({id})"))
        {
            bail!(
                "expected {http}/{code}/{id}, got {}: {}",
                self.status,
                self.text
            );
        }
        Ok(())
    }

    /// Asserts a request-shape error: 400, code 3, a message containing `needle`.
    pub fn invalid(&self, needle: &str) -> Result<()> {
        let message = self.body["message"].as_str().unwrap_or_default();
        if self.status != 400 || self.body["code"] != 3 || !message.contains(needle) {
            bail!(
                "expected 400/3 mentioning {needle:?}, got {}: {}",
                self.status,
                self.text
            );
        }
        Ok(())
    }

    pub fn sequence(&self) -> Result<i64> {
        self.body["details"]["sequence"]
            .as_str()
            .context("details.sequence is a string")?
            .parse()
            .context("number")
    }

    /// The string field `name` of a 200's body.
    pub fn field(&self, name: &str) -> Result<String> {
        Ok(self.ok()?[name]
            .as_str()
            .context(name.to_owned())?
            .to_owned())
    }

    /// The code a `returnCode` call answered with.
    pub fn verification_code(&self) -> Result<String> {
        self.field("verificationCode")
    }
}
