//! The message phase of a walk: for every chat, its messages on both sides (swipes included)
//! in position order with `page_messages`, written with `put_messages` in atomic batches.
//! The batches of one chat are written one after the other, because each batch also
//! recomputes the chat's counters; different chats are written concurrently.

use uuid::Uuid;

use super::compare::{Merged, Paired, Scan, differing_fields};
use super::counters;
use super::documents::DocumentScan;
use super::progress::Progress;
use super::{Context, Mode, Pair, Tally, Writer};
use crate::model::message::Placement;
use crate::model::{Collection, Document};
use crate::store::{MessageQuery, MetadataStore, StoreError};

/// Message positions read per page.
const MESSAGE_PAGE: usize = 200;
/// Messages written per atomic batch.
const MESSAGE_BATCH: usize = 500;

/// The messages of one chat, swipes included, in position order (none when the chat does not
/// exist in this store).
struct MessageScan {
    store: MetadataStore,
    query: Option<MessageQuery>,
}

impl MessageScan {
    fn new(store: &MetadataStore, chat: Option<&Document>) -> Self {
        let query = chat.map(|chat| MessageQuery {
            user: chat.user_id.clone(),
            chat_id: chat.id,
            after: None,
            before: None,
            latest: false,
            limit: MESSAGE_PAGE,
            include_swipes: true,
        });
        Self {
            store: store.clone(),
            query,
        }
    }
}

impl Scan for MessageScan {
    type Item = Document;
    type Key = (u64, u64, Uuid);

    fn key(message: &Document) -> Self::Key {
        let placement = Placement::of(&message.body);
        (placement.seq, placement.swipe_index, message.id)
    }

    async fn fetch(&mut self) -> anyhow::Result<Vec<Document>> {
        let Some(query) = &mut self.query else {
            return Ok(Vec::new());
        };
        let page = match self.store.page_messages(query).await {
            Ok(page) => page,
            Err(StoreError::NotFound) => {
                self.query = None;
                return Ok(Vec::new());
            }
            Err(error) => anyhow::bail!(
                "cannot read the messages of chat {}: {error}",
                query.chat_id
            ),
        };
        match page.items.last() {
            Some(last) if page.has_more => query.after = Some(Placement::of(&last.body).seq),
            _ => self.query = None,
        }
        Ok(page.items)
    }
}

/// What one chat needs at the destination.
#[derive(Default)]
struct ChatChanges {
    put: Vec<Document>,
    remove: Vec<Uuid>,
    /// Batches of this chat already queued.
    queued: usize,
    /// The last message found identical on both sides.
    last_identical: Option<Document>,
}

/// Compares (and in a copy, writes) the messages of every chat; messages of chats that exist
/// only at the destination count as extra.
pub async fn messages(
    context: &Context<'_>,
    stores: &Pair<MetadataStore>,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new("messages");
    let progress = Progress::items("messages", None);
    let mut chats = Merged::new(
        DocumentScan::new(&stores.source, Collection::Chats),
        DocumentScan::new(&stores.destination, Collection::Chats),
    );
    let mut writer = Writer::new();
    while !context.budget.exhausted()
        && let Some(paired) = chats.next().await?
    {
        let (chat, source, destination, stale_counters) = match paired {
            Paired::Both {
                source: chat,
                destination: copy,
            } => {
                let stale = counters::CHAT_COUNTERS
                    .iter()
                    .any(|field| chat.body.get(*field) != copy.body.get(*field));
                (chat, true, true, stale)
            }
            Paired::SourceOnly(chat) => (chat, true, false, false),
            Paired::DestinationOnly(chat) => (chat, false, true, false),
        };
        let mut merged = Merged::new(
            MessageScan::new(&stores.source, source.then_some(&chat)),
            MessageScan::new(&stores.destination, destination.then_some(&chat)),
        );
        let mut changes = ChatChanges::default();
        while !context.budget.exhausted()
            && let Some(paired) = merged.next().await?
        {
            progress.add(1);
            compare(context, &mut tally, &mut changes, chat.id, paired);
            if changes.put.len() + changes.remove.len() >= MESSAGE_BATCH {
                write(
                    context,
                    stores,
                    &mut writer,
                    &mut tally,
                    chat.id,
                    &mut changes,
                )
                .await?;
            }
        }
        write(
            context,
            stores,
            &mut writer,
            &mut tally,
            chat.id,
            &mut changes,
        )
        .await?;
        if stale_counters && changes.queued == 0 {
            let message = changes.last_identical.take();
            counters::refresh(context, stores, &mut writer, chat.id, message).await?;
        }
        if source {
            counters::keep_last_seq(context, stores, &mut writer, &mut tally, &chat, destination)
                .await?;
        }
    }
    for problem in writer.finish().await? {
        tally.fault(problem);
    }
    progress.finish();
    Ok(tally)
}

fn compare(
    context: &Context<'_>,
    tally: &mut Tally,
    changes: &mut ChatChanges,
    chat_id: Uuid,
    paired: Paired<Document>,
) {
    let verifying = context.mode == Mode::Verify;
    match paired {
        Paired::Both {
            source,
            destination,
        } => {
            tally.source += 1;
            tally.destination += 1;
            let fields = differing_fields(&source, &destination, &[]);
            if fields.is_empty() {
                tally.identical += 1;
                changes.last_identical = Some(source);
                return;
            }
            tally.different += 1;
            if verifying {
                tally.name(format!(
                    "message {} of chat {chat_id} differs in {}",
                    source.id,
                    fields.join(", ")
                ));
            }
            changes.put.push(source);
        }
        Paired::SourceOnly(source) => {
            tally.source += 1;
            tally.missing += 1;
            if verifying {
                tally.name(format!(
                    "message {} of chat {chat_id} is missing at the destination",
                    source.id
                ));
            }
            changes.put.push(source);
        }
        Paired::DestinationOnly(extra) => {
            tally.destination += 1;
            tally.extra += 1;
            tally.name(format!(
                "message {} of chat {chat_id} exists only at the destination",
                extra.id
            ));
            if context.prunes() {
                changes.remove.push(extra.id);
            }
        }
    }
}

/// Queues one atomic batch of a chat's changes (as many as the budget allows). A chat's
/// second batch waits for the writes before it, so its counters are computed last.
async fn write<'a>(
    context: &Context<'_>,
    stores: &'a Pair<MetadataStore>,
    writer: &mut Writer<'a>,
    tally: &mut Tally,
    chat_id: Uuid,
    changes: &mut ChatChanges,
) -> anyhow::Result<()> {
    let mut put = std::mem::take(&mut changes.put);
    let mut remove = std::mem::take(&mut changes.remove);
    if !context.writes() {
        return Ok(());
    }
    put.truncate(put.iter().take_while(|_| context.budget.take()).count());
    remove.truncate(remove.iter().take_while(|_| context.budget.take()).count());
    if put.is_empty() && remove.is_empty() {
        return Ok(());
    }
    if changes.queued > 0 {
        writer.drain().await?;
    }
    changes.queued += 1;
    tally.written += put.len() as u64;
    tally.removed += remove.len() as u64;
    let store = &stores.destination;
    writer
        .push(async move {
            store
                .put_messages(chat_id, put, remove)
                .await
                .map(|()| None)
                .map_err(|error| {
                    anyhow::anyhow!("cannot write messages of chat {chat_id}: {error}")
                })
        })
        .await
}
