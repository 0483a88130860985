//! In-memory indexes of the json store, read at start from the persisted indexes or rebuilt
//! from the document files: document summaries by id ([`Entry`]), keyset orders for
//! `updatedAt` and name, and the per-user unique names.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::summary::Entry;
use crate::model::{Collection, Document, UserId};

use crate::store::query::{ListQuery, Page, SortField, SortValue, sort_key_of, sort_text_of};
use crate::store::vectors::PreparedVector;

/// One user's documents of one collection.
#[derive(Default)]
pub struct UserDocuments {
    pub by_id: HashMap<Uuid, Entry>,
    by_updated: BTreeSet<(i64, Uuid)>,
    by_name: BTreeSet<(String, Uuid)>,
    /// The collection's extra sorts ([`Collection::sort_keys`]), by field.
    by_key: HashMap<&'static str, BTreeSet<(i64, Uuid)>>,
    /// Lowercased unique value → the id holding (or reserving) it.
    pub unique: HashMap<String, Uuid>,
    /// Memories only: embeddings ready for scoring, by character, so a search reads one
    /// character's memories and nothing else.
    pub vectors: VectorIndex,
}

/// One user's memory embeddings, grouped by character.
#[derive(Default)]
pub struct VectorIndex {
    pub by_character: HashMap<Uuid, HashMap<Uuid, Arc<PreparedVector>>>,
    /// Per model: the dimension and how many vectors have it.
    dimensions: HashMap<String, (usize, usize)>,
}

impl VectorIndex {
    fn character_of(document: &Document) -> Option<Uuid> {
        Uuid::try_parse(document.body.get("characterId")?.as_str()?).ok()
    }

    fn put(&mut self, document: &Document) {
        let (Some(character), Some(vector)) = (
            Self::character_of(document),
            PreparedVector::of_body(&document.body),
        ) else {
            return;
        };
        let entry = self
            .dimensions
            .entry(vector.model.clone())
            .or_insert((vector.values.len(), 0));
        entry.1 += 1;
        self.by_character
            .entry(character)
            .or_default()
            .insert(document.id, Arc::new(vector));
    }

    fn remove(&mut self, document: &Document) {
        let Some(character) = Self::character_of(document) else {
            return;
        };
        let Some(group) = self.by_character.get_mut(&character) else {
            return;
        };
        if let Some(vector) = group.remove(&document.id)
            && let Some(entry) = self.dimensions.get_mut(&vector.model)
        {
            entry.1 -= 1;
            if entry.1 == 0 {
                self.dimensions.remove(&vector.model);
            }
        }
        if group.is_empty() {
            self.by_character.remove(&character);
        }
    }

    /// The dimension of this user's vectors of `model`, if any are stored.
    pub fn dimension(&self, model: &str) -> Option<usize> {
        self.dimensions.get(model).map(|(dimension, _)| *dimension)
    }
}

impl UserDocuments {
    pub fn put(&mut self, collection: Collection, entry: Entry) {
        if let Some(previous) = self.by_id.remove(&entry.id) {
            self.unindex(collection, &previous);
        }
        let id = entry.id;
        let keys = Keys::of(collection, &entry);
        self.by_updated.insert((entry.updated_at.millis(), id));
        self.by_name.insert((keys.name, id));
        for (field, key) in keys.sorts {
            self.by_key.entry(field).or_default().insert((key, id));
        }
        if collection == Collection::Memories
            && let Some(document) = entry.held_document()
        {
            self.vectors.put(document);
        }
        if let Some(value) = keys.unique {
            self.unique.insert(value, id);
        }
        self.by_id.insert(id, entry);
    }

    pub fn remove(&mut self, collection: Collection, id: Uuid) -> Option<Entry> {
        let entry = self.by_id.remove(&id)?;
        self.unindex(collection, &entry);
        Some(entry)
    }

    fn unindex(&mut self, collection: Collection, entry: &Entry) {
        let keys = Keys::of(collection, entry);
        self.by_updated
            .remove(&(entry.updated_at.millis(), entry.id));
        self.by_name.remove(&(keys.name, entry.id));
        for (field, key) in keys.sorts {
            if let Some(keys) = self.by_key.get_mut(field) {
                keys.remove(&(key, entry.id));
            }
        }
        if collection == Collection::Memories
            && let Some(document) = entry.held_document()
        {
            self.vectors.remove(document);
        }
        if let Some(value) = keys.unique
            && self.unique.get(&value) == Some(&entry.id)
        {
            self.unique.remove(&value);
        }
    }

    /// A page of `query`. `whole` gives the whole document of an entry (read from disk when
    /// the summary is not the whole body): for the items, and for filters on fields it lacks.
    pub fn list(
        &self,
        query: &ListQuery,
        whole: &dyn Fn(&Entry) -> anyhow::Result<Arc<Document>>,
    ) -> anyhow::Result<Page> {
        let ids: Box<dyn Iterator<Item = Uuid> + '_> = match (query.sort, &query.after) {
            (SortField::UpdatedAt, None) => walk(&self.by_updated, None, query.descending),
            (SortField::UpdatedAt, Some((SortValue::Millis(key), id))) => {
                walk(&self.by_updated, Some((*key, *id)), query.descending)
            }
            (SortField::Name, None) => walk(&self.by_name, None, query.descending),
            (SortField::Name, Some((SortValue::Text(key), id))) => {
                walk(&self.by_name, Some((key.clone(), *id)), query.descending)
            }
            (SortField::Key(field), after) => match (self.by_key.get(field), after) {
                (Some(keys), None) => walk(keys, None, query.descending),
                (Some(keys), Some((SortValue::Millis(key), id))) => {
                    walk(keys, Some((*key, *id)), query.descending)
                }
                _ => Box::new(std::iter::empty()),
            },
            // A cursor of another sort: the HTTP layer rejects these before they get here.
            _ => Box::new(std::iter::empty()),
        };
        let fields: Vec<&str> = (query.filters.iter())
            .flat_map(|filter| filter.fields().iter().copied())
            .collect();
        let matches = |entry: &Entry| -> anyhow::Result<bool> {
            let meets =
                |body: &Map<String, Value>| query.filters.iter().all(|filter| filter.matches(body));
            Ok(if query.filters.is_empty() {
                true
            } else if entry.lacks_any(query.collection, &fields) {
                meets(&whole(entry)?.body)
            } else {
                meets(&entry.fields(&fields))
            })
        };
        let mut items = Vec::new();
        for entry in ids.filter_map(|id| self.by_id.get(&id)) {
            if items.len() > query.limit {
                break;
            }
            if matches(entry)? {
                items.push(Arc::unwrap_or_clone(whole(entry)?));
            }
        }
        let next = if items.len() > query.limit {
            items.truncate(query.limit);
            items.last().map(|last| {
                let name_field = query.collection.name_field();
                (SortValue::of(last, query.sort, name_field), last.id)
            })
        } else {
            None
        };
        let total = if query.include_total {
            let mut count = 0;
            for entry in self.by_id.values() {
                count += u64::from(matches(entry)?);
            }
            Some(count)
        } else {
            None
        };
        Ok(Page { items, next, total })
    }
}

fn walk<K: Ord + Clone>(
    set: &BTreeSet<(K, Uuid)>,
    after: Option<(K, Uuid)>,
    descending: bool,
) -> Box<dyn Iterator<Item = Uuid> + '_> {
    let ids = |entry: &(K, Uuid)| entry.1;
    match (after, descending) {
        (None, false) => Box::new(set.iter().map(ids)),
        (None, true) => Box::new(set.iter().rev().map(ids)),
        (Some(position), false) => Box::new(
            set.range((Bound::Excluded(position), Bound::Unbounded))
                .map(ids),
        ),
        (Some(position), true) => Box::new(set.range(..position).rev().map(ids)),
    }
}

/// The lowercased value of the collection's unique field, if it has one.
pub fn unique_value(collection: Collection, document: &Document) -> Option<String> {
    unique_value_of(collection, &document.body)
}

fn unique_value_of(collection: Collection, body: &Map<String, Value>) -> Option<String> {
    let field = collection.unique_field()?;
    body.get(field)?.as_str().map(str::to_lowercase)
}

/// What the orders and the unique check know an entry by.
struct Keys {
    name: String,
    sorts: Vec<(&'static str, i64)>,
    unique: Option<String>,
}

impl Keys {
    fn of(collection: Collection, entry: &Entry) -> Self {
        let name_field = collection.name_field();
        let mut fields = vec![name_field];
        fields.extend(collection.unique_field());
        fields.extend(collection.sort_keys());
        let body = entry.fields(&fields);
        Self {
            name: sort_text_of(&body, name_field),
            sorts: (collection.sort_keys().iter())
                .map(|field| (*field, sort_key_of(&body, entry.created_at, field)))
                .collect(),
            unique: unique_value_of(collection, &body),
        }
    }
}

/// Every collection's documents, by user.
#[derive(Default)]
pub struct Indexes {
    collections: HashMap<Collection, HashMap<UserId, UserDocuments>>,
}

impl Indexes {
    pub fn user(&self, collection: Collection, user: &UserId) -> Option<&UserDocuments> {
        self.collections.get(&collection)?.get(user)
    }

    /// Every user's documents of one collection.
    pub fn all_users(&self, collection: Collection) -> impl Iterator<Item = &UserDocuments> {
        self.users(collection).map(|(_, documents)| documents)
    }

    /// Every user of one collection, with their documents.
    pub fn users(&self, collection: Collection) -> impl Iterator<Item = (&UserId, &UserDocuments)> {
        self.collections.get(&collection).into_iter().flatten()
    }

    pub fn user_mut(&mut self, collection: Collection, user: &UserId) -> &mut UserDocuments {
        self.collections
            .entry(collection)
            .or_default()
            .entry(user.clone())
            .or_default()
    }
}
