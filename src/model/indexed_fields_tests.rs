//! Keeps [`Collection::indexed_fields`] honest against the model: every field a reference
//! removal, an exclusive flag or a sort reads is declared there (the list layer's filters are
//! checked in `http::list`). A field missing from the list would not give wrong answers, but
//! would make the json store read whole documents from disk for every query on it.

use uuid::Uuid;

use super::api_key::ApiKey;
use super::character::Character;
use super::chat::Chat;
use super::file::File;
use super::lorebook::Lorebook;
use super::memory::Memory;
use super::message::Message;
use super::persona::Persona;
use super::profile::{ConnectionProfile, EmbeddingProfile, ImageProfile};
use super::settings::Settings;
use super::tag::Tag;
use super::{Collection, Resource};

/// What one resource type makes the store read: (collection, field) pairs.
fn read_fields<R: Resource>() -> Vec<(Collection, &'static str)> {
    let removals = R::removals_on_delete(Uuid::nil())
        .into_iter()
        .map(|(collection, removal)| (collection, removal.field()));
    let flag = R::EXCLUSIVE_FLAG.map(|flag| (R::COLLECTION, flag));
    removals.chain(flag).collect()
}

#[test]
fn every_removal_and_exclusive_flag_reads_an_indexed_field() {
    let read: Vec<(Collection, &str)> = [
        read_fields::<Tag>(),
        read_fields::<Character>(),
        read_fields::<Persona>(),
        read_fields::<Chat>(),
        read_fields::<Message>(),
        read_fields::<File>(),
        read_fields::<Lorebook>(),
        read_fields::<Memory>(),
        read_fields::<ApiKey>(),
        read_fields::<ConnectionProfile>(),
        read_fields::<ImageProfile>(),
        read_fields::<EmbeddingProfile>(),
        read_fields::<Settings>(),
    ]
    .concat();
    assert!(read.len() > 20, "the removals were found");
    for (collection, field) in read {
        // Message attachments are removed through the message logs, not document summaries.
        if collection == Collection::Messages {
            continue;
        }
        assert!(
            collection.indexed_fields().contains(&field),
            "{} reads {field}, which is not in its indexed_fields",
            collection.name()
        );
    }
}

#[test]
fn every_document_collection_indexes_its_name_unique_and_sort_fields() {
    for collection in Collection::DOCUMENTS {
        let fields = collection.indexed_fields();
        let sorts = (collection.sort_keys().iter())
            // `createdAt` comes from the envelope, which every summary holds.
            .filter(|field| **field != "createdAt");
        for field in std::iter::once(&collection.name_field())
            .chain(collection.unique_field().as_ref())
            .chain(sorts)
        {
            assert!(
                fields.contains(field),
                "{} sorts or checks {field}, which is not in its indexed_fields",
                collection.name()
            );
        }
        let mut unique = fields.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            fields.len(),
            "{} lists a field twice",
            collection.name()
        );
    }
}
