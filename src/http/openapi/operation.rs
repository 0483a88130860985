//! [`Op`]: a small builder for the OpenAPI operation of one route, knowing the API's
//! conventions: bearer auth unless public, UUID ids in paths, `If-Match`, JSON bodies, documents
//! with `ETag`, and the error envelope on every error status the route can answer.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr, Required, Schema};

use super::schemas::{reference, string, uuid};

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `Authorization: Bearer <token>` (in `AUTH_MODE=jwt`).
    User,
    /// Anyone.
    Public,
    /// The bearer token, or a signed link in the query.
    UserOrSignedLink,
    /// `METRICS_TOKEN` as a bearer token.
    Metrics,
}

/// The operation of one method of one route.
pub struct Op {
    builder: OperationBuilder,
    access: Access,
    responses: BTreeMap<u16, RefOr<Response>>,
}

/// The reusable response of an error status (see `components.responses`).
pub fn error_response(status: u16) -> RefOr<Response> {
    let name = super::ERROR_RESPONSES
        .iter()
        .find(|(code, ..)| *code == status)
        .map_or_else(
            || panic!("no error response is defined for {status}"),
            |(_, name, _)| *name,
        );
    Ref::new(format!("#/components/responses/{name}")).into()
}

/// A response whose body is JSON of `schema`.
pub fn json_response(description: &str, schema: impl Into<RefOr<Schema>>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
}

fn header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(string()))
        .description(Some(description))
        .build()
}

impl Op {
    /// A user operation named `id` (unique in the document), listed under `tag`.
    pub fn new(id: impl Into<String>, tag: &str, summary: impl Into<String>) -> Self {
        Self {
            builder: OperationBuilder::new()
                .operation_id(Some(id))
                .tag(tag)
                .summary(Some(summary)),
            access: Access::User,
            responses: BTreeMap::new(),
        }
    }

    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.builder = self.builder.description(Some(description));
        self
    }

    /// A UUID path parameter naming a document of the caller (400 when malformed, 404 when
    /// the caller has none with this id).
    pub fn path_id(self, name: &str, description: &str) -> Self {
        self.path(name, uuid(), description).errors(&[400, 404])
    }

    /// A path parameter (400 when it cannot be read).
    pub fn path(mut self, name: &str, schema: impl Into<RefOr<Schema>>, description: &str) -> Self {
        self.builder = self.builder.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(schema)),
        );
        self.errors(&[400])
    }

    /// An optional query parameter (400 when its value is bad).
    pub fn query(
        mut self,
        name: &str,
        schema: impl Into<RefOr<Schema>>,
        description: &str,
    ) -> Self {
        self.builder = self.builder.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema)),
        );
        self.errors(&[400])
    }

    /// An optional request header whose values match `pattern`, when given.
    pub fn header(mut self, name: &str, pattern: Option<&str>, description: &str) -> Self {
        self.builder = self.builder.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(string().pattern(pattern))),
        );
        self
    }

    /// `If-Match` for optimistic concurrency: 412 when stale, 400 when malformed.
    pub fn if_match(self) -> Self {
        self.header(
            "If-Match",
            Some(r#"^(\*|(W/)?"[0-9]{1,18}")$"#),
            "the version the write expects, as the ETag `\"<version>\"` (also `W/\"<version>\"` \
             or `*`); without it the write applies to the current version",
        )
        .errors(&[400, 412])
    }

    pub fn body(mut self, body: RequestBody) -> Self {
        self.builder = self.builder.request_body(Some(body));
        self
    }

    /// A JSON object body of `schema`: 400 (malformed, unknown or server-owned fields), 408
    /// (the body stalled), 413, 415 (not JSON), 422 (rules).
    pub fn json_body(self, schema: impl Into<RefOr<Schema>>, required: bool) -> Self {
        let required = if required {
            Required::True
        } else {
            Required::False
        };
        let body = RequestBodyBuilder::new()
            .required(Some(required))
            .content("application/json", Content::new(Some(schema)))
            .build();
        self.body(body).errors(&[400, 408, 413, 415, 422])
    }

    /// A JSON merge patch (RFC 7396) of the schema named `patch`.
    pub fn merge_patch_body(self, patch: &str) -> Self {
        let body = RequestBodyBuilder::new()
            .required(Some(Required::True))
            .content(
                "application/merge-patch+json",
                Content::new(Some(reference(patch))),
            )
            .content("application/json", Content::new(Some(reference(patch))))
            .build();
        self.body(body).errors(&[400, 408, 413, 415, 422])
    }

    pub fn response(mut self, status: u16, response: impl Into<RefOr<Response>>) -> Self {
        self.responses.insert(status, response.into());
        self
    }

    /// A JSON response of `schema`.
    pub fn json(self, status: u16, description: &str, schema: impl Into<RefOr<Schema>>) -> Self {
        self.response(status, json_response(description, schema))
    }

    /// A document of the schema named `schema`, with its `ETag` (and `Location` when created).
    pub fn document(self, status: u16, description: &str, schema: &str) -> Self {
        let mut response = json_response(description, reference(schema))
            .header("ETag", header("`\"<version>\"` of the document"));
        if status == 201 {
            response = response.header("Location", header("the path of the new document"));
        }
        self.response(status, response)
    }

    /// Links from the `status` response to operations that can use what it returned:
    /// `(operation id, [(parameter, runtime expression)])`, e.g. the new document's id.
    pub fn links(mut self, status: u16, links: &[(&str, &[(&str, &str)])]) -> Self {
        if let Some(RefOr::T(response)) = self.responses.get_mut(&status) {
            for (operation, parameters) in links {
                let link = parameters.iter().fold(
                    LinkBuilder::new().operation_id(*operation),
                    |link, (name, expression)| link.parameter(*name, *expression),
                );
                response
                    .links
                    .insert((*operation).to_owned(), link.build().into());
            }
        }
        self
    }

    /// A response without a body.
    pub fn empty(self, status: u16, description: &str) -> Self {
        self.response(status, ResponseBuilder::new().description(description))
    }

    /// Error statuses this operation can answer, each with the error envelope.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        for status in statuses {
            self.responses
                .entry(*status)
                .or_insert_with(|| error_response(*status));
        }
        self
    }
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        let (auth_errors, schemes): (&[u16], &[&str]) = match op.access {
            Access::Public => (&[], &[]),
            Access::User => (&[401], &["bearerAuth"]),
            Access::UserOrSignedLink => (&[401], &["bearerAuth", "signedLink"]),
            Access::Metrics => (&[401, 404], &["metricsToken"]),
        };
        // Any request can be throttled (429) or hit a bug (500); a store or a time limit can
        // fail it (503).
        let op = op.errors(auth_errors).errors(&[429, 500, 503]);
        let mut builder = op.builder;
        for scheme in schemes {
            builder = builder.security(SecurityRequirement::new(*scheme, Vec::<String>::new()));
        }
        for (status, response) in op.responses {
            builder = builder.response(status.to_string(), response);
        }
        builder.build()
    }
}
