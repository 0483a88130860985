//! The fast path of image variants: a variant found or made once is served from what the
//! server remembers of it, without asking the blob store. It must never outlive its original:
//! deleting the file forgets it, another user never reaches it, and the same bytes uploaded
//! again get their variant made anew. Runs on the blob backend under test.

use reqwest::{Method, StatusCode};

use crate::helpers::images;
use crate::helpers::{Api, header, spawn_app_with, spawn_jwt_app};

/// Uploads `bytes` and returns the file id.
async fn upload(api: &Api, bytes: &[u8], name: &str) -> String {
    let file = api.upload(bytes, name, None).await;
    file["id"].as_str().unwrap().to_owned()
}

/// `method path`: status and `X-Variant-Cache`.
async fn ask(api: &Api, method: Method, path: &str) -> (StatusCode, String) {
    let response = api.send(api.request(method, path)).await;
    let cache = header(response.headers(), "x-variant-cache");
    (response.status(), cache)
}

#[tokio::test]
async fn a_known_variant_goes_with_its_file_and_stays_its_owners() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    let bytes = images::jpeg(&images::halves(400, 300));
    let id = upload(&alice, &bytes, "avatar.jpg").await;
    let path = |id: &str| format!("/api/files/{id}?w=64&h=64&format=png");
    assert_eq!(
        ask(&alice, Method::GET, &path(&id)).await,
        (StatusCode::OK, "miss".to_owned())
    );
    let first = alice.get(&path(&id)).await;
    assert_eq!(header(first.headers(), "x-variant-cache"), "hit");
    let first = first.bytes().await.unwrap();
    // Known to the server, still only to its owner.
    for method in [Method::GET, Method::HEAD] {
        assert_eq!(ask(&bob, method, &path(&id)).await.0, StatusCode::NOT_FOUND);
    }

    assert_eq!(
        alice.delete(&format!("/api/files/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    for method in [Method::GET, Method::HEAD] {
        assert_eq!(
            ask(&alice, method, &path(&id)).await.0,
            StatusCode::NOT_FOUND
        );
    }
    assert!(app.blobs().keys_under("variants/").await.is_empty());

    // The same bytes under a new id: the variant the server knew is gone, so even a HEAD
    // (which reads no bytes) finds it missing and makes it again.
    let again = upload(&alice, &bytes, "again.jpg").await;
    assert_ne!(again, id);
    assert_eq!(
        ask(&alice, Method::HEAD, &path(&again)).await,
        (StatusCode::OK, "miss".to_owned())
    );
    let response = alice.get(&path(&again)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "x-variant-cache"), "hit");
    assert_eq!(response.bytes().await.unwrap(), first);
}

#[tokio::test]
async fn a_known_variant_deleted_behind_the_servers_back_is_made_again() {
    // Without the blob cache, a known variant is read from the store, where `quillstore gc`
    // run beside the server (or an operator) may have removed it.
    let app = spawn_app_with(|raw| raw.blob_cache_bytes = Some("0".into())).await;
    let id = upload(&app, &images::jpeg(&images::halves(400, 300)), "a.jpg").await;
    let path = format!("/api/files/{id}?w=64&format=png");
    assert_eq!(
        ask(&app, Method::GET, &path).await,
        (StatusCode::OK, "miss".to_owned())
    );
    let first = app.get(&path).await;
    assert_eq!(header(first.headers(), "x-variant-cache"), "hit");
    let first = first.bytes().await.unwrap();
    let stored = app.blobs().keys_under("variants/").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    app.blobs().remove_raw(&stored[0]).await;
    let again = app.get(&path).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(header(again.headers(), "x-variant-cache"), "miss");
    assert_eq!(again.bytes().await.unwrap(), first);
}
