//! Profile photos: checked by content (PNG or JPEG, by their magic bytes, whatever the
//! request claims), decoded with size limits, scaled down if large, and re-encoded as
//! PNG, so no metadata (EXIF, GPS, comments) and nothing but pixels survive.
//!
//! Decoding has a budget: the header's dimensions are read first and more than
//! `MAX_PIXELS` is refused before a pixel is decoded (a 252 KiB PNG can claim 8000×8000,
//! 243 MiB decoded), the decoder's own allocation limit backs that up, and at most
//! `DECODES_AT_ONCE` photos decode at a time (`normalise_bounded`). Stored
//! sealed under the person's subject key, so erasure makes them unreadable too.

use super::Accounts;
use crate::{Caller, CommandError, Decision};
use domain::{
    Sealed,
    account::{
        User, UserId, sees_photo,
        user::{PhotoError, change_photo},
    },
};
use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest as _, Sha256};
use std::io::Cursor;

pub const MAX_PHOTO_BYTES: usize = 2 * 1024 * 1024;
/// 16 megapixels: more than any camera photo a person would use for a profile.
pub const MAX_PIXELS: u64 = 16 * 1024 * 1024;
/// What one decode may allocate: 16 Mpx of 8-bit RGBA with room for a 16-bit one.
const MAX_DECODE_ALLOC: u64 = MAX_PIXELS * 8;
const DECODES_AT_ONCE: usize = 2;
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(DECODES_AT_ONCE);
/// Photos larger than this on a side are scaled down to it.
const MAX_SIDE: u32 = 1024;

/// Why a photo was refused, for the HTTP status (415 or 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhotoRefused {
    #[error("a profile photo must be a PNG or JPEG image")]
    NotPngOrJpeg,
    #[error("the image cannot be read: {0}")]
    Unreadable(String),
    #[error("the image is {width}×{height} pixels; a profile photo may have at most 16 megapixels")]
    TooManyPixels { width: u32, height: u32 },
}

/// `normalise` on a blocking thread, at most `DECODES_AT_ONCE` at a time.
pub async fn normalise_bounded(bytes: bytes::Bytes) -> Result<Vec<u8>, PhotoRefused> {
    let _turn = DECODES
        .acquire()
        .await
        .expect("the decode semaphore is never closed");
    tokio::task::spawn_blocking(move || normalise(&bytes))
        .await
        .unwrap_or_else(|e| Err(PhotoRefused::Unreadable(format!("decoding stopped: {e}"))))
}

/// PNG bytes of the photo, re-encoded from what was sent. CPU work: call it off the
/// async executor.
pub fn normalise(bytes: &[u8]) -> Result<Vec<u8>, PhotoRefused> {
    let format = image::guess_format(bytes).map_err(|_| PhotoRefused::NotPngOrJpeg)?;
    if format != ImageFormat::Png && format != ImageFormat::Jpeg {
        return Err(PhotoRefused::NotPngOrJpeg);
    }
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| PhotoRefused::Unreadable(e.to_string()))?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoRefused::TooManyPixels { width, height });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| PhotoRefused::Unreadable(e.to_string()))?;
    let image = if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        image.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        image
    };
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|e| PhotoRefused::Unreadable(e.to_string()))?;
    Ok(out)
}

fn blob_path(user: UserId) -> String {
    crate::shredding::photo_blob(user.as_uuid())
}

impl Accounts {
    /// Sets the caller's photo from PNG (already normalised) bytes. Returns the seq of
    /// `ProfilePhotoChanged`.
    pub async fn set_photo(&self, caller: &Caller, png: Vec<u8>) -> Result<i64, CommandError> {
        let blobs = self.blobs()?;
        let id = caller.user;
        let Some(key) = self.live_key(id).await? else {
            return Err(CommandError::NotFound("there is no such account".into()));
        };
        let stream = id.stream();
        let sealed = key
            .seal(stream.as_str(), "photo", &png)
            .as_str()
            .as_bytes()
            .to_vec();
        let sha256 = hex::encode(Sha256::digest(&sealed));
        let size = sealed.len() as i64;
        let decide = |state: &User| {
            change_photo(state, sha256.clone(), size)
                .map(Decision::events)
                .map_err(|e: PhotoError| CommandError::NotFound(e.to_string()))
        };
        // The blob is in place before the ledger names it.
        let store = || async {
            blobs
                .put(&blob_path(id), sealed.clone())
                .await
                .map_err(CommandError::internal)
        };
        let seq = self
            .kernel()
            .execute_then(id, Some(id), decide, store)
            .await?
            .seq;
        tracing::info!(user.id = %id, "profile photo changed");
        Ok(seq)
    }

    /// The PNG photo of `user`, for themself, administrators, and people who share a
    /// record with them (`share_a_record`: the records view says the viewer and `user`
    /// do now); `None` when there is none, or it is not the viewer's to see, or the
    /// person was erased.
    pub async fn photo(
        &self,
        viewer: &Caller,
        user: UserId,
        share_a_record: bool,
    ) -> Result<Option<Vec<u8>>, CommandError> {
        if !sees_photo(viewer.viewer(), user, share_a_record) {
            return Ok(None);
        }
        let blobs = self.blobs()?;
        let Some(stored) = blobs
            .get(&blob_path(user))
            .await
            .map_err(CommandError::internal)?
        else {
            return Ok(None);
        };
        let Some(key) = self.live_key(user).await? else {
            return Ok(None);
        };
        let text = String::from_utf8(stored).map_err(CommandError::internal)?;
        let sealed = Sealed::parse(&text).map_err(CommandError::internal)?;
        let png = key
            .open(user.stream().as_str(), "photo", &sealed)
            .map_err(CommandError::internal)?;
        Ok(Some(png))
    }

    fn blobs(&self) -> Result<&crate::blobs::BlobStore, CommandError> {
        self.inner
            .blobs
            .as_ref()
            .ok_or_else(|| CommandError::Internal("no blob store is configured".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn png_and_jpeg_are_re_encoded_as_png() {
        let out = normalise(&png(10, 10)).unwrap();
        assert_eq!(image::guess_format(&out).unwrap(), ImageFormat::Png);
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8))
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        assert_eq!(
            image::guess_format(&normalise(&jpeg).unwrap()).unwrap(),
            ImageFormat::Png
        );
    }

    #[test]
    fn metadata_does_not_survive() {
        // A PNG text chunk (tEXt) with a marker, inserted before IEND.
        let mut with_text = png(4, 4);
        let iend = with_text.len() - 12;
        let data = b"Comment\0SECRET-MARKER";
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(b"tEXt");
        chunk.extend_from_slice(data);
        let crc = crc32(&chunk[4..]);
        chunk.extend_from_slice(&crc.to_be_bytes());
        with_text.splice(iend..iend, chunk);
        assert!(with_text.windows(13).any(|w| w == b"SECRET-MARKER"));
        let out = normalise(&with_text).unwrap();
        assert!(!out.windows(13).any(|w| w == b"SECRET-MARKER"));
    }

    #[test]
    fn html_svg_and_junk_are_refused() {
        for bad in [
            &b"<!DOCTYPE html><html><script>alert(1)</script></html>"[..],
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            b"GIF89a....",
            b"",
        ] {
            assert_eq!(normalise(bad), Err(PhotoRefused::NotPngOrJpeg));
        }
        let mut truncated = png(10, 10);
        truncated.truncate(40);
        assert!(matches!(
            normalise(&truncated),
            Err(PhotoRefused::Unreadable(_))
        ));
    }

    #[test]
    fn large_photos_are_scaled_down() {
        let out = normalise(&png(2000, 500)).unwrap();
        let image = image::load_from_memory(&out).unwrap();
        assert_eq!((image.width(), image.height()), (1024, 256));
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
