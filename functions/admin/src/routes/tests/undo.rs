//! Undoing an import from the console.

use super::*;

#[tokio::test]
async fn an_undo_is_asked_for_once_dry_run_first_and_its_state_read_back() {
    let app = app();
    for (id, status) in [
        ("done", ImportStatus::Completed),
        ("busy", ImportStatus::Writing),
        ("bad", ImportStatus::Rejected),
    ] {
        app.ports.imports.lock().unwrap().push(import(
            id,
            &format!("imports/{id}.csv"),
            status,
            "2026-11-01T00:00:00Z",
        ));
    }
    let (status, _) = call(&app, "GET", "/v1/imports/done/undo", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing asked yet");
    let (status, v) = call(
        &app,
        "POST",
        "/v1/imports/done/undo",
        Some(json!({"dry_run": true})),
    )
    .await;
    assert_eq!(
        (status, v["dry_run"].as_bool(), v["status"].as_str()),
        (StatusCode::ACCEPTED, Some(true), Some("queued")),
        "{v}"
    );
    assert_eq!(v["requested_by"], "ada");
    let (status, _) = call(
        &app,
        "POST",
        "/v1/imports/done/undo",
        Some(json!({"dry_run": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the running dry run answers");
    let (status, v) = call(&app, "POST", "/v1/imports/done/undo", None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "not while the dry run counts: {v}"
    );
    assert_eq!(*app.ports.undo.undo_requests.lock().unwrap(), ["done"]);

    // The dry run answered: the undo itself is queued, once.
    {
        let mut undos = app.ports.undo.undos.lock().unwrap();
        undos.get_mut("done").unwrap().status = shared::undo::UndoStatus::Done;
    }
    let (status, v) = call(&app, "POST", "/v1/imports/done/undo", Some(json!({}))).await;
    assert_eq!(
        (status, v["dry_run"].as_bool()),
        (StatusCode::ACCEPTED, Some(false)),
        "{v}"
    );
    let (status, _) = call(&app, "POST", "/v1/imports/done/undo", None).await;
    assert_eq!(status, StatusCode::OK, "asked again: the same undo");
    assert_eq!(app.ports.undo.undo_requests.lock().unwrap().len(), 2);
    let v = get(&app, "/v1/imports/done/undo").await;
    assert_eq!(
        (v["dry_run"].as_bool(), v["status"].as_str()),
        (Some(false), Some("queued"))
    );

    for (id, code) in [
        ("busy", StatusCode::CONFLICT),
        ("bad", StatusCode::CONFLICT),
        ("none", StatusCode::NOT_FOUND),
    ] {
        let (status, v) = call(
            &app,
            "POST",
            &format!("/v1/imports/{id}/undo"),
            Some(json!({"dry_run": true})),
        )
        .await;
        assert_eq!(status, code, "{id}: {v}");
    }
    let (status, v) = call(
        &app,
        "POST",
        "/v1/imports/done/undo",
        Some(json!({"dry": true})),
    )
    .await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );
}
