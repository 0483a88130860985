//! [`Api`]: a small HTTP client that knows the API's conventions and fails the test on
//! any 5xx outside the health routes ("never a 5xx anywhere").

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::{header, json_body, token_for};

/// A cheap, cloneable client for one app, optionally acting as one JWT user.
#[derive(Clone)]
pub struct Api {
    pub address: String,
    pub client: reqwest::Client,
    pub token: Option<String>,
}

impl Api {
    /// A client for the app listening on `port` of the loopback address.
    pub fn new(port: u16) -> Api {
        Api::at(format!("http://127.0.0.1:{port}"))
    }

    /// A client for the app at `address` (`http://host:port`).
    pub fn at(address: String) -> Api {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("build the HTTP client");
        Api {
            address,
            client,
            token: None,
        }
    }

    /// The same app, with requests signed as `user` (HS256 with [`TEST_JWT_SECRET`]).
    pub fn as_user(&self, user: &str) -> Api {
        self.with_token(&token_for(user))
    }

    /// The same app, with this bearer token on every request.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// A request to `path` (which starts with `/api`), with the bearer token if any.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self
            .client
            .request(method, format!("{}{path}", self.address));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends a request; panics on transport errors and on any 5xx outside `/api/health`.
    pub async fn send(&self, builder: RequestBuilder) -> Response {
        self.try_send(builder).await.expect("send the request")
    }

    /// Like [`Api::send`] but transport errors are returned (for tests that kill the server).
    pub async fn try_send(&self, builder: RequestBuilder) -> reqwest::Result<Response> {
        let request = builder.build()?;
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let response = self.client.execute(request).await?;
        if response.status().is_server_error() && !path.starts_with("/api/health") {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            panic!("{method} {path} answered {status} (never a 5xx): {body}");
        }
        Ok(response)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// A JSON merge patch (`application/merge-patch+json`).
    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send(merge_patch(self.request(Method::PATCH, path), body))
            .await
    }

    /// A JSON merge patch sent with `If-Match: <if_match>` (pass the header value verbatim).
    pub async fn patch_if_match(&self, path: &str, body: &Value, if_match: &str) -> Response {
        let builder = self
            .request(Method::PATCH, path)
            .header("if-match", if_match);
        self.send(merge_patch(builder, body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// Creates a document, asserting 201, `Location`, `ETag: "1"`; returns the document.
    pub async fn create(&self, collection: &str, body: Value) -> Value {
        let response = self.post(&format!("/api/{collection}"), &body).await;
        let status = response.status();
        let headers = response.headers().clone();
        let document = json_body(response).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "create {collection} {body}: {document}"
        );
        let id = document["id"]
            .as_str()
            .expect("created document has a string id");
        assert_eq!(
            header(&headers, "location"),
            format!("/api/{collection}/{id}")
        );
        assert_eq!(header(&headers, "etag"), "\"1\"");
        assert_eq!(document["version"], 1);
        document
    }

    /// Reads a document, asserting 200 and an `ETag` matching its version.
    pub async fn read(&self, collection: &str, id: &str) -> Value {
        let response = self.get(&format!("/api/{collection}/{id}")).await;
        let status = response.status();
        let etag = header(response.headers(), "etag");
        let document = json_body(response).await;
        assert_eq!(status, StatusCode::OK, "read {collection}/{id}: {document}");
        assert_eq!(etag, format!("\"{}\"", document["version"]));
        document
    }

    /// The `items` of one list page at `path_and_query`, asserting 200.
    pub async fn list(&self, path_and_query: &str) -> Value {
        let response = self.get(path_and_query).await;
        let status = response.status();
        let page = json_body(response).await;
        assert_eq!(status, StatusCode::OK, "list {path_and_query}: {page}");
        page
    }
}

fn merge_patch(builder: RequestBuilder, body: &Value) -> RequestBuilder {
    builder
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
}
