//! The checksum on quillstore's own writes (PutObject, UploadPart). quillstore hashes every
//! upload with SHA-256 itself (the file's identity), so the store's check only has to catch
//! bytes damaged between the two: a CRC32C does that at a fraction of a SHA-256's cost on
//! both sides (measured in docs/benchmarks.md), and is what the AWS SDKs send by default.

use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedPart};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crc_fast::CrcAlgorithm;
use sha2::{Digest, Sha256};

/// What goes with each write (decided at start, see `client::decide_checksums`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteChecksum {
    /// `x-amz-checksum-crc32c`, with an unsigned payload.
    Crc32c,
    /// `x-amz-checksum-sha256`, with an unsigned payload.
    Sha256,
    /// No checksum header: the SDK signs the payload's SHA-256 instead.
    Signed,
}

/// A part's checksum, base64 as the headers carry it.
#[derive(Debug, Clone)]
pub enum PartChecksum {
    Crc32c(String),
    Sha256(String),
}

impl WriteChecksum {
    /// The checksum of `bytes`, or `None` when the payload is signed instead.
    pub fn of(self, bytes: &[u8]) -> Option<PartChecksum> {
        match self {
            Self::Crc32c => {
                let crc = crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, bytes) as u32;
                Some(PartChecksum::Crc32c(STANDARD.encode(crc.to_be_bytes())))
            }
            Self::Sha256 => Some(PartChecksum::Sha256(STANDARD.encode(Sha256::digest(bytes)))),
            Self::Signed => None,
        }
    }

    /// The algorithm a multipart upload announces at its creation.
    pub fn algorithm(self) -> Option<ChecksumAlgorithm> {
        match self {
            Self::Crc32c => Some(ChecksumAlgorithm::Crc32C),
            Self::Sha256 => Some(ChecksumAlgorithm::Sha256),
            Self::Signed => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32c => "CRC32C",
            Self::Sha256 => "SHA-256",
            Self::Signed => "none (signed payload)",
        }
    }
}

impl PartChecksum {
    /// Records the checksum on a completed part (CompleteMultipartUpload lists them).
    pub fn record(&self, part: aws_sdk_s3::types::builders::CompletedPartBuilder) -> CompletedPart {
        match self {
            Self::Crc32c(sum) => part.checksum_crc32_c(sum),
            Self::Sha256(sum) => part.checksum_sha256(sum),
        }
        .build()
    }
}

/// Sets a [`PartChecksum`] on a PutObject or UploadPart request builder (both have the same
/// two setters) and turns off payload signing, which would hash the bytes again.
macro_rules! with_checksum {
    ($request:expr, $sum:expr) => {{
        let request = $request;
        match $sum {
            Some($crate::blob::s3::checksum::PartChecksum::Crc32c(sum)) => request
                .checksum_crc32_c(sum.clone())
                .customize()
                .disable_payload_signing(),
            Some($crate::blob::s3::checksum::PartChecksum::Sha256(sum)) => request
                .checksum_sha256(sum.clone())
                .customize()
                .disable_payload_signing(),
            None => request.customize(),
        }
    }};
}
pub(crate) use with_checksum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_the_castagnoli_checksum_big_endian_in_base64() {
        // CRC-32C of "123456789" is 0xE3069283 (the standard check value).
        let Some(PartChecksum::Crc32c(sum)) = WriteChecksum::Crc32c.of(b"123456789") else {
            panic!("expected a CRC32C");
        };
        assert_eq!(STANDARD.decode(sum).unwrap(), [0xE3, 0x06, 0x92, 0x83]);
    }

    #[test]
    fn signed_writes_carry_no_checksum() {
        assert!(WriteChecksum::Signed.of(b"x").is_none());
        assert!(WriteChecksum::Signed.algorithm().is_none());
    }
}
