//! Changing the group: `dfs namenode add URL` and `dfs namenode remove URL`
//! (`POST` / `DELETE /api/v1/namenodes`, run by the leader; openraft makes
//! each change in two steps through a joint configuration).
//!
//! Adding, in order:
//! 1. ask the namenode at URL who it is (`whoami`): it must answer, with
//!    the Raft id its URL gives (else its `--advertise` is another URL and
//!    it would never see itself in the membership), waiting to join (an
//!    empty membership and log) or already a member of this group;
//! 2. build a snapshot and purge the log up to it, so that the newcomer is
//!    sent the snapshot, not the log from its start: a namenode upgraded
//!    in place from a single-namenode version holds state from before its
//!    log's first entry, which the log alone would never give it;
//! 3. add it as a learner and wait until it has what the leader had then;
//! 4. make it a voter.
//!
//! Invariants: a change never leaves the group without a voter; a
//! namenode that cannot follow (unreachable, another group's member, a
//! wrong URL) is refused before anything changes; a failed step leaves at
//! most a learner, which `add` again finishes and `remove` takes out.
use super::group::{id_of, Group};
use crate::error::{NamenodeError, Result};
use openraft::{BasicNode, ChangeMembers};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What a namenode says of itself to one that would add it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// Its Raft id (from its advertised URL at its first start).
    pub id: u64,
    /// The URL it advertises.
    pub url: String,
    /// The voters and learners of the group it knows (empty: it waits to
    /// join).
    pub members: Vec<u64>,
    /// The last index of its log (0: empty).
    pub last_log_index: u64,
}

/// How long the snapshot and the purge before an add may take.
const PURGE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a new namenode may take to catch up (a big namespace's
/// snapshot is sent in chunks, each bounded by its own timeout).
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(600);
/// How often progress is looked at.
const POLL: Duration = Duration::from_millis(100);

fn internal(what: &str, e: impl std::fmt::Display) -> NamenodeError {
    NamenodeError::Internal(format!("{what}: {e}"))
}

impl Group {
    /// This namenode, for `whoami`.
    pub fn whoami(&self) -> Whoami {
        let m = self.raft().metrics();
        let m = m.borrow();
        Whoami {
            id: self.id(),
            url: self.url().to_string(),
            members: m
                .membership_config
                .membership()
                .nodes()
                .map(|(id, _)| *id)
                .collect(),
            last_log_index: m.last_log_index.unwrap_or(0),
        }
    }

    /// The group's voters and every member with its address.
    fn members(&self) -> (BTreeSet<u64>, BTreeMap<u64, String>) {
        let m = self.raft().metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        (
            membership.voter_ids().collect(),
            membership
                .nodes()
                .map(|(id, n)| (*id, n.addr.clone()))
                .collect(),
        )
    }

    /// Adds the namenode at `url` as a voter (see the module doc). Already
    /// a voter: nothing to do.
    pub async fn add_member(&self, url: &str) -> Result<()> {
        let url = url.trim().trim_end_matches('/');
        crate::config::check_url(url).map_err(NamenodeError::InvalidArgument)?;
        let id = id_of(url);
        let (voters, nodes) = self.members();
        if voters.contains(&id) {
            log::info!("{url} is already a voter of the namenode group");
            return Ok(());
        }
        if let Some((other, _)) = nodes.iter().find(|(i, a)| **i != id && a.as_str() == url) {
            return Err(NamenodeError::Conflict(format!(
                "{url} is already in the group as member {other}"
            )));
        }
        let who = self
            .network()
            .whoami(url)
            .await
            .map_err(NamenodeError::Unavailable)?;
        if who.id != id {
            return Err(NamenodeError::InvalidArgument(format!(
                "the namenode at {url} has raft id {} (it advertises {}), not the {id} that {url} gives: add it by the URL it advertises",
                who.id, who.url
            )));
        }
        let ours = who.members.iter().any(|m| voters.contains(m));
        if !who.members.is_empty() && !ours {
            return Err(NamenodeError::Conflict(format!(
                "the namenode at {url} belongs to another group (members {:?}): only a namenode started with --join on an empty data dir can be added",
                who.members
            )));
        }
        if !nodes.contains_key(&id) {
            self.snapshot_and_purge().await?;
            log::info!("adding {url} (raft id {id}) to the namenode group as a learner");
            self.raft()
                .add_learner(id, BasicNode::new(url), false)
                .await
                .map_err(|e| NamenodeError::Unavailable(format!("adding {url}: {e}")))?;
        }
        self.wait_caught_up(id, url).await?;
        log::info!("{url} caught up; making it a voter");
        self.raft()
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(|e| {
                NamenodeError::Unavailable(format!(
                    "{url} is a learner, not yet a voter ({e}); run add again to finish"
                ))
            })?;
        log::info!("{url} is a voter of the namenode group");
        Ok(())
    }

    /// Takes the namenode at `url` out of the group (a voter or a
    /// learner; the leader itself hands over once the change commits).
    pub async fn remove_member(&self, url: &str) -> Result<()> {
        let url = url.trim().trim_end_matches('/');
        let (voters, nodes) = self.members();
        let id = nodes
            .iter()
            .find(|(_, a)| a.as_str() == url)
            .map(|(id, _)| *id)
            .or_else(|| Some(id_of(url)).filter(|id| nodes.contains_key(id)))
            .ok_or_else(|| {
                NamenodeError::NotFound(format!(
                    "{url} is not a member of the namenode group (members: {})",
                    nodes.values().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
        let change = if voters.contains(&id) {
            if voters.len() == 1 {
                return Err(NamenodeError::Conflict(format!(
                    "{url} is the group's last voter: a group cannot lose its last namenode"
                )));
            }
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        log::info!("removing {url} (raft id {id}) from the namenode group");
        self.raft()
            .change_membership(change, false)
            .await
            .map_err(|e| NamenodeError::Unavailable(format!("removing {url}: {e}")))?;
        log::info!("{url} is no longer a member of the namenode group");
        Ok(())
    }

    /// Builds a snapshot of everything applied and drops the log up to it.
    async fn snapshot_and_purge(&self) -> Result<()> {
        let raft = self.raft();
        let applied = raft.metrics().borrow().last_applied.map_or(0, |l| l.index);
        raft.trigger()
            .snapshot()
            .await
            .map_err(|e| internal("building a snapshot", e))?;
        let m = raft
            .wait(Some(PURGE_TIMEOUT))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= applied),
                "a snapshot of what is applied",
            )
            .await
            .map_err(|e| internal("building a snapshot", e))?;
        let upto = m.snapshot.map_or(0, |s| s.index);
        raft.trigger()
            .purge_log(upto)
            .await
            .map_err(|e| internal("purging the log", e))?;
        raft.wait(Some(PURGE_TIMEOUT))
            .metrics(
                |m| m.purged.is_some_and(|p| p.index >= upto),
                "the log purged up to the snapshot",
            )
            .await
            .map_err(|e| internal("purging the log", e))?;
        log::info!("snapshot at index {upto} built and the log purged up to it");
        Ok(())
    }

    /// Waits until learner `id` holds the leader's log as of now.
    async fn wait_caught_up(&self, id: u64, url: &str) -> Result<()> {
        let raft = self.raft();
        let target = raft.metrics().borrow().last_log_index.unwrap_or(0);
        let started = tokio::time::Instant::now();
        loop {
            let matched = {
                let m = raft.metrics();
                let m = m.borrow();
                if m.current_leader != Some(self.id()) {
                    return Err(NamenodeError::Unavailable(format!(
                        "this namenode stopped leading while {url} caught up; run add again"
                    )));
                }
                m.replication
                    .as_ref()
                    .and_then(|r| r.get(&id).cloned())
                    .flatten()
                    .map(|l| l.index)
            };
            if matched.is_some_and(|i| i >= target) {
                return Ok(());
            }
            if started.elapsed() > CATCH_UP_TIMEOUT {
                return Err(NamenodeError::Unavailable(format!(
                    "{url} did not catch up within {} s (it has index {matched:?} of {target}); it stays a learner: run add again to finish, or remove it",
                    CATCH_UP_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
