//! The server side of SASL DIGEST-MD5 (RFC 2831) as Hadoop IPC uses it for
//! its `TOKEN` authentication: the client proves it holds a delegation
//! token's password without sending it. Only what Hadoop's client does is
//! taken: realm `default`, quality of protection `auth` (no integrity or
//! privacy layer; TLS is not offered on this port either), `md5-sess`.
//!
//! The user name is the token's identifier in base64 and the password the
//! token's password in base64 (Hadoop's `SaslRpcServer.encodeIdentifier`
//! and `encodePassword`). No maintained Rust crate serves DIGEST-MD5 (it is
//! obsolete outside Hadoop), hence this module.
use base64::Engine;
use md5::{Digest as _, Md5};

/// The realm Hadoop's servers name (`SaslRpcServer.SASL_DEFAULT_REALM`).
pub const REALM: &str = "default";
/// The digest URI Hadoop's client computes from the server id and an
/// empty protocol: `/default`.
pub const DIGEST_URI: &str = "/default";
/// The longest response taken (Java's client sends a few hundred bytes).
const MAX_RESPONSE: usize = 4096;

/// One DIGEST-MD5 exchange, from the server's side.
pub struct Exchange {
    nonce: String,
}

/// What a token's identifier stands for: its user and its password (or why
/// it is refused: unknown, expired, malformed).
pub type Lookup<'a> = &'a dyn Fn(&[u8]) -> Result<(String, Vec<u8>), String>;

impl Default for Exchange {
    fn default() -> Self {
        Self::new()
    }
}

impl Exchange {
    /// A new exchange with a fresh random nonce.
    pub fn new() -> Exchange {
        let mut raw = [0u8; 32];
        raw[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        raw[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Exchange {
            nonce: base64::engine::general_purpose::STANDARD.encode(raw),
        }
    }

    /// The server's challenge (sent with its offer, sparing a round trip).
    pub fn challenge(&self) -> Vec<u8> {
        format!(
            "realm=\"{REALM}\",nonce=\"{}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess",
            self.nonce
        )
        .into_bytes()
    }

    /// Checks the client's response: the user the token names and the
    /// server's `rspauth=` answer (which proves to the client that the
    /// server knows the password too), or why it is refused.
    pub fn verify(&self, response: &[u8], lookup: Lookup) -> Result<(String, Vec<u8>), String> {
        if response.len() > MAX_RESPONSE {
            return Err(format!("a DIGEST-MD5 response of {} bytes", response.len()));
        }
        let text = std::str::from_utf8(response)
            .map_err(|_| "the DIGEST-MD5 response is not UTF-8".to_string())?;
        let d = directives(text)?;
        let get = |k: &str| {
            d.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let need = |k: &str| get(k).ok_or_else(|| format!("the DIGEST-MD5 response has no {k}"));
        let username = need("username")?;
        let nonce = need("nonce")?;
        let cnonce = need("cnonce")?;
        let nc = need("nc")?;
        let uri = need("digest-uri")?;
        let answer = need("response")?;
        let realm = get("realm").unwrap_or("");
        let qop = get("qop").unwrap_or("auth");
        if nonce != self.nonce {
            return Err("the DIGEST-MD5 response is for another nonce".into());
        }
        if qop != "auth" {
            return Err(format!(
                "quality of protection {qop} is not offered: only auth \
                 (hadoop.rpc.protection=authentication)"
            ));
        }
        if uri != DIGEST_URI {
            return Err(format!(
                "the DIGEST-MD5 response is for {uri}, not {DIGEST_URI}"
            ));
        }
        let identifier = base64::engine::general_purpose::STANDARD
            .decode(username)
            .map_err(|_| "the token identifier is not base64".to_string())?;
        let (user, password) = lookup(&identifier)?;
        let password = base64::engine::general_purpose::STANDARD.encode(password);
        let parts = Parts {
            username,
            realm,
            password: &password,
            nonce,
            cnonce,
            nc,
            qop,
            uri,
            authzid: get("authzid"),
        };
        let expected = parts.response("AUTHENTICATE");
        if !same(expected.as_bytes(), answer.as_bytes()) {
            return Err("DIGEST-MD5: the token's password is wrong".into());
        }
        Ok((user, format!("rspauth={}", parts.response("")).into_bytes()))
    }
}

/// What a DIGEST-MD5 response value is computed from.
struct Parts<'a> {
    username: &'a str,
    realm: &'a str,
    password: &'a str,
    nonce: &'a str,
    cnonce: &'a str,
    nc: &'a str,
    qop: &'a str,
    uri: &'a str,
    authzid: Option<&'a str>,
}

impl Parts<'_> {
    /// RFC 2831 2.1.2.1: the client's `response` (`method` AUTHENTICATE)
    /// or the server's `rspauth` (empty `method`), for qop `auth`.
    fn response(&self, method: &str) -> String {
        let inner = Md5::digest(format!(
            "{}:{}:{}",
            self.username, self.realm, self.password
        ));
        let mut a1 = inner.to_vec();
        a1.extend_from_slice(format!(":{}:{}", self.nonce, self.cnonce).as_bytes());
        if let Some(z) = self.authzid {
            a1.extend_from_slice(format!(":{z}").as_bytes());
        }
        let ha1 = hex::encode(Md5::digest(&a1));
        let ha2 = hex::encode(Md5::digest(format!("{method}:{}", self.uri)));
        let kd = format!(
            "{ha1}:{}:{}:{}:{}:{ha2}",
            self.nonce, self.nc, self.cnonce, self.qop
        );
        hex::encode(Md5::digest(kd))
    }
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// `key=value` pairs separated by commas; a value may be quoted, with `\`
/// escaping the next character.
fn directives(text: &str) -> Result<Vec<(String, String)>, String> {
    let bad = || "the DIGEST-MD5 response does not parse".to_string();
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err(bad());
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next().ok_or_else(bad)? {
                    '"' => break,
                    '\\' => value.push(chars.next().ok_or_else(bad)?),
                    c => value.push(c),
                }
            }
            while chars.peek().is_some_and(|c| *c != ',') {
                if !chars.next().is_some_and(char::is_whitespace) {
                    return Err(bad());
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
            value = value.trim().to_string();
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_2831_example_computes() {
        // RFC 2831 section 4: the IMAP example.
        let parts = Parts {
            username: "chris",
            realm: "elwood.innosoft.com",
            password: "secret",
            nonce: "OA6MG9tEQGm2hh",
            cnonce: "OA6MHXh6VqTrRk",
            nc: "00000001",
            qop: "auth",
            uri: "imap/elwood.innosoft.com",
            authzid: None,
        };
        assert_eq!(
            parts.response("AUTHENTICATE"),
            "d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(parts.response(""), "ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn directives_parse_quoted_and_bare_values_and_junk_is_refused() {
        let d = directives(r#"a="x,y", b=1 ,c="q\"uote",d=  ,"#).unwrap();
        let want = [("a", "x,y"), ("b", "1"), ("c", "q\"uote"), ("d", "")];
        assert_eq!(d.len(), want.len());
        for ((k, v), (wk, wv)) in d.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        for junk in [r#"a="open"#, "=x", r#"a="x"y"#, r#"a="\"#] {
            assert!(directives(junk).is_err(), "{junk}");
        }
    }

    /// A response as Java's DIGEST-MD5 client builds it.
    fn client_response(ex: &Exchange, identifier: &[u8], password: &[u8], uri: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let (username, password) = (b64.encode(identifier), b64.encode(password));
        let parts = Parts {
            username: &username,
            realm: REALM,
            password: &password,
            nonce: &ex.nonce,
            cnonce: "c1c2c3",
            nc: "00000001",
            qop: "auth",
            uri,
            authzid: None,
        };
        format!(
            "charset=utf-8,username=\"{username}\",realm=\"{REALM}\",nonce=\"{}\",nc=00000001,\
             cnonce=\"c1c2c3\",digest-uri=\"{uri}\",maxbuf=65536,response={},qop=auth",
            ex.nonce,
            parts.response("AUTHENTICATE")
        )
    }

    #[test]
    fn a_response_with_the_right_password_names_the_user_and_others_are_refused() {
        let ex = Exchange::new();
        let challenge = String::from_utf8(ex.challenge()).unwrap();
        assert!(challenge.contains("algorithm=md5-sess") && challenge.contains(&ex.nonce));
        let lookup = |id: &[u8]| match id {
            b"alice-id" => Ok(("alice".to_string(), b"pw".to_vec())),
            _ => Err("unknown token".to_string()),
        };
        let good = client_response(&ex, b"alice-id", b"pw", DIGEST_URI);
        let (user, rspauth) = ex.verify(good.as_bytes(), &lookup).unwrap();
        assert_eq!(user, "alice");
        assert!(rspauth.starts_with(b"rspauth="));
        let wrong = client_response(&ex, b"alice-id", b"guess", DIGEST_URI);
        assert!(ex
            .verify(wrong.as_bytes(), &lookup)
            .unwrap_err()
            .contains("wrong"));
        let unknown = client_response(&ex, b"mallory", b"pw", DIGEST_URI);
        assert_eq!(
            ex.verify(unknown.as_bytes(), &lookup).unwrap_err(),
            "unknown token"
        );
        let other_uri = client_response(&ex, b"alice-id", b"pw", "hdfs/x");
        assert!(ex.verify(other_uri.as_bytes(), &lookup).is_err());
        // A response to another exchange's nonce (a replay).
        let replay = client_response(&Exchange::new(), b"alice-id", b"pw", DIGEST_URI);
        assert!(ex
            .verify(replay.as_bytes(), &lookup)
            .unwrap_err()
            .contains("nonce"));
        assert!(ex.verify(b"\xff\xfe", &lookup).is_err());
        assert!(ex.verify(&[b'a'; MAX_RESPONSE + 1], &lookup).is_err());
        let no_response = good.replace("response=", "responze=");
        assert!(ex.verify(no_response.as_bytes(), &lookup).is_err());
    }
}
