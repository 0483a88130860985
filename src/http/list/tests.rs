//! Keeps `Collection::indexed_fields` honest against the lists: every filter a list request
//! can build reads fields its collection indexes. A field missing there gives no wrong
//! answer, but makes the json store read every document from disk to filter on it.

use uuid::Uuid;

use super::{FieldKind, HttpResource, ListParams};
use crate::model::Collection;
use crate::model::api_key::ApiKey;
use crate::model::character::Character;
use crate::model::chat::Chat;
use crate::model::file::File;
use crate::model::lorebook::Lorebook;
use crate::model::memory::Memory;
use crate::model::persona::Persona;
use crate::model::profile::{ConnectionProfile, EmbeddingProfile, ImageProfile};
use crate::model::tag::Tag;

/// A list request of `R` with every filter its list accepts.
fn every_filter<R: HttpResource>() -> ListParams {
    let spec = &R::LIST;
    let id = Uuid::nil().to_string();
    let field = |name: &str| {
        let filter = R::LIST_EXTRAS
            .fields
            .iter()
            .find(|field| field.name == name)?;
        Some(match filter.kind {
            FieldKind::Id => id.clone(),
            FieldKind::OneOf(words) => words[0].to_owned(),
            FieldKind::Text => "x".to_owned(),
        })
    };
    let participant = |name: &str| field(name).or_else(|| spec.participants.then(|| id.clone()));
    ListParams {
        q: (!spec.text_fields.is_empty()).then(|| "x".to_owned()),
        tag: spec.tag.then(|| id.clone()),
        favorite: spec.favorite.then(|| "true".to_owned()),
        category: spec.files.then(|| "image".to_owned()),
        linked_to: spec.files.then(|| format!("character:{id}")),
        mime_prefix: spec.files.then(|| "image/".to_owned()),
        character_id: participant("characterId"),
        persona_id: participant("personaId"),
        chat_id: field("chatId"),
        source: field("source"),
        provider: field("provider"),
        ..ListParams::default()
    }
}

/// The collection of `R` and the fields the filters of [`every_filter`] read.
fn filter_fields<R: HttpResource>() -> (Collection, Vec<&'static str>) {
    let request = every_filter::<R>()
        .validate(&R::LIST, &R::LIST_EXTRAS)
        .expect("every filter the list accepts");
    let extras = R::LIST_EXTRAS.fields.iter().map(|field| field.name);
    let fields = (request.filters.iter())
        .flat_map(|filter| filter.fields().iter().copied())
        // Each extra field filter must have been built (a name `validate` does not know
        // would be dropped silently); listing them again makes a miss fail below.
        .chain(extras)
        .collect();
    (R::COLLECTION, fields)
}

#[test]
fn every_list_filter_reads_indexed_fields() {
    let lists = [
        filter_fields::<Tag>(),
        filter_fields::<Character>(),
        filter_fields::<Persona>(),
        filter_fields::<Chat>(),
        filter_fields::<File>(),
        filter_fields::<Lorebook>(),
        filter_fields::<Memory>(),
        filter_fields::<ApiKey>(),
        filter_fields::<ConnectionProfile>(),
        filter_fields::<ImageProfile>(),
        filter_fields::<EmbeddingProfile>(),
    ];
    for (collection, fields) in &lists {
        assert!(!fields.is_empty(), "{} has filters", collection.name());
        for field in fields {
            assert!(
                collection.indexed_fields().contains(field),
                "a {} list filters on {field}, which is not in its indexed_fields",
                collection.name()
            );
        }
    }
    let listed: Vec<Collection> = lists.iter().map(|(collection, _)| *collection).collect();
    for collection in Collection::DOCUMENTS {
        // Settings are one document per user, never listed.
        assert!(
            collection == Collection::Settings || listed.contains(&collection),
            "{} is listed over HTTP: add it here",
            collection.name()
        );
    }
}
