//! Message batches as MongoDB transactions: each attempt on a session of its own, a collision
//! (a `TransientTransactionError`) run again a bounded number of times, then given up as
//! `Contended` (409). A batch that names a message it then does not find was planned from
//! reads a concurrent writer has since changed (a swipe member deleted meanwhile, or a
//! transaction snapshot older than those reads): that is a `VersionMismatch`, so the caller
//! plans again from fresh reads. Only a chat that a read outside any transaction does not
//! find is `NotFound`: a 404 makes a client delete its copy.

use mongodb::ClientSession;
use uuid::Uuid;

use super::{MongoStore, errors};
use crate::model::{Collection, Document, UserId};
use crate::store::messages::MessageChange;
use crate::store::{StoreError, StoreResult};

/// The server's answer when transactions need a replica set.
const ILLEGAL_OPERATION: i32 = 20;

/// How many times a colliding message transaction is run before the write gives up (409).
const TRANSACTION_ATTEMPTS: u32 = 8;

impl MongoStore {
    pub async fn commit_messages(
        &self,
        user: &UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> StoreResult<Vec<Document>> {
        self.get(Collection::Chats, user, chat_id).await?;
        match changes.len() {
            0 => Ok(Vec::new()),
            1 => self.apply(user, chat_id, changes, &mut None).await,
            _ => match self.commit_batch(user, chat_id, changes).await {
                // Only the chat's absence, read outside any transaction, is a 404.
                Err(StoreError::NotFound) => {
                    Err(self.missed(Collection::Chats, user, chat_id).await)
                }
                other => other,
            },
        }
    }

    /// Several changes at once: in a transaction where the deployment has them, run again
    /// while it collides with another one.
    async fn commit_batch(
        &self,
        user: &UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> StoreResult<Vec<Document>> {
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let mut slot = Some(&mut session);
            let error = match self.apply(user, chat_id, changes.clone(), &mut slot).await {
                Ok(written) => match commit(&mut session).await {
                    Ok(()) => return Ok(written),
                    Err(error) => StoreError::from(error),
                },
                Err(StoreError::Internal(error)) if is_transactions_unsupported(&error) => {
                    let _ = session.abort_transaction().await;
                    return self.apply(user, chat_id, changes, &mut None).await;
                }
                Err(error) => {
                    let _ = session.abort_transaction().await;
                    error
                }
            };
            if !is_transient(&error) {
                return Err(error);
            }
            tracing::debug!(attempt, %chat_id, "a message transaction collided; running it again");
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(StoreError::Contended)
    }
}

fn is_transactions_unsupported(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<mongodb::error::Error>()
        .is_some_and(|error| errors::code_of(error) == Some(ILLEGAL_OPERATION))
        || error
            .to_string()
            .contains("Transaction numbers are only allowed")
}

/// Commits, retrying the commit alone while its outcome is unknown (a network blip during
/// the commit), as the server's transaction protocol allows.
async fn commit(session: &mut ClientSession) -> mongodb::error::Result<()> {
    let mut attempts = 0;
    loop {
        match session.commit_transaction().await {
            Err(error)
                if error.contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT)
                    && attempts < 3 =>
            {
                attempts += 1;
            }
            other => return other,
        }
    }
}

/// True when the server aborted a transaction that may succeed if run again.
fn is_transient(error: &StoreError) -> bool {
    match error {
        StoreError::Internal(error) => error
            .chain()
            .filter_map(|cause| cause.downcast_ref::<mongodb::error::Error>())
            .any(|error| {
                error.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
                    || errors::code_of(error) == Some(errors::WRITE_CONFLICT)
            }),
        _ => false,
    }
}

/// The pause before attempt `attempt + 1`: 5 ms doubling up to 320 ms, plus up to as much
/// again at random, so colliding writers spread out.
fn backoff(attempt: u32) -> std::time::Duration {
    let base = 5u64 << attempt.min(6);
    let jitter = u64::from(Uuid::new_v4().as_bytes()[0]) * base / 256;
    std::time::Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use mongodb::error::{CommandError, Error, ErrorKind};

    use super::*;

    fn command_error(code: i32) -> StoreError {
        let command: CommandError = serde_json::from_value(serde_json::json!({
            "code": code, "codeName": "X", "errmsg": "from the server"
        }))
        .expect("a command error from its wire form");
        StoreError::from(Error::from(ErrorKind::Command(command)))
    }

    #[test]
    fn collisions_are_run_again_and_other_failures_are_not() {
        assert!(is_transient(&command_error(errors::WRITE_CONFLICT)));
        assert!(!is_transient(&command_error(2)));
        assert!(!is_transient(&StoreError::NotFound));
    }
}
