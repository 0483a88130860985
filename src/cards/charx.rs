//! CharX: a zip with the card at `card.json` and the card's embedded assets at the paths its
//! `embeded://` URIs name. Reading is bounded: the entry count, the bytes inflated in total,
//! and paths (an entry or asset path with `..`, a leading `/` or `\`, or a drive letter
//! refuses the whole archive). Only `card.json` and the assets the card names are inflated.

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};

use serde_json::{Map, Value};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::CardError;

/// The most entries an archive may have.
pub const MAX_ENTRIES: usize = 1_000;
/// The URI scheme of an asset inside the archive (spelled as the V3 spec spells it).
pub const EMBEDDED: &str = "embeded://";
pub const CARD_PATH: &str = "card.json";

pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// What a CharX holds that an import uses.
pub struct Charx {
    pub card: Vec<u8>,
    /// The bytes of each embedded asset, by its path in the archive.
    pub assets: HashMap<String, Vec<u8>>,
}

/// Whether a path stays inside the archive.
fn is_safe(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with(['/', '\\'])
        && !path.contains('\\')
        && path.as_bytes().get(1).is_none_or(|byte| *byte != b':')
        && path.split('/').all(|segment| segment != "..")
}

/// Reads the card and the assets its `embeded://` URIs name; `limit` bounds the bytes
/// inflated in total.
pub fn read(bytes: &[u8], limit: usize) -> Result<Charx, CardError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| CardError::invalid("charx", format!("not a readable zip: {error}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(CardError::TooLarge(format!(
            "the archive has {} entries; at most {MAX_ENTRIES} are read",
            archive.len()
        )));
    }
    for name in archive.file_names() {
        let name = name.map_err(|error| CardError::invalid("charx", error.to_string()))?;
        if !is_safe(&name) {
            return Err(CardError::invalid(
                "charx",
                format!("the entry {name:?} points outside the archive"),
            ));
        }
    }
    let mut budget = limit;
    let card = inflate(&mut archive, CARD_PATH, &mut budget)?;
    let parsed = super::json_object(&card, CARD_PATH)?;
    let mut assets = HashMap::new();
    for (index, path) in embedded_paths(&parsed) {
        if !is_safe(&path) {
            return Err(CardError::invalid(
                format!("data.assets[{index}].uri"),
                format!("{path:?} points outside the archive"),
            ));
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = assets.entry(path) {
            let path = slot.key().clone();
            let content =
                inflate(&mut archive, &path, &mut budget).map_err(|error| match error {
                    CardError::Invalid { .. } => CardError::invalid(
                        format!("data.assets[{index}].uri"),
                        format!("{path:?} is not in the archive"),
                    ),
                    other => other,
                })?;
            slot.insert(content);
        }
    }
    Ok(Charx { card, assets })
}

/// The archive paths of a card's `embeded://` assets, with their index in `data.assets`.
pub fn embedded_paths(card: &Map<String, Value>) -> Vec<(usize, String)> {
    card.get("data")
        .and_then(|data| data.get("assets"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, asset)| {
            let uri = asset.get("uri")?.as_str()?;
            Some((index, uri.strip_prefix(EMBEDDED)?.to_owned()))
        })
        .collect()
}

fn inflate(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    path: &str,
    budget: &mut usize,
) -> Result<Vec<u8>, CardError> {
    let entry = archive
        .by_name(path)
        .map_err(|_| CardError::invalid("charx", format!("the archive has no {path}")))?;
    let mut content = Vec::new();
    entry
        .take(*budget as u64 + 1)
        .read_to_end(&mut content)
        .map_err(|error| CardError::invalid("charx", format!("{path}: {error}")))?;
    if content.len() > *budget {
        return Err(CardError::TooLarge(format!(
            "the archive inflates past {} bytes (MAX_IMPORT_BYTES)",
            content.len()
        )));
    }
    *budget -= content.len();
    Ok(content)
}

/// Writes a CharX of `card` (JSON) and `assets` (archive path, source) to `out` as it goes,
/// on a writer that need not seek (sizes and CRCs follow each entry in a data descriptor).
/// Each asset is opened by `open` when its turn comes (`None`: gone, left out) and copied
/// through in pieces, so no asset is ever held whole. The card is compressed, the assets
/// (mostly images, already compressed) are stored.
pub fn write_stream<W, A, R>(
    out: W,
    card: &[u8],
    assets: impl IntoIterator<Item = (String, A)>,
    mut open: impl FnMut(A) -> std::io::Result<Option<R>>,
) -> Result<W, CardError>
where
    W: Write,
    R: Read,
{
    let failed = |error: zip::result::ZipError| CardError::invalid("charx", error.to_string());
    let io_failed = |error: std::io::Error| CardError::invalid("charx", error.to_string());
    let mut writer = ZipWriter::new_stream(out);
    let options = SimpleFileOptions::default();
    writer
        .start_file(
            CARD_PATH,
            options.compression_method(CompressionMethod::Deflated),
        )
        .map_err(failed)?;
    writer.write_all(card).map_err(io_failed)?;
    for (path, source) in assets {
        let Some(mut source) = open(source).map_err(io_failed)? else {
            continue;
        };
        writer
            .start_file(path, options.compression_method(CompressionMethod::Stored))
            .map_err(failed)?;
        std::io::copy(&mut source, &mut writer).map_err(io_failed)?;
    }
    Ok(writer.finish().map_err(failed)?.into_inner())
}
