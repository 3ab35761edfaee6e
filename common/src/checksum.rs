//! Checksums: the SHA-256 of a block or file (what the namenode records and
//! `sha256sum` prints), and CRC32C per fixed-size chunk (what lets a streaming
//! reader verify each chunk before handing it on, without buffering a block).
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::digest::common::hazmat::SerializedState;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Bytes covered by one CRC32C. 64 KiB keeps a block's checksum list small
/// (4 KiB for a 64 MiB block) while bounding what a reader must buffer.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// A SHA-256 digest; hex in JSON and in `Display`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    pub fn of(data: &[u8]) -> Self {
        let mut h = Sha256Hasher::new();
        h.update(data);
        h.finish()
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// The SHA-256 of no bytes (an empty file).
    pub fn empty() -> Self {
        Self::of(&[])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 hex digest: {0:?}")]
pub struct BadDigest(pub String);

impl FromStr for Sha256Digest {
    type Err = BadDigest;
    fn from_str(s: &str) -> Result<Self, BadDigest> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| BadDigest(s.to_string()))?;
        Ok(Self(out))
    }
}
impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}
impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(s)
        }
    }
}
impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            Ok(Self(<[u8; 32]>::deserialize(d)?))
        }
    }
}

/// Streaming SHA-256.
#[derive(Clone, Default)]
pub struct Sha256Hasher(Sha256);

impl Sha256Hasher {
    pub fn new() -> Self {
        Self(Sha256::new())
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(self) -> Sha256Digest {
        Sha256Digest(self.0.finalize().into())
    }

    /// The hasher's state after `len` bytes, to go on hashing later (an
    /// append continues the whole file's digest without reading it again).
    pub fn state(&self, len: u64) -> Sha256State {
        Sha256State {
            len,
            state: sha2::digest::common::hazmat::SerializableState::serialize(&self.0)
                .as_slice()
                .to_vec(),
        }
    }

    /// Goes on from a saved state; `None` when it is not one.
    ///
    /// A saved state comes from the store or over the wire (an append's
    /// `sha256_state`), so it is checked before it is trusted: its block
    /// counter (bytes 32..40, little-endian, after the eight state words)
    /// must agree with `len`, and `len` must be within SHA-256's range
    /// (under 2^61 bytes). Otherwise finishing the digest overflows its bit
    /// count (a panic in debug builds, a wrong digest in release), found by
    /// the `codec` fuzz target.
    pub fn resume(saved: &Sha256State) -> Option<Self> {
        use sha2::digest::common::hazmat::SerializableState;
        let blocks = saved.state.get(32..40)?;
        let blocks = u64::from_le_bytes(blocks.try_into().ok()?);
        if saved.len >= 1 << 61 || blocks != saved.len / 64 {
            return None;
        }
        let arr = SerializedState::<Sha256>::try_from(saved.state.as_slice()).ok()?;
        <Sha256 as SerializableState>::deserialize(&arr)
            .ok()
            .map(Self)
    }
}

/// A SHA-256 midstate (the RustCrypto `SerializableState` encoding) and how
/// many bytes it covers. Hex in JSON.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sha256State {
    pub len: u64,
    #[serde(with = "hex_bytes")]
    pub state: Vec<u8>,
}

impl fmt::Debug for Sha256State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256State({} bytes in)", self.len)
    }
}

/// Bytes as hex in human-readable formats, raw otherwise.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(v))
        } else {
            s.serialize_bytes(v)
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            hex::decode(s).map_err(serde::de::Error::custom)
        } else {
            Vec::<u8>::deserialize(d)
        }
    }
}

/// CRC32C of one chunk.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Chunk CRCs of a whole buffer (tests and small blocks).
pub fn chunk_crcs(data: &[u8]) -> Vec<u32> {
    data.chunks(CHUNK_SIZE).map(crc32c).collect()
}

/// Computes chunk CRCs over a stream of arbitrarily sized pieces.
#[derive(Default)]
pub struct ChunkCrcs {
    crcs: Vec<u32>,
    current: u32,
    filled: usize,
}

impl ChunkCrcs {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (CHUNK_SIZE - self.filled).min(data.len());
            self.current = crc32c::crc32c_append(self.current, &data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled == CHUNK_SIZE {
                self.crcs.push(self.current);
                self.current = 0;
                self.filled = 0;
            }
        }
    }
    pub fn finish(mut self) -> Vec<u32> {
        if self.filled > 0 {
            self.crcs.push(self.current);
        }
        self.crcs
    }
}

/// A short fingerprint of a block's bytes: CRC32C over its length and its
/// chunk CRCs. A writer and a datanode that compute the same one hold the
/// same bytes (as far as CRC32C tells, which is how HDFS checks every hop),
/// so the writer need not hash each block with SHA-256 as well: it takes
/// the digest of the first hop whose fingerprint matches.
pub fn crcs_fingerprint(len: u64, crcs: &[u32]) -> u32 {
    let mut fp = crc32c::crc32c(&len.to_le_bytes());
    for c in crcs {
        fp = crc32c::crc32c_append(fp, &c.to_le_bytes());
    }
    fp
}

/// What a datanode keeps beside each block, and serves at
/// `GET /blocks/{id}/meta`: enough for a reader to check every chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockChecksums {
    pub len: u64,
    pub sha256: Sha256Digest,
    pub chunk_size: u32,
    pub crcs: Vec<u32>,
}

impl BlockChecksums {
    pub fn of(data: &[u8]) -> Self {
        Self {
            len: data.len() as u64,
            sha256: Sha256Digest::of(data),
            chunk_size: CHUNK_SIZE as u32,
            crcs: chunk_crcs(data),
        }
    }

    /// Checks one chunk (index `i`, which must be whole unless it is the last).
    pub fn verify_chunk(&self, i: usize, data: &[u8]) -> bool {
        self.crcs.get(i) == Some(&crc32c(data))
    }

    /// The expected length of chunk `i`.
    pub fn chunk_len(&self, i: usize) -> usize {
        let start = i as u64 * self.chunk_size as u64;
        self.len.saturating_sub(start).min(self.chunk_size as u64) as usize
    }

    /// True when lengths and chunk count agree (a sanity check on a meta file).
    pub fn is_consistent(&self) -> bool {
        let cs = self.chunk_size.max(1) as u64;
        self.chunk_size > 0 && self.crcs.len() as u64 == self.len.div_ceil(cs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A midstate resumes to the same digest at every length around a
    /// block boundary; one whose counter disagrees with its length (found
    /// by the `codec` fuzz target: finishing it overflowed) is refused.
    #[test]
    fn midstates_resume_and_bad_ones_are_refused() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for len in [0usize, 1, 63, 64, 65, 127, 128, 129, 200] {
            let mut h = Sha256Hasher::new();
            h.update(&data[..len]);
            let saved = h.state(len as u64);
            let mut r = Sha256Hasher::resume(&saved).expect("a good midstate resumes");
            r.update(&data[len..]);
            assert_eq!(r.finish(), Sha256Digest::of(&data), "at {len}");
            let mut wrong = saved.clone();
            wrong.len += 64;
            assert!(Sha256Hasher::resume(&wrong).is_none(), "at {len}");
        }
        let mut h = Sha256Hasher::new();
        h.update(&data[..128]);
        let mut bad = h.state(128);
        bad.state[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Sha256Hasher::resume(&bad).is_none());
        bad.len = u64::MAX;
        assert!(Sha256Hasher::resume(&bad).is_none());
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            Sha256Digest::of(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Sha256Digest::empty().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hash_state_resumes() {
        let mut h = Sha256Hasher::new();
        h.update(b"hello, ");
        let saved = h.state(7);
        let j = serde_json::to_string(&saved).unwrap();
        let back: Sha256State = serde_json::from_str(&j).unwrap();
        assert_eq!(back, saved);
        let b = bincode::serialize(&saved).unwrap();
        assert_eq!(bincode::deserialize::<Sha256State>(&b).unwrap(), saved);
        let mut r = Sha256Hasher::resume(&back).unwrap();
        r.update(b"world");
        assert_eq!(r.finish(), Sha256Digest::of(b"hello, world"));
        let bad = Sha256State {
            len: 1,
            state: vec![1, 2],
        };
        assert!(Sha256Hasher::resume(&bad).is_none());
    }

    #[test]
    fn digest_json_and_bincode_round_trip() {
        let d = Sha256Digest::of(b"x");
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(j, format!("\"{}\"", d.to_hex()));
        assert_eq!(serde_json::from_str::<Sha256Digest>(&j).unwrap(), d);
        let b = bincode::serialize(&d).unwrap();
        assert_eq!(b.len(), 32);
        assert_eq!(bincode::deserialize::<Sha256Digest>(&b).unwrap(), d);
        assert!("zz".parse::<Sha256Digest>().is_err());
    }

    #[test]
    fn streaming_chunk_crcs_match_whole() {
        let data: Vec<u8> = (0..(CHUNK_SIZE * 3 + 17))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut s = ChunkCrcs::new();
        for piece in data.chunks(1000) {
            s.update(piece);
        }
        let crcs = s.finish();
        assert_eq!(crcs, chunk_crcs(&data));
        assert_eq!(crcs.len(), 4);
        let m = BlockChecksums::of(&data);
        assert!(m.is_consistent());
        assert_eq!(m.chunk_len(3), 17);
        assert!(m.verify_chunk(3, &data[CHUNK_SIZE * 3..]));
        let mut bad = data[..CHUNK_SIZE].to_vec();
        bad[5] ^= 1;
        assert!(!m.verify_chunk(0, &bad));
        assert_eq!(ChunkCrcs::new().finish(), Vec::<u32>::new());
    }
}
