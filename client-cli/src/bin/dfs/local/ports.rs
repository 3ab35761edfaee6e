//! The ports of `dfs local`'s services: the fixed scheme (the namenodes on
//! PORT, PORT+1, ..., datanodes from PORT-6 up, skipping the namenodes', as
//! HDFS's 9870 and 9864), or free ones picked at random (`--port 0`), and
//! the check that a port is free.
//!
//! What it does not do: hold a port. A port checked free may be taken
//! before the service binds it; the service then exits and says so in its
//! log, and `dfs local` stops with that log's tail.
//!
//! Invariant: picked ports lie in 20000..32000, below Linux's ephemeral
//! range (32768+), so that no outgoing connection takes one between the
//! check and the bind; the start differs per run (pid and clock), so
//! parallel runs rarely try the same ones.
use crate::error::{io_failure, CliError, CliResult};
use std::collections::HashSet;

/// Datanodes listen just below the namenode: 9864, 9865, ... for 9870,
/// as in HDFS.
const DATANODE_PORT_OFFSET: u16 = 6;
/// Where picked ports come from: below the ephemeral range.
const PICK_FROM: u16 = 20_000;
const PICK_TO: u16 = 32_000;
/// Candidates tried before giving up on picking.
const PICK_TRIES: usize = 2_000;

/// `--port`: 0 (pick free ports) or 7..=65535 (room for PORT-6).
pub fn parse_port(s: &str) -> Result<u16, String> {
    let port: u16 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a port number (0 to 65535)"))?;
    if port != 0 && port < 7 {
        return Err(format!(
            "{port} is too low: datanodes use the ports from PORT-6 up (or 0 for free ports)"
        ));
    }
    Ok(port)
}

/// `count` namenode ports: `port`, `port + 1`, ...
pub fn namenode_ports(port: u16, count: u16) -> Result<Vec<u16>, String> {
    (0..count)
        .map(|i| {
            port.checked_add(i)
                .ok_or_else(|| format!("not enough ports above {port} for {count} namenodes"))
        })
        .collect()
}

/// `n` datanode ports from `port - 6` upwards, skipping the `namenodes`
/// ports from `port` on.
pub fn datanode_ports(port: u16, n: u16, namenodes: u16) -> Result<Vec<u16>, String> {
    let taken = u32::from(port)..u32::from(port) + u32::from(namenodes.max(1));
    let mut next = port
        .checked_sub(DATANODE_PORT_OFFSET)
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            format!("port {port} is too low (datanodes use the ports from {port}-6 up)")
        })?;
    let mut out = Vec::with_capacity(usize::from(n));
    while out.len() < usize::from(n) {
        if !taken.contains(&u32::from(next)) {
            out.push(next);
        }
        next = next
            .checked_add(1)
            .ok_or_else(|| format!("not enough ports above {port} for {n} datanodes"))?;
    }
    Ok(out)
}

/// Candidate ports in [`PICK_FROM`, `PICK_TO`), from `seed` (xorshift).
fn candidates(seed: u64) -> impl Iterator<Item = u16> {
    let mut x = seed | 1;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        PICK_FROM + (x % u64::from(PICK_TO - PICK_FROM)) as u16
    })
}

fn can_bind(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// `n` different ports that were free on 127.0.0.1 a moment ago.
pub fn pick_free(n: usize) -> CliResult<Vec<u16>> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let seed = nanos ^ (u64::from(std::process::id()) << 32);
    let mut seen = HashSet::new();
    let picked: Vec<u16> = candidates(seed)
        .take(PICK_TRIES)
        .filter(|p| seen.insert(*p) && can_bind(*p))
        .take(n)
        .collect();
    if picked.len() < n {
        return Err(CliError::Failed(format!(
            "cannot find {n} free ports on 127.0.0.1 between {PICK_FROM} and {PICK_TO}"
        )));
    }
    Ok(picked)
}

/// Fails with a hint when `port` is taken.
pub fn check_free(port: u16) -> CliResult {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(CliError::Failed(format!(
            "port {port} is in use: is another dfs local running? use --port (0 picks free ports)"
        ))),
        Err(e) => Err(io_failure(format!("cannot listen on 127.0.0.1:{port}"), &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(datanode_ports(9870, 3, 1).unwrap(), [9864, 9865, 9866]);
        assert_eq!(
            datanode_ports(9870, 8, 1).unwrap(),
            [9864, 9865, 9866, 9867, 9868, 9869, 9871, 9872]
        );
        assert_eq!(datanode_ports(20000, 1, 1).unwrap(), [19994]);
        assert!(datanode_ports(6, 1, 1).is_err());
        assert!(datanode_ports(65535, 10, 1).is_err());
        assert_eq!(
            datanode_ports(65535, 6, 1).unwrap(),
            [65529, 65530, 65531, 65532, 65533, 65534]
        );
        // several namenodes: the datanodes skip all their ports
        assert_eq!(namenode_ports(9870, 3).unwrap(), [9870, 9871, 9872]);
        assert_eq!(namenode_ports(9870, 1).unwrap(), [9870]);
        assert!(namenode_ports(65534, 3).is_err());
        assert_eq!(datanode_ports(9870, 3, 3).unwrap(), [9864, 9865, 9866]);
        assert_eq!(
            datanode_ports(9870, 8, 3).unwrap(),
            [9864, 9865, 9866, 9867, 9868, 9869, 9873, 9874]
        );
    }

    #[test]
    fn port_flag() {
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("7"), Ok(7));
        assert_eq!(parse_port("9870"), Ok(9870));
        for bad in ["1", "6", "65536", "-1", "x", ""] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn candidates_stay_below_the_ephemeral_range() {
        for seed in [0, 1, 42, u64::MAX] {
            let c: Vec<u16> = candidates(seed).take(1000).collect();
            assert!(c.iter().all(|p| (PICK_FROM..PICK_TO).contains(p)));
            let distinct: HashSet<_> = c.iter().collect();
            assert!(distinct.len() > 900, "seed {seed}: {}", distinct.len());
        }
        assert_ne!(
            candidates(1).take(4).collect::<Vec<_>>(),
            candidates(2).take(4).collect::<Vec<_>>()
        );
    }

    #[test]
    fn picks_distinct_free_ports() {
        let p = pick_free(5).unwrap();
        assert_eq!(p.iter().collect::<HashSet<_>>().len(), 5);
        assert!(p.iter().all(|p| (PICK_FROM..PICK_TO).contains(p)));
        let held = std::net::TcpListener::bind(("127.0.0.1", p[0])).unwrap();
        assert!(check_free(p[0]).is_err());
        drop(held);
    }
}
