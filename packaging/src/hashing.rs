//! Hashing while streaming: SHA-1 (lower-case hex, as Octopus reports a package `Hash`),
//! SHA-256 and a byte count, with an optional size limit.
//!
//! ```
//! use std::io::Write;
//! use octopus_packaging::hashing::HashingWriter;
//!
//! let mut w = HashingWriter::new(Vec::new());
//! w.write_all(b"abc").unwrap();
//! let (bytes, digests) = w.finish();
//! assert_eq!(bytes, b"abc");
//! assert_eq!(digests.sha1_hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
//! assert_eq!(digests.size, 3);
//! ```

use std::io::{self, Read, Write};

use sha1::Digest;

/// The digests of a stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Digests {
    /// SHA-1, lower-case hex (Octopus `Hash`).
    pub sha1_hex: String,
    /// SHA-256, lower-case hex.
    pub sha256_hex: String,
    /// Bytes hashed.
    pub size: u64,
}

/// The error payload of the [`io::Error`] returned once more than the limit has been streamed.
///
/// Detect it with [`SizeLimitExceeded::is`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stream is larger than the limit of {limit} bytes")]
pub struct SizeLimitExceeded {
    /// The configured limit in bytes.
    pub limit: u64,
}

impl SizeLimitExceeded {
    /// The limit, if `err` was caused by a size limit.
    pub fn is(err: &io::Error) -> Option<SizeLimitExceeded> {
        err.get_ref()
            .and_then(|e| e.downcast_ref::<SizeLimitExceeded>())
            .copied()
    }
}

#[derive(Clone, Default)]
struct State {
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    size: u64,
    limit: Option<u64>,
}

impl State {
    /// How many of `len` bytes may still pass, or the limit error.
    fn admit(&self, len: usize) -> io::Result<usize> {
        match self.limit {
            Some(limit) if len > 0 && self.size >= limit => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                SizeLimitExceeded { limit },
            )),
            Some(limit) => Ok(len.min(usize::try_from(limit - self.size).unwrap_or(usize::MAX))),
            None => Ok(len),
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.sha1.update(data);
        self.sha256.update(data);
        self.size += data.len() as u64;
    }

    fn digests(&self) -> Digests {
        Digests {
            sha1_hex: to_hex(&self.sha1.clone().finalize()),
            sha256_hex: to_hex(&self.sha256.clone().finalize()),
            size: self.size,
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

/// A writer that hashes and counts everything written through it to `inner`.
///
/// With [`HashingWriter::with_limit`], writing byte `limit + 1` fails with an
/// [`io::ErrorKind::InvalidData`] error carrying [`SizeLimitExceeded`]; nothing past the limit
/// reaches `inner`.
pub struct HashingWriter<W> {
    inner: W,
    state: State,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner` with no size limit.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            state: State::default(),
        }
    }

    /// Wraps `inner`, refusing more than `limit` bytes.
    pub fn with_limit(inner: W, limit: u64) -> Self {
        let mut w = Self::new(inner);
        w.state.limit = Some(limit);
        w
    }

    /// The digests of what has been written so far.
    pub fn digests(&self) -> Digests {
        self.state.digests()
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.state.size
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Returns the inner writer and the final digests (does not flush).
    pub fn finish(self) -> (W, Digests) {
        let d = self.state.digests();
        (self.inner, d)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let allowed = self.state.admit(buf.len())?;
        let n = self.inner.write(&buf[..allowed])?;
        self.state.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts everything read through it from `inner`.
///
/// With [`HashingReader::with_limit`], a read that would go past `limit` bytes fails with an
/// [`io::ErrorKind::InvalidData`] error carrying [`SizeLimitExceeded`].
pub struct HashingReader<R> {
    inner: R,
    state: State,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner` with no size limit.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            state: State::default(),
        }
    }

    /// Wraps `inner`, refusing to read more than `limit` bytes.
    pub fn with_limit(inner: R, limit: u64) -> Self {
        let mut r = Self::new(inner);
        r.state.limit = Some(limit);
        r
    }

    /// The digests of what has been read so far.
    pub fn digests(&self) -> Digests {
        self.state.digests()
    }

    /// Bytes read so far.
    pub fn size(&self) -> u64 {
        self.state.size
    }

    /// Returns the inner reader and the final digests.
    pub fn finish(self) -> (R, Digests) {
        let d = self.state.digests();
        (self.inner, d)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let allowed = match self.state.limit {
            // Read one byte past the limit to tell "exactly at the limit" from "over it".
            Some(limit) => {
                let left = limit.saturating_sub(self.state.size).saturating_add(1);
                buf.len().min(usize::try_from(left).unwrap_or(usize::MAX))
            }
            None => buf.len(),
        };
        let n = self.inner.read(&mut buf[..allowed])?;
        if let Some(limit) = self.state.limit
            && self.state.size + n as u64 > limit
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                SizeLimitExceeded { limit },
            ));
        }
        self.state.update(&buf[..n]);
        Ok(n)
    }
}

/// Hashes chunks on two threads at once, SHA-1 on one and SHA-256 on the other,
/// so a stream is hashed at the speed of the slower digest instead of the sum of
/// both. Chunks are shared with the threads, not copied (`Bytes`, `Arc<[u8]>`, ...);
/// each thread queues at most a few of them, so memory stays bounded.
///
/// ```
/// use octopus_packaging::hashing::ParallelHasher;
///
/// let mut h = ParallelHasher::new().unwrap();
/// h.update(std::sync::Arc::<[u8]>::from(&b"ab"[..]));
/// h.update(std::sync::Arc::<[u8]>::from(&b"c"[..]));
/// let d = h.finish();
/// assert_eq!(d.sha1_hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
/// assert_eq!(d.size, 3);
/// ```
pub struct ParallelHasher<C> {
    sha1: Lane<C, sha1::Sha1>,
    sha256: Lane<C, sha2::Sha256>,
    size: u64,
}

/// Chunks queued per hashing thread.
const LANE_DEPTH: usize = 8;

struct Lane<C, D> {
    tx: std::sync::mpsc::SyncSender<C>,
    thread: std::thread::JoinHandle<D>,
}

impl<C: AsRef<[u8]> + Send + 'static, D: Digest + Send + 'static> Lane<C, D> {
    fn spawn(name: &str) -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<C>(LANE_DEPTH);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut digest = D::new();
                for chunk in rx {
                    digest.update(chunk.as_ref());
                }
                digest
            })?;
        Ok(Lane { tx, thread })
    }

    fn finish(self) -> D {
        drop(self.tx);
        match self.thread.join() {
            Ok(d) => d,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<C: AsRef<[u8]> + Clone + Send + 'static> ParallelHasher<C> {
    /// Starts the two hashing threads (fails only if the system cannot start a thread).
    pub fn new() -> io::Result<Self> {
        Ok(ParallelHasher {
            sha1: Lane::spawn("sha1")?,
            sha256: Lane::spawn("sha256")?,
            size: 0,
        })
    }

    /// Hashes `chunk` (blocks while both threads are a few chunks behind).
    pub fn update(&mut self, chunk: C) {
        let len = chunk.as_ref().len();
        if len == 0 {
            return;
        }
        self.size += len as u64;
        // A lane only stops receiving if its thread panicked; finish() re-raises that.
        let _ = self.sha1.tx.send(chunk.clone());
        let _ = self.sha256.tx.send(chunk);
    }

    /// Bytes hashed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Waits for both threads and returns the digests.
    pub fn finish(self) -> Digests {
        Digests {
            sha1_hex: to_hex(&self.sha1.finish().finalize()),
            sha256_hex: to_hex(&self.sha256.finish().finalize()),
            size: self.size,
        }
    }
}

/// Hashes everything `reader` yields.
pub fn hash_reader<R: Read>(reader: R) -> io::Result<Digests> {
    let mut r = HashingReader::new(reader);
    io::copy(&mut r, &mut io::sink())?;
    Ok(r.digests())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &[(&[u8], &str, &str)] = &[
        (
            b"",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            b"abc",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
    ];

    #[test]
    fn known_vectors_via_reader_and_writer() {
        for (input, sha1, sha256) in VECTORS {
            let d = hash_reader(*input).unwrap();
            assert_eq!(
                (d.sha1_hex.as_str(), d.sha256_hex.as_str()),
                (*sha1, *sha256)
            );
            assert_eq!(d.size, input.len() as u64);
            let mut w = HashingWriter::new(Vec::new());
            // Write in small pieces to exercise incremental hashing.
            for chunk in input.chunks(7) {
                w.write_all(chunk).unwrap();
            }
            let (out, d2) = w.finish();
            assert_eq!(out, *input);
            assert_eq!(d, d2);
        }
    }

    #[test]
    fn parallel_hasher_matches_the_sequential_one() {
        let data: Vec<u8> = (0..300_007u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let expected = hash_reader(&data[..]).unwrap();
        for piece in [7, 4096, 65_537, data.len()] {
            let mut h = ParallelHasher::new().unwrap();
            for chunk in data.chunks(piece) {
                h.update(std::sync::Arc::<[u8]>::from(chunk));
            }
            h.update(std::sync::Arc::<[u8]>::from(&[][..]));
            assert_eq!(h.size(), data.len() as u64);
            assert_eq!(h.finish(), expected, "chunks of {piece}");
        }
        for (input, sha1, sha256) in VECTORS {
            let mut h = ParallelHasher::<&'static [u8]>::new().unwrap();
            h.update(input);
            let d = h.finish();
            assert_eq!(
                (d.sha1_hex.as_str(), d.sha256_hex.as_str()),
                (*sha1, *sha256)
            );
        }
    }

    #[test]
    fn million_a() {
        let d = hash_reader(io::repeat(b'a').take(1_000_000)).unwrap();
        assert_eq!(d.sha1_hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
        assert_eq!(
            d.sha256_hex,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn writer_limit_stops_at_the_limit() {
        let mut w = HashingWriter::with_limit(Vec::new(), 10);
        w.write_all(&[1u8; 10]).unwrap();
        let err = w.write_all(&[1u8; 1]).unwrap_err();
        assert_eq!(
            SizeLimitExceeded::is(&err),
            Some(SizeLimitExceeded { limit: 10 })
        );
        assert_eq!(
            err.to_string(),
            "the stream is larger than the limit of 10 bytes"
        );
        assert_eq!(w.get_ref().len(), 10);
        let mut w = HashingWriter::with_limit(Vec::new(), 5);
        let err = w.write_all(&[0u8; 8]).unwrap_err();
        assert!(SizeLimitExceeded::is(&err).is_some());
        assert_eq!(w.size(), 5);
    }

    #[test]
    fn reader_limit() {
        let mut r = HashingReader::with_limit(&[7u8; 10][..], 10);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.size(), 10);
        let mut r = HashingReader::with_limit(&[7u8; 11][..], 10);
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert_eq!(
            SizeLimitExceeded::is(&err),
            Some(SizeLimitExceeded { limit: 10 })
        );
        assert!(SizeLimitExceeded::is(&io::Error::other("x")).is_none());
    }

    fn tool_hash(tool: &str, path: &std::path::Path) -> Option<String> {
        let out = std::process::Command::new(tool).arg(path).output().ok()?;
        assert!(out.status.success(), "{tool} failed");
        let text = String::from_utf8(out.stdout).unwrap();
        Some(text.split_whitespace().next()?.to_owned())
    }

    #[test]
    fn matches_coreutils_on_a_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob.bin");
        let data: Vec<u8> = (0..3_000_001u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let d = hash_reader(std::fs::File::open(&path).unwrap()).unwrap();
        let (Some(sha1), Some(sha256)) =
            (tool_hash("sha1sum", &path), tool_hash("sha256sum", &path))
        else {
            eprintln!("sha1sum/sha256sum not installed; skipping comparison");
            return;
        };
        assert_eq!(d.sha1_hex, sha1);
        assert_eq!(d.sha256_hex, sha256);
        assert_eq!(d.size, data.len() as u64);
    }
}
