//! Hadoop delegation tokens for the namenode's Hadoop door with access
//! control on: what `dfs hadoop-token` writes and Hadoop's client proves it
//! holds (SASL DIGEST-MD5, the namenode's `hadoop::sasl`).
//!
//! A token is an identifier and a password. The identifier is HDFS's own
//! `DelegationTokenIdentifier` (Hadoop's `Writable` encoding: version 0,
//! owner, renewer, real user, issue and expiry dates, sequence number,
//! master key id), so Hadoop's tools can print it; the password is a MAC
//! of the identifier under the cluster's user-token key
//! (`ClusterKeys::hadoop_password`): the namenode keeps nothing per token,
//! and any namenode of the cluster checks any token.
//!
//! The token file is Hadoop's `Credentials` storage (`HDTS`, format 1: a
//! delimited `CredentialsProto`), read by Hadoop's client from
//! `HADOOP_TOKEN_FILE_LOCATION`. Hadoop's client picks the token whose
//! `service` is the namenode address it connects to (`ip:port`).
use super::proto::{CredentialsKvProto, CredentialsProto, TokenProto};
use prost::Message;

/// The kind of HDFS's delegation tokens (what Hadoop's client looks for
/// when it talks to a namenode).
pub const KIND: &str = "HDFS_DELEGATION_TOKEN";
/// The token file's first bytes (`Credentials.TOKEN_STORAGE_MAGIC`).
pub const FILE_MAGIC: &[u8; 4] = b"HDTS";
/// The token file format: protocol buffers.
const FILE_FORMAT_PROTOBUF: u8 = 1;
/// `AbstractDelegationTokenIdentifier.VERSION`.
const IDENTIFIER_VERSION: u8 = 0;

/// HDFS's `DelegationTokenIdentifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    /// The user the token speaks for.
    pub owner: String,
    pub renewer: String,
    pub real_user: String,
    pub issue_ms: u64,
    /// When the token stops working.
    pub max_ms: u64,
    pub sequence: i32,
    pub master_key_id: i32,
}

impl Identifier {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![IDENTIFIER_VERSION];
        for s in [&self.owner, &self.renewer, &self.real_user] {
            write_text(&mut out, s);
        }
        write_vlong(&mut out, self.issue_ms as i64);
        write_vlong(&mut out, self.max_ms as i64);
        write_vlong(&mut out, i64::from(self.sequence));
        write_vlong(&mut out, i64::from(self.master_key_id));
        out
    }

    pub fn decode(mut bytes: &[u8]) -> Result<Identifier, String> {
        let b = &mut bytes;
        match b.split_first() {
            Some((&IDENTIFIER_VERSION, rest)) => *b = rest,
            Some((v, _)) => return Err(format!("token identifier version {v} is unknown")),
            None => return Err("the token identifier is empty".into()),
        }
        let owner = read_text(b)?;
        let renewer = read_text(b)?;
        let real_user = read_text(b)?;
        let date = |b: &mut &[u8]| {
            u64::try_from(read_vlong(b)?).map_err(|_| "a negative date".to_string())
        };
        let issue_ms = date(b)?;
        let max_ms = date(b)?;
        let int = |b: &mut &[u8]| {
            i32::try_from(read_vlong(b)?).map_err(|_| "a number out of range".to_string())
        };
        let sequence = int(b)?;
        let master_key_id = int(b)?;
        if !b.is_empty() {
            return Err(format!("{} bytes after the token identifier", b.len()));
        }
        Ok(Identifier {
            owner,
            renewer,
            real_user,
            issue_ms,
            max_ms,
            sequence,
            master_key_id,
        })
    }
}

/// A token file holding `token` once per service (`ip:port` of each
/// namenode door, or `ha-hdfs:<nameservice>`).
pub fn credentials_file(identifier: &[u8], password: &[u8], services: &[String]) -> Vec<u8> {
    let body = CredentialsProto {
        tokens: services
            .iter()
            .map(|s| CredentialsKvProto {
                alias: s.clone(),
                token: Some(TokenProto {
                    identifier: identifier.to_vec(),
                    password: password.to_vec(),
                    kind: KIND.to_string(),
                    service: s.clone(),
                }),
                secret: None,
            })
            .collect(),
        secrets: Vec::new(),
    };
    let mut out = FILE_MAGIC.to_vec();
    out.push(FILE_FORMAT_PROTOBUF);
    body.encode_length_delimited(&mut out)
        .unwrap_or_else(|_| unreachable!("a Vec grows as needed"));
    out
}

/// The tokens of a token file (format 1 only: what Hadoop 3 writes).
pub fn read_credentials_file(bytes: &[u8]) -> Result<Vec<TokenProto>, String> {
    let rest = bytes
        .strip_prefix(FILE_MAGIC.as_slice())
        .ok_or("not a Hadoop token file (no HDTS header)")?;
    let rest = match rest.split_first() {
        Some((&FILE_FORMAT_PROTOBUF, rest)) => rest,
        _ => return Err("a Hadoop token file of another format".into()),
    };
    let body = CredentialsProto::decode_length_delimited(rest)
        .map_err(|e| format!("the token file does not decode: {e}"))?;
    Ok(body.tokens.into_iter().filter_map(|kv| kv.token).collect())
}

/// Hadoop's `Text`: a variable-length length, then UTF-8.
fn write_text(out: &mut Vec<u8>, s: &str) {
    write_vlong(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

fn read_text(b: &mut &[u8]) -> Result<String, String> {
    let len = usize::try_from(read_vlong(b)?).map_err(|_| "a negative length".to_string())?;
    if len > b.len() {
        return Err("a string runs past the end".into());
    }
    let (s, rest) = b.split_at(len);
    *b = rest;
    String::from_utf8(s.to_vec()).map_err(|_| "a string is not UTF-8".into())
}

/// `WritableUtils.writeVLong`: -112..=127 in one byte; otherwise a byte
/// giving sign and length, then the big-endian bytes (of `!i` if negative).
fn write_vlong(out: &mut Vec<u8>, i: i64) {
    if (-112..=127).contains(&i) {
        out.push(i as u8);
        return;
    }
    let (v, base) = if i < 0 { (!i, -120i32) } else { (i, -112i32) };
    let n = 8 - (v.leading_zeros() / 8) as i32;
    out.push((base - n) as u8);
    out.extend_from_slice(&v.to_be_bytes()[(8 - n) as usize..]);
}

/// `WritableUtils.readVLong`.
fn read_vlong(b: &mut &[u8]) -> Result<i64, String> {
    let (&first, rest) = b.split_first().ok_or("a number runs past the end")?;
    *b = rest;
    let first = first as i8;
    if first >= -112 {
        return Ok(i64::from(first));
    }
    let (negative, n) = if first < -120 {
        (true, (-120 - i32::from(first)) as usize)
    } else {
        (false, (-112 - i32::from(first)) as usize)
    };
    if n > b.len() {
        return Err("a number runs past the end".into());
    }
    let (digits, rest) = b.split_at(n);
    *b = rest;
    let v = digits.iter().fold(0i64, |v, d| (v << 8) | i64::from(*d));
    Ok(if negative { !v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlongs_are_hadoops() {
        // Bytes as Java's WritableUtils.writeVLong writes them.
        let cases: [(i64, &[u8]); 7] = [
            (0, &[0]),
            (127, &[127]),
            (-112, &[0x90]),
            (128, &[0x8f, 0x80]),
            (-113, &[0x87, 0x70]),
            (
                1_700_000_000_000,
                &[0x8a, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00],
            ),
            (
                i64::MAX,
                &[0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
        ];
        for (v, bytes) in cases {
            let mut out = Vec::new();
            write_vlong(&mut out, v);
            assert_eq!(out, bytes, "{v}");
            assert_eq!(read_vlong(&mut &out[..]), Ok(v));
        }
        for v in [i64::MIN, -1, 1 << 40, -(1 << 40), 255, 256, -129] {
            let mut out = Vec::new();
            write_vlong(&mut out, v);
            let mut b = &out[..];
            assert_eq!(read_vlong(&mut b), Ok(v));
            assert!(b.is_empty());
        }
    }

    #[test]
    fn an_identifier_round_trips_and_junk_is_refused() {
        let id = Identifier {
            owner: "alice".into(),
            renewer: String::new(),
            real_user: String::new(),
            issue_ms: 1_700_000_000_000,
            max_ms: 1_700_086_400_000,
            sequence: 7,
            master_key_id: 0,
        };
        let bytes = id.encode();
        assert_eq!(&bytes[..7], b"\0\x05alice");
        assert_eq!(Identifier::decode(&bytes), Ok(id));
        assert!(Identifier::decode(&[]).is_err());
        assert!(Identifier::decode(&[1]).is_err());
        for cut in 1..bytes.len() {
            assert!(Identifier::decode(&bytes[..cut]).is_err(), "{cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Identifier::decode(&longer).is_err());
        // A length past the end, a negative length.
        assert!(Identifier::decode(&[0, 0x7f, b'a']).is_err());
        assert!(Identifier::decode(&[0, 0xff]).is_err());
    }

    #[test]
    fn a_token_file_holds_the_token_once_per_service() {
        let services = vec!["127.0.0.1:8020".to_string(), "ha-hdfs:dfs".to_string()];
        let file = credentials_file(b"id", b"pw", &services);
        assert_eq!(&file[..5], b"HDTS\x01");
        let tokens = read_credentials_file(&file).unwrap();
        assert_eq!(tokens.len(), 2);
        for (t, s) in tokens.iter().zip(&services) {
            assert_eq!(
                (&t.identifier[..], &t.password[..]),
                (&b"id"[..], &b"pw"[..])
            );
            assert_eq!((t.kind.as_str(), &t.service), (KIND, s));
        }
        assert!(read_credentials_file(b"HDTS\x00").is_err());
        assert!(read_credentials_file(b"junk").is_err());
    }
}
