//! Field types and rules shared by several resources.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::{Collection, Reference};

/// Collects field errors while a resource is validated.
#[derive(Default)]
pub struct Checks(pub Vec<FieldError>);

impl Checks {
    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Trims a required name and checks its length in characters.
    pub fn name(&mut self, field: &str, value: &mut String, max: usize) {
        let trimmed = value.trim();
        if trimmed.len() != value.len() {
            *value = trimmed.to_owned();
        }
        let length = value.chars().count();
        if length == 0 {
            self.fail(field, "must not be empty");
        } else if length > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
    }

    pub fn no_duplicates(&mut self, field: &str, ids: &[Uuid]) {
        let mut seen = std::collections::HashSet::new();
        if ids.iter().any(|id| !seen.insert(id)) {
            self.fail(field, "must not list the same id twice");
        }
    }

    pub fn physical_descriptions(&mut self, items: &mut [PhysicalDescription]) {
        for (index, item) in items.iter_mut().enumerate() {
            self.name(
                &format!("physicalDescriptions[{index}].name"),
                &mut item.name,
                200,
            );
            item.id.get_or_insert_with(super::ids::new_id);
        }
    }
}

/// One described look of a character or persona, with prompts of several lengths.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhysicalDescription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_description: Option<String>,
}

/// References from a `tags` array.
pub fn tag_references(tags: &[Uuid]) -> impl Iterator<Item = Reference> + '_ {
    tags.iter().enumerate().map(|(index, id)| Reference {
        field: format!("tags[{index}]"),
        collection: Collection::Tags,
        id: *id,
    })
}
