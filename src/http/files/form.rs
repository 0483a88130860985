//! The text parts of an upload form (`category`, `source`, `description`, `tags`,
//! `linkedTo`), read with a size bound and turned into the client-owned fields of a file.

use axum::extract::multipart::Field;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, FieldError, Result};

/// The largest text part accepted, in bytes.
const MAX_TEXT_PART: usize = 64 * 1024;
/// The most text parts one form may have.
const MAX_TEXT_PARTS: usize = 64;
/// Room the text parts and multipart framing may take beyond `MAX_UPLOAD_SIZE`: a request
/// whose `Content-Length` exceeds the limit by more is refused before it is read.
pub const FORM_OVERHEAD: u64 = (MAX_TEXT_PART * MAX_TEXT_PARTS) as u64 + 64 * 1024;

/// Text parts seen so far.
#[derive(Default)]
pub struct FormFields {
    pub category: Option<String>,
    source: Option<String>,
    description: Option<String>,
    tags: Vec<Value>,
    linked_to: Vec<Value>,
    parts: usize,
}

impl FormFields {
    /// Reads one text part into the form.
    pub async fn read(&mut self, name: &str, mut field: Field<'_>) -> Result<()> {
        self.parts += 1;
        if self.parts > MAX_TEXT_PARTS {
            return Err(ApiError::bad_request(format!(
                "a form may have at most {MAX_TEXT_PARTS} text parts"
            )));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if bytes.len() + chunk.len() > MAX_TEXT_PART {
                return Err(ApiError::bad_fields(
                    "a form part is too large",
                    vec![FieldError::new(
                        name,
                        format!("must be at most {MAX_TEXT_PART} bytes"),
                    )],
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::validation(name, "must be UTF-8 text"))?;
        match name {
            "category" => self.category = Some(text.trim().to_owned()),
            "source" => self.source = Some(text.trim().to_owned()),
            "description" => self.description = Some(text),
            "tags" => self.tags.extend(list(name, &text)?),
            "linkedTo" => {
                for item in list(name, &text)? {
                    self.linked_to.push(link(item));
                }
            }
            _ => return Err(unknown_part(name)),
        }
        Ok(())
    }

    /// The client-owned fields of the file, ready to be checked with the other fields.
    pub fn into_body(self, default_category: &str) -> Map<String, Value> {
        let mut body = Map::new();
        let category = self.category.unwrap_or_else(|| default_category.to_owned());
        body.insert("category".to_owned(), Value::String(category));
        if let Some(source) = self.source {
            body.insert("source".to_owned(), Value::String(source));
        }
        if let Some(description) = self.description {
            body.insert("description".to_owned(), Value::String(description));
        }
        body.insert("tags".to_owned(), Value::Array(self.tags));
        body.insert("linkedTo".to_owned(), Value::Array(self.linked_to));
        body
    }
}

/// A JSON array, or a comma-separated list of plain values.
fn list(name: &str, text: &str) -> Result<Vec<Value>> {
    let text = text.trim();
    if text.starts_with('[') {
        match serde_json::from_str(text) {
            Ok(Value::Array(items)) => Ok(items),
            _ => Err(ApiError::validation(name, "must be a JSON array")),
        }
    } else {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| Value::String(item.to_owned()))
            .collect())
    }
}

/// `kind:id` becomes `{kind, id}`; objects pass as they are (and are checked later).
fn link(item: Value) -> Value {
    match &item {
        Value::String(text) => match text.split_once(':') {
            Some((kind, id)) => json!({"kind": kind, "id": id}),
            None => item,
        },
        _ => item,
    }
}

pub fn unknown_part(name: &str) -> ApiError {
    let server_fields = <crate::model::file::File as crate::model::Resource>::SERVER_FIELDS;
    let message =
        if name != "source" && super::super::resource::is_server_owned(name, server_fields) {
            "is set by the server"
        } else {
            "is not a part of an upload form (file, category, source, description, tags, linkedTo)"
        };
    ApiError::bad_fields(
        "the form has parts a client may not send",
        vec![FieldError::new(name, message)],
    )
}

pub fn malformed(error: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::bad_request(format!("malformed multipart body: {}", error.body_text()))
}
