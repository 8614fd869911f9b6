//! A client of the RPC services over the real router, in each protocol a ZITADEL client speaks: gRPC,
//! gRPC-web (binary and text), Connect JSON and Connect binary. Framing, trailers and error details are
//! decoded here by hand from the protocols' specifications, so a server that frames wrongly fails the tests.

use anyhow::{Context, Result, bail, ensure};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use buffa::Message;
use http_body_util::BodyExt;
use phoneverify::rpc::proto::google::rpc::{RetryInfo, Status as RpcStatusProto};
use phoneverify::rpc::proto::zitadel::v1::ErrorDetail;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    GrpcWeb,
    GrpcWebText,
    ConnectJson,
    ConnectProto,
}

pub const PROTOCOLS: [Protocol; 5] = [
    Protocol::Grpc,
    Protocol::GrpcWeb,
    Protocol::GrpcWebText,
    Protocol::ConnectJson,
    Protocol::ConnectProto,
];

impl Protocol {
    fn content_type(self) -> &'static str {
        match self {
            Protocol::Grpc => "application/grpc",
            Protocol::GrpcWeb => "application/grpc-web+proto",
            Protocol::GrpcWebText => "application/grpc-web-text",
            Protocol::ConnectJson => "application/json",
            Protocol::ConnectProto => "application/proto",
        }
    }
}

/// An RPC's failure as the client sees it.
#[derive(Debug)]
pub struct RpcError {
    pub http_status: u16,
    /// The gRPC code (Connect's names mapped to their numbers).
    pub code: u32,
    pub message: String,
    /// `zitadel.v1.ErrorDetail.id`, if the status carried one.
    pub error_id: Option<String>,
    /// `google.rpc.RetryInfo.retry_delay` in seconds, if the status carried one.
    pub retry_delay: Option<i64>,
    pub headers: HeaderMap,
}

impl RpcError {
    /// Asserts the code and error ID; the message must end with the ID, as REST's does.
    pub fn expect(&self, code: u32, id: &str) -> Result<()> {
        ensure!(
            self.code == code
                && self.error_id.as_deref() == Some(id)
                && self.message.ends_with(&format!("({id})")),
            "expected {code}/{id}, got {self:?}"
        );
        Ok(())
    }
}

pub struct Rpc<'a> {
    router: &'a Router,
    protocol: Protocol,
    token: Option<String>,
    headers: Vec<(String, String)>,
}

impl<'a> Rpc<'a> {
    pub(super) fn new(router: &'a Router, protocol: Protocol, token: &str) -> Self {
        Self {
            router,
            protocol,
            token: Some(token.to_owned()),
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

    pub fn org(self, org_id: &str) -> Self {
        self.header("x-zitadel-orgid", org_id)
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Calls `/service/method` with `request`; the outer error is a test failure, the inner one the RPC's.
    pub async fn call<Req, Resp>(
        &self,
        service: &str,
        method: &str,
        request: &Req,
    ) -> Result<Result<Resp, RpcError>>
    where
        Req: Message + Serialize,
        Resp: Message + DeserializeOwned,
    {
        let answer = self.call_with_headers(service, method, request).await?;
        Ok(answer.map(|(message, _)| message))
    }

    /// `call`, with the response headers of a success.
    pub async fn call_with_headers<Req, Resp>(
        &self,
        service: &str,
        method: &str,
        request: &Req,
    ) -> Result<Result<(Resp, HeaderMap), RpcError>>
    where
        Req: Message + Serialize,
        Resp: Message + DeserializeOwned,
    {
        let body = match self.protocol {
            Protocol::ConnectJson => serde_json::to_vec(request)?,
            Protocol::ConnectProto => request.encode_to_vec(),
            Protocol::Grpc | Protocol::GrpcWeb => frame(0, &request.encode_to_vec()),
            Protocol::GrpcWebText => STANDARD
                .encode(frame(0, &request.encode_to_vec()))
                .into_bytes(),
        };
        let mut builder = Request::post(format!("/{service}/{method}"))
            .header("content-type", self.protocol.content_type());
        if self.protocol == Protocol::Grpc {
            builder = builder.header("te", "trailers");
        }
        if let Some(t) = &self.token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let response = self
            .router
            .clone()
            .oneshot(builder.body(Body::from(body))?)
            .await?;
        let http_status = response.status().as_u16();
        let headers = response.headers().clone();
        let collected = response.into_body().collect().await?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let bytes = collected.to_bytes().to_vec();
        match self.protocol {
            Protocol::ConnectJson | Protocol::ConnectProto => {
                connect_answer(self.protocol, http_status, headers, &bytes)
            }
            Protocol::Grpc => {
                // A trailers-only answer puts the status in the headers.
                let mut status = trailers;
                if status.get("grpc-status").is_none() {
                    status = headers.clone();
                }
                let (messages, _) = unframe(&bytes)?;
                grpc_answer(http_status, headers, status, messages)
            }
            Protocol::GrpcWeb | Protocol::GrpcWebText => {
                let bytes = if self.protocol == Protocol::GrpcWebText {
                    STANDARD.decode(&bytes).context("grpc-web-text body")?
                } else {
                    bytes
                };
                let (messages, trailer_block) = unframe(&bytes)?;
                let mut status = parse_trailer_block(trailer_block.as_deref().unwrap_or(b""))?;
                if status.get("grpc-status").is_none() {
                    status = headers.clone();
                }
                grpc_answer(http_status, headers, status, messages)
            }
        }
    }
}

fn frame(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// The messages of a body, and gRPC-web's trailer block if it has one.
type Unframed = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// Length-prefixed messages (and, for gRPC-web, the trailer frame with flag 0x80).
fn unframe(mut bytes: &[u8]) -> Result<Unframed> {
    let mut messages = vec![];
    let mut trailer = None;
    while !bytes.is_empty() {
        ensure!(bytes.len() >= 5, "truncated frame header");
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        ensure!(bytes.len() >= 5 + len, "truncated frame");
        let payload = bytes[5..5 + len].to_vec();
        if bytes[0] & 0x80 != 0 {
            trailer = Some(payload);
        } else {
            ensure!(bytes[0] == 0, "compressed frame not asked for");
            messages.push(payload);
        }
        bytes = &bytes[5 + len..];
    }
    Ok((messages, trailer))
}

fn parse_trailer_block(block: &[u8]) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for line in std::str::from_utf8(block)?.split("\r\n") {
        if let Some((k, v)) = line.split_once(':') {
            map.insert(
                axum::http::HeaderName::from_bytes(k.trim().to_ascii_lowercase().as_bytes())?,
                v.trim().parse()?,
            );
        }
    }
    Ok(map)
}

fn grpc_answer<Resp: Message>(
    http_status: u16,
    headers: HeaderMap,
    status: HeaderMap,
    messages: Vec<Vec<u8>>,
) -> Result<Result<(Resp, HeaderMap), RpcError>> {
    ensure!(
        http_status == 200,
        "gRPC answers HTTP 200, got {http_status}"
    );
    let code: u32 = status
        .get("grpc-status")
        .context("grpc-status is missing")?
        .to_str()?
        .parse()?;
    if code == 0 {
        ensure!(
            messages.len() == 1,
            "one response message, got {}",
            messages.len()
        );
        return Ok(Ok((Resp::decode_from_slice(&messages[0])?, headers)));
    }
    let message = status
        .get("grpc-message")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let mut error = RpcError {
        http_status,
        code,
        message: percent_decode(&message),
        error_id: None,
        retry_delay: None,
        headers,
    };
    if let Some(bin) = status.get("grpc-status-details-bin") {
        let bytes = STANDARD_NO_PAD
            .decode(bin.to_str()?.trim_end_matches('='))
            .context("grpc-status-details-bin is base64")?;
        let decoded = RpcStatusProto::decode_from_slice(&bytes)?;
        ensure!(
            decoded.code == code as i32,
            "details status code {} != {code}",
            decoded.code
        );
        for any in &decoded.details {
            read_detail(&mut error, &any.type_url, &any.value)?;
        }
    }
    Ok(Err(error))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn read_detail(error: &mut RpcError, type_url: &str, value: &[u8]) -> Result<()> {
    let name = type_url.rsplit('/').next().unwrap_or(type_url);
    match name {
        "zitadel.v1.ErrorDetail" => {
            error.error_id = Some(ErrorDetail::decode_from_slice(value)?.id);
        }
        "google.rpc.RetryInfo" => {
            let info = RetryInfo::decode_from_slice(value)?;
            error.retry_delay = info.retry_delay.as_option().map(|d| d.seconds);
        }
        other => bail!("unexpected error detail {other}"),
    }
    Ok(())
}

fn connect_answer<Resp: Message + DeserializeOwned>(
    protocol: Protocol,
    http_status: u16,
    headers: HeaderMap,
    body: &[u8],
) -> Result<Result<(Resp, HeaderMap), RpcError>> {
    if http_status == 200 {
        let message = match protocol {
            Protocol::ConnectJson => serde_json::from_slice(body)?,
            _ => Resp::decode_from_slice(body)?,
        };
        return Ok(Ok((message, headers)));
    }
    let json: serde_json::Value = serde_json::from_slice(body)
        .with_context(|| format!("a Connect error is JSON: {}", String::from_utf8_lossy(body)))?;
    let name = json["code"].as_str().context("code is a string")?;
    let code = name
        .parse::<connectrpc::ErrorCode>()
        .map_err(|_| anyhow::anyhow!("unknown code {name}"))?
        .grpc_code();
    let mut error = RpcError {
        http_status,
        code,
        message: json["message"].as_str().unwrap_or_default().to_owned(),
        error_id: None,
        retry_delay: None,
        headers,
    };
    for detail in json["details"].as_array().into_iter().flatten() {
        let value = STANDARD_NO_PAD.decode(
            detail["value"]
                .as_str()
                .context("detail value")?
                .trim_end_matches('='),
        )?;
        read_detail(
            &mut error,
            detail["type"].as_str().unwrap_or_default(),
            &value,
        )?;
    }
    Ok(Err(error))
}
