//! The framing of an account archive: a POSIX ustar file. Tar, not zip, because a tar stream
//! is written front to back with no central directory: each entry is a 512-byte header that
//! states the entry's size, then the bytes, padded to 512. So an export streams a blob straight
//! from the store into the response, and an import reads entries one after the other.
//!
//! The reader is strict on purpose (an archive is untrusted input): only regular files, only
//! the paths [`check_path`] allows, sizes within the caller's bound, a valid header checksum.

use tokio::io::{AsyncRead, AsyncReadExt};

pub const BLOCK: usize = 512;
/// The longest path a ustar header holds without extensions; every path we write is shorter.
const MAX_PATH: usize = 100;

/// The header of a regular file entry of `size` bytes at `path` (at most 100 ASCII bytes).
pub fn header(path: &str, size: u64, mtime: u64) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    let name = path.as_bytes();
    block[..name.len().min(MAX_PATH)].copy_from_slice(&name[..name.len().min(MAX_PATH)]);
    octal(&mut block[100..108], 0o644);
    octal(&mut block[108..116], 0);
    octal(&mut block[116..124], 0);
    octal(&mut block[124..136], size);
    octal(&mut block[136..148], mtime);
    block[156] = b'0';
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    let checksum = checksum(&block);
    octal(&mut block[148..155], checksum);
    block[155] = b' ';
    block
}

/// The zero bytes that pad an entry of `size` bytes to a whole block.
pub fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// The two zero blocks that end an archive.
pub const END: [u8; 2 * BLOCK] = [0u8; 2 * BLOCK];

/// `value` as zero-padded octal digits filling `field` but its last byte (a NUL).
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// The header checksum: the sum of its bytes with the checksum field read as spaces.
fn checksum(block: &[u8; BLOCK]) -> u64 {
    block
        .iter()
        .enumerate()
        .map(|(index, byte)| {
            if (148..156).contains(&index) {
                u64::from(b' ')
            } else {
                u64::from(*byte)
            }
        })
        .sum()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("the archive is not a tar file: {0}")]
    Malformed(String),
    #[error("entry {path:?} is not allowed: {why}")]
    Path { path: String, why: String },
    #[error("entry {path:?} is larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
}

/// Which paths an archive may hold: relative, `/`-separated segments of ASCII letters,
/// digits, `.`, `-`, `_`; no segment empty or starting with a dot (so no `..`).
pub fn check_path(path: &str) -> Result<(), ArchiveError> {
    let refuse = |why: &str| {
        Err(ArchiveError::Path {
            path: path.to_owned(),
            why: why.to_owned(),
        })
    };
    if path.is_empty() || path.len() > MAX_PATH {
        return refuse("empty or too long");
    }
    for segment in path.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return refuse("absolute, empty or dot segment");
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return refuse("characters outside A-Z a-z 0-9 - _ .");
        }
    }
    Ok(())
}

/// One entry's header, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub size: u64,
}

/// Reads the next entry header; `None` at the end of the archive. The caller then reads
/// exactly `size` bytes and calls [`skip_padding`].
pub async fn next_entry<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_entry: u64,
) -> Result<Option<Entry>, ArchiveError> {
    let mut block = [0u8; BLOCK];
    read_block(reader, &mut block).await?;
    if block.iter().all(|byte| *byte == 0) {
        return Ok(None);
    }
    let stored = parse_octal(&block[148..156])?;
    if stored != checksum(&block) {
        return Err(ArchiveError::Malformed("bad header checksum".to_owned()));
    }
    let name_end = block[..MAX_PATH]
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(MAX_PATH);
    let path = std::str::from_utf8(&block[..name_end])
        .map_err(|_| ArchiveError::Malformed("a path is not UTF-8".to_owned()))?
        .to_owned();
    let has_prefix = block[345] != 0;
    if !matches!(block[156], b'0' | 0) || has_prefix {
        return Err(ArchiveError::Path {
            path,
            why: "only plain files are allowed (no links, directories or long names)".to_owned(),
        });
    }
    check_path(&path)?;
    let size = parse_octal(&block[124..136])?;
    if size > max_entry {
        return Err(ArchiveError::TooLarge {
            path,
            limit: max_entry,
        });
    }
    Ok(Some(Entry { path, size }))
}

/// Skips the padding after an entry of `size` bytes.
pub async fn skip_padding<R: AsyncRead + Unpin>(
    reader: &mut R,
    size: u64,
) -> Result<(), ArchiveError> {
    let mut pad = [0u8; BLOCK];
    let length = padding(size);
    reader
        .read_exact(&mut pad[..length])
        .await
        .map_err(|_| truncated())?;
    Ok(())
}

async fn read_block<R: AsyncRead + Unpin>(
    reader: &mut R,
    block: &mut [u8; BLOCK],
) -> Result<(), ArchiveError> {
    reader.read_exact(block).await.map_err(|_| truncated())?;
    Ok(())
}

pub fn truncated() -> ArchiveError {
    ArchiveError::Malformed("the archive ends in the middle of an entry".to_owned())
}

fn parse_octal(field: &[u8]) -> Result<u64, ArchiveError> {
    let text: String = field
        .iter()
        .take_while(|byte| **byte != 0)
        .map(|byte| char::from(*byte))
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8)
        .map_err(|_| ArchiveError::Malformed(format!("bad octal number {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_written_header_reads_back() {
        let mut bytes = header("collections/tags.jsonl", 700, 1).to_vec();
        bytes.extend(vec![7u8; 700]);
        bytes.extend(vec![0u8; padding(700)]);
        bytes.extend(END);
        let mut reader = bytes.as_slice();
        let entry = next_entry(&mut reader, 1000).await.unwrap().unwrap();
        assert_eq!(entry.path, "collections/tags.jsonl");
        assert_eq!(entry.size, 700);
        let mut data = vec![0u8; 700];
        reader.read_exact(&mut data).await.unwrap();
        skip_padding(&mut reader, 700).await.unwrap();
        assert_eq!(next_entry(&mut reader, 1000).await.unwrap(), None);
        let mut small = header("a", 700, 1).as_slice().to_vec();
        small.extend(vec![0u8; 1024]);
        assert!(matches!(
            next_entry(&mut small.as_slice(), 10).await,
            Err(ArchiveError::TooLarge { .. })
        ));
    }

    #[test]
    fn hostile_paths_are_refused() {
        for bad in [
            "../x",
            "/etc/passwd",
            "a//b",
            ".hidden",
            "a/../b",
            "a\\b",
            "",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path("blobs/0af3.bin").is_ok());
    }
}
