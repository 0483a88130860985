//! The one comparison every copy and check is built on: a merge join of two record streams
//! sorted by the same key (documents by id, messages by position, blobs by key), read batch
//! by batch so that memory stays bounded by a batch, whatever the size of the data.

use std::cmp::Ordering;
use std::collections::VecDeque;

use crate::model::Document;

/// A source of records in ascending key order, read in batches.
pub trait Scan {
    type Item;
    type Key: Ord;

    fn key(item: &Self::Item) -> Self::Key;

    /// The next batch; an empty batch ends the stream.
    fn fetch(&mut self) -> impl Future<Output = anyhow::Result<Vec<Self::Item>>> + Send;
}

/// A record found on one side or on both.
pub enum Paired<T> {
    Both { source: T, destination: T },
    SourceOnly(T),
    DestinationOnly(T),
}

/// The merge join of a source and a destination [`Scan`].
pub struct Merged<S: Scan> {
    source: Buffered<S>,
    destination: Buffered<S>,
}

struct Buffered<S: Scan> {
    scan: S,
    items: VecDeque<S::Item>,
    done: bool,
}

impl<S: Scan> Buffered<S> {
    async fn head(&mut self) -> anyhow::Result<Option<&S::Item>> {
        if self.items.is_empty() && !self.done {
            let batch = self.scan.fetch().await?;
            self.done = batch.is_empty();
            self.items.extend(batch);
        }
        Ok(self.items.front())
    }
}

impl<S: Scan> Merged<S> {
    pub fn new(source: S, destination: S) -> Self {
        let buffered = |scan| Buffered {
            scan,
            items: VecDeque::new(),
            done: false,
        };
        Self {
            source: buffered(source),
            destination: buffered(destination),
        }
    }

    pub async fn next(&mut self) -> anyhow::Result<Option<Paired<S::Item>>> {
        let source = self.source.head().await?.map(S::key);
        let destination = self.destination.head().await?.map(S::key);
        let order = match (source, destination) {
            (None, None) => return Ok(None),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(source), Some(destination)) => source.cmp(&destination),
        };
        let take = |side: &mut Buffered<S>| side.items.pop_front().expect("a head was seen");
        Ok(Some(match order {
            Ordering::Less => Paired::SourceOnly(take(&mut self.source)),
            Ordering::Greater => Paired::DestinationOnly(take(&mut self.destination)),
            Ordering::Equal => Paired::Both {
                source: take(&mut self.source),
                destination: take(&mut self.destination),
            },
        }))
    }
}

/// The fields in which two documents differ (envelope fields by their API names), ignoring
/// `ignored` body fields; empty when they are identical.
pub fn differing_fields(
    source: &Document,
    destination: &Document,
    ignored: &[&str],
) -> Vec<String> {
    let mut fields = Vec::new();
    let envelope = [
        ("id", source.id == destination.id),
        ("userId", source.user_id == destination.user_id),
        ("createdAt", source.created_at == destination.created_at),
        ("updatedAt", source.updated_at == destination.updated_at),
        ("version", source.version == destination.version),
    ];
    fields.extend(
        envelope
            .iter()
            .filter(|(_, same)| !same)
            .map(|(name, _)| (*name).to_owned()),
    );
    let keys = source.body.keys().chain(
        destination
            .body
            .keys()
            .filter(|key| !source.body.contains_key(*key)),
    );
    for key in keys {
        if !ignored.contains(&key.as_str()) && source.body.get(key) != destination.body.get(key) {
            fields.push(key.clone());
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};
    use uuid::Uuid;

    use super::*;
    use crate::model::{Timestamp, UserId};

    struct Numbers(Vec<Vec<u32>>);

    impl Scan for Numbers {
        type Item = u32;
        type Key = u32;

        fn key(item: &u32) -> u32 {
            *item
        }

        async fn fetch(&mut self) -> anyhow::Result<Vec<u32>> {
            Ok(if self.0.is_empty() {
                Vec::new()
            } else {
                self.0.remove(0)
            })
        }
    }

    #[tokio::test]
    async fn the_merge_pairs_records_across_batches() {
        let source = Numbers(vec![vec![1, 2], vec![4, 6]]);
        let destination = Numbers(vec![vec![2], vec![3, 4], vec![7]]);
        let mut merged = Merged::new(source, destination);
        let mut seen = Vec::new();
        while let Some(paired) = merged.next().await.unwrap() {
            seen.push(match paired {
                Paired::Both { source, .. } => format!("={source}"),
                Paired::SourceOnly(item) => format!("<{item}"),
                Paired::DestinationOnly(item) => format!(">{item}"),
            });
        }
        assert_eq!(seen, ["<1", "=2", ">3", "=4", "<6", ">7"]);
    }

    #[test]
    fn differences_are_named_by_field() {
        let mut body = Map::new();
        body.insert("name".into(), json!("Ada"));
        body.insert("messageCount".into(), json!(3));
        let source = Document {
            id: Uuid::nil(),
            user_id: UserId::local(),
            created_at: Timestamp::from_millis(1),
            updated_at: Timestamp::from_millis(2),
            version: 2,
            body,
        };
        let mut destination = source.clone();
        assert!(differing_fields(&source, &destination, &[]).is_empty());
        destination.version = 1;
        destination.body.insert("name".into(), json!("Eve"));
        destination.body.insert("messageCount".into(), json!(0));
        destination.body.insert("title".into(), json!("extra"));
        assert_eq!(
            differing_fields(&source, &destination, &["messageCount"]),
            ["version", "name", "title"]
        );
    }
}
