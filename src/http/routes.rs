//! The route table: every route of the service is registered here ([`Routes::endpoint`])
//! together with its OpenAPI operation, so the router and `/api/openapi.json` are built from
//! one list and cannot drift apart. `Router::route` and friends are banned elsewhere
//! (`clippy.toml`), and `tests/api/openapi.rs` checks that no other file calls them, that the
//! document lists exactly this table, and that the router answers exactly the methods it lists.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use utoipa::openapi::path::Operation;
use utoipa::openapi::{HttpMethod, RefOr, Schema};

use crate::http::AppState;

/// One documented method of one path.
#[derive(Clone)]
pub struct RouteEntry {
    /// The path as axum and OpenAPI both write it, e.g. `/api/tags/{id}`.
    pub path: String,
    pub method: HttpMethod,
    pub operation: Operation,
}

/// What the document is built from: every route and the schemas their operations refer to.
#[derive(Clone, Default)]
pub struct RouteTable {
    pub entries: Vec<RouteEntry>,
    pub schemas: Vec<(String, RefOr<Schema>)>,
}

/// The handlers of one path, method by method, each with its operation.
pub struct Endpoint {
    router: MethodRouter<AppState>,
    operations: Vec<(HttpMethod, Operation)>,
}

macro_rules! method_constructors {
    ($($name:ident => $filter:ident, $method:ident;)*) => {
        $(
            #[doc = concat!("A `", stringify!($filter), "` handler and its operation.")]
            pub fn $name<H, T>(handler: H, operation: impl Into<Operation>) -> Self
            where
                H: Handler<T, AppState>,
                T: 'static,
            {
                Self {
                    router: on(MethodFilter::$filter, handler),
                    operations: vec![(HttpMethod::$method, operation.into())],
                }
            }
        )*
    };
}

impl Endpoint {
    method_constructors! {
        get => GET, Get;
        post => POST, Post;
        put => PUT, Put;
        patch => PATCH, Patch;
        delete => DELETE, Delete;
    }

    /// Adds the methods of `other` (each with its own layers) to this path.
    pub fn and(mut self, other: Endpoint) -> Self {
        self.router = self.router.merge(other.router);
        self.operations.extend(other.operations);
        self
    }

    /// Documents `HEAD`, which axum answers with the `GET` handler.
    pub fn with_head(mut self, operation: impl Into<Operation>) -> Self {
        self.operations.push((HttpMethod::Head, operation.into()));
        self
    }

    /// Wraps the handlers registered so far, e.g. in a body limit.
    pub fn map(
        mut self,
        wrap: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>,
    ) -> Self {
        self.router = wrap(self.router);
        self
    }
}

/// Routes under construction: the axum router and the table describing it.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    table: RouteTable,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handlers of `path`. The one place routes reach axum.
    #[allow(clippy::disallowed_methods)]
    pub fn endpoint(mut self, path: &str, endpoint: Endpoint) -> Self {
        self.router = self.router.route(path, endpoint.router);
        self.table
            .entries
            .extend(
                endpoint
                    .operations
                    .into_iter()
                    .map(|(method, operation)| RouteEntry {
                        path: path.to_owned(),
                        method,
                        operation,
                    }),
            );
        self
    }

    /// Adds schemas the operations refer to (`#/components/schemas/<name>`).
    pub fn schemas(mut self, schemas: impl IntoIterator<Item = (String, RefOr<Schema>)>) -> Self {
        self.table.schemas.extend(schemas);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.entries.extend(other.table.entries);
        self.table.schemas.extend(other.table.schemas);
        self
    }

    /// Wraps the routes registered so far (layers, route layers).
    pub fn map(mut self, wrap: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = wrap(self.router);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, RouteTable) {
        (self.router, self.table)
    }
}
