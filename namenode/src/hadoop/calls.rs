//! The `ClientNamenodeProtocol` calls the door answers, each mapped onto the
//! namespace operation `dfs_client` makes for the native protocol (so the
//! door goes through the same checks, the same log of commands, and follows
//! the leader as every other client of this namenode does).
//!
//! Hadoop's conventions kept: `getFileInfo` and `getListing` of a missing
//! path answer "nothing", not an exception; `delete` of a missing path and
//! the old `rename` that cannot be done answer `false`; every other failure
//! is the Java exception class Hadoop's client turns back into its own
//! (`FileNotFoundException`, `FileAlreadyExistsException`, ...).
use super::proto::{self, HdfsFileStatusProto};
use super::Remote;
use crate::namesystem::Namesystem;
use dfs_client::{ClientError, DfsClient};
use dfs_common::checksum::Sha256State;
use dfs_common::error::ErrorCode;
use dfs_common::hadoop::{hadoop_block_id, pool_id, BlockToken, FIRST_GENERATION_STAMP};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileLocations, LocatedBlock};
use dfs_common::proto::client::{FileStatus, FileType, SetAttributesRequest};
use prost::Message;
use std::sync::Arc;

/// Java's -1 in an unsigned field: "none" (a quota) or "leave as it is" (a
/// time).
const NONE: u64 = u64::MAX;

/// A request that changes nothing of `path` yet.
fn attributes(path: DfsPath) -> SetAttributesRequest {
    SetAttributesRequest {
        path,
        modification_time: None,
        access_time: None,
        permission: None,
        owner: None,
        group: None,
    }
}

/// The most entries one `getListing` answer holds (HDFS's
/// `dfs.ls.limit`); the client asks again from the last one.
pub const LISTING_LIMIT: usize = 1000;

/// What `getServerDefaults` tells clients.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub block_size: u64,
    pub replication: u16,
    /// Zero: no trash.
    pub trash_minutes: u64,
}

/// The door's calls, through `client`.
pub struct Door {
    pub client: DfsClient,
    /// This namenode: where each datanode serves Hadoop's data transfer
    /// protocol (every datanode registers with every namenode), and the
    /// cluster (the block pool).
    pub ns: Arc<Namesystem>,
    /// To ask datanodes for the file digest across a block (writes).
    pub http: reqwest::Client,
    /// Files being written through the door.
    pub writes: super::writes::Writes,
    pub defaults: Defaults,
    /// Access control: connections prove a delegation token, and the door
    /// acts as its owner.
    pub security: Option<Arc<crate::auth::Security>>,
}

fn decode<M: Message + Default>(method: &str, bytes: &[u8]) -> Result<M, Remote> {
    M::decode(bytes).map_err(|e| {
        Remote::application(
            "java.lang.IllegalArgumentException",
            format!("{method}: the request does not decode: {e}"),
        )
    })
}

pub(super) fn path(p: &str) -> Result<DfsPath, Remote> {
    DfsPath::parse(p).map_err(|e| {
        Remote::application(
            "org.apache.hadoop.fs.InvalidPathException",
            format!("Invalid path name {p}: {e}"),
        )
    })
}

/// The Java exception for a dfs error (WebHDFS's choice, and a name that
/// is taken is Hadoop's `FileAlreadyExistsException` however it is worded;
/// a change refused in safe mode is HDFS's `SafeModeException`, which
/// Hadoop's client reports as such rather than retry).
pub(super) fn remote(e: &ClientError) -> Remote {
    let message = e.to_string();
    let class = if e.code() == ErrorCode::Conflict && message.contains("exists") {
        "org.apache.hadoop.fs.FileAlreadyExistsException"
    } else if e.code() == ErrorCode::Unavailable && message.contains("in safe mode") {
        "org.apache.hadoop.hdfs.server.namenode.SafeModeException"
    } else {
        dfs_common::proto::webhdfs::Exception::of_code(e.code(), &message)
            .parts()
            .2
    };
    Remote::application(class, message)
}

fn not_found(e: &ClientError) -> bool {
    e.code() == ErrorCode::NotFound
}

/// A dfs status as Hadoop's, named `local_name`.
pub(super) fn status_proto(st: &FileStatus, local_name: &str) -> HdfsFileStatusProto {
    let dir = st.file_type == FileType::Directory;
    HdfsFileStatusProto {
        file_type: if dir { proto::IS_DIR } else { proto::IS_FILE },
        path: local_name.as_bytes().to_vec(),
        length: st.length,
        permission: Some(proto::FsPermissionProto {
            perm: u32::from(st.permission),
        }),
        owner: st.owner.clone(),
        group: st.group.clone(),
        modification_time: st.modification_time,
        access_time: st.access_time,
        block_replication: Some(u32::from(st.replication)),
        blocksize: Some(st.block_size),
        file_id: Some(st.inode_id),
        locations: None,
        children_num: Some(if dir {
            i32::try_from(st.children).unwrap_or(i32::MAX)
        } else {
            0
        }),
        storage_policy: Some(0),
    }
}

/// How long the token of a call relayed for a Hadoop user lasts: longer
/// than any call takes (the lease renewals of a write mint their own).
const RELAY_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

impl Door {
    /// The door's client acting as `user` (with access control on: a token
    /// of theirs, so the namespace checks their rights; off: the name is
    /// carried in what the calls ask, as the owner of what they make).
    pub(super) fn client_for(&self, user: &str) -> DfsClient {
        crate::auth::acting_as(
            &self.client,
            self.security.as_deref(),
            user,
            RELAY_TOKEN_LIFETIME,
        )
    }

    /// A dfs block as Hadoop's client is told of it, at generation stamp
    /// `gs`: only the replicas on datanodes that serve Hadoop's data
    /// transfer protocol; for a block to write, the file's midstate before
    /// it in its token.
    pub(super) fn located(
        &self,
        b: &LocatedBlock,
        gs: u64,
        file_state: Option<Sha256State>,
        source: Option<(dfs_common::ids::BlockId, u64)>,
    ) -> Result<proto::LocatedBlockProto, Remote> {
        let mut locs = Vec::with_capacity(b.replicas.len());
        for r in &b.replicas {
            let Some((addr, xfer_port, rack)) = self.ns.datanodes().hadoop_endpoint(&r.id) else {
                continue;
            };
            let Ok(url) = reqwest::Url::parse(&addr) else {
                continue;
            };
            let host = url.host_str().unwrap_or_default().to_string();
            locs.push(proto::DatanodeInfoProto {
                id: proto::DatanodeIdProto {
                    ip_addr: host.clone(),
                    host_name: host,
                    datanode_uuid: r.id.to_string(),
                    xfer_port: u32::from(xfer_port),
                    info_port: u32::from(url.port_or_known_default().unwrap_or(0)),
                    ipc_port: 0,
                },
                location: Some(rack),
                ..Default::default()
            });
        }
        if locs.is_empty() && !b.replicas.is_empty() {
            return Err(Remote::application(
                "java.io.IOException",
                format!(
                    "block {} (offset {}): none of the datanodes holding it serves Hadoop's data \
                     transfer protocol (start them with --hadoop-data-listen)",
                    b.block_id, b.offset
                ),
            ));
        }
        let n = locs.len();
        Ok(proto::LocatedBlockProto {
            b: proto::ExtendedBlockProto {
                pool_id: pool_id(self.ns.cluster_id()),
                block_id: hadoop_block_id(b.block_id),
                generation_stamp: gs,
                num_bytes: Some(b.len),
            },
            offset: b.offset,
            storage_ids: locs
                .iter()
                .map(|l| format!("DS-{}", l.id.datanode_uuid))
                .collect(),
            locs,
            corrupt: false,
            block_token: BlockToken {
                block: b.block_id,
                access: b.access_token.clone(),
                file_state,
                source,
            }
            .to_proto(),
            is_cached: vec![false; n],
            storage_types: vec![proto::STORAGE_DISK; n],
        })
    }
}

impl Door {
    /// The blocks of `file` that hold bytes in `[offset, offset + length)`,
    /// and its last block, as Hadoop's client reads them.
    fn located_blocks(
        &self,
        file: &FileLocations,
        offset: u64,
        length: u64,
    ) -> Result<proto::LocatedBlocksProto, Remote> {
        let end = offset.saturating_add(length);
        let mut blocks = Vec::new();
        for b in &file.blocks {
            if b.offset < end && b.offset + b.len > offset {
                blocks.push(self.located(b, FIRST_GENERATION_STAMP, None, None)?);
            }
        }
        let last_block = match file.blocks.last() {
            Some(b) => Some(self.located(b, FIRST_GENERATION_STAMP, None, None)?),
            None => None,
        };
        Ok(proto::LocatedBlocksProto {
            file_length: file.status.length,
            blocks,
            under_construction: false,
            last_block,
            is_last_block_complete: true,
        })
    }
}

impl super::ipc::Calls for Door {
    fn secured(&self) -> bool {
        self.security.is_some()
    }

    fn token(&self, identifier: &[u8]) -> Result<(String, Vec<u8>), String> {
        match &self.security {
            Some(sec) => sec.hadoop_token_owner(identifier),
            None => Err("access control is off".into()),
        }
    }

    async fn call(&self, user: &str, method: &str, request: &[u8]) -> Result<Vec<u8>, Remote> {
        let c = &self.client_for(user);
        let answer = match method {
            "getFileInfo" => {
                let r: proto::GetFileInfoRequestProto = decode(method, request)?;
                let fs = match c.status(&path(&r.src)?).await {
                    Ok(st) => Some(status_proto(&st, "")),
                    Err(e) if not_found(&e) => None,
                    Err(e) => return Err(remote(&e)),
                };
                proto::GetFileInfoResponseProto { fs }.encode_to_vec()
            }
            "getListing" => {
                let r: proto::GetListingRequestProto = decode(method, request)?;
                let dir = path(&r.src)?;
                let listing = match c.status(&dir).await {
                    Err(e) if not_found(&e) => None,
                    Err(e) => return Err(remote(&e)),
                    // A file lists as itself.
                    Ok(st) if st.file_type != FileType::Directory => {
                        Some(proto::DirectoryListingProto {
                            partial_listing: vec![status_proto(&st, "")],
                            remaining_entries: 0,
                        })
                    }
                    Ok(_) => {
                        let after = String::from_utf8_lossy(&r.start_after).into_owned();
                        let entries = c.list(&dir).await.map_err(|e| remote(&e))?;
                        let rest: Vec<&FileStatus> = entries
                            .iter()
                            .filter(|e| after.is_empty() || e.name.as_str() > after.as_str())
                            .collect();
                        let mut page: Vec<HdfsFileStatusProto> = Vec::new();
                        for e in rest.iter().take(LISTING_LIMIT) {
                            let mut st = status_proto(e, &e.name);
                            // A located listing (Spark's): each file's blocks.
                            if r.need_location && e.file_type != FileType::Directory {
                                let p = dir.join(&e.name).map_err(|e| {
                                    Remote::application(
                                        "org.apache.hadoop.fs.InvalidPathException",
                                        e.to_string(),
                                    )
                                })?;
                                let file = c.locations(&p).await.map_err(|e| remote(&e))?;
                                st.locations = Some(self.located_blocks(&file, 0, u64::MAX)?);
                            }
                            page.push(st);
                        }
                        Some(proto::DirectoryListingProto {
                            remaining_entries: u32::try_from(rest.len() - page.len())
                                .unwrap_or(u32::MAX),
                            partial_listing: page,
                        })
                    }
                };
                proto::GetListingResponseProto { dir_list: listing }.encode_to_vec()
            }
            "getBlockLocations" => {
                let r: proto::GetBlockLocationsRequestProto = decode(method, request)?;
                let file = match c.locations(&path(&r.src)?).await {
                    Ok(l) => l,
                    Err(e) if not_found(&e) => {
                        return Ok(proto::GetBlockLocationsResponseProto { locations: None }
                            .encode_to_vec())
                    }
                    Err(e) => return Err(remote(&e)),
                };
                if file.status.file_type == FileType::Directory {
                    return Err(Remote::application(
                        "java.io.FileNotFoundException",
                        format!("Path is not a file: {}", r.src),
                    ));
                }
                proto::GetBlockLocationsResponseProto {
                    locations: Some(self.located_blocks(&file, r.offset, r.length)?),
                }
                .encode_to_vec()
            }
            "create" => {
                let r: proto::CreateRequestProto = decode(method, request)?;
                let fs = self.create(user, r).await?;
                proto::CreateResponseProto { fs: Some(fs) }.encode_to_vec()
            }
            "append" => {
                let r: proto::AppendRequestProto = decode(method, request)?;
                self.append(user, r).await?.encode_to_vec()
            }
            "addBlock" => {
                let r: proto::AddBlockRequestProto = decode(method, request)?;
                let block = self.add_block(user, r).await?;
                proto::LocatedBlockResponseProto { block }.encode_to_vec()
            }
            "complete" => {
                let r: proto::CompleteRequestProto = decode(method, request)?;
                let result = self.complete(user, r).await?;
                proto::BoolResultProto { result }.encode_to_vec()
            }
            "abandonBlock" => {
                let r: proto::AbandonBlockRequestProto = decode(method, request)?;
                self.abandon_block(user, r).await?;
                proto::EmptyProto {}.encode_to_vec()
            }
            "renewLease" => {
                let r: proto::RenewLeaseRequestProto = decode(method, request)?;
                self.renew_lease(user, &r.client_name).await?;
                proto::EmptyProto {}.encode_to_vec()
            }
            "fsync" => {
                // Blocks become durable when they end (each datanode syncs
                // its replica before acknowledging the last packet).
                let _: proto::FsyncRequestProto = decode(method, request)?;
                proto::EmptyProto {}.encode_to_vec()
            }
            "updateBlockForPipeline" => {
                let r: proto::UpdateBlockForPipelineRequestProto = decode(method, request)?;
                let block = self.update_block_for_pipeline(user, r).await?;
                proto::LocatedBlockResponseProto { block }.encode_to_vec()
            }
            "getAdditionalDatanode" => {
                let r: proto::GetAdditionalDatanodeRequestProto = decode(method, request)?;
                let block = self.additional_datanode(user, r).await?;
                proto::LocatedBlockResponseProto { block }.encode_to_vec()
            }
            "updatePipeline" => {
                let r: proto::UpdatePipelineRequestProto = decode(method, request)?;
                self.update_pipeline(user, r).await?;
                proto::EmptyProto {}.encode_to_vec()
            }
            "recoverLease" => {
                let r: proto::RecoverLeaseRequestProto = decode(method, request)?;
                // Closed unless it is being written through this door.
                let open = self.writes.writing(&r.src);
                proto::BoolResultProto { result: !open }.encode_to_vec()
            }
            "getPreferredBlockSize" => {
                let r: proto::GetPreferredBlockSizeRequestProto = decode(method, request)?;
                let st = c
                    .status(&path(&r.filename)?)
                    .await
                    .map_err(|e| remote(&e))?;
                proto::GetPreferredBlockSizeResponseProto {
                    bsize: st.block_size,
                }
                .encode_to_vec()
            }
            "mkdirs" => {
                let r: proto::MkdirsRequestProto = decode(method, request)?;
                // Owned by the Hadoop user, with the mode its umask left.
                c.namenode()
                    .mkdirs(&dfs_common::proto::client::MkdirsRequest {
                        path: path(&r.src)?,
                        parents: r.create_parent,
                        owner: Some(user.to_string()),
                        permission: r.masked.map(|m| (m.perm & 0o7777) as u16),
                    })
                    .await
                    .map_err(|e| remote(&e))?;
                proto::BoolResultProto { result: true }.encode_to_vec()
            }
            "delete" => {
                let r: proto::DeleteRequestProto = decode(method, request)?;
                let result = match c.delete(&path(&r.src)?, r.recursive).await {
                    Ok(_) => true,
                    Err(e) if not_found(&e) => false,
                    Err(e) => return Err(remote(&e)),
                };
                proto::BoolResultProto { result }.encode_to_vec()
            }
            "rename" => {
                let r: proto::RenameRequestProto = decode(method, request)?;
                let result = match c.rename(&path(&r.src)?, &path(&r.dst)?, false).await {
                    Ok(_) => true,
                    // The old rename says "no" rather than why.
                    Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::Conflict) => {
                        false
                    }
                    Err(e) => return Err(remote(&e)),
                };
                proto::BoolResultProto { result }.encode_to_vec()
            }
            "rename2" => {
                let r: proto::Rename2RequestProto = decode(method, request)?;
                c.rename(&path(&r.src)?, &path(&r.dst)?, r.overwrite_dest)
                    .await
                    .map_err(|e| remote(&e))?;
                proto::EmptyProto {}.encode_to_vec()
            }
            "getContentSummary" => {
                let r: proto::GetContentSummaryRequestProto = decode(method, request)?;
                let cs = c
                    .content_summary(&path(&r.path)?)
                    .await
                    .map_err(|e| remote(&e))?;
                proto::GetContentSummaryResponseProto {
                    summary: Some(proto::ContentSummaryProto {
                        length: cs.length,
                        file_count: cs.file_count,
                        directory_count: cs.directory_count,
                        quota: cs.files_quota.unwrap_or(NONE),
                        space_consumed: cs.space_consumed,
                        space_quota: cs.bytes_quota.unwrap_or(NONE),
                    }),
                }
                .encode_to_vec()
            }
            "setReplication" => {
                let r: proto::SetReplicationRequestProto = decode(method, request)?;
                let n = u16::try_from(r.replication).map_err(|_| {
                    Remote::application(
                        "java.lang.IllegalArgumentException",
                        format!("replication {} is out of range", r.replication),
                    )
                })?;
                let result = match c.set_replication(&path(&r.src)?, n).await {
                    Ok(_) => true,
                    // HDFS says false for what is not a file.
                    Err(e) if not_found(&e) => false,
                    Err(e) => return Err(remote(&e)),
                };
                proto::BoolResultProto { result }.encode_to_vec()
            }
            "setPermission" | "setOwner" | "setTimes" => {
                let req = match method {
                    "setPermission" => {
                        let r: proto::SetPermissionRequestProto = decode(method, request)?;
                        SetAttributesRequest {
                            permission: r.permission.map(|p| (p.perm & 0o7777) as u16),
                            ..attributes(path(&r.src)?)
                        }
                    }
                    "setOwner" => {
                        let r: proto::SetOwnerRequestProto = decode(method, request)?;
                        SetAttributesRequest {
                            owner: r.username.filter(|u| !u.is_empty()),
                            group: r.groupname.filter(|g| !g.is_empty()),
                            ..attributes(path(&r.src)?)
                        }
                    }
                    _ => {
                        let r: proto::SetTimesRequestProto = decode(method, request)?;
                        SetAttributesRequest {
                            modification_time: (r.mtime != NONE).then_some(r.mtime),
                            access_time: (r.atime != NONE).then_some(r.atime),
                            ..attributes(path(&r.src)?)
                        }
                    }
                };
                c.set_attributes(&req).await.map_err(|e| remote(&e))?;
                proto::EmptyProto {}.encode_to_vec()
            }
            "getFsStats" => {
                let s = c.summary().await.map_err(|e| remote(&e))?;
                proto::GetFsStatsResponseProto {
                    capacity: s.capacity,
                    used: s.used,
                    remaining: s.available,
                    under_replicated: s.under_replicated_blocks,
                    // (The summary does not count them; fsck does.)
                    corrupt_blocks: 0,
                    missing_blocks: s.missing_blocks,
                }
                .encode_to_vec()
            }
            "getServerDefaults" => {
                let d = self.defaults;
                proto::GetServerDefaultsResponseProto {
                    server_defaults: Some(proto::FsServerDefaultsProto {
                        block_size: d.block_size,
                        bytes_per_checksum: 512,
                        write_packet_size: 64 << 10,
                        replication: u32::from(d.replication),
                        file_buffer_size: 4096,
                        encrypt_data_transfer: Some(false),
                        trash_interval: Some(d.trash_minutes),
                        checksum_type: Some(dfs_common::hadoop::transfer::CHECKSUM_CRC32C),
                    }),
                }
                .encode_to_vec()
            }
            other => return Err(Remote::no_such_method(other)),
        };
        Ok(answer)
    }
}
