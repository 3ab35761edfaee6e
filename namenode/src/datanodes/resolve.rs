//! Which node an operator means: an id, a unique id prefix, or an
//! address (`host:port` or a URL). Pure.
use super::*;

/// Why a node name given by an operator does not pick one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    NotFound(String),
    Ambiguous(String),
}

/// Strips what an address may carry around `host:port`.
fn normalize_addr(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .unwrap_or(s);
    s.trim_end_matches('/').to_ascii_lowercase()
}

/// Decodes `%XX` escapes (a URL given as a path segment arrives encoded).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Picks the node an operator means: a node id (full, or a unique prefix of
/// at least 4 hex digits, dashes ignored) or its address (`host:port` or the
/// advertised URL). Pure, so the rules are unit-tested.
pub fn resolve_node(query: &str, nodes: &[(NodeId, String)]) -> Result<NodeId, ResolveError> {
    let q = percent_decode(query);
    let q = q.trim();
    if q.is_empty() {
        return Err(ResolveError::NotFound("no datanode named".into()));
    }
    let as_addr = normalize_addr(q);
    let by_addr: Vec<NodeId> = nodes
        .iter()
        .filter(|(_, a)| normalize_addr(a) == as_addr)
        .map(|(id, _)| *id)
        .collect();
    if by_addr.len() == 1 {
        return Ok(by_addr[0]);
    }
    let hex: String = q
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    let is_hex = !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    let by_id: Vec<NodeId> = if is_hex && hex.len() >= 4 {
        nodes
            .iter()
            .filter(|(id, _)| id.to_string().starts_with(&hex))
            .map(|(id, _)| *id)
            .collect()
    } else {
        Vec::new()
    };
    match (by_id.len(), by_addr.len()) {
        (1, _) => Ok(by_id[0]),
        (0, 0) => Err(ResolveError::NotFound(format!(
            "no datanode has id or address {q:?} (an id prefix needs at least 4 hex digits)"
        ))),
        _ => Err(ResolveError::Ambiguous(format!(
            "{q:?} matches {} datanodes; give more of the id",
            by_id.len().max(by_addr.len())
        ))),
    }
}
