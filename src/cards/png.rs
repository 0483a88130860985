//! The card text chunks of a PNG (or APNG). Reading walks the chunks with the `png` crate's
//! streaming decoder without inflating the image (IDAT and fdAT are skipped), so a huge or
//! hostile image costs no memory; compressed text (zTXt, compressed iTXt) is inflated with a
//! limit. Writing copies the chunks as they are, leaves out old card chunks, and inserts new
//! tEXt chunks before IEND: the image is never re-encoded.

use std::ops::Range;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use png::chunk::{self, ChunkType};
use png::text_metadata::{EncodableTextChunk, TEXtChunk};
use png::{Decoded, StreamingDecoder};

use super::CardError;

pub const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// The keywords of card chunks: V3 (preferred) and V2/V1.
pub const CCV3: &str = "ccv3";
pub const CHARA: &str = "chara";

/// Base64 as cards write it: padded or not.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

pub fn is_png(bytes: &[u8]) -> bool {
    bytes.starts_with(SIGNATURE)
}

/// One chunk of a PNG: its type and where it lies (length, type, data and CRC).
struct RawChunk {
    kind: ChunkType,
    range: Range<usize>,
}

/// The chunks of a PNG, and the decoder that read them (holding the text chunks).
struct Scan {
    chunks: Vec<RawChunk>,
    decoder: StreamingDecoder,
}

fn scan(bytes: &[u8]) -> Result<Scan, CardError> {
    if !is_png(bytes) {
        return Err(CardError::UnknownFormat("not a PNG".to_owned()));
    }
    let mut decoder = StreamingDecoder::new();
    let mut chunks = Vec::new();
    let mut offset = 0;
    loop {
        let (consumed, event) = decoder
            .update(&bytes[offset..], None)
            .map_err(|error| CardError::invalid("png", format!("not a readable PNG: {error}")))?;
        offset += consumed;
        match event {
            Decoded::ChunkBegin(length, kind) => {
                let start = offset - 8;
                chunks.push(RawChunk {
                    kind,
                    range: start..start + 12 + length as usize,
                });
            }
            Decoded::ChunkComplete(kind) if kind == chunk::IEND => break,
            _ if offset >= bytes.len() => {
                return Err(CardError::invalid("png", "the PNG ends before IEND"));
            }
            _ => {}
        }
    }
    Ok(Scan { chunks, decoder })
}

/// The card JSON of a PNG: from a `ccv3` chunk when there is one, else from `chara`; text
/// that inflates past `limit` bytes is refused.
pub fn read_card(bytes: &[u8], limit: usize) -> Result<Vec<u8>, CardError> {
    let scan = scan(bytes)?;
    let info = scan
        .decoder
        .info()
        .ok_or_else(|| CardError::invalid("png", "the PNG has no header"))?;
    for keyword in [CCV3, CHARA] {
        let matches = |name: &str| name.eq_ignore_ascii_case(keyword);
        let text = if let Some(chunk) = info
            .uncompressed_latin1_text
            .iter()
            .find(|c| matches(&c.keyword))
        {
            Some(chunk.text.clone())
        } else if let Some(chunk) = info
            .compressed_latin1_text
            .iter()
            .find(|c| matches(&c.keyword))
        {
            let mut chunk = chunk.clone();
            chunk
                .decompress_text_with_limit(limit)
                .map_err(|_| too_large(keyword, limit))?;
            chunk.get_text().ok()
        } else if let Some(chunk) = info.utf8_text.iter().find(|c| matches(&c.keyword)) {
            let mut chunk = chunk.clone();
            chunk
                .decompress_text_with_limit(limit)
                .map_err(|_| too_large(keyword, limit))?;
            chunk.get_text().ok()
        } else {
            None
        };
        if let Some(text) = text {
            if text.len() > limit {
                return Err(too_large(keyword, limit));
            }
            return decode_text(keyword, &text);
        }
    }
    Err(CardError::invalid(
        "png",
        "the PNG has no `ccv3` or `chara` text chunk: it is an image, not a character card",
    ))
}

fn too_large(keyword: &str, limit: usize) -> CardError {
    CardError::TooLarge(format!(
        "the PNG's `{keyword}` chunk inflates past {limit} bytes"
    ))
}

/// A card chunk's text: base64 of UTF-8 JSON (as the specs say), or the JSON itself.
fn decode_text(keyword: &str, text: &str) -> Result<Vec<u8>, CardError> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        return Ok(trimmed.as_bytes().to_vec());
    }
    let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    LENIENT_BASE64
        .decode(compact.as_bytes())
        .map_err(|_| CardError::invalid(keyword, "the chunk is neither base64 nor JSON"))
}

/// Whether a chunk is a text chunk carrying a card (its keyword `chara` or `ccv3`).
fn is_card_chunk(bytes: &[u8], chunk: &RawChunk) -> bool {
    if ![chunk::tEXt, chunk::zTXt, chunk::iTXt].contains(&chunk.kind) {
        return false;
    }
    let data = &bytes[chunk.range.start + 8..chunk.range.end - 4];
    let keyword = data.split(|byte| *byte == 0).next().unwrap_or_default();
    [CCV3, CHARA]
        .iter()
        .any(|name| keyword.eq_ignore_ascii_case(name.as_bytes()))
}

/// The PNG without its card chunks: what is stored as the character's avatar.
pub fn strip_cards(bytes: &[u8]) -> Result<Vec<u8>, CardError> {
    with_cards(bytes, &[])
}

/// The PNG with its card chunks replaced by `cards` (keyword, JSON), each written as a tEXt
/// chunk of base64 before IEND.
pub fn with_cards(bytes: &[u8], cards: &[(&str, &[u8])]) -> Result<Vec<u8>, CardError> {
    let scan = scan(bytes)?;
    let mut out = Vec::with_capacity(
        bytes.len()
            + cards
                .iter()
                .map(|(_, json)| json.len() * 4 / 3 + 64)
                .sum::<usize>(),
    );
    out.extend_from_slice(SIGNATURE);
    for chunk in &scan.chunks {
        if chunk.kind == chunk::IEND {
            for (keyword, json) in cards {
                TEXtChunk::new(*keyword, STANDARD.encode(json))
                    .encode(&mut out)
                    .map_err(|error| CardError::invalid("png", error.to_string()))?;
            }
        }
        if !is_card_chunk(bytes, chunk) {
            out.extend_from_slice(&bytes[chunk.range.clone()]);
        }
    }
    Ok(out)
}

/// A plain image for a character without an avatar: 400×600, one grey, encoded once.
pub static DEFAULT_IMAGE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let (width, height) = (400u32, 600u32);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let pixels = vec![0x80u8; (width * height) as usize];
    if let Ok(mut writer) = encoder.write_header() {
        let _ = writer.write_image_data(&pixels);
    }
    out
});
