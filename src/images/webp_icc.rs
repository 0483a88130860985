//! Putting an ICC profile into a WebP file. libwebp's simple encoder writes no profile, so a
//! wide-gamut original (Display P3, Adobe RGB) would lose its colours; the extended format
//! carries one in an `ICCP` chunk right after the `VP8X` header chunk, whose flag says so.
//! The container layout is the one of <https://developers.google.com/speed/webp/docs/riff_container>.

/// The `VP8X` flag of an ICC profile.
const ICC_FLAG: u8 = 0x20;
/// The payload length of a `VP8X` chunk.
const VP8X_LENGTH: usize = 10;

/// `webp` (a file from the encoder, `width` x `height` pixels) with `profile` in it.
pub fn with_icc_profile(
    webp: &[u8],
    profile: &[u8],
    width: u32,
    height: u32,
) -> Result<Vec<u8>, String> {
    if webp.len() < 12 || &webp[..4] != b"RIFF" || &webp[8..12] != b"WEBP" {
        return Err("the encoder did not write a WebP file".to_owned());
    }
    let profile_length =
        u32::try_from(profile.len()).map_err(|_| "the ICC profile is too large".to_owned())?;
    let chunks = &webp[12..];
    let (mut header, rest) = if chunks.starts_with(b"VP8X") && chunks.len() >= 8 + VP8X_LENGTH {
        let mut header = [0u8; VP8X_LENGTH];
        header.copy_from_slice(&chunks[8..8 + VP8X_LENGTH]);
        (header, &chunks[8 + VP8X_LENGTH..])
    } else {
        let mut header = [0u8; VP8X_LENGTH];
        header[4..7].copy_from_slice(&(width - 1).to_le_bytes()[..3]);
        header[7..10].copy_from_slice(&(height - 1).to_le_bytes()[..3]);
        (header, chunks)
    };
    header[0] |= ICC_FLAG;
    let mut body = Vec::with_capacity(webp.len() + profile.len() + 32);
    body.extend_from_slice(b"WEBP");
    body.extend_from_slice(b"VP8X");
    body.extend_from_slice(&(VP8X_LENGTH as u32).to_le_bytes());
    body.extend_from_slice(&header);
    body.extend_from_slice(b"ICCP");
    body.extend_from_slice(&profile_length.to_le_bytes());
    body.extend_from_slice(profile);
    if profile.len() % 2 == 1 {
        body.push(0);
    }
    body.extend_from_slice(rest);
    let riff_length =
        u32::try_from(body.len()).map_err(|_| "the WebP file is too large".to_owned())?;
    let mut file = Vec::with_capacity(body.len() + 8);
    file.extend_from_slice(b"RIFF");
    file.extend_from_slice(&riff_length.to_le_bytes());
    file.extend_from_slice(&body);
    Ok(file)
}
