//! When a `dfs local` cluster is ready, and what to say when it does not
//! become ready: the namenode's `/health` (open without credentials, also
//! with access control on) shows every datanode live and no startup safe
//! mode. With several namenodes, one of them must lead first (some
//! namenode's `GET /api/v1/namenodes` names the leader, also open), and it
//! is the leader's `/health` that must show every datanode live.
//!
//! The decisions are pure ([`readiness`], [`leader_of`]); [`wait_ready`]
//! polls for them.
//!
//! Invariants:
//! - Safe mode entered by an operator (it stays until an operator leaves
//!   it) does not hold readiness back: waiting for it would wait forever.
//!   Startup safe mode (waiting for block reports) does.
//! - While waiting, a child that exits fails the start at once, naming the
//!   child and its log; a cluster that is still not ready after
//!   [`READY_TIMEOUT`] fails with why (no answer, datanodes missing, or
//!   the safe mode reason) and the log of the one to blame.
use super::layout::Layout;
use super::messages::{exited, print_log_tail};
use super::process::{self, Running};
use crate::error::{CliError, CliResult};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// How long the cluster may take to come up. Generous: debug builds on a
/// busy machine start slowly, and only a failed start waits this long.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// What the namenode's safe mode reason says when an operator entered it.
const OPERATOR_SAFE_MODE: &str = "entered by an operator";

/// What `/health` says about the cluster coming up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet, and why.
    Waiting(String),
}

/// `live_datanodes` of a `/health` or `/api/v1/summary` answer (bare or
/// wrapped).
pub fn live_datanodes(v: &Value) -> Option<u64> {
    v.get("live_datanodes")
        .or_else(|| v.get("summary").and_then(|s| s.get("live_datanodes")))
        .and_then(Value::as_u64)
}

/// Ready when `want` datanodes are live and the namenode is not in startup
/// safe mode (operator safe mode does not count: see the module doc).
pub fn readiness(health: &Value, want: u64) -> Readiness {
    let live = live_datanodes(health).unwrap_or(0);
    if live < want {
        return Readiness::Waiting(format!("{live} of {want} datanodes live"));
    }
    if health.get("safe_mode").and_then(Value::as_bool) != Some(true) {
        return Readiness::Ready;
    }
    let reason = health
        .get("safe_mode_reason")
        .and_then(Value::as_str)
        .unwrap_or("namenode is in safe mode");
    if reason.contains(OPERATOR_SAFE_MODE) {
        Readiness::Ready
    } else {
        Readiness::Waiting(reason.to_string())
    }
}

/// The leader's URL in a `GET /api/v1/namenodes` answer: the `leader` it
/// names, or itself when it says it leads.
pub fn leader_of(report: &Value) -> Option<String> {
    let named = report
        .get("leader")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty());
    let me = report
        .get("self")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty());
    let leads = report.get("self_role").and_then(Value::as_str) == Some("leader");
    named
        .or(if leads { me } else { None })
        .map(|u| u.trim_end_matches('/').to_string())
}

/// Whether an `/api/v1/datanodes` answer lists a live node on `port`.
pub fn registered_on(v: &Value, port: u16) -> bool {
    let list = v
        .as_array()
        .or_else(|| v.get("datanodes").and_then(|d| d.as_array()));
    let suffix = format!(":{port}");
    list.into_iter().flatten().any(|n| {
        let addr = n.get("addr").and_then(|a| a.as_str()).unwrap_or("");
        let live = n.get("state").and_then(|s| s.as_str()) != Some("dead");
        live && addr.trim_end_matches('/').ends_with(&suffix)
    })
}

async fn get_json(http: &reqwest::Client, url: &str) -> Option<Value> {
    let resp = http.get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// The URL whose `/health` decides readiness: the one namenode's, or with
/// several the leader's as some namenode names it (`None`: no leader yet).
/// Which one leads is an API that needs a credential with access control
/// on: refused, that is an error at once (DFS_TOKEN is missing or wrong).
async fn deciding_namenode(
    layout: &Layout,
    http: &reqwest::Client,
) -> Result<Option<String>, CliError> {
    if layout.namenodes.len() == 1 {
        return Ok(Some(layout.namenode_url.clone()));
    }
    for nn in &layout.namenodes {
        let url = format!("{}/api/v1/namenodes", nn.url());
        let Ok(resp) = http.get(&url).send().await else {
            continue;
        };
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(CliError::Failed(format!(
                "{url} asks for a credential (access control is on): with several \
                 namenodes, dfs local finds the leader with DFS_TOKEN (any user's token)"
            )));
        }
        let report: Option<Value> = match resp.status().is_success() {
            true => resp.json().await.ok(),
            false => None,
        };
        if let Some(leader) = report.as_ref().and_then(leader_of) {
            return Ok(Some(leader));
        }
    }
    Ok(None)
}

/// Until [`readiness`] says ready; fails early when a child exits.
pub async fn wait_ready(
    layout: &Layout,
    http: &reqwest::Client,
    running: &mut [Running],
) -> CliResult {
    let want = layout.datanodes.len() as u64;
    let deadline = Instant::now() + READY_TIMEOUT;
    // The last answer's verdict and who gave it; None while no namenode
    // (no leader, with several) answers.
    let mut last: Option<(String, Readiness)> = None;
    loop {
        if let Some((i, how)) = process::exited(running) {
            return Err(CliError::Failed(exited(&running[i].svc, &how)));
        }
        if let Some(url) = deciding_namenode(layout, http).await? {
            if let Some(h) = get_json(http, &format!("{url}/health")).await {
                let r = readiness(&h, want);
                if r == Readiness::Ready {
                    return Ok(());
                }
                last = Some((url, r));
            }
        }
        if Instant::now() >= deadline {
            return Err(not_ready_error(layout, http, last).await);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn not_ready_error(
    layout: &Layout,
    http: &reqwest::Client,
    last: Option<(String, Readiness)>,
) -> CliError {
    let secs = READY_TIMEOUT.as_secs();
    let (url, why) = match last {
        Some((url, Readiness::Waiting(why))) => (url, why),
        _ if layout.namenodes.len() > 1 => {
            for nn in &layout.namenodes {
                print_log_tail(nn);
            }
            let logs: Vec<String> = layout
                .namenodes
                .iter()
                .map(|n| n.log.display().to_string())
                .collect();
            return CliError::Failed(format!(
                "no namenode became the leader within {secs}s; see their logs {}",
                logs.join(" ")
            ));
        }
        _ => {
            let nn = layout.namenode();
            print_log_tail(nn);
            return CliError::Failed(format!(
                "the namenode did not answer {}/health within {secs}s; see its log {}",
                layout.namenode_url,
                nn.log.display()
            ));
        }
    };
    // The namenode that answered last (the leader, with several).
    let nn = layout
        .namenodes
        .iter()
        .find(|n| n.url() == url)
        .unwrap_or(layout.namenode());
    let live = get_json(http, &format!("{url}/health"))
        .await
        .as_ref()
        .and_then(live_datanodes)
        .unwrap_or(0);
    if live >= layout.datanodes.len() as u64 {
        // Every datanode is live: the namenode holds the start back.
        print_log_tail(nn);
        return CliError::Failed(format!(
            "the cluster was not ready within {secs}s: {why}; see {}",
            nn.log.display()
        ));
    }
    // Best effort (with access control on this answer needs a token): the
    // first datanode the namenode does not list as live, else the first.
    let nodes = get_json(http, &format!("{url}/api/v1/datanodes")).await;
    let missing = layout
        .datanodes
        .iter()
        .find(|d| !nodes.as_ref().is_some_and(|v| registered_on(v, d.port)))
        .unwrap_or(nn);
    print_log_tail(missing);
    CliError::Failed(format!(
        "only {live} of {} datanodes became live within {secs}s; see {}",
        layout.datanodes.len(),
        missing.log.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cluster_answers() {
        let v = json!({"live_datanodes": 3, "dead_datanodes": 0});
        assert_eq!(live_datanodes(&v), Some(3));
        assert_eq!(
            live_datanodes(&json!({"summary": {"live_datanodes": 2}})),
            Some(2)
        );
        assert_eq!(live_datanodes(&json!({})), None);
        let nodes = json!([
            {"addr": "http://127.0.0.1:9864", "state": "live"},
            {"addr": "127.0.0.1:9865/", "state": "live"},
            {"addr": "http://127.0.0.1:9866", "state": "dead"},
        ]);
        assert!(registered_on(&nodes, 9864));
        assert!(registered_on(&nodes, 9865));
        assert!(!registered_on(&nodes, 9866));
        assert!(!registered_on(&nodes, 986));
        assert!(registered_on(&json!({"datanodes": [{"addr": "h:1"}]}), 1));
    }

    #[test]
    fn the_leader_as_a_namenode_names_it() {
        let follower = json!({"self": "http://127.0.0.1:9871", "self_role": "follower",
            "term": 2, "leader": "http://127.0.0.1:9870", "namenodes": []});
        assert_eq!(
            leader_of(&follower).as_deref(),
            Some("http://127.0.0.1:9870")
        );
        let leader = json!({"self": "http://127.0.0.1:9870/", "self_role": "leader",
            "leader": null});
        assert_eq!(leader_of(&leader).as_deref(), Some("http://127.0.0.1:9870"));
        for none in [
            json!({"self": "http://127.0.0.1:9871", "self_role": "candidate", "leader": null}),
            json!({"self": "http://127.0.0.1:9871", "self_role": "follower"}),
            json!({"self_role": "follower", "leader": ""}),
            json!({}),
        ] {
            assert_eq!(leader_of(&none), None, "{none}");
        }
    }

    #[test]
    fn ready_when_all_live_and_out_of_startup_safe_mode() {
        let up = json!({"status": "ok", "live_datanodes": 3, "safe_mode": false, "safe_mode_reason": null});
        assert_eq!(readiness(&up, 3), Readiness::Ready);
        assert_eq!(readiness(&up, 2), Readiness::Ready);
        assert_eq!(
            readiness(&json!({"live_datanodes": 1, "safe_mode": false}), 3),
            Readiness::Waiting("1 of 3 datanodes live".into())
        );
        assert_eq!(
            readiness(&json!({"status": "ok"}), 1),
            Readiness::Waiting("0 of 1 datanodes live".into())
        );
        // startup safe mode: waits, and says why
        let startup = json!({"live_datanodes": 3, "safe_mode": true, "safe_mode_reason":
            "namenode is in safe mode: 2 of 5 blocks reported (need 99.9%, 5 blocks); \
             it leaves safe mode by itself once datanodes report"});
        match readiness(&startup, 3) {
            Readiness::Waiting(why) => assert!(why.contains("2 of 5 blocks"), "{why}"),
            r => panic!("{r:?}"),
        }
        assert!(matches!(
            readiness(&json!({"live_datanodes": 3, "safe_mode": true}), 3),
            Readiness::Waiting(_)
        ));
    }

    #[test]
    fn operator_safe_mode_does_not_hold_the_start_back() {
        // The namenode's own words (namenode/src/safemode.rs, Mode::Manual).
        let manual = json!({"live_datanodes": 2, "safe_mode": true, "safe_mode_reason":
            "namenode is in safe mode: entered by an operator; it stays until an operator \
             leaves it (POST /api/v1/safemode?action=leave)"});
        assert_eq!(readiness(&manual, 2), Readiness::Ready);
        // but the datanodes must still be live
        assert!(matches!(readiness(&manual, 3), Readiness::Waiting(_)));
    }
}
