//! Typed identifiers. Each is a UUID underneath; v7 for blocks and files so
//! that ids created close in time sort close together in ordered maps and files.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident, $ctor:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh id.
            pub fn new() -> Self {
                Self(Uuid::$ctor())
            }
            /// The 16 raw bytes, used for keys and hashing.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
            pub fn from_bytes(b: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(b))
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0.simple())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.simple())
            }
        }
        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// One block of one file; never reused.
    BlockId,
    now_v7
);
uuid_id!(
    /// A datanode, created once and kept in its data dir.
    NodeId,
    new_v4
);
uuid_id!(
    /// One cluster: made with the namenode's metadata, recorded by every
    /// datanode that joins it (a datanode never joins another cluster).
    ClusterId,
    new_v4
);
uuid_id!(
    /// One creation of a file (changes if the path is overwritten), used as the
    /// write lease handle between `create` and `complete`.
    FileId,
    now_v7
);
uuid_id!(
    /// One client call that changes the namespace, kept across the
    /// client's retries of it: the namenode answers a retry with the first
    /// call's result instead of applying it again (HDFS's retry cache).
    RequestId,
    new_v4
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parse_round_trip() {
        let b = BlockId::new();
        let s = b.to_string();
        assert_eq!(s.len(), 32);
        assert_eq!(s.parse::<BlockId>().unwrap(), b);
        assert!("not-a-uuid".parse::<NodeId>().is_err());
    }
}
