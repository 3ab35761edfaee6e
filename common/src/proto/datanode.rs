//! Datanode ↔ namenode: bincode bodies (see [`crate::codec`]) POSTed to
//! [`INTERNAL_PREFIX`]`/{register,heartbeat,block_report,block_received,bad_block}`.
//!
//! The datanode's one link to the namenode (HDFS `BPServiceActor`) sends all
//! of these; the namenode answers and never calls a datanode. Work for a
//! datanode rides back on [`HeartbeatReply::commands`].
use super::DatanodeInfo;
use crate::checksum::Sha256Digest;
use crate::ids::{BlockId, ClusterId, NodeId};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

pub const INTERNAL_PREFIX: &str = "/internal/v1";

/// Space on a datanode, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StorageReport {
    /// What this node may store in all (its `--capacity`, or the disk's size).
    pub capacity: u64,
    /// Bytes of block data it holds.
    pub used: u64,
    /// What it can still take: min(capacity − used, free disk space).
    pub available: u64,
}

/// Which file system holds a datanode's blocks. Two datanodes that report
/// the same one share a disk, and the namenode counts its size and free
/// space once (several datanodes of `dfs local` on one disk, or containers
/// with the same volume).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FilesystemId {
    /// The running kernel (Linux's boot id): the same for every process
    /// and container of one machine, different on another machine. It
    /// changes when the machine reboots, and the datanodes restart with it.
    pub host: String,
    /// The device number of the file system holding the blocks directory
    /// (`st_dev`): distinct for every file system mounted on that kernel,
    /// the same through bind mounts.
    pub device: u64,
}

/// `<host>:<device>`: the first 8 characters of the host's id, the device
/// number in hex (short enough for a table, distinct enough to compare).
impl fmt::Display for FilesystemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host: String = self.host.chars().take(8).collect();
        write!(f, "{host}:{:x}", self.device)
    }
}

/// The file system under a datanode's blocks, as `df` sees it (bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesystemReport {
    pub id: FilesystemId,
    /// Its size (`f_blocks × f_frsize`, `df`'s Size).
    pub total: u64,
    /// Free blocks, including those kept for root (`f_bfree × f_frsize`).
    pub free: u64,
    /// What an ordinary process can still write (`f_bavail × f_frsize`,
    /// `df`'s Avail): free less the root reserve.
    pub available: u64,
}

/// One data dir (a disk) of a datanode, as its heartbeat reports it and
/// `dfs report` shows it (`datanode --data-dir A,B,C`: one each).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskReport {
    /// The data dir, as the datanode was given it.
    pub dir: String,
    pub state: DiskState,
    /// Why it is out of service (empty while in service).
    pub error: String,
    /// Its file system's size, in bytes (as last seen).
    pub capacity: u64,
    /// Bytes of block data on it.
    pub used: u64,
    /// What can still be written there (as last seen).
    pub available: u64,
    /// Replicas on it.
    pub blocks: u64,
}

/// Whether a disk takes blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskState {
    #[default]
    InService,
    /// Taken out of service after I/O errors, or its dir gone or read-only;
    /// its replicas were reported lost.
    Failed,
}

/// A replica a datanode holds (finalized: durable and checksummed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedBlock {
    pub id: BlockId,
    pub len: u64,
    pub sha256: Sha256Digest,
}

/// The rack of a datanode that names none (HDFS's `/default-rack`).
pub const DEFAULT_RACK: &str = "/default-rack";

/// The longest rack name accepted.
pub const MAX_RACK_LEN: usize = 256;

/// Checks a rack name (`datanode --rack`, and the namenode again when one
/// registers): not empty, starts with `/`, no whitespace or control
/// characters, at most [`MAX_RACK_LEN`] bytes. The error says why.
pub fn check_rack(rack: &str) -> Result<(), String> {
    if rack.is_empty() {
        return Err("the rack name is empty (example: /dc1/rack1)".into());
    }
    if !rack.starts_with('/') {
        return Err(format!(
            "rack {rack:?} does not start with '/' (example: /dc1/rack1)"
        ));
    }
    if rack.len() > MAX_RACK_LEN {
        return Err(format!(
            "the rack name is {} bytes long, more than {MAX_RACK_LEN}",
            rack.len()
        ));
    }
    if rack.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "rack {rack:?} holds whitespace or control characters"
        ));
    }
    Ok(())
}

/// `POST register`: sent at start and whenever the namenode asks
/// ([`Command::Reregister`]). Carries a full block report.
///
/// Format evolution: `rack` is an optional tail (as [`Heartbeat`]'s
/// `filesystem`, see [`tail`]): a datanode of the first shape sends none
/// and is on [`DEFAULT_RACK`]; a datanode on the default rack sends
/// `None`, so its registration is exactly the first shape, which a
/// namenode of the first shape still reads.
///
/// `hadoop_port` is a second tail, written only when set (then `rack` is
/// written too, `None` or not): a datanode without `--hadoop-data-listen`
/// registers as before. One with it needs a namenode that reads the tail
/// (upgrade namenodes first).
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub node: DatanodeInfo,
    pub storage: StorageReport,
    pub blocks: Vec<ReportedBlock>,
    pub version: String,
    /// The cluster this datanode belongs to (`None`: it never joined one,
    /// and adopts the namenode's). A namenode of another cluster refuses the
    /// registration with 409 Conflict and [`cluster_mismatch_message`].
    pub cluster_id: Option<ClusterId>,
    /// Its rack (`datanode --rack`); `None` is [`DEFAULT_RACK`].
    pub rack: Option<String>,
    /// The port it serves Hadoop's DataTransferProtocol on
    /// (`--hadoop-data-listen`), on its advertised host.
    pub hadoop_port: Option<u16>,
}

impl RegisterRequest {
    /// The rack it is on.
    pub fn rack(&self) -> &str {
        self.rack.as_deref().unwrap_or(DEFAULT_RACK)
    }
}

impl Serialize for RegisterRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = if self.hadoop_port.is_some() {
            7
        } else if self.rack.is_some() {
            6
        } else {
            5
        };
        let mut st = s.serialize_struct("RegisterRequest", fields)?;
        st.serialize_field("node", &self.node)?;
        st.serialize_field("storage", &self.storage)?;
        st.serialize_field("blocks", &self.blocks)?;
        st.serialize_field("version", &self.version)?;
        st.serialize_field("cluster_id", &self.cluster_id)?;
        if fields > 5 {
            st.serialize_field("rack", &self.rack)?;
        }
        if fields > 6 {
            st.serialize_field("hadoop_port", &self.hadoop_port)?;
        }
        st.end()
    }
}

/// [`RegisterRequest`]'s fields as a self-describing format reads them.
#[derive(Deserialize)]
struct RegisterFields {
    node: DatanodeInfo,
    storage: StorageReport,
    blocks: Vec<ReportedBlock>,
    version: String,
    cluster_id: Option<ClusterId>,
    #[serde(default)]
    rack: Option<String>,
    #[serde(default)]
    hadoop_port: Option<u16>,
}

impl<'de> Deserialize<'de> for RegisterRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let f = RegisterFields::deserialize(d)?;
            return Ok(RegisterRequest {
                node: f.node,
                storage: f.storage,
                blocks: f.blocks,
                version: f.version,
                cluster_id: f.cluster_id,
                rack: f.rack,
                hadoop_port: f.hadoop_port,
            });
        }
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = RegisterRequest;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a registration")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RegisterRequest, A::Error> {
                let missing = |i| de::Error::invalid_length(i, &"a registration");
                Ok(RegisterRequest {
                    node: seq.next_element()?.ok_or_else(|| missing(0))?,
                    storage: seq.next_element()?.ok_or_else(|| missing(1))?,
                    blocks: seq.next_element()?.ok_or_else(|| missing(2))?,
                    version: seq.next_element()?.ok_or_else(|| missing(3))?,
                    cluster_id: seq.next_element()?.ok_or_else(|| missing(4))?,
                    rack: tail(&mut seq),
                    hadoop_port: tail(&mut seq),
                })
            }
        }
        const FIELDS: &[&str] = &[
            "node",
            "storage",
            "blocks",
            "version",
            "cluster_id",
            "rack",
            "hadoop_port",
        ];
        d.deserialize_struct("RegisterRequest", FIELDS, Fields)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub heartbeat_interval_ms: u64,
    /// How often to send a full [`BlockReport`].
    pub block_report_interval_ms: u64,
    /// The namenode's cluster: a datanode without one records it.
    pub cluster_id: ClusterId,
}

/// The sentence both sides log when a datanode of cluster `datanode` meets
/// the namenode at `namenode_url` of cluster `namenode`.
pub fn cluster_mismatch_message(
    datanode: &ClusterId,
    namenode_url: &str,
    namenode: &ClusterId,
) -> String {
    format!(
        "this datanode belongs to cluster {datanode}, the namenode at {namenode_url} is cluster {namenode}: \
         restore the namenode's metadata (namenode --restore CHECKPOINT), or start this datanode on an empty data dir"
    )
}

/// `POST heartbeat`.
///
/// Format evolution: `filesystem` came after the first shape (the first
/// three fields), as an optional *tail*. bincode writes no field count, so
/// a heartbeat of the first shape simply ends where the tail would begin:
/// this type reads such a message with `filesystem: None`, and writes one
/// without a file system in exactly the first shape. A namenode of the
/// first shape refuses a heartbeat that carries the tail (trailing bytes:
/// 400), and the datanode then sends the first shape to it (see the
/// datanode's `heartbeat.rs`). Add later fields the same way, after this
/// one, each an `Option` that is left out when it and every field after it
/// are `None`. `disks` is the second such tail: with it, `filesystem` is
/// written too (as `None` if need be).
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub node_id: NodeId,
    pub storage: StorageReport,
    /// Block transfers in progress (reads and writes).
    pub active_transfers: u32,
    /// The file system holding the blocks (`None`: an older datanode, or
    /// one that cannot tell; it is then counted as a file system of its own).
    pub filesystem: Option<FilesystemReport>,
    /// Each data dir of the node (`None`: an older datanode).
    pub disks: Option<Vec<DiskReport>>,
}

impl Serialize for Heartbeat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = if self.disks.is_some() {
            5
        } else if self.filesystem.is_some() {
            4
        } else {
            3
        };
        let mut st = s.serialize_struct("Heartbeat", fields)?;
        st.serialize_field("node_id", &self.node_id)?;
        st.serialize_field("storage", &self.storage)?;
        st.serialize_field("active_transfers", &self.active_transfers)?;
        if fields >= 4 {
            st.serialize_field("filesystem", &self.filesystem)?;
        }
        if fields >= 5 {
            st.serialize_field("disks", &self.disks)?;
        }
        st.end()
    }
}

/// The fields as a self-describing format (JSON) reads them: there a
/// missing field is seen as missing, so `serde(default)` does the work.
#[derive(Deserialize)]
struct HeartbeatFields {
    node_id: NodeId,
    storage: StorageReport,
    active_transfers: u32,
    #[serde(default)]
    filesystem: Option<FilesystemReport>,
    #[serde(default)]
    disks: Option<Vec<DiskReport>>,
}

impl<'de> Deserialize<'de> for Heartbeat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let f = HeartbeatFields::deserialize(d)?;
            return Ok(Heartbeat {
                node_id: f.node_id,
                storage: f.storage,
                active_transfers: f.active_transfers,
                filesystem: f.filesystem,
                disks: f.disks,
            });
        }
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Heartbeat;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a heartbeat")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Heartbeat, A::Error> {
                let missing = |i| de::Error::invalid_length(i, &"a heartbeat");
                Ok(Heartbeat {
                    node_id: seq.next_element()?.ok_or_else(|| missing(0))?,
                    storage: seq.next_element()?.ok_or_else(|| missing(1))?,
                    active_transfers: seq.next_element()?.ok_or_else(|| missing(2))?,
                    filesystem: tail(&mut seq),
                    disks: tail(&mut seq),
                })
            }
        }
        const FIELDS: &[&str] = &[
            "node_id",
            "storage",
            "active_transfers",
            "filesystem",
            "disks",
        ];
        d.deserialize_struct("Heartbeat", FIELDS, Fields)
    }
}

/// An optional field at the end of a binary message, which a peer of an
/// older shape does not send: the message ends before it, which the
/// decoder reports as an error (bincode has no field count to say "no
/// more"). Any such error reads as "absent": what the tail holds is
/// advisory, and a malformed tail with bytes after the point where it
/// failed still fails the decode, because `codec::decode` refuses trailing
/// bytes.
fn tail<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(seq: &mut A) -> Option<T> {
    seq.next_element::<Option<T>>().ok().flatten().flatten()
}

/// A heartbeat's answer. `leadership` is a tail field (see [`tail`]): a
/// namenode of an earlier version does not send it, and one that sends it
/// is read by an earlier datanode that ignores it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeartbeatReply {
    pub commands: Vec<Command>,
    /// Where the answering namenode stands in its group (`None`: an
    /// earlier version, a namenode of one).
    pub leadership: Option<Leadership>,
}

/// A namenode's standing when it answered: a datanode takes replica
/// commands only from the namenode that claims to lead at the highest term
/// it has seen (HDFS `BPOfferService`), so a deposed leader's are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leadership {
    pub term: u64,
    pub leader: bool,
}

impl Serialize for HeartbeatReply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = if self.leadership.is_some() { 2 } else { 1 };
        let mut st = s.serialize_struct("HeartbeatReply", fields)?;
        st.serialize_field("commands", &self.commands)?;
        if self.leadership.is_some() {
            st.serialize_field("leadership", &self.leadership)?;
        }
        st.end()
    }
}

#[derive(Deserialize)]
struct HeartbeatReplyFields {
    commands: Vec<Command>,
    #[serde(default)]
    leadership: Option<Leadership>,
}

impl<'de> Deserialize<'de> for HeartbeatReply {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let f = HeartbeatReplyFields::deserialize(d)?;
            return Ok(HeartbeatReply {
                commands: f.commands,
                leadership: f.leadership,
            });
        }
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = HeartbeatReply;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a heartbeat reply")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeartbeatReply, A::Error> {
                Ok(HeartbeatReply {
                    commands: seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(0, &"a heartbeat reply"))?,
                    leadership: tail(&mut seq),
                })
            }
        }
        const FIELDS: &[&str] = &["commands", "leadership"];
        d.deserialize_struct("HeartbeatReply", FIELDS, Fields)
    }
}

/// Work the namenode hands a datanode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Send your replica of `block_id` to `targets` (a pipeline, first hop
    /// first), which check it against `sha256`.
    Replicate {
        block_id: BlockId,
        len: u64,
        sha256: Sha256Digest,
        targets: Vec<DatanodeInfo>,
    },
    /// Delete these replicas (deleted files, excess or abandoned blocks).
    Delete { blocks: Vec<BlockId> },
    /// The namenode does not know you (it restarted): register again with a
    /// full block report.
    Reregister,
}

/// `POST block_report`: every replica held, sent periodically.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockReport {
    pub node_id: NodeId,
    pub blocks: Vec<ReportedBlock>,
}

/// `POST block_received`: replicas gained and lost since the last report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncrementalBlockReport {
    pub node_id: NodeId,
    pub received: Vec<ReportedBlock>,
    pub deleted: Vec<BlockId>,
}

/// `POST bad_block`: a replica on this node failed verification and was
/// quarantined.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BadBlockReport {
    pub node_id: NodeId,
    pub block_id: BlockId,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    #[test]
    fn heartbeat_reply_round_trips_through_codec() {
        let r = HeartbeatReply {
            commands: vec![
                Command::Delete {
                    blocks: vec![BlockId::new()],
                },
                Command::Replicate {
                    block_id: BlockId::new(),
                    len: 5,
                    sha256: Sha256Digest::of(b"hello"),
                    targets: vec![DatanodeInfo {
                        id: NodeId::new(),
                        addr: "http://127.0.0.1:1".into(),
                    }],
                },
                Command::Reregister,
            ],
            leadership: Some(Leadership {
                term: 7,
                leader: true,
            }),
        };
        let back: HeartbeatReply = codec::decode(&codec::encode(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        // A namenode of an earlier version sends the commands alone, and
        // an earlier datanode reads the commands and stops.
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct FirstReply {
            commands: Vec<Command>,
        }
        let first = FirstReply {
            commands: r.commands.clone(),
        };
        let back: HeartbeatReply = codec::decode(&codec::encode(&first).unwrap()).unwrap();
        assert_eq!((back.commands, back.leadership), (r.commands.clone(), None));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<HeartbeatReply>(&json).unwrap(), r);
    }

    /// [`Heartbeat`] as it was before `filesystem`.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct FirstHeartbeat {
        node_id: NodeId,
        storage: StorageReport,
        active_transfers: u32,
    }

    fn heartbeat(filesystem: Option<FilesystemReport>) -> Heartbeat {
        Heartbeat {
            node_id: NodeId::new(),
            storage: StorageReport {
                capacity: 300,
                used: 20,
                available: 100,
            },
            active_transfers: 2,
            filesystem,
            disks: None,
        }
    }

    fn fs() -> FilesystemReport {
        FilesystemReport {
            id: FilesystemId {
                host: "16dcd27a-a093-4fec-8c67-94d9ac5d0912".into(),
                device: 0xfd00,
            },
            total: 300,
            free: 150,
            available: 120,
        }
    }

    fn same(a: &Heartbeat, b: &Heartbeat) {
        assert_eq!(
            (
                a.node_id,
                a.storage,
                a.active_transfers,
                &a.filesystem,
                &a.disks
            ),
            (
                b.node_id,
                b.storage,
                b.active_transfers,
                &b.filesystem,
                &b.disks
            )
        );
    }

    #[test]
    fn heartbeats_with_disks_decode() {
        let disks = vec![
            DiskReport {
                dir: "/d1".into(),
                capacity: 100,
                used: 10,
                available: 80,
                blocks: 2,
                ..DiskReport::default()
            },
            DiskReport {
                dir: "/d2".into(),
                state: DiskState::Failed,
                error: "gone".into(),
                ..DiskReport::default()
            },
        ];
        for filesystem in [Some(fs()), None] {
            let mut hb = heartbeat(filesystem);
            hb.disks = Some(disks.clone());
            let bytes = codec::encode(&hb).unwrap();
            same(&codec::decode::<Heartbeat>(&bytes).unwrap(), &hb);
            // An older namenode refuses it (then it gets the first shape).
            assert!(codec::decode::<FirstHeartbeat>(&bytes).is_err());
            let json = serde_json::to_string(&hb).unwrap();
            same(&serde_json::from_str(&json).unwrap(), &hb);
        }
        // A heartbeat with a file system and no disks reads as before.
        let hb = heartbeat(Some(fs()));
        let back: Heartbeat = codec::decode(&codec::encode(&hb).unwrap()).unwrap();
        assert_eq!(back.disks, None);
        let json = r#"{"dir":"/x","state":"failed"}"#;
        let d: DiskReport = serde_json::from_str(json).unwrap();
        assert_eq!((d.state, d.used), (DiskState::Failed, 0));
    }

    #[test]
    fn registrations_with_and_without_a_rack_decode() {
        /// [`RegisterRequest`] as it was before `rack`.
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct FirstRegister {
            node: DatanodeInfo,
            storage: StorageReport,
            blocks: Vec<ReportedBlock>,
            version: String,
            cluster_id: Option<ClusterId>,
        }
        let req = |rack: Option<&str>, hadoop_port: Option<u16>| RegisterRequest {
            node: DatanodeInfo {
                id: NodeId::new(),
                addr: "http://127.0.0.1:1".into(),
            },
            storage: StorageReport::default(),
            blocks: vec![ReportedBlock {
                id: BlockId::new(),
                len: 5,
                sha256: Sha256Digest::of(b"hello"),
            }],
            version: "t".into(),
            cluster_id: None,
            rack: rack.map(str::to_string),
            hadoop_port,
        };
        let same = |a: &RegisterRequest, b: &RegisterRequest| {
            assert_eq!(
                (
                    &a.node,
                    &a.blocks,
                    &a.version,
                    a.cluster_id,
                    &a.rack,
                    a.hadoop_port
                ),
                (
                    &b.node,
                    &b.blocks,
                    &b.version,
                    b.cluster_id,
                    &b.rack,
                    b.hadoop_port
                )
            );
        };
        for r in [
            req(Some("/dc1/r1"), None),
            req(None, None),
            req(None, Some(9866)),
            req(Some("/r"), Some(1)),
        ] {
            let back: RegisterRequest = codec::decode(&codec::encode(&r).unwrap()).unwrap();
            same(&back, &r);
            let json = serde_json::to_string(&r).unwrap();
            same(&serde_json::from_str(&json).unwrap(), &r);
        }
        // An older datanode's registration: the default rack.
        let r = req(None, None);
        assert_eq!(r.rack(), DEFAULT_RACK);
        let old = FirstRegister {
            node: r.node.clone(),
            storage: r.storage,
            blocks: r.blocks.clone(),
            version: r.version.clone(),
            cluster_id: None,
        };
        let old_bytes = codec::encode(&old).unwrap();
        same(&codec::decode::<RegisterRequest>(&old_bytes).unwrap(), &r);
        // On the default rack we write exactly the first shape.
        assert_eq!(codec::encode(&r).unwrap(), old_bytes);
        // Bytes past the last tail are refused (after a rack, one more
        // byte is an absent port: two are junk).
        for (r, extra) in [
            (req(Some("/r"), None), &[0u8, 0][..]),
            (req(None, Some(2)), &[0]),
        ] {
            let mut junk = codec::encode(&r).unwrap();
            junk.extend_from_slice(extra);
            assert!(codec::decode::<RegisterRequest>(&junk).is_err());
        }
    }

    #[test]
    fn rack_names_are_checked() {
        for good in ["/default-rack", "/dc1/rack-7", "/r", "/a_b.c"] {
            assert_eq!(check_rack(good), Ok(()), "{good}");
        }
        let long = format!("/{}", "x".repeat(MAX_RACK_LEN));
        for bad in ["", "rack1", "/a b", "/a\tb", "/a\n", long.as_str()] {
            assert!(check_rack(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn heartbeats_of_both_shapes_decode() {
        // Ours, with and without the file system.
        for hb in [heartbeat(Some(fs())), heartbeat(None)] {
            let back: Heartbeat = codec::decode(&codec::encode(&hb).unwrap()).unwrap();
            same(&back, &hb);
        }
        // An older datanode's heartbeat: no file system.
        let hb = heartbeat(None);
        let old = FirstHeartbeat {
            node_id: hb.node_id,
            storage: hb.storage,
            active_transfers: hb.active_transfers,
        };
        let old_bytes = codec::encode(&old).unwrap();
        same(&codec::decode::<Heartbeat>(&old_bytes).unwrap(), &hb);
        // Without a file system we write exactly the first shape, which an
        // older namenode reads...
        assert_eq!(codec::encode(&hb).unwrap(), old_bytes);
        assert_eq!(codec::decode::<FirstHeartbeat>(&old_bytes).unwrap(), old);
        // ...and with one it refuses the message rather than misread it.
        let new_bytes = codec::encode(&heartbeat(Some(fs()))).unwrap();
        assert!(codec::decode::<FirstHeartbeat>(&new_bytes).is_err());
        // A truncated first part is still an error, and so is junk after
        // the last tail.
        assert!(codec::decode::<Heartbeat>(&old_bytes[..old_bytes.len() - 1]).is_err());
        let with_disks = Heartbeat {
            disks: Some(Vec::new()),
            ..heartbeat(Some(fs()))
        };
        let mut junk = codec::encode(&with_disks).unwrap();
        junk.push(0);
        assert!(codec::decode::<Heartbeat>(&junk).is_err());
        // JSON (not on the wire, but the type should not trap anyone).
        let hb = heartbeat(Some(fs()));
        let json = serde_json::to_string(&hb).unwrap();
        same(&serde_json::from_str(&json).unwrap(), &hb);
        let hb = heartbeat(None);
        let json = serde_json::to_string(&hb).unwrap();
        assert!(!json.contains("filesystem"), "{json}");
        same(&serde_json::from_str(&json).unwrap(), &hb);
    }
}
