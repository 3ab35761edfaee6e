//! bincode, wrapped once: a size limit on decode, the same options both ways,
//! and a leading format-version byte so stored values and wire messages can
//! change shape later without being misread.
use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The current format version written in front of every encoded value.
pub const FORMAT_VERSION: u8 = 1;

/// The largest message or stored value we will decode (a full block report
/// of a very large datanode fits comfortably).
pub const MAX_MESSAGE_BYTES: u64 = 256 << 20;

/// Content type of bincode bodies on the internal HTTP endpoints.
pub const CONTENT_TYPE: &str = "application/x-dfs-bincode";

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty message")]
    Empty,
    #[error("unsupported format version {0} (this build reads {FORMAT_VERSION})")]
    Version(u8),
    #[error("malformed message: {0}")]
    Malformed(#[from] bincode::Error),
}

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_MESSAGE_BYTES)
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    // Sized first (which also enforces the limit), then written once into
    // a buffer of that size: growing it byte by byte cost a namenode's
    // image write a tenth of its time in reallocations.
    let size = options().serialized_size(value)?;
    let mut out = Vec::with_capacity(1 + usize::try_from(size).unwrap_or(0));
    out.push(FORMAT_VERSION);
    options().with_no_limit().serialize_into(&mut out, value)?;
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&FORMAT_VERSION, rest)) => Ok(options().deserialize(rest)?),
        Some((&v, _)) => Err(CodecError::Version(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct M {
        a: u64,
        b: String,
        c: Vec<u8>,
    }

    #[test]
    fn round_trip_and_errors() {
        let m = M {
            a: 7,
            b: "x".into(),
            c: vec![1, 2],
        };
        let e = encode(&m).unwrap();
        assert_eq!(e[0], FORMAT_VERSION);
        assert_eq!(decode::<M>(&e).unwrap(), m);
        assert!(matches!(decode::<M>(&[]), Err(CodecError::Empty)));
        let mut bad = e.clone();
        bad[0] = 99;
        assert!(matches!(decode::<M>(&bad), Err(CodecError::Version(99))));
        assert!(decode::<M>(&e[..e.len() - 1]).is_err());
        // A length prefix claiming far more than the limit is refused, not allocated.
        let huge = [FORMAT_VERSION, 7, 252, 255, 255, 255, 255];
        assert!(decode::<M>(&huge).is_err());
    }
}
