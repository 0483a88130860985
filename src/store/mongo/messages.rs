//! Messages in MongoDB: one document per message in `messages`, unique on
//! `{chatId, seq, swipeIndex}`. `seq` comes from an atomic `$inc` of the chat's `lastSeq`, so
//! concurrent appenders never share one. A batch runs in a transaction where the deployment
//! supports them (replica sets, Atlas) and as ordered, version-checked writes on a standalone
//! server. The chat's `messageCount` and `lastMessageAt` are kept up to date by each batch.

use futures_util::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::{self, doc};
use mongodb::options::ReturnDocument;
use uuid::Uuid;

use super::convert::{from_bson, integer, to_bson};
use super::{MongoStore, errors};
use crate::model::message::Placement;
use crate::model::{Collection, Document, Timestamp, UserId};
use crate::store::messages::{
    ChatStats, Edited, MessageChange, MessagePage, MessageQuery, MessageStamp,
};
use crate::store::{StoreError, StoreResult};

/// Runs a driver action inside the session when there is one.
macro_rules! in_session {
    ($action:expr, $session:expr) => {
        match $session.as_deref_mut() {
            Some(session) => $action.session(session).await,
            None => $action.await,
        }
    };
}

/// A message insert whose position (`chatId`, `seq`, `swipeIndex`) is already taken lost a
/// race with a concurrent writer (`lastSeq` is bumped atomically, so on mongod this needs a
/// store that broke that guarantee): the client retries (409), never a 500.
fn position_taken(error: mongodb::error::Error) -> StoreError {
    if super::errors::is_duplicate_key(&error) {
        tracing::warn!(error = %error, "a message position was taken by a concurrent writer");
        StoreError::Contended
    } else {
        StoreError::from(error)
    }
}

impl MongoStore {
    fn chat_filter(user: &UserId, chat_id: Uuid) -> bson::Document {
        doc! { "userId": user.as_str(), "id": chat_id.to_string() }
    }

    fn message_filter(user: &UserId, chat_id: Uuid) -> bson::Document {
        doc! { "userId": user.as_str(), "chatId": chat_id.to_string() }
    }

    /// Applies a batch, in `session` when there is one; a miss is `NotFound`.
    pub(super) async fn apply(
        &self,
        user: &UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
        session: &mut Option<&mut ClientSession>,
    ) -> StoreResult<Vec<Document>> {
        let messages = self.collection(Collection::Messages);
        let chats = self.collection(Collection::Chats);
        let stamp = MessageStamp::new(user, chat_id);
        let positions = changes
            .iter()
            .filter(|change| matches!(change, MessageChange::Append { .. }))
            .count() as i64;
        let mut next_seq = 0;
        if positions > 0 {
            let bump = chats
                .find_one_and_update(
                    Self::chat_filter(user, chat_id),
                    doc! { "$inc": { "lastSeq": positions } },
                )
                .return_document(ReturnDocument::After);
            let chat = in_session!(bump, session)?.ok_or(StoreError::NotFound)?;
            next_seq = integer(&chat, "lastSeq")
                .ok_or_else(|| anyhow::anyhow!("the chat's lastSeq is not an integer"))?
                - positions;
        }
        let mut written = Vec::new();
        let mut visible_delta: i64 = 0;
        let mut removed_visible = false;
        for change in changes {
            match change {
                MessageChange::Append { members } => {
                    next_seq += 1;
                    for body in members {
                        let message = stamp.new_message(body, next_seq as u64);
                        visible_delta += i64::from(Placement::of(&message.body).visible);
                        let insert = messages.insert_one(to_bson(Collection::Messages, &message)?);
                        in_session!(insert, session).map_err(position_taken)?;
                        written.push(message);
                    }
                }
                MessageChange::Insert { seq, body } => {
                    let mut position = Self::message_filter(user, chat_id);
                    position.insert("seq", seq as i64);
                    if in_session!(messages.find_one(position), session)?.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    let message = stamp.new_message(body, seq);
                    visible_delta += i64::from(Placement::of(&message.body).visible);
                    match in_session!(
                        messages.insert_one(to_bson(Collection::Messages, &message)?),
                        session
                    ) {
                        Ok(_) => written.push(message),
                        Err(error) if errors::is_duplicate_key(&error) => {
                            return Err(StoreError::VersionMismatch);
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
                MessageChange::Replace {
                    id,
                    expected_version,
                    body,
                } => {
                    let current = self.current_message(user, chat_id, id, session).await?;
                    if current.version != expected_version {
                        return Err(StoreError::VersionMismatch);
                    }
                    let message = stamp.edited_message(Edited::of(&current), body)?;
                    let (before, after) =
                        (Placement::of(&current.body), Placement::of(&message.body));
                    visible_delta += i64::from(after.visible) - i64::from(before.visible);
                    removed_visible |= before.visible && !after.visible;
                    let mut filter = Self::message_filter(user, chat_id);
                    filter.insert("id", id.to_string());
                    filter.insert("version", expected_version as i64);
                    let replace =
                        messages.replace_one(filter, to_bson(Collection::Messages, &message)?);
                    if in_session!(replace, session)?.matched_count == 0 {
                        return Err(StoreError::VersionMismatch);
                    }
                    written.push(message);
                }
                MessageChange::Delete {
                    id,
                    expected_version,
                } => {
                    let current = self.current_message(user, chat_id, id, session).await?;
                    let mut filter = Self::message_filter(user, chat_id);
                    filter.insert("id", id.to_string());
                    filter.insert("version", expected_version as i64);
                    if in_session!(messages.delete_one(filter), session)?.deleted_count == 0 {
                        return Err(StoreError::VersionMismatch);
                    }
                    let visible = Placement::of(&current.body).visible;
                    visible_delta -= i64::from(visible);
                    removed_visible |= visible;
                }
            }
        }
        let mut stats = doc! { "$inc": { "messageCount": visible_delta } };
        let last = if removed_visible || positions > 0 {
            let mut visible = Self::message_filter(user, chat_id);
            visible.insert("visible", true);
            let newest = messages.find_one(visible).sort(doc! { "seq": -1 });
            in_session!(newest, session)?
                .and_then(|stored| stored.get_datetime("createdAt").ok().copied())
                .map(|at| Timestamp::from_millis(at.timestamp_millis()).to_string())
        } else {
            None
        };
        match last {
            Some(at) => stats.insert("$set", doc! { "lastMessageAt": at }),
            None if removed_visible => stats.insert("$unset", doc! { "lastMessageAt": "" }),
            None => None,
        };
        in_session!(
            chats.update_one(Self::chat_filter(user, chat_id), stats),
            session
        )?;
        Ok(written)
    }

    /// Writes messages as given and removes `deleted` (a copy), then recounts the chat's
    /// counters from what is stored.
    pub async fn put_messages(
        &self,
        chat_id: Uuid,
        messages: Vec<Document>,
        deleted: Vec<Uuid>,
    ) -> StoreResult<()> {
        let collection = self.collection(Collection::Messages);
        let mut user = self
            .write_messages(None, chat_id, &messages, &deleted)
            .await?;
        if user.is_none() && !deleted.is_empty() {
            // Only removals: the chat names the user whose counters to recompute.
            user = self
                .collection(Collection::Chats)
                .find_one(doc! { "id": chat_id.to_string() })
                .projection(doc! { "userId": 1 })
                .await?
                .and_then(|chat| chat.get_str("userId").ok().map(str::to_owned))
                .and_then(|user| UserId::parse(&user).ok());
        }
        let Some(user) = user else { return Ok(()) };
        let mut visible = Self::message_filter(&user, chat_id);
        visible.insert("visible", true);
        let count = collection.count_documents(visible.clone()).await?;
        let newest = collection
            .find_one(visible)
            .sort(doc! { "seq": -1 })
            .await?;
        let last_seq = collection
            .find_one(Self::message_filter(&user, chat_id))
            .sort(doc! { "seq": -1 })
            .await?
            .and_then(|stored| integer(&stored, "seq"))
            .unwrap_or(0);
        let stats = ChatStats {
            message_count: count,
            last_message_at: newest
                .and_then(|stored| stored.get_datetime("createdAt").ok().copied())
                .map(|at| Timestamp::from_millis(at.timestamp_millis())),
        };
        let last_seq = u64::try_from(last_seq).unwrap_or(0);
        self.set_chat_stats(&user, chat_id, stats, last_seq).await
    }

    /// Writes messages as given and removes `deleted` (of `user`, when known); returns the
    /// user of the messages. Filters name the user first: the unique `chat_message` index
    /// (`userId`, `chatId`, `id`) finds each message without a walk through its chat.
    pub(super) async fn write_messages(
        &self,
        user: Option<&UserId>,
        chat_id: Uuid,
        messages: &[Document],
        deleted: &[Uuid],
    ) -> StoreResult<Option<UserId>> {
        let collection = self.collection(Collection::Messages);
        let mut user = user.cloned();
        for message in messages {
            let mut filter = Self::message_filter(&message.user_id, chat_id);
            filter.insert("id", message.id.to_string());
            let stored = to_bson(Collection::Messages, message)?;
            collection.replace_one(filter, stored).upsert(true).await?;
            user = Some(message.user_id.clone());
        }
        if !deleted.is_empty() {
            let ids: Vec<String> = deleted.iter().map(Uuid::to_string).collect();
            let mut filter = match &user {
                Some(user) => Self::message_filter(user, chat_id),
                None => doc! { "chatId": chat_id.to_string() },
            };
            filter.insert("id", doc! { "$in": ids });
            collection.delete_many(filter).await?;
        }
        Ok(user)
    }

    /// Sets a chat's counters (`lastSeq` only ever rises).
    pub(super) async fn set_chat_stats(
        &self,
        user: &UserId,
        chat_id: Uuid,
        stats: ChatStats,
        last_seq: u64,
    ) -> StoreResult<()> {
        let mut update = doc! {
            "$set": { "messageCount": stats.message_count as i64 },
            "$max": { "lastSeq": last_seq as i64 },
        };
        match stats.last_message_at {
            Some(at) => update
                .get_document_mut("$set")
                .expect("the $set above")
                .insert("lastMessageAt", at.to_string()),
            None => update.insert("$unset", doc! { "lastMessageAt": "" }),
        };
        self.collection(Collection::Chats)
            .update_one(Self::chat_filter(user, chat_id), update)
            .await?;
        Ok(())
    }

    /// The highest `seq` ever assigned in the chat (deleted messages included).
    pub async fn last_seq(&self, user: &UserId, chat_id: Uuid) -> StoreResult<u64> {
        let chat = self
            .collection(Collection::Chats)
            .find_one(Self::chat_filter(user, chat_id))
            .projection(doc! { "lastSeq": 1 })
            .await?
            .ok_or(StoreError::NotFound)?;
        let last = integer(&chat, "lastSeq").unwrap_or(0);
        Ok(last.max(0) as u64)
    }

    /// Makes sure no `seq` up to `seq` is handed out again in the chat (copies).
    pub async fn raise_last_seq(&self, user: &UserId, chat_id: Uuid, seq: u64) -> StoreResult<()> {
        let update = doc! { "$max": { "lastSeq": seq as i64 } };
        let result = self
            .collection(Collection::Chats)
            .update_one(Self::chat_filter(user, chat_id), update)
            .await?;
        if result.matched_count == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn current_message(
        &self,
        user: &UserId,
        chat_id: Uuid,
        id: Uuid,
        session: &mut Option<&mut ClientSession>,
    ) -> StoreResult<Document> {
        let mut filter = Self::message_filter(user, chat_id);
        filter.insert("id", id.to_string());
        let found = in_session!(
            self.collection(Collection::Messages).find_one(filter),
            session
        )?;
        let stored = found.ok_or(StoreError::NotFound)?;
        Ok(from_bson(Collection::Messages, stored)?)
    }

    pub async fn get_message(
        &self,
        user: &UserId,
        chat_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Document> {
        self.get(Collection::Chats, user, chat_id).await?;
        self.current_message(user, chat_id, id, &mut None).await
    }

    /// A page: first the positions (one visible member each), then, with swipes, every member
    /// at those positions.
    pub async fn page_messages(&self, query: &MessageQuery) -> StoreResult<MessagePage> {
        self.get(Collection::Chats, &query.user, query.chat_id)
            .await?;
        let messages = self.collection(Collection::Messages);
        let descending = query.latest || query.before.is_some() && query.after.is_none();
        let mut filter = Self::message_filter(&query.user, query.chat_id);
        filter.insert("visible", true);
        let mut range = bson::Document::new();
        if let Some(after) = query.after {
            range.insert("$gt", after as i64);
        }
        if let Some(before) = query.before {
            range.insert("$lt", before as i64);
        }
        if !range.is_empty() {
            filter.insert("seq", range);
        }
        let direction = if descending { -1 } else { 1 };
        let mut cursor = messages
            .find(filter)
            .sort(doc! { "seq": direction })
            .limit(query.limit as i64 + 1)
            .await?;
        let mut visible = Vec::new();
        while let Some(stored) = cursor.try_next().await? {
            visible.push(from_bson(Collection::Messages, stored)?);
        }
        let has_more = visible.len() > query.limit;
        visible.truncate(query.limit);
        if descending {
            visible.reverse();
        }
        if !query.include_swipes {
            return Ok(MessagePage {
                items: visible,
                has_more,
            });
        }
        let seqs: Vec<i64> = visible
            .iter()
            .map(|message| Placement::of(&message.body).seq as i64)
            .collect();
        let mut filter = Self::message_filter(&query.user, query.chat_id);
        filter.insert("seq", doc! { "$in": seqs });
        let mut cursor = messages
            .find(filter)
            .sort(doc! { "seq": 1, "swipeIndex": 1 })
            .await?;
        let mut items = Vec::new();
        while let Some(stored) = cursor.try_next().await? {
            items.push(from_bson(Collection::Messages, stored)?);
        }
        Ok(MessagePage { items, has_more })
    }
}
