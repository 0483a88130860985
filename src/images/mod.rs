//! Image variants: resized copies of image files (avatars, thumbnails) made on request.
//! `spec` parses and bounds what a request asks for (sizes from `IMAGE_VARIANT_SIZES`, fit,
//! format) and names the variant; `render` decodes, orients, resizes and encodes;
//! `variants` finds a variant in the blob store or makes it once and stores it, and `index`
//! remembers the variants found so the next request skips the store. Variants are
//! blobs under `variants/{userId}/{sha256}/`, never file records: they are derivable, go with
//! their original's blob, and are not copied by migrations.

mod in_flight;
mod index;
pub mod render;
pub mod spec;
pub mod variants;
mod webp_icc;

#[cfg(test)]
mod tests;

pub use self::render::RenderError;
pub use self::spec::{SpecError, VariantQuery, VariantSpec};
pub use self::variants::{Original, Outcome, VariantBlob, VariantError, Variants};
use crate::error::{ApiError, FieldError};

impl From<SpecError> for ApiError {
    fn from(error: SpecError) -> Self {
        let problem = FieldError::new(error.field, error.message.clone());
        ApiError::bad_fields(error.message, vec![problem])
    }
}

impl From<VariantError> for ApiError {
    fn from(error: VariantError) -> Self {
        match error {
            VariantError::NotAnImage(_) | VariantError::Render(RenderError::Unsupported) => {
                ApiError::UnsupportedMediaType(error.to_string())
            }
            VariantError::Render(
                problem @ (RenderError::TooLarge { .. } | RenderError::Undecodable(_)),
            ) => ApiError::validation("file", problem.to_string()),
            VariantError::Render(problem @ RenderError::Encoding(_)) => {
                ApiError::Internal(anyhow::Error::from(problem))
            }
            VariantError::Blob(error) => error.into(),
        }
    }
}
