//! Retrying a read-modify-write that lost a race. Every write checks the version it read
//! (optimistic concurrency), so a concurrent writer makes it fail with
//! [`StoreError::VersionMismatch`]; the writer then reads again and recomputes its change.
//! This is the one loop that does so, for every caller.

use std::future::Future;

use super::{StoreError, StoreResult};

/// What one attempt of a read-modify-write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    /// The write was made.
    Done(T),
    /// A concurrent writer changed what the attempt read: read again and recompute.
    Conflict,
}

impl<T> Attempt<T> {
    /// A store write's result as an attempt: a version mismatch means "read again".
    pub fn of_write(result: StoreResult<T>) -> StoreResult<Self> {
        match result {
            Ok(value) => Ok(Self::Done(value)),
            Err(StoreError::VersionMismatch) => Ok(Self::Conflict),
            Err(error) => Err(error),
        }
    }

    /// The same outcome with `done`'s value transformed.
    pub fn map<U>(self, transform: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Self::Done(value) => Attempt::Done(transform(value)),
            Self::Conflict => Attempt::Conflict,
        }
    }
}

/// Why [`retry_on_conflict`] gave up.
#[derive(Debug, PartialEq, Eq)]
pub enum RetryError<E> {
    /// Every attempt met a concurrent change; nothing was written.
    KeptColliding,
    /// An attempt failed for another reason; its error, unchanged.
    Failed(E),
}

impl<E> RetryError<E> {
    /// The caller's error, with `kept_colliding` standing for the attempts running out (each
    /// caller words its own 409).
    pub fn or_colliding(self, kept_colliding: impl FnOnce() -> E) -> E {
        match self {
            Self::KeptColliding => kept_colliding(),
            Self::Failed(error) => error,
        }
    }
}

/// Runs `step` (read, compute, write) until it is done, fails, or has met a conflict
/// `attempts` times.
pub async fn retry_on_conflict<T, E, F, Fut>(
    attempts: usize,
    mut step: F,
) -> Result<T, RetryError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, E>>,
{
    for _ in 0..attempts {
        match step().await.map_err(RetryError::Failed)? {
            Attempt::Done(value) => return Ok(value),
            Attempt::Conflict => continue,
        }
    }
    Err(RetryError::KeptColliding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_conflict_reads_again_until_the_write_is_made() {
        let mut calls = 0;
        let result: Result<u32, RetryError<()>> = retry_on_conflict(5, || {
            calls += 1;
            let attempt = if calls < 3 {
                Attempt::Conflict
            } else {
                Attempt::Done(calls)
            };
            async move { Ok(attempt) }
        })
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn running_out_of_attempts_is_told_apart_from_a_failure() {
        let mut calls = 0;
        let colliding: Result<(), RetryError<&str>> = retry_on_conflict(4, || {
            calls += 1;
            async { Ok(Attempt::Conflict) }
        })
        .await;
        assert_eq!(colliding, Err(RetryError::KeptColliding));
        assert_eq!(calls, 4);
        let failed: Result<(), RetryError<&str>> =
            retry_on_conflict(4, || async { Err("broken") }).await;
        assert_eq!(failed, Err(RetryError::Failed("broken")));
    }

    #[test]
    fn only_a_version_mismatch_is_a_conflict() {
        assert!(matches!(
            Attempt::<()>::of_write(Err(StoreError::VersionMismatch)),
            Ok(Attempt::Conflict)
        ));
        assert!(matches!(
            Attempt::<()>::of_write(Err(StoreError::NotFound)),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(Attempt::of_write(Ok(7)), Ok(Attempt::Done(7))));
    }
}
