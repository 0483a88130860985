//! Rate limits per user and per client address (429 with `Retry-After`), and a bound on the
//! uploads in flight, so a burst of large uploads cannot exhaust memory or file handles.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk, Ready, ready};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use crate::config::GuardConfig;
use crate::error::ApiError;
use crate::http::AppState;
use crate::model::UserId;

/// Keys kept before limiters forget clients that have been quiet.
const FORGET_AFTER_KEYS: usize = 10_000;

pub struct Throttle {
    users: Option<DefaultKeyedRateLimiter<UserId>>,
    addresses: Option<DefaultKeyedRateLimiter<IpAddr>>,
    uploads: Arc<Semaphore>,
}

/// A limiter allowing `per_minute` requests, with bursts of ten seconds' worth.
fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new((per_minute / 6).max(1)).unwrap_or(NonZeroU32::MIN);
    Some(RateLimiter::keyed(
        Quota::per_minute(rate).allow_burst(burst),
    ))
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &Option<DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), ApiError> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    if limiter.len() > FORGET_AFTER_KEYS {
        limiter.retain_recent();
    }
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::RateLimited {
            retry_after_secs: wait.as_secs() + 1,
        }
    })
}

impl Throttle {
    pub fn new(config: &GuardConfig) -> Self {
        Self {
            users: limiter(config.user_per_minute),
            addresses: limiter(config.ip_per_minute),
            uploads: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
        }
    }

    /// Counts one request of `user`.
    pub fn check_user(&self, user: &UserId) -> Result<(), ApiError> {
        check(&self.users, user)
    }

    /// A slot for one upload, held until the upload is stored or failed.
    pub fn upload_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.uploads
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::RateLimited {
                retry_after_secs: 1,
            })
    }
}

/// Counts every request against its client address ([`AddressLimit`]).
#[derive(Clone)]
pub struct AddressLimitLayer {
    state: AppState,
}

impl AddressLimitLayer {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for AddressLimitLayer {
    type Service = AddressLimit<S>;

    fn layer(&self, inner: S) -> AddressLimit<S> {
        AddressLimit {
            state: self.state.clone(),
            inner,
        }
    }
}

/// Middleware: counts every request against its client address; past the limit the answer
/// is a 429 and the inner service is not called. Health probes are exempt so monitoring never
/// trips the limit. A tower service rather than `from_fn`, which boxes a clone of the inner
/// service and the future on every request.
#[derive(Clone)]
pub struct AddressLimit<S> {
    state: AppState,
    inner: S,
}

type Answer<B> = fn(axum::http::Response<B>) -> Response;

impl<S, B> Service<Request> for AddressLimit<S>
where
    S: Service<Request, Response = axum::http::Response<B>>,
    axum::http::Response<B>: IntoResponse,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, MapOk<S::Future, Answer<B>>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let exempt = request.uri().path().starts_with("/api/health");
        let address = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        if let (false, Some(address)) = (exempt, address)
            && let Err(error) = check(&self.state.throttle.addresses, &address)
        {
            return Either::Left(ready(Ok(error.into_response())));
        }
        let answer: Answer<B> = IntoResponse::into_response;
        Either::Right(self.inner.call(request).map_ok(answer))
    }
}
