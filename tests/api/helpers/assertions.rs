//! Assertions and small readers for responses and documents.

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// A response header as text (empty when missing).
pub fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|value| value.to_str().expect("header is text").to_owned())
        .unwrap_or_default()
}

/// The response body parsed as JSON.
pub async fn json_body(response: Response) -> Value {
    let text = response.text().await.expect("read the body");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("body is not JSON ({error}): {text}"))
}

/// Asserts the error envelope: `status`, `error.code`, a non-empty `error.message`.
/// Returns the whole body for further checks on `details`.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    let actual = response.status();
    let body = json_body(response).await;
    assert_eq!(actual, status, "unexpected status, body: {body}");
    assert_eq!(body["error"]["code"], code, "unexpected code in {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.trim().is_empty(),
        "error.message must be a non-empty string: {body}"
    );
    assert_details_shape(&body);
    body
}

/// `error.details` is always an array (never null, never an object) of objects that each
/// carry a string `field` and a string `message`.
pub fn assert_details_shape(body: &Value) {
    let details = body["error"]["details"]
        .as_array()
        .unwrap_or_else(|| panic!("error.details must be an array: {body}"));
    for detail in details {
        assert!(
            detail["field"].is_string() && detail["message"].is_string(),
            "each of error.details is {{field, message, ...}}: {body}"
        );
    }
}

/// Asserts that `error.details` is a list naming a field that starts with `field`
/// (so `tags` matches `tags` and `tags[0]`).
pub fn assert_detail_field(body: &Value, field: &str) {
    let details = body["error"]["details"].as_array();
    let named = details.into_iter().flatten().any(|detail| {
        let name = detail["field"].as_str().unwrap_or_default();
        name == field
            || name.starts_with(&format!("{field}["))
            || name.starts_with(&format!("{field}."))
    });
    assert!(
        named,
        "error.details should name the field `{field}`: {body}"
    );
}

/// The strings of a JSON array; a missing field or null counts as empty.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().expect("array of strings").to_owned())
            .collect(),
        other => panic!("expected an array of strings, got {other}"),
    }
}

/// The `id`s of a list page's `items`.
pub fn item_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("page has items")
        .iter()
        .map(|item| item["id"].as_str().expect("item id").to_owned())
        .collect()
}
