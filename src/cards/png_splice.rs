//! Card chunks spliced into a PNG as it streams: the image's bytes flow from the blob store to
//! the client in the pieces they arrive in, never held whole. The splicer reads chunk headers
//! (8 bytes) and the keyword of text chunks (at most 80 bytes); it passes every other byte
//! through untouched, drops old card chunks (`ccv3`, `chara`), and inserts the new tEXt
//! chunks (CRCs by the `png` crate) right after IHDR, where the PNG spec allows text. The
//! signature goes out only once IHDR's header has been read, so the first piece a caller gets
//! proves the source is a PNG.

use std::io;

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{Stream, StreamExt, TryStreamExt};
use png::chunk::{self, ChunkType};
use png::text_metadata::{EncodableTextChunk, TEXtChunk};

use super::CardError;
use super::png::{CCV3, CHARA, SIGNATURE};

/// A keyword is 1–79 bytes and a NUL.
const KEYWORD_WITH_NUL: usize = 80;
/// The longest chunk the PNG spec allows.
const MAX_CHUNK: u32 = (1 << 31) - 1;

/// `cards` (keyword, JSON) encoded as tEXt chunks of base64, as they are inserted.
pub fn card_chunks(cards: &[(&str, &[u8])]) -> Result<Bytes, CardError> {
    let mut out = Vec::new();
    for (keyword, json) in cards {
        TEXtChunk::new(*keyword, STANDARD.encode(json))
            .encode(&mut out)
            .map_err(|error| CardError::invalid("png", error.to_string()))?;
    }
    Ok(Bytes::from(out))
}

/// The PNG of `source` with its card chunks replaced by `chunks` (from [`card_chunks`]).
/// A source that is not a PNG, or ends before IEND, ends the stream with an error.
pub fn splice<S>(source: S, chunks: Bytes) -> impl Stream<Item = io::Result<Bytes>> + Send
where
    S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
{
    futures_util::stream::try_unfold(
        (source, Splicer::new(chunks)),
        |(mut source, mut splicer)| async move {
            loop {
                let Some(piece) = source.next().await else {
                    splicer.finish().map_err(io::Error::other)?;
                    return Ok(None);
                };
                let mut out = Vec::new();
                splicer.feed(piece?, &mut out).map_err(io::Error::other)?;
                if !out.is_empty() {
                    return Ok::<_, io::Error>(Some((out, (source, splicer))));
                }
            }
        },
    )
    .map_ok(|pieces| futures_util::stream::iter(pieces.into_iter().map(Ok)))
    .try_flatten()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Signature,
    Header,
    /// The first `want` data bytes of a text chunk of `length` bytes, to read its keyword.
    Keyword {
        want: usize,
        length: u32,
    },
    /// The rest of a chunk (data and CRC), kept or dropped.
    Body {
        remaining: u64,
        keep: bool,
        kind: ChunkType,
    },
    Done,
}

/// The state machine behind [`splice`]: bytes in any pieces in, pieces out.
pub struct Splicer {
    state: State,
    /// The bytes of a signature, header or keyword read so far.
    held: Vec<u8>,
    /// The card chunks, until they are written after IHDR.
    chunks: Option<Bytes>,
}

impl Splicer {
    pub fn new(chunks: Bytes) -> Self {
        Self {
            state: State::Signature,
            held: Vec::with_capacity(8 + KEYWORD_WITH_NUL),
            chunks: Some(chunks),
        }
    }

    /// Moves bytes of `input` into `held` until it has `wanted`; true once it has.
    fn hold(&mut self, input: &mut Bytes, wanted: usize) -> bool {
        let missing = wanted.saturating_sub(self.held.len()).min(input.len());
        self.held.extend_from_slice(&input.split_to(missing));
        self.held.len() >= wanted
    }

    /// Reads `input`, appending what goes out to `out`.
    pub fn feed(&mut self, mut input: Bytes, out: &mut Vec<Bytes>) -> Result<(), CardError> {
        while !input.is_empty() {
            match self.state {
                State::Signature => {
                    if !self.hold(&mut input, SIGNATURE.len()) {
                        return Ok(());
                    }
                    if self.held != SIGNATURE {
                        return Err(CardError::invalid("avatar", "the avatar is not a PNG"));
                    }
                    self.state = State::Header;
                }
                State::Header => {
                    let first = self.chunks.is_some();
                    let start = if first { SIGNATURE.len() } else { 0 };
                    if !self.hold(&mut input, start + 8) {
                        return Ok(());
                    }
                    let header = &self.held[start..];
                    let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
                    let kind = ChunkType([header[4], header[5], header[6], header[7]]);
                    if length > MAX_CHUNK || (first && kind != chunk::IHDR) {
                        return Err(CardError::invalid("avatar", "the avatar is not a PNG"));
                    }
                    if [chunk::tEXt, chunk::zTXt, chunk::iTXt].contains(&kind) {
                        let want = (length as usize).min(KEYWORD_WITH_NUL);
                        self.state = State::Keyword { want, length };
                    } else {
                        out.push(Bytes::from(std::mem::take(&mut self.held)));
                        self.state = body(u64::from(length), true, kind);
                    }
                }
                State::Keyword { want, length } => {
                    if !self.hold(&mut input, 8 + want) {
                        return Ok(());
                    }
                    let keyword = self.held[8..].split(|byte| *byte == 0).next();
                    let card = keyword.is_some_and(|keyword| {
                        [CCV3, CHARA]
                            .iter()
                            .any(|name| keyword.eq_ignore_ascii_case(name.as_bytes()))
                    });
                    let text = std::mem::take(&mut self.held);
                    if !card {
                        out.push(Bytes::from(text));
                    }
                    let rest = u64::from(length) - want as u64;
                    self.state = body(rest, !card, chunk::tEXt);
                }
                State::Body {
                    remaining,
                    keep,
                    kind,
                } => {
                    let length = remaining.min(input.len() as u64);
                    let piece = input.split_to(length as usize);
                    if keep {
                        out.push(piece);
                    }
                    let remaining = remaining - length;
                    self.state = match (remaining, kind) {
                        (0, chunk::IEND) => State::Done,
                        (0, kind) => {
                            if kind == chunk::IHDR
                                && let Some(chunks) = self.chunks.take()
                            {
                                out.push(chunks);
                            }
                            State::Header
                        }
                        (remaining, kind) => State::Body {
                            remaining,
                            keep,
                            kind,
                        },
                    };
                }
                // Whatever follows IEND is not part of the image.
                State::Done => input.clear(),
            }
        }
        Ok(())
    }

    /// Called at the end of the source: the PNG must have ended with IEND.
    pub fn finish(&self) -> Result<(), CardError> {
        if self.state == State::Done {
            Ok(())
        } else {
            Err(CardError::invalid("avatar", "the avatar ends before IEND"))
        }
    }
}

/// The data (`length` bytes) and CRC of a chunk of `kind`.
fn body(length: u64, keep: bool, kind: ChunkType) -> State {
    State::Body {
        remaining: length + 4,
        keep,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::png::{self, DEFAULT_IMAGE};

    /// `bytes` fed in pieces of `size`, collected.
    fn spliced(bytes: &[u8], size: usize, chunks: &Bytes) -> Result<Vec<u8>, CardError> {
        let mut splicer = Splicer::new(chunks.clone());
        let mut out = Vec::new();
        for piece in bytes.chunks(size) {
            splicer.feed(Bytes::copy_from_slice(piece), &mut out)?;
        }
        splicer.finish()?;
        Ok(out.concat())
    }

    #[test]
    fn cards_go_in_after_ihdr_in_any_piece_size_and_old_cards_go() {
        let old = png::with_cards(&DEFAULT_IMAGE, &[(CHARA, b"{\"old\":1}")]).unwrap();
        let chunks = card_chunks(&[(CCV3, b"{\"v\":3}"), (CHARA, b"{\"v\":2}")]).unwrap();
        let whole = spliced(&old, old.len(), &chunks).unwrap();
        for size in [1, 7, 13, 80, 4096] {
            assert_eq!(spliced(&old, size, &chunks).unwrap(), whole, "{size}");
        }
        // Signature, IHDR (8 + 13 + 4 bytes), then the new chunks.
        assert_eq!(&whole[33..33 + chunks.len()], &chunks[..]);
        assert_eq!(png::read_card(&whole, 1 << 20).unwrap(), b"{\"v\":3}");
        let v2_only = png::with_cards(&whole, &[]).unwrap();
        assert_eq!(v2_only, png::strip_cards(&old).unwrap());
        // The image itself decodes, to the same pixels.
        let decoded = image::load_from_memory(&whole).unwrap();
        let plain = image::load_from_memory(&DEFAULT_IMAGE).unwrap();
        assert_eq!(decoded.as_bytes(), plain.as_bytes());
    }

    #[test]
    fn what_is_not_a_whole_png_is_refused() {
        let chunks = card_chunks(&[(CCV3, b"{}")]).unwrap();
        assert!(spliced(b"GIF89a not a png at all", 3, &chunks).is_err());
        assert!(spliced(&DEFAULT_IMAGE[..DEFAULT_IMAGE.len() - 5], 64, &chunks).is_err());
        let mut no_header = SIGNATURE.to_vec();
        no_header.extend_from_slice(&DEFAULT_IMAGE[33..]);
        assert!(spliced(&no_header, 64, &chunks).is_err());
    }
}
