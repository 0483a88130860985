//! List parameters shared by every collection: page size, opaque cursors, sort and filters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, Result};
use crate::store::{Filter, Page, SortField, SortValue};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// Every list parameter any collection knows; each route says which it supports.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub sort: Option<String>,
    pub q: Option<String>,
    pub tag: Option<String>,
    pub favorite: Option<String>,
    pub include_total: Option<String>,
    pub category: Option<String>,
    pub linked_to: Option<String>,
    pub mime_prefix: Option<String>,
    pub character_id: Option<String>,
    pub persona_id: Option<String>,
    pub chat_id: Option<String>,
    pub source: Option<String>,
    pub provider: Option<String>,
    /// Files only: each item carries a ready `signedUrl` (see `http::files`), to the variant
    /// `w`, `h`, `fit`, `format` name for image files.
    pub signed_urls: Option<String>,
    pub w: Option<String>,
    pub h: Option<String>,
    pub fit: Option<String>,
    pub format: Option<String>,
}

/// What a list accepts beyond [`ListSpec`]: more sorts and filters on one field's value.
/// Kept apart so a collection that needs none writes nothing ([`ListExtras::NONE`]).
pub struct ListExtras {
    /// Sort fields beyond `updatedAt` and the name, each one of the collection's
    /// [`Collection::sort_keys`](crate::model::Collection::sort_keys).
    pub sorts: &'static [&'static str],
    pub fields: &'static [FieldFilter],
}

impl ListExtras {
    pub const NONE: ListExtras = ListExtras {
        sorts: &[],
        fields: &[],
    };
}

/// A query parameter that keeps the documents whose field of the same name has its value.
pub struct FieldFilter {
    pub name: &'static str,
    pub kind: FieldKind,
    /// What the OpenAPI document says about it.
    pub description: &'static str,
}

pub enum FieldKind {
    /// A document id.
    Id,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Any non-empty text, matched exactly.
    Text,
}

impl FieldFilter {
    fn filter(&self, text: &str) -> Result<Filter> {
        let name = self.name;
        let value = match self.kind {
            FieldKind::Id => Uuid::try_parse(text)
                .map_err(|_| ApiError::bad_request(format!("{name} must be an id")))?
                .to_string(),
            FieldKind::OneOf(words) if !words.contains(&text) => {
                return Err(ApiError::bad_request(format!(
                    "{name} must be one of {}",
                    words.join(", ")
                )));
            }
            FieldKind::Text if text.trim().is_empty() => {
                return Err(ApiError::bad_request(format!("{name} must not be empty")));
            }
            _ => text.to_owned(),
        };
        Ok(Filter::Equals {
            field: name,
            value: Value::String(value),
        })
    }
}

/// What a list route accepts beyond paging and sort.
pub struct ListSpec {
    /// Fields `q` searches; empty when `q` is not supported.
    pub text_fields: &'static [&'static str],
    pub tag: bool,
    pub favorite: bool,
    /// `category`, `linkedTo` (`kind:id`) and `mimePrefix`: the file filters.
    pub files: bool,
    /// `characterId` / `personaId` filter on chat participants.
    pub participants: bool,
}

/// A validated list request.
pub struct ListRequest {
    pub limit: usize,
    pub sort: SortField,
    pub descending: bool,
    sort_name: String,
    pub after: Option<(SortValue, Uuid)>,
    pub filters: Vec<Filter>,
    pub include_total: bool,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "s")]
    sort: String,
    #[serde(rename = "k")]
    key: SortValue,
    #[serde(rename = "i")]
    id: Uuid,
}

impl ListParams {
    /// The variant parameters (files with `signedUrls=true`).
    pub fn variant(&self) -> crate::images::VariantQuery {
        crate::images::VariantQuery {
            w: self.w.clone(),
            h: self.h.clone(),
            fit: self.fit.clone(),
            format: self.format.clone(),
        }
    }

    /// The value of a field filter's parameter.
    fn field_param(&self, name: &str) -> Option<&String> {
        match name {
            "characterId" => self.character_id.as_ref(),
            "personaId" => self.persona_id.as_ref(),
            "chatId" => self.chat_id.as_ref(),
            "source" => self.source.as_ref(),
            "provider" => self.provider.as_ref(),
            _ => None,
        }
    }

    pub fn validate(self, spec: &ListSpec, extras: &ListExtras) -> Result<ListRequest> {
        let limit = match &self.limit {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or_else(|| ApiError::bad_request(format!("limit must be 1-{MAX_LIMIT}")))?,
        };
        let sort_name = self.sort.clone().unwrap_or_else(|| "-updatedAt".to_owned());
        let (descending, field) = match sort_name.strip_prefix('-') {
            Some(field) => (true, field),
            None => (false, sort_name.as_str()),
        };
        let sort = match field {
            "updatedAt" => SortField::UpdatedAt,
            "name" | "title" => SortField::Name,
            _ => match extras.sorts.iter().find(|sort| **sort == field) {
                Some(key) => SortField::Key(key),
                None => {
                    let extra: String = extras
                        .sorts
                        .iter()
                        .map(|sort| format!(", {sort}, -{sort}"))
                        .collect();
                    return Err(ApiError::bad_request(format!(
                        "sort must be one of updatedAt, -updatedAt, name, -name{extra}"
                    )));
                }
            },
        };
        let after = self
            .cursor
            .as_deref()
            .map(|text| decode_cursor(text, &sort_name, sort))
            .transpose()?;
        let mut filters = Vec::new();
        if let Some(needle) = self
            .q
            .as_deref()
            .map(str::trim)
            .filter(|needle| !needle.is_empty())
        {
            if spec.text_fields.is_empty() {
                return Err(ApiError::bad_request("q is not supported here"));
            }
            filters.push(Filter::TextContains {
                fields: spec.text_fields,
                needle: needle.to_lowercase(),
            });
        }
        if let Some(tag) = &self.tag {
            if !spec.tag {
                return Err(ApiError::bad_request("tag is not supported here"));
            }
            let id =
                Uuid::try_parse(tag).map_err(|_| ApiError::bad_request("tag must be a tag id"))?;
            filters.push(Filter::ArrayContains {
                field: "tags",
                value: Value::String(id.to_string()),
            });
        }
        if let Some(favorite) = &self.favorite {
            if !spec.favorite {
                return Err(ApiError::bad_request("favorite is not supported here"));
            }
            filters.push(Filter::Equals {
                field: "isFavorite",
                value: Value::Bool(parse_bool("favorite", favorite)?),
            });
        }
        if (self.signed_urls.is_some() || !self.variant().is_empty()) && !spec.files {
            return Err(ApiError::bad_request(
                "signedUrls, w, h, fit and format are supported only for files",
            ));
        }
        if spec.files {
            filters.extend(self.file_filters()?);
        } else if self.category.is_some() || self.linked_to.is_some() || self.mime_prefix.is_some()
        {
            return Err(ApiError::bad_request(
                "category, linkedTo and mimePrefix are supported only for files",
            ));
        }
        for field in extras.fields {
            if let Some(value) = self.field_param(field.name) {
                filters.push(field.filter(value)?);
            }
        }
        for name in ["chatId", "source", "provider"] {
            if self.field_param(name).is_some()
                && !extras.fields.iter().any(|field| field.name == name)
            {
                return Err(ApiError::bad_request(format!(
                    "{name} is not supported here"
                )));
            }
        }
        for (name, value, key) in [
            ("characterId", &self.character_id, "characterId"),
            ("personaId", &self.persona_id, "personaId"),
        ] {
            let Some(value) = value else { continue };
            if extras.fields.iter().any(|field| field.name == name) {
                continue;
            }
            if !spec.participants {
                return Err(ApiError::bad_request(format!(
                    "{name} is not supported here"
                )));
            }
            let id = Uuid::try_parse(value)
                .map_err(|_| ApiError::bad_request(format!("{name} must be an id")))?;
            filters.push(Filter::ArrayObjectHas {
                field: "participants",
                key,
                value: Value::String(id.to_string()),
            });
        }
        let include_total = match &self.include_total {
            None => false,
            Some(text) => parse_bool("includeTotal", text)?,
        };
        Ok(ListRequest {
            limit,
            sort,
            descending,
            sort_name,
            after,
            filters,
            include_total,
        })
    }
}

pub const CATEGORIES: &[&str] = &[
    "image",
    "avatar",
    "attachment",
    "document",
    "audio",
    "export",
];
pub const LINK_KINDS: &[&str] = &["character", "persona", "chat", "message"];

impl ListParams {
    fn file_filters(&self) -> Result<Vec<Filter>> {
        let mut filters = Vec::new();
        if let Some(category) = &self.category {
            if !CATEGORIES.contains(&category.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "category must be one of {}",
                    CATEGORIES.join(", ")
                )));
            }
            filters.push(Filter::Equals {
                field: "category",
                value: Value::String(category.clone()),
            });
        }
        if let Some(link) = &self.linked_to {
            let bad = || ApiError::bad_request("linkedTo must be kind:id, e.g. character:<id>");
            let (kind, id) = link.split_once(':').ok_or_else(bad)?;
            let id = Uuid::try_parse(id).map_err(|_| bad())?;
            if !LINK_KINDS.contains(&kind) {
                return Err(bad());
            }
            filters.push(Filter::ArrayContains {
                field: "linkedTo",
                value: serde_json::json!({"kind": kind, "id": id.to_string()}),
            });
        }
        if let Some(prefix) = &self.mime_prefix {
            let prefix = prefix.trim().to_ascii_lowercase();
            if prefix.is_empty() {
                return Err(ApiError::bad_request("mimePrefix must not be empty"));
            }
            filters.push(Filter::StartsWith {
                field: "mimeType",
                prefix,
            });
        }
        Ok(filters)
    }
}

impl ListRequest {
    /// The `{items, nextCursor, total?}` body of a page.
    pub fn page_body(&self, page: Page) -> Value {
        let next_cursor = page.next.map(|(key, id)| {
            let cursor = Cursor {
                sort: self.sort_name.clone(),
                key,
                id,
            };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
        });
        let mut body = serde_json::json!({"items": page.items, "nextCursor": next_cursor});
        if let Some(total) = page.total {
            body["total"] = Value::from(total);
        }
        body
    }
}

fn decode_cursor(text: &str, sort_name: &str, sort: SortField) -> Result<(SortValue, Uuid)> {
    let bad =
        || ApiError::bad_request("cursor is not valid for this list (use the nextCursor given)");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let kind_matches = matches!(
        (&cursor.key, sort),
        (
            SortValue::Millis(_),
            SortField::UpdatedAt | SortField::Key(_)
        ) | (SortValue::Text(_), SortField::Name)
    );
    if cursor.sort != sort_name || !kind_matches {
        return Err(bad());
    }
    Ok((cursor.key, cursor.id))
}

pub fn parse_bool(name: &str, text: &str) -> Result<bool> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be true or false"
        ))),
    }
}

/// A resource served over HTTP: its routes live under `/api/{collection}`, and its schema
/// (`ToSchema`) describes them in the OpenAPI document.
pub trait HttpResource: crate::model::Resource + utoipa::ToSchema {
    /// The filters its list accepts.
    const LIST: ListSpec;
    /// Sorts and field filters beyond `LIST`.
    const LIST_EXTRAS: ListExtras = ListExtras::NONE;
    /// Operations (by id) beyond the document routes that take a document's id as `id`:
    /// the document links a created document to them.
    const RELATED_OPERATIONS: &'static [&'static str] = &[];
}

#[cfg(test)]
mod tests;
