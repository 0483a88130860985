//! The document phase of a walk: every document collection through one generic function.
//! Documents are read in id order with `scan_documents` and written with `put_document`,
//! which keeps ids, versions and timestamps.

use uuid::Uuid;

use super::compare::{Merged, Paired, Scan, differing_fields};
use super::counters::CHAT_COUNTERS;
use super::progress::Progress;
use super::{Context, Mode, Pair, Tally, Writer};
use crate::model::{Collection, Document};
use crate::store::MetadataStore;

/// Documents read per batch.
const DOCUMENT_BATCH: usize = 500;

/// One collection of one store, in id order.
pub struct DocumentScan {
    store: MetadataStore,
    collection: Collection,
    after: Option<Uuid>,
}

impl DocumentScan {
    pub fn new(store: &MetadataStore, collection: Collection) -> Self {
        Self {
            store: store.clone(),
            collection,
            after: None,
        }
    }
}

impl Scan for DocumentScan {
    type Item = Document;
    type Key = Uuid;

    fn key(document: &Document) -> Uuid {
        document.id
    }

    async fn fetch(&mut self) -> anyhow::Result<Vec<Document>> {
        let batch = self
            .store
            .scan_documents(self.collection, self.after, DOCUMENT_BATCH)
            .await
            .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", self.collection.name()))?;
        if let Some(last) = batch.last() {
            self.after = Some(last.id);
        }
        Ok(batch)
    }
}

/// Compares (and in a copy, writes) one document collection.
pub async fn documents(
    context: &Context<'_>,
    stores: &Pair<MetadataStore>,
    collection: Collection,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new(collection.name());
    let ignored = match (context.mode, collection) {
        // Derived from the messages: compared when verifying (once the messages are copied
        // they must agree), not when deciding whether to copy the chat.
        (Mode::Copy { .. }, Collection::Chats) => CHAT_COUNTERS,
        _ => &[],
    };
    let progress = Progress::items(collection.name(), None);
    let mut merged = Merged::new(
        DocumentScan::new(&stores.source, collection),
        DocumentScan::new(&stores.destination, collection),
    );
    let mut writer = Writer::new();
    while !context.budget.exhausted()
        && let Some(paired) = merged.next().await?
    {
        progress.add(1);
        let source = match paired {
            Paired::Both {
                source,
                destination,
            } => {
                tally.source += 1;
                tally.destination += 1;
                let source = context.adapt(collection, source);
                let fields = differing_fields(&source, &destination, ignored);
                if fields.is_empty() {
                    tally.identical += 1;
                    continue;
                }
                tally.different += 1;
                if context.mode == Mode::Verify {
                    tally.name(format!(
                        "{} differs in {}",
                        describe(&source),
                        fields.join(", ")
                    ));
                }
                source
            }
            Paired::SourceOnly(source) => {
                tally.source += 1;
                tally.missing += 1;
                if context.mode == Mode::Verify {
                    tally.name(format!(
                        "{} is missing at the destination",
                        describe(&source)
                    ));
                }
                context.adapt(collection, source)
            }
            Paired::DestinationOnly(extra) => {
                tally.destination += 1;
                tally.extra += 1;
                tally.name(format!(
                    "{} exists only at the destination",
                    describe(&extra)
                ));
                if context.prunes() && context.budget.take() {
                    tally.removed += 1;
                    let store = &stores.destination;
                    writer
                        .push(async move {
                            store
                                .delete(collection, &extra.user_id, extra.id, None)
                                .await
                                .map(|_| None)
                                .map_err(|error| {
                                    anyhow::anyhow!("cannot remove {}: {error}", describe(&extra))
                                })
                        })
                        .await?;
                }
                continue;
            }
        };
        if context.writes() && context.budget.take() {
            tally.written += 1;
            let store = &stores.destination;
            writer
                .push(async move {
                    let name = describe(&source);
                    store
                        .put_document(collection, source)
                        .await
                        .map(|()| None)
                        .map_err(|error| anyhow::anyhow!("cannot write {name}: {error}"))
                })
                .await?;
        }
    }
    for problem in writer.finish().await? {
        tally.fault(problem);
    }
    progress.finish();
    Ok(tally)
}

pub fn describe(document: &Document) -> String {
    format!("{} (user {})", document.id, document.user_id)
}
