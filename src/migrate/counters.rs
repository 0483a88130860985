//! What a store keeps about a chat besides its messages, carried over by a copy: the highest
//! `seq` ever assigned (so the `seq` of a deleted message is never handed out again) and the
//! counters (`messageCount`, `lastMessageAt`) on stores that keep them.

use uuid::Uuid;

use super::{Context, Mode, Pair, Tally, Writer};
use crate::model::Document;
use crate::store::{MetadataStore, StoreError};

/// The chat fields a store derives from its messages.
pub const CHAT_COUNTERS: &[&str] = &["messageCount", "lastMessageAt"];

/// A chat whose messages are all in place but whose stored counters disagree with the
/// source (a copy killed between writing a batch and counting it, on a store that keeps the
/// counters): writing one identical message again makes the store count anew.
pub async fn refresh<'a>(
    context: &Context<'_>,
    stores: &'a Pair<MetadataStore>,
    writer: &mut Writer<'a>,
    chat_id: Uuid,
    message: Option<Document>,
) -> anyhow::Result<()> {
    let Some(message) = message else {
        return Ok(());
    };
    if !context.writes() || !context.budget.take() {
        return Ok(());
    }
    let store = &stores.destination;
    writer
        .push(async move {
            store
                .put_messages(chat_id, vec![message], Vec::new())
                .await
                .map(|()| None)
                .map_err(|error| anyhow::anyhow!("cannot recount chat {chat_id}: {error}"))
        })
        .await
}

/// The highest `seq` ever assigned in a chat travels with it, so that the `seq` of a message
/// deleted at the source is never handed out again at the destination.
pub async fn keep_last_seq<'a>(
    context: &Context<'_>,
    stores: &'a Pair<MetadataStore>,
    writer: &mut Writer<'a>,
    tally: &mut Tally,
    chat: &Document,
    at_destination: bool,
) -> anyhow::Result<()> {
    let wanted = match stores.source.last_seq(&chat.user_id, chat.id).await {
        Ok(last) => last,
        Err(StoreError::NotFound) => return Ok(()),
        Err(error) => anyhow::bail!("cannot read chat {}: {error}", chat.id),
    };
    let found = match at_destination {
        true => match stores.destination.last_seq(&chat.user_id, chat.id).await {
            Ok(last) => last,
            Err(StoreError::NotFound) => 0,
            Err(error) => anyhow::bail!("cannot read chat {} at the destination: {error}", chat.id),
        },
        false => 0,
    };
    if context.mode == Mode::Verify && found != wanted {
        tally.fault(format!(
            "chat {}: highest seq assigned is {found} at the destination, {wanted} at the source",
            chat.id
        ));
    }
    if found < wanted && context.writes() && context.budget.take() {
        let (store, user, chat_id) = (&stores.destination, chat.user_id.clone(), chat.id);
        writer
            .push(async move {
                store
                    .raise_last_seq(&user, chat_id, wanted)
                    .await
                    .map(|()| None)
                    .map_err(|error| anyhow::anyhow!("cannot write chat {chat_id}: {error}"))
            })
            .await?;
    }
    Ok(())
}
