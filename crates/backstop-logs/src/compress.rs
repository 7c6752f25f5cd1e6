//! Compressing rotated segments, and reading them back.
//!
//! A segment is compressed into `<segment>.gz.tmp`, synced, renamed to
//! `<segment>.gz`, and only then is the uncompressed segment removed: a
//! crash at any step leaves at least one complete copy, and readers prefer
//! the uncompressed one while both exist.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use backstop_config::Compression;

use crate::files::compressed_path;

/// gzip level: fast, still about 10:1 on typical logs.
const GZIP_LEVEL: u32 = 3;
/// zstd level: the library's default trade-off.
const ZSTD_LEVEL: i32 = 3;

/// Compresses `segment` in place (see the module doc). Returns the new path.
pub fn compress(segment: &Path, compression: Compression) -> std::io::Result<std::path::PathBuf> {
    let dest = compressed_path(segment, compression);
    if compression == Compression::None {
        return Ok(segment.to_path_buf());
    }
    let tmp = {
        let mut name = dest.as_os_str().to_owned();
        name.push(".tmp");
        std::path::PathBuf::from(name)
    };
    let result = (|| {
        let mut input = BufReader::with_capacity(64 * 1024, File::open(segment)?);
        let out = create_log_file(&tmp)?;
        let out = match compression {
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(out, flate2::Compression::new(GZIP_LEVEL));
                std::io::copy(&mut input, &mut enc)?;
                enc.finish()?
            }
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                std::io::copy(&mut input, &mut enc)?;
                enc.finish()?
            }
            Compression::None => unreachable!(),
        };
        out.sync_all()?;
        std::fs::rename(&tmp, &dest)?;
        match std::fs::remove_file(segment) {
            // Retention deleted the segment while it was being compressed:
            // its compressed copy must not bring it back.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_file(&dest);
                Err(e)
            }
            other => other,
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| dest)
}

/// A reader of the decompressed bytes of a segment.
pub fn open(path: &Path, compression: Compression) -> std::io::Result<Box<dyn Read>> {
    let file = BufReader::with_capacity(64 * 1024, File::open(path)?);
    Ok(match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(file)?),
    })
}

/// Creates (or truncates) a log file with [`crate::LOG_FILE_MODE`].
fn create_log_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(crate::LOG_FILE_MODE)
        .open(path)
}

/// Writes `bytes` to `path` compressed (tests build segments with it).
#[cfg(test)]
pub(crate) fn write_compressed(
    path: &Path,
    bytes: &[u8],
    compression: Compression,
) -> std::io::Result<()> {
    use std::io::Write;
    let out = File::create(path)?;
    match compression {
        Compression::None => {
            let mut out = out;
            out.write_all(bytes)
        }
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(GZIP_LEVEL));
            enc.write_all(bytes)?;
            enc.finish().map(drop)
        }
        Compression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
            enc.write_all(bytes)?;
            enc.finish().map(drop)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_then_read_back_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let text: Vec<u8> = (0..10_000)
            .flat_map(|i| format!("line {i} \u{fffd}\n").into_bytes())
            .collect();
        for c in [Compression::Gzip, Compression::Zstd] {
            let seg = dir
                .path()
                .join(format!("api.log.20261122T085115.123Z{c:?}"));
            std::fs::write(&seg, &text).unwrap();
            let dest = compress(&seg, c).unwrap();
            assert!(!seg.exists(), "the uncompressed segment is removed");
            assert!(std::fs::metadata(&dest).unwrap().len() < text.len() as u64 / 4);
            let mut back = Vec::new();
            open(&dest, c).unwrap().read_to_end(&mut back).unwrap();
            assert_eq!(back, text);
        }
    }
}
