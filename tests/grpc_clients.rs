//! The real binary over real connections: the Connect project's own Rust client drives the phone flow over
//! gRPC (HTTP/2 cleartext, prior knowledge), gRPC-web and Connect (HTTP/1.1), and a reflection client lists
//! the services as grpcurl does before calling one. (The official ZITADEL SDKs are driven by
//! tests/official_clients.rs.)

#[path = "support/server.rs"]
mod server;

use connectrpc::client::{ClientConfig, HttpClient};
use connectrpc::{ConnectError, ErrorCode, Protocol};
use connectrpc_reflection::ServerReflectionClient;
use connectrpc_reflection::wire::v1 as reflection;
use phoneverify::rpc::proto::zitadel::user::v2 as user;
use phoneverify::rpc::proto::zitadel::user::v2::__buffa::oneof as user_oneof;
use phoneverify::rpc::proto::zitadel::v1::ErrorDetail;

use server::Server;

fn client(server: &Server, protocol: Protocol, token: &str) -> user::UserServiceClient<HttpClient> {
    let http = match protocol {
        Protocol::Grpc => HttpClient::plaintext_http2_only(),
        _ => HttpClient::plaintext(),
    };
    let config = ClientConfig::new(format!("http://127.0.0.1:{}", server.port).parse().unwrap())
        .with_protocol(protocol)
        .with_default_header("authorization", format!("Bearer {token}"));
    user::UserServiceClient::new(http, config)
}

fn error_id(e: &ConnectError) -> Option<String> {
    e.details.iter().find_map(|d| {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(d.value.as_deref()?.trim_end_matches('='))
            .ok()?;
        (d.type_url.ends_with("zitadel.v1.ErrorDetail"))
            .then(|| <ErrorDetail as buffa::Message>::decode_from_slice(&bytes).ok())
            .flatten()
            .map(|detail| detail.id)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_flow_over_grpc_grpc_web_and_connect_against_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let token = server.admin_token();
    for (i, protocol) in [Protocol::Grpc, Protocol::GrpcWeb, Protocol::Connect]
        .into_iter()
        .enumerate()
    {
        let users = client(&server, protocol, &token);
        let added = users
            .add_human_user(user::AddHumanUserRequest {
                username: Some(format!("ada{i}")),
                profile: user::SetHumanProfile {
                    given_name: "Ada".into(),
                    family_name: "Lovelace".into(),
                    ..Default::default()
                }
                .into(),
                email: user::SetHumanEmail {
                    email: format!("ada{i}@example.com"),
                    ..Default::default()
                }
                .into(),
                phone: user::SetHumanPhone {
                    phone: "+41791234567".into(),
                    verification: Some(user_oneof::set_human_phone::Verification::ReturnCode(
                        Box::default(),
                    )),
                    ..Default::default()
                }
                .into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{protocol:?} AddHumanUser: {e:?}"))
            .into_owned();
        let resent = users
            .resend_phone_code(user::ResendPhoneCodeRequest {
                user_id: added.user_id.clone(),
                verification: Some(
                    user_oneof::resend_phone_code_request::Verification::ReturnCode(Box::default()),
                ),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{protocol:?} ResendPhoneCode: {e:?}"))
            .into_owned();
        let code = resent.verification_code.expect("a returned code");
        assert_ne!(
            Some(&code),
            added.phone_code.as_ref(),
            "{protocol:?}: a new code"
        );
        users
            .verify_phone(user::VerifyPhoneRequest {
                user_id: added.user_id.clone(),
                verification_code: code,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{protocol:?} VerifyPhone: {e:?}"));
        let got = users
            .get_user_by_id(user::GetUserByIDRequest {
                user_id: added.user_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{protocol:?} GetUserByID: {e:?}"))
            .into_owned();
        let verified = match got.user.as_option().and_then(|u| u.r#type.as_ref()) {
            Some(user_oneof::user::Type::Human(h)) => h.phone.as_option().map(|p| p.is_verified),
            _ => None,
        };
        assert_eq!(verified, Some(true), "{protocol:?}");

        let unknown = users
            .resend_phone_code(user::ResendPhoneCodeRequest {
                user_id: "4711".into(),
                ..Default::default()
            })
            .await
            .expect_err("an unknown user");
        assert_eq!(
            unknown.code,
            ErrorCode::NotFound,
            "{protocol:?}: {unknown:?}"
        );
        assert_eq!(
            error_id(&unknown).as_deref(),
            Some("COMMAND-ieJ2e"),
            "{protocol:?}: {unknown:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflection_client_lists_the_services_then_calls_resend() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let config = ClientConfig::new(format!("http://127.0.0.1:{}", server.port).parse().unwrap())
        .with_protocol(Protocol::Grpc);
    let reflect = ServerReflectionClient::new(HttpClient::plaintext_http2_only(), config);
    let mut stream = reflect
        .server_reflection_info()
        .await
        .expect("a reflection stream");
    stream
        .send(reflection::ServerReflectionRequest {
            message_request: Some(
                reflection::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
            ..Default::default()
        })
        .await
        .expect("sent");
    stream.close_send();
    let answer = stream
        .message::<reflection::ServerReflectionResponse>()
        .await
        .expect("an answer")
        .expect("one message")
        .to_owned_message();
    let names: Vec<String> = match answer.message_response {
        Some(reflection::server_reflection_response::MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("a service list, got {other:?}"),
    };
    for service in phoneverify::rpc::SERVICES {
        assert!(names.iter().any(|n| n == service), "{service} in {names:?}");
    }
    // The listed user service answers: a resend for an unknown user is NotFound.
    let users = client(&server, Protocol::Grpc, &server.admin_token());
    let e = users
        .resend_phone_code(user::ResendPhoneCodeRequest {
            user_id: "4711".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown user");
    assert_eq!(e.code, ErrorCode::NotFound);
}
