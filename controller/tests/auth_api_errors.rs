//! API errors (JSON shape, status, headers, conversions from auth errors and axum rejections)
//! and the OpenAPI document's frame (security schemes, error schema, served JSON).

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::FromRequest;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use hotspot_controller::api::error::{ApiError, ErrorBody, ErrorCode};
use hotspot_controller::api::openapi;
use hotspot_controller::auth::csrf::CsrfError;
use hotspot_controller::auth::password::PasswordPolicyError;
use hotspot_controller::auth::roles::Forbidden;
use hotspot_controller::auth::token::SessionError;
use serde_json::{Value, json};

async fn answer(e: ApiError) -> (StatusCode, axum::http::HeaderMap, Value) {
    let r = e.into_response();
    let status = r.status();
    let headers = r.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let body = to_bytes(r.into_body(), 1 << 20).await.unwrap();
    (status, headers, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn body_shape_and_status_per_code() {
    let cases = [
        (ApiError::unauthorized(), 401, "unauthorized"),
        (ApiError::invalid_credentials(), 401, "invalid_credentials"),
        (ApiError::forbidden("admins only"), 403, "forbidden"),
        (ApiError::not_found("router 7"), 404, "not_found"),
        (
            ApiError::validation("count must be 1 to 10000"),
            422,
            "validation_failed",
        ),
        (ApiError::conflict("name taken"), 409, "conflict"),
        (
            ApiError::site_offline("site 3 is offline"),
            503,
            "site_offline",
        ),
        (
            ApiError::router_error("failure: already have user"),
            502,
            "router_error",
        ),
        (
            ApiError::payload_too_large(262_144),
            413,
            "payload_too_large",
        ),
        (ApiError::bad_request("bad JSON"), 400, "bad_request"),
        (
            ApiError::new(ErrorCode::Timeout, "agent did not answer"),
            504,
            "timeout",
        ),
    ];
    for (e, status, code) in cases {
        let message = e.message().to_owned();
        let (s, _, body) = answer(e).await;
        assert_eq!(s.as_u16(), status, "{code}");
        assert_eq!(body["error"]["code"], code);
        assert_eq!(body["error"]["message"], message.as_str());
        let keys: Vec<&String> = body["error"].as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["code", "message", "details"].contains(&k.as_str()))
        );
        assert_eq!(
            body.as_object().unwrap().len(),
            1,
            "only `error` at the top"
        );
    }
    let (_, _, body) = answer(ApiError::not_found("router 7")).await;
    assert!(
        body["error"].get("details").is_none(),
        "no details key when there are none"
    );
    assert_eq!(body["error"]["message"], "router 7 not found");
    let (_, _, body) = answer(ApiError::invalid_field("count", "must be 1 to 10000")).await;
    assert_eq!(body["error"]["details"], json!({"field": "count"}));
    // The body deserialises into the published schema type.
    let parsed: ErrorBody = serde_json::from_value(body).unwrap();
    assert_eq!(parsed.error.code, ErrorCode::ValidationFailed);
}

#[tokio::test]
async fn throttled_sets_retry_after_rounded_up() {
    let (s, h, body) = answer(ApiError::throttled(Duration::from_millis(59_200))).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h[header::RETRY_AFTER], "60");
    assert_eq!(body["error"]["code"], "throttled");
    assert_eq!(body["error"]["details"]["retry_after_secs"], 60);
    let (_, h, _) = answer(ApiError::throttled(Duration::ZERO)).await;
    assert_eq!(h[header::RETRY_AFTER], "1");
}

#[tokio::test]
async fn unauthorized_says_how_to_authenticate() {
    let (_, h, _) = answer(ApiError::unauthorized()).await;
    assert_eq!(
        h[header::WWW_AUTHENTICATE],
        "Bearer realm=\"hotspot-fleet\""
    );
    let (_, h, _) = answer(ApiError::forbidden("no")).await;
    assert!(h.get(header::WWW_AUTHENTICATE).is_none());
}

#[tokio::test]
async fn internal_errors_show_only_an_error_id() {
    let secret =
        "storage failed: I/O error at /var/lib/hotspot/ledger.redb: router password hunter2";
    let (s, _, body) = answer(ApiError::internal(secret)).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let text = body.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("ledger.redb"),
        "{text}"
    );
    let id = body["error"]["details"]["error_id"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(body["error"]["message"].as_str().unwrap().contains(id));
}

#[tokio::test]
async fn auth_errors_convert_to_their_codes() {
    let cases: [(ApiError, u16, &str); 6] = [
        (SessionError::Missing.into(), 401, "unauthorized"),
        (
            SessionError::IdleTimeout { idle_mins: 60 }.into(),
            401,
            "unauthorized",
        ),
        (SessionError::WrongKind.into(), 401, "unauthorized"),
        (CsrfError::MissingToken.into(), 403, "csrf_failed"),
        (
            Forbidden("listing all vouchers needs a super admin").into(),
            403,
            "forbidden",
        ),
        (
            PasswordPolicyError::TooShort { found: 3 }.into(),
            422,
            "validation_failed",
        ),
    ];
    for (e, status, code) in cases {
        assert_eq!(
            (e.status().as_u16(), e.code().as_str()),
            (status, code),
            "{e}"
        );
    }
    let e: ApiError = PasswordPolicyError::OneRepeatedCharacter.into();
    assert_eq!(e.details(), Some(&json!({"field": "password"})));
    let e: ApiError = SessionError::IdleTimeout { idle_mins: 60 }.into();
    assert!(e.message().contains("60 minutes"), "{}", e.message());
}

#[test]
fn code_strings_match_their_serialisation() {
    use ErrorCode::*;
    for c in [
        BadRequest,
        Unauthorized,
        InvalidCredentials,
        Forbidden,
        CsrfFailed,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        Throttled,
        Internal,
        RouterError,
        SiteOffline,
        Timeout,
    ] {
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        assert!(c.status().is_client_error() || c.status().is_server_error());
    }
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Generate {
    count: u32,
}

async fn json_rejection(content_type: Option<&str>, body: &'static str) -> ApiError {
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/tokens/generate");
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let req = req.body(Body::from(body)).unwrap();
    match axum::Json::<Generate>::from_request(req, &()).await {
        Ok(_) => panic!("{body:?} should be refused"),
        Err(r) => r.into(),
    }
}

#[tokio::test]
async fn axum_json_rejections_become_api_errors() {
    let e = json_rejection(Some("application/json"), "{not json").await;
    assert_eq!(e.code(), ErrorCode::BadRequest);
    let e = json_rejection(Some("application/json"), r#"{"count":"many"}"#).await;
    assert_eq!(e.code(), ErrorCode::ValidationFailed);
    assert!(e.message().contains("count"), "{}", e.message());
    let e = json_rejection(None, r#"{"count":1}"#).await;
    assert_eq!(e.code(), ErrorCode::UnsupportedMediaType);
}

#[test]
fn openapi_document_has_security_schemes_and_the_error_schema() {
    let doc = serde_json::to_value(openapi::document()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "hotspot-fleet controller API");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["type"], "apiKey");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "__Host-hf_session");
    assert_eq!(schemes["csrf"]["in"], "header");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["ErrorBody"]["properties"]["error"].is_object());
    let codes = schemas["ErrorCode"]["enum"].as_array().unwrap();
    assert!(codes.contains(&json!("site_offline")) && codes.contains(&json!("csrf_failed")));
    assert_eq!(doc["security"], json!([{"bearer": []}, {"cookie": []}]));
}

#[tokio::test]
async fn openapi_json_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (router, doc) = openapi::router::<()>().split_for_parts();
    let app = router.merge(openapi::serve(&doc).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    server.abort();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let served: Value = serde_json::from_str(body).unwrap();
    assert_eq!(served, serde_json::to_value(&doc).unwrap());
}
