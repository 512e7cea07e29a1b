//! Routing as a whole: every documented route needs a valid token and is routed, unknown paths and methods, and a failing store.

use super::*;

#[tokio::test]
async fn every_route_needs_a_valid_token() {
    let app = app();
    let expired = format!("Bearer {}", token(ISSUER_KEY, now() - 3600));
    let forged = format!("Bearer {}", token(FORGER_KEY, now() + 600));
    for op in admin_operations() {
        let (method, path) = (op.method.as_str(), op.path_with("x1"));
        for auth in [
            None,
            Some("Bearer garbage"),
            Some(forged.as_str()),
            Some(expired.as_str()),
        ] {
            let r = send(&app, method, &path, Some(&json!({})), auth).await;
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}"
            );
            assert_eq!(r.headers()["www-authenticate"], "Bearer");
        }
    }
    // The preflight needs no token; CORS answers only the page's origin.
    let r = handle(&app, request("OPTIONS", "/v1/settings", None, None)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["access-control-allow-origin"], PAGE_ORIGIN);
    let mut other = request("OPTIONS", "/v1/settings", None, None);
    other
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let r = handle(&app, other).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// The routes under test: every operation of openapi.yaml that needs a token
/// (the admission API's two are public and belong to another function).
pub(super) fn admin_operations() -> Vec<openapi_check::Operation> {
    let ops: Vec<_> = openapi_check::spec()
        .operations()
        .into_iter()
        .filter(|o| o.secured)
        .collect();
    assert!(ops.len() >= 24, "openapi.yaml lists the admin routes");
    ops
}

/// Every documented route reaches a use case: with a valid token it is never
/// answered "no route" or "method not allowed" (it may be a 404 of the thing asked for).
#[tokio::test]
async fn every_documented_route_is_routed() {
    let app = app();
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    for op in admin_operations() {
        let path = op.path_with("x1");
        let r = send(&app, &op.method, &path, Some(&json!({})), Some(&auth)).await;
        let bytes: &[u8] = r.body();
        let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let message = v["message"].as_str().unwrap_or_default();
        assert!(
            r.status() != StatusCode::METHOD_NOT_ALLOWED && !message.starts_with("no route"),
            "{} {path}: {} {message}",
            op.method,
            r.status()
        );
    }
}

#[test]
fn path_segments() {
    assert_eq!(
        segments("/v1/devices/AB%2F1%20x").unwrap(),
        ["devices", "AB/1 x"]
    );
    assert_eq!(segments("/prod/v1/settings/").unwrap(), ["settings"]);
    assert!(segments("/v2/settings").is_none());
    assert!(segments("/v1/devices/%FF").is_none());
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = app();
    let (status, v) = call(&app, "GET", "/v1/nothing", None).await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _) = call(&app, "GET", "/v2/settings", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let r = send(&app, "DELETE", "/v1/settings", None, Some(&auth)).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET, PUT");
}

#[tokio::test]
async fn a_failing_store_answers_503_without_its_cause() {
    let app = app();
    app.ports
        .fail
        .store(true, std::sync::atomic::Ordering::Relaxed);
    for path in [
        "/v1/settings",
        "/v1/devices",
        "/v1/overview",
        "/v1/imports",
        "/v1/admission-denials",
    ] {
        let (status, v) = call(&app, "GET", path, None).await;
        assert_eq!(
            (status, error_of(&v).0),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "{path}"
        );
        assert!(
            !v["message"].as_str().unwrap().contains("purpose"),
            "the cause is logged, not shown"
        );
    }
}
