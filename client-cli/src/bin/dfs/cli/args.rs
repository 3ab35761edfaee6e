//! The command line as clap parses it: the global flags, one [`Command`]
//! per verb with its arguments, and the checks clap cannot express (the
//! globals that do not apply to `dfs local`).
//!
//! It runs nothing; `cli::run` takes what it parsed.
//!
//! Invariants:
//! - Misuse is clap's error: exit 2 (0 for `--help`).
//! - Every argument and flag has a description; `dfs local` hides the
//!   globals it has no use for, and refuses them when given.
use clap::{Args, Parser, Subcommand, ValueEnum};
use dfs_common::units::{ByteSize, HumanDuration};

/// Default namenode address (also what `dfs local` starts).
pub const DEFAULT_NAMENODE: &str = "http://127.0.0.1:9870";

/// The help heading of the flags every command takes.
const GLOBAL: &str = "Global options";

/// `dfs`: the command-line client of the dfs distributed file system.
#[derive(Parser, Debug)]
#[command(name = "dfs", version = dfs_common::VERSION, about = "dfs: files on a small HDFS-like cluster, from the command line")]
pub struct Cli {
    /// Namenode URL.
    #[arg(
        long,
        global = true,
        env = "DFS_NAMENODE",
        hide_env_values = true,
        default_value = DEFAULT_NAMENODE,
        value_name = "URL",
        help_heading = GLOBAL
    )]
    pub namenode: String,
    /// Bearer token for a namenode with access control on (prefer the
    /// environment: a flag shows in `ps`).
    #[arg(
        long,
        global = true,
        env = "DFS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = GLOBAL
    )]
    pub token: Option<String>,
    /// Machine-readable output: one JSON document on stdout.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a namenode and N datanodes on this machine until Ctrl-C.
    Local(crate::local::LocalArgs),
    /// Make directories.
    Mkdir {
        /// Make missing parents too; no error if the directory exists.
        #[arg(short = 'p', long = "parents")]
        parents: bool,
        /// Directories to make (an existing one is an error without -p).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// List a directory (or show one file).
    Ls {
        /// List subdirectories too.
        #[arg(short = 'R', long = "recursive")]
        recursive: bool,
        /// Directory to list, or a file.
        #[arg(default_value = "/", value_name = "PATH")]
        path: String,
    },
    /// Show everything known about a file or directory.
    Stat {
        /// File or directory.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Space used: one line per entry of a directory, or one total with -s.
    /// Columns: size, space consumed with all replicas, path.
    Du {
        /// One total for PATH.
        #[arg(short = 's', long = "summary")]
        summary: bool,
        /// Print a header line naming the columns.
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
        /// Directory (each entry is summed) or file.
        #[arg(default_value = "/", value_name = "PATH")]
        path: String,
    },
    /// Upload local files ('-' reads stdin; a directory with -r).
    Put(PutArgs),
    /// Download a file ('-' writes stdout; into LOCAL if it is a directory).
    Get {
        /// Replace an existing local file.
        #[arg(short = 'f', long = "force")]
        force: bool,
        /// Download a directory and everything in it.
        #[arg(short = 'r', short_alias = 'R', long = "recursive")]
        recursive: bool,
        /// Print a summary line (bytes, time, rate) even when not on a terminal.
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
        /// File to download.
        #[arg(value_name = "REMOTE")]
        remote: String,
        /// Local file or existing directory ('-' for stdout).
        #[arg(default_value = ".", value_name = "LOCAL")]
        local: String,
    },
    /// Write files to stdout.
    Cat {
        /// Files, written one after another.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Remove files (and directories with -r).
    Rm {
        /// Remove directories and everything in them.
        #[arg(short = 'r', short_alias = 'R', long = "recursive")]
        recursive: bool,
        /// No error when a path does not exist.
        #[arg(short = 'f', long = "force")]
        force: bool,
        /// Delete at once instead of moving to your trash
        /// (/user/<you>/.Trash, emptied by the namenode after its
        /// --trash-interval, or by `dfs expunge`).
        #[arg(long = "skip-trash", alias = "skipTrash")]
        skip_trash: bool,
        /// Files or directories to remove.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Empty your trash now (what `rm` moved there).
    Expunge,
    /// Read-only copies of a directory, read at DIR/.snapshot/NAME (they
    /// share blocks with the live files: nothing is copied).
    Snapshot {
        #[command(subcommand)]
        action: SnapshotArg,
    },
    /// Copy files or directories (new blocks, every byte verified; into
    /// DST when it is a directory).
    Cp {
        /// Replace existing files.
        #[arg(short = 'f', long = "force")]
        force: bool,
        /// Sources, then the destination.
        #[arg(required = true, num_args = 2.., value_name = "SRC... DST")]
        paths: Vec<String>,
    },
    /// Make empty files (one there already must be empty).
    Touchz {
        /// Files to make.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Exit 0 if PATH is what the flag asks, else 1 (nothing printed).
    #[command(group(clap::ArgGroup::new("what").required(true).multiple(false)))]
    Test {
        /// PATH exists.
        #[arg(short = 'e', group = "what")]
        exists: bool,
        /// PATH is a directory.
        #[arg(short = 'd', group = "what")]
        dir: bool,
        /// PATH is a file.
        #[arg(short = 'f', group = "what")]
        file: bool,
        /// PATH is a file that is not empty.
        #[arg(short = 's', group = "what")]
        non_empty: bool,
        /// PATH is an empty file.
        #[arg(short = 'z', group = "what")]
        empty: bool,
        /// What to test.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Print the first KiB of a file.
    Head {
        /// The file.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Print the last KiB of a file; -f then what is appended.
    Tail {
        /// Keep printing what is appended (until Ctrl-C).
        #[arg(short = 'f', long = "follow")]
        follow: bool,
        /// The file.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Change the mode: octal (755) or symbolic (u+x,go-w).
    Chmod {
        /// Everything below each directory too.
        #[arg(short = 'R', long = "recursive")]
        recursive: bool,
        /// Octal (755, 0644) or symbolic (u+x, go-w, a=r).
        #[arg(value_name = "MODE")]
        mode: String,
        /// Files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Change the owner, and the group with OWNER:GROUP (the superuser's).
    Chown {
        /// Everything below each directory too.
        #[arg(short = 'R', long = "recursive")]
        recursive: bool,
        /// The new owner, and group after a colon.
        #[arg(value_name = "OWNER[:GROUP]")]
        owner: String,
        /// Files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Change the group.
    Chgrp {
        /// Everything below each directory too.
        #[arg(short = 'R', long = "recursive")]
        recursive: bool,
        /// The new group.
        #[arg(value_name = "GROUP")]
        group: String,
        /// Files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// The cluster's size, use and free space (as `hdfs dfs -df`).
    #[command(disable_help_flag = true)]
    Df {
        /// Sizes in KiB, MiB, GiB.
        #[arg(short = 'h', long = "human-readable")]
        human: bool,
        /// Print help.
        #[arg(long, action = clap::ArgAction::Help)]
        help: Option<bool>,
    },
    /// Write a Hadoop token file for Hadoop's own client on `hdfs://`
    /// when access control is on: then `export
    /// HADOOP_TOKEN_FILE_LOCATION=FILE` before `hadoop fs`, Spark, ...
    #[command(name = "hadoop-token")]
    HadoopToken {
        /// The token file to write (mode 0600: it holds a secret).
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// A namenode's Hadoop door, HOST:PORT, as the `hdfs://` URL names
        /// it (repeat for each namenode of a cluster, or give
        /// ha-hdfs:NAMESERVICE); default: this namenode's door.
        #[arg(long = "service", value_name = "HOST:PORT")]
        services: Vec<String>,
        /// How long the token lasts (default 24h, at most 7d).
        #[arg(long)]
        lifetime: Option<HumanDuration>,
    },
    /// S3 access keys (the namenode's S3 API, `--s3-listen`).
    S3 {
        #[command(subcommand)]
        action: S3Arg,
    },
    /// Set or clear a directory's quotas (the superuser's with access
    /// control on); `dfs count -q` shows them.
    Quota {
        #[command(subcommand)]
        action: QuotaArg,
    },
    /// Directories, files and bytes under each path; -q adds the quotas
    /// and what remains of them (as `hdfs dfs -count`).
    Count {
        /// Also QUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA.
        #[arg(short = 'q', long = "quota")]
        quota: bool,
        /// Print a header line naming the columns.
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
        /// Directories or files to count.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Rename or move (into DST when DST is a directory).
    Mv {
        /// What to move.
        #[arg(value_name = "SRC")]
        src: String,
        /// New path, or an existing directory to move SRC into (its parent must exist).
        #[arg(value_name = "DST")]
        dst: String,
    },
    /// Change a file's replication (-w: and wait until it is reached).
    Setrep {
        /// Wait until every block of the file has exactly N live replicas.
        #[arg(short = 'w', long = "wait")]
        wait: bool,
        /// Accepted as HDFS does: a directory's files are always all set.
        #[arg(short = 'R', long = "recursive")]
        recursive: bool,
        /// How long -w waits at most (e.g. 90s, 10m).
        #[arg(long, default_value = "10m", value_name = "DUR")]
        timeout: HumanDuration,
        /// Replicas of each block, 1 to 32.
        #[arg(value_parser = clap::value_parser!(u16).range(1..=dfs_common::MAX_REPLICATION as i64), value_name = "N")]
        replication: u16,
        /// File whose replication changes.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Print a file's SHA-256 (as sha256sum does).
    Checksum {
        /// File to print the SHA-256 of.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Check block health under a path (exit 1 when blocks are missing or corrupt).
    Fsck {
        /// Check the blocks of every file under PATH.
        #[arg(default_value = "/", value_name = "PATH")]
        path: String,
    },
    /// Cluster summary, repair progress and datanodes.
    Report,
    /// Drain a datanode: copy its replicas elsewhere so it can be stopped.
    Decommission {
        /// Node id, a unique prefix of one, or its address (host:port or URL).
        #[arg(value_name = "NODE")]
        node: String,
    },
    /// Put a decommissioning or decommissioned datanode back into service.
    Recommission {
        /// Node id, a unique prefix of one, or its address (host:port or URL).
        #[arg(value_name = "NODE")]
        node: String,
    },
    /// Put a datanode into maintenance (it can be stopped, e.g. rebooted,
    /// without its blocks being copied while each keeps another live
    /// replica), or end it with --end.
    Maintenance {
        /// Node id, a unique prefix of one, or its address (host:port or URL).
        #[arg(value_name = "NODE")]
        node: String,
        /// End maintenance after this long (e.g. 30m, 2h); default: until
        /// ended with --end.
        #[arg(long = "for", value_name = "DUR", conflicts_with = "end")]
        duration: Option<HumanDuration>,
        /// End the node's maintenance: a node still stopped is then dead
        /// and its blocks are copied elsewhere.
        #[arg(long)]
        end: bool,
    },
    /// Start the namenode's balancer (replicas move from over- to
    /// under-used live nodes until every node's used share is within
    /// --threshold points of the cluster's), or show it (--status) or
    /// stop it (--stop).
    Balancer {
        /// Percentage points around the cluster's average used share.
        #[arg(long, value_name = "PCT", default_value_t = 10.0, conflicts_with_all = ["status", "stop"])]
        threshold: f64,
        /// Show what the balancer is doing.
        #[arg(long, conflicts_with = "stop")]
        status: bool,
        /// Stop it (moves in flight finish).
        #[arg(long)]
        stop: bool,
    },
    /// Show, enter or leave the namenode's safe mode.
    Safemode {
        /// get: show it; enter: stop all changes; leave: resume them.
        #[arg(value_enum, value_name = "ACTION")]
        action: SafemodeArg,
    },
    /// Save a consistent checkpoint of the namenode's metadata (for
    /// `namenode --restore FILE`); `-` writes it to stdout.
    Backup {
        /// Replace FILE if it exists.
        #[arg(short = 'f', long = "force")]
        force: bool,
        /// Where to write the checkpoint ('-' for stdout).
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Replicas that datanodes hold of blocks the namespace does not know;
    /// `delete` orders them all deleted (held ones included).
    Orphans {
        /// list (the default): show them; delete: order them deleted.
        #[arg(value_enum, value_name = "ACTION")]
        action: Option<OrphansArg>,
    },
    /// Add a namenode to the group, or take one out (`dfs report` lists them).
    Namenode {
        #[command(subcommand)]
        action: NamenodeArg,
    },
}

/// `dfs namenode add|remove URL`.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum NamenodeArg {
    /// Add the namenode at URL (started with --join on an empty data dir):
    /// it gets a snapshot of the namespace, catches up, then votes.
    Add {
        /// The URL it advertises (its --advertise).
        #[arg(value_name = "URL")]
        url: String,
    },
    /// Take the namenode at URL out of the group (the leader too: another
    /// takes over); stop its process afterwards.
    Remove {
        /// The URL it advertises.
        #[arg(value_name = "URL")]
        url: String,
    },
}

/// `dfs snapshot allow|disallow|create|delete|rename|list`.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum SnapshotArg {
    /// Let DIR have snapshots (the superuser's).
    Allow {
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
    },
    /// Let DIR have snapshots no more (it must have none).
    Disallow {
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
    },
    /// Take a snapshot of DIR (named after the time unless NAME).
    Create {
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
        /// The snapshot's name.
        #[arg(value_name = "NAME")]
        name: Option<String>,
    },
    /// Delete a snapshot (what only it held is deleted).
    Delete {
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
        /// The snapshot's name.
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Rename a snapshot.
    Rename {
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
        /// Its name now.
        #[arg(value_name = "OLD")]
        old: String,
        /// Its new name.
        #[arg(value_name = "NEW")]
        new: String,
    },
    /// What changed from snapshot FROM to TO ('.' for the files now):
    /// + created, - deleted, M modified, R renamed.
    Diff {
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
        /// The older snapshot ('.': now).
        #[arg(value_name = "FROM")]
        from: String,
        /// The newer snapshot ('.': now).
        #[arg(value_name = "TO")]
        to: String,
    },
    /// List DIR's snapshots.
    List {
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
    },
}

/// `dfs s3 ...`.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum S3Arg {
    /// Make, list or delete S3 access keys.
    Key {
        #[command(subcommand)]
        action: S3KeyArg,
    },
}

/// `dfs s3 key create|list|delete`.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum S3KeyArg {
    /// A new key acting as USER: prints the access key and its secret
    /// (shown only now). A superuser makes keys for anyone, a user for
    /// themselves.
    Create {
        /// The user the key acts as.
        #[arg(value_name = "USER")]
        user: String,
    },
    /// The keys you may see (every key for a superuser), without secrets.
    List,
    /// Deletes a key: requests signed with it are refused from now on.
    Delete {
        /// The access key.
        #[arg(value_name = "ACCESS_KEY")]
        access_key: String,
    },
}

/// `dfs quota set|clear`.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum QuotaArg {
    /// Limit what DIR may hold: --files (files and directories, DIR itself
    /// included) and/or --bytes (every replica counted, e.g. 10GiB). A
    /// quota below what is used already is allowed: then only deletes work.
    Set {
        /// Files and directories DIR may hold, itself included.
        #[arg(long, value_name = "N")]
        files: Option<u64>,
        /// Space DIR may take, every replica counted (e.g. 10GiB).
        #[arg(long, value_name = "SIZE")]
        bytes: Option<ByteSize>,
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
    },
    /// Remove DIR's quotas: both, or only the one named.
    Clear {
        /// Only the name quota.
        #[arg(long)]
        files: bool,
        /// Only the space quota.
        #[arg(long)]
        bytes: bool,
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: String,
    },
}

/// `dfs orphans [list|delete]`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphansArg {
    List,
    Delete,
}

/// `dfs safemode get|enter|leave`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafemodeArg {
    Get,
    Enter,
    Leave,
}

impl From<SafemodeArg> for dfs_client::SafeModeAction {
    fn from(a: SafemodeArg) -> Self {
        match a {
            SafemodeArg::Get => dfs_client::SafeModeAction::Get,
            SafemodeArg::Enter => dfs_client::SafeModeAction::Enter,
            SafemodeArg::Leave => dfs_client::SafeModeAction::Leave,
        }
    }
}

#[derive(Args, Debug)]
pub struct PutArgs {
    /// Overwrite existing files.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Replicas of each block, 1 to 32 (default: the namenode's).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=dfs_common::MAX_REPLICATION as i64), value_name = "N")]
    pub replication: Option<u16>,
    /// Block size, e.g. 4MiB (default: the namenode's).
    #[arg(long, value_name = "SIZE")]
    pub block_size: Option<ByteSize>,
    /// Upload directories and everything in them.
    #[arg(short = 'r', short_alias = 'R', long = "recursive")]
    pub recursive: bool,
    /// Print a summary line per file (bytes, time, rate) even when not on a terminal.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Local files ('-' for stdin).
    #[arg(required = true, value_name = "LOCAL")]
    pub sources: Vec<String>,
    /// Remote file, or existing directory to put them in (the parent
    /// directory must exist, as with `hdfs dfs -put`).
    #[arg(value_name = "REMOTE")]
    pub remote: String,
}

/// The global flags `dfs local` has no use for: it starts its own namenode.
const NOT_FOR_LOCAL: [&str; 2] = ["namenode", "token"];

/// The command line as clap sees it, with the global flags that do not
/// apply to `dfs local` hidden from its help.
pub fn command() -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    // A subcommand that has a global's id already does not get the global
    // (clap propagates globals when it builds the command): give `local`
    // hidden copies.
    let hidden: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| NOT_FOR_LOCAL.contains(&a.get_id().as_str()))
        .map(|a| a.clone().hide(true))
        .collect();
    cmd.mut_subcommand("local", |local| local.args(hidden))
}

/// Parses `args` (the program name first); a misuse is clap's error (exit 2,
/// or 0 for `--help`).
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::FromArgMatches;
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    if let Some(local) = matches.subcommand_matches("local") {
        if let Some(id) = NOT_FOR_LOCAL
            .iter()
            .find(|id| local.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        {
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("--{id} does not apply to `dfs local` (it starts its own namenode)"),
            ));
        }
    }
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        try_parse_from(args).unwrap()
    }

    fn parse_err(args: &[&str]) -> bool {
        try_parse_from(args).is_err()
    }

    #[test]
    fn globals_anywhere() {
        let c = parse(&["dfs", "ls", "--json", "--namenode", "http://h:1"]);
        assert!(c.json);
        assert_eq!(c.namenode, "http://h:1");
        let c = parse(&["dfs", "--json", "stat", "/a"]);
        assert!(c.json);
        assert!(matches!(c.command, Command::Stat { ref path } if path == "/a"));
    }

    #[test]
    fn defaults() {
        match parse(&["dfs", "ls"]).command {
            Command::Ls { recursive, path } => {
                assert!(!recursive);
                assert_eq!(path, "/");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "get", "/a"]).command {
            Command::Get {
                remote,
                local,
                force,
                verbose,
                recursive: false,
            } => {
                assert_eq!((remote.as_str(), local.as_str()), ("/a", "."));
                assert!(!force, "get replaces a local file only with -f");
                assert!(!verbose);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "get", "-f", "/a", "b"]).command {
            Command::Get { force, .. } => assert!(force),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(parse(&["dfs", "fsck"]).command, Command::Fsck { ref path } if path == "/")
        );
    }

    #[test]
    fn flags() {
        assert!(matches!(parse(&["dfs", "mkdir", "-p", "/a", "/b"]).command,
            Command::Mkdir { parents: true, ref paths } if paths.len() == 2));
        assert!(matches!(
            parse(&["dfs", "ls", "-R", "/x"]).command,
            Command::Ls {
                recursive: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "du", "-s", "/x"]).command,
            Command::Du { summary: true, .. }
        ));
        assert!(matches!(parse(&["dfs", "rm", "-r", "/x", "/y"]).command,
            Command::Rm { recursive: true, force: false, skip_trash: false, ref paths } if paths.len() == 2));
        assert!(matches!(
            parse(&["dfs", "rm", "-R", "-f", "/x"]).command,
            Command::Rm {
                recursive: true,
                force: true,
                skip_trash: false,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "rm", "--skip-trash", "/x"]).command,
            Command::Rm {
                skip_trash: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "quota", "set", "--files", "10", "--bytes", "1GiB", "/q"]).command,
            Command::Quota {
                action: QuotaArg::Set {
                    files: Some(10),
                    bytes: Some(ByteSize(1073741824)),
                    ..
                }
            }
        ));
        assert!(matches!(
            parse(&["dfs", "count", "-q", "-v", "/a", "/b"]).command,
            Command::Count { quota: true, verbose: true, ref paths } if paths.len() == 2
        ));
        assert!(matches!(
            parse(&["dfs", "test", "-d", "/x"]).command,
            Command::Test {
                dir: true,
                exists: false,
                ..
            }
        ));
        assert!(parse_err(&["dfs", "test", "-d", "-f", "/x"]));
        assert!(parse_err(&["dfs", "test", "/x"]));
        assert!(matches!(
            parse(&["dfs", "df", "-h"]).command,
            Command::Df { human: true, .. }
        ));
        assert!(matches!(
            parse(&["dfs", "cp", "-f", "/a", "/b", "/c"]).command,
            Command::Cp { force: true, ref paths } if paths.len() == 3
        ));
        assert!(parse_err(&["dfs", "cp", "/a"]));
        assert!(matches!(
            parse(&["dfs", "chmod", "-R", "go-w", "/a"]).command,
            Command::Chmod {
                recursive: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "expunge"]).command,
            Command::Expunge
        ));
        assert!(matches!(
            parse(&["dfs", "setrep", "-R", "2", "/x"]).command,
            Command::Setrep {
                replication: 2,
                recursive: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "mv", "/a", "/b"]).command,
            Command::Mv { .. }
        ));
        assert!(matches!(parse(&["dfs", "report"]).command, Command::Report));
    }

    /// Every argument and flag of every command says what it is for; the
    /// environment variables show without a dangling `=`; `dfs local`
    /// does not offer the flags that do not apply to it.
    #[test]
    fn help_describes_everything() {
        let mut cmd = command();
        cmd.build();
        for sub in cmd.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" || arg.is_hide_set() {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "dfs {name}: {id} has no description"
                );
            }
            let help = sub.render_help().to_string();
            assert!(!help.contains("=]"), "dfs {name}: {help}");
            if name == "local" {
                // (its own --namenode-arg is not the global --namenode)
                assert!(
                    !help.contains("--namenode <") && !help.contains("--token"),
                    "{help}"
                );
                assert!(help.contains("--json"), "{help}");
                assert!(help.contains("--namenode-arg <ARG>"), "{help}");
            } else if name != "help" {
                assert!(help.contains("Global options:"), "dfs {name}: {help}");
            }
        }
        let top = cmd.render_help().to_string();
        assert!(top.contains("[env: DFS_NAMENODE]"), "{top}");
    }

    #[test]
    fn flags_that_do_not_apply_to_local_are_refused() {
        let e = try_parse_from(["dfs", "local", "--namenode", "http://h:1"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("does not apply"), "{e}");
        assert!(try_parse_from(["dfs", "local", "--json"]).is_ok());
    }

    #[test]
    fn replication_range_is_the_servers() {
        assert!(try_parse_from(["dfs", "setrep", "32", "/x"]).is_ok());
        for bad in ["33", "0", "65535"] {
            let e = try_parse_from(["dfs", "setrep", bad, "/x"]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        assert!(try_parse_from(["dfs", "put", "--replication", "33", "a", "/b"]).is_err());
    }

    #[test]
    fn setrep_wait() {
        match parse(&["dfs", "setrep", "-w", "3", "/x"]).command {
            Command::Setrep {
                wait,
                timeout,
                replication,
                path,
                ..
            } => {
                assert!(wait);
                assert_eq!(timeout.0, std::time::Duration::from_secs(600));
                assert_eq!((replication, path.as_str()), (3, "/x"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "setrep", "2", "/x", "--wait", "--timeout", "90s"]).command {
            Command::Setrep { wait, timeout, .. } => {
                assert!(wait);
                assert_eq!(timeout.0, std::time::Duration::from_secs(90));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["dfs", "setrep", "2", "/x"]).command,
            Command::Setrep { wait: false, .. }
        ));
    }

    #[test]
    fn admin_verbs() {
        assert!(matches!(
            parse(&["dfs", "decommission", "0192ab"]).command,
            Command::Decommission { ref node } if node == "0192ab"
        ));
        assert!(matches!(
            parse(&["dfs", "balancer"]).command,
            Command::Balancer { threshold, status: false, stop: false } if threshold == 10.0
        ));
        assert!(matches!(
            parse(&["dfs", "balancer", "--threshold", "5"]).command,
            Command::Balancer { threshold, .. } if threshold == 5.0
        ));
        assert!(matches!(
            parse(&["dfs", "balancer", "--status"]).command,
            Command::Balancer {
                status: true,
                stop: false,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "balancer", "--stop"]).command,
            Command::Balancer {
                status: false,
                stop: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "maintenance", "0192ab", "--for", "30m"]).command,
            Command::Maintenance { ref node, duration: Some(d), end: false }
                if node == "0192ab" && d.0 == std::time::Duration::from_secs(1800)
        ));
        assert!(matches!(
            parse(&["dfs", "maintenance", "127.0.0.1:9864", "--end"]).command,
            Command::Maintenance {
                duration: None,
                end: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "--json", "recommission", "127.0.0.1:9864"]).command,
            Command::Recommission { ref node } if node == "127.0.0.1:9864"
        ));
        for (word, want) in [
            ("get", SafemodeArg::Get),
            ("enter", SafemodeArg::Enter),
            ("leave", SafemodeArg::Leave),
        ] {
            match parse(&["dfs", "safemode", word]).command {
                Command::Safemode { action } => assert_eq!(action, want),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            dfs_client::SafeModeAction::from(SafemodeArg::Leave),
            dfs_client::SafeModeAction::Leave
        );
    }

    #[test]
    fn put_args() {
        match parse(&[
            "dfs",
            "put",
            "-f",
            "--replication",
            "2",
            "--block-size",
            "4MiB",
            "a",
            "b",
            "/dir",
        ])
        .command
        {
            Command::Put(p) => {
                assert!(p.force && !p.recursive);
                assert_eq!(p.replication, Some(2));
                assert_eq!(p.block_size, Some(ByteSize(4 << 20)));
                assert_eq!(p.sources, vec!["a", "b"]);
                assert_eq!(p.remote, "/dir");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "put", "-", "/f"]).command {
            Command::Put(p) => assert_eq!(
                (p.sources, p.remote),
                (vec!["-".to_string()], "/f".to_string())
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["dfs", "put", "-r", "d", "/x"]).command,
            Command::Put(PutArgs {
                recursive: true,
                ..
            })
        ));
    }

    #[test]
    fn misuse_is_exit_2() {
        for bad in [
            vec!["dfs"],
            vec!["dfs", "put", "/only-one"],
            vec!["dfs", "setrep", "0", "/x"],
            vec!["dfs", "setrep", "x", "/x"],
            vec!["dfs", "put", "--block-size", "lots", "a", "/b"],
            vec!["dfs", "stat"],
            vec!["dfs", "frobnicate"],
            vec!["dfs", "local", "--datanodes", "0"],
            vec!["dfs", "setrep", "-w", "--timeout", "soon", "2", "/x"],
            vec!["dfs", "decommission"],
            vec!["dfs", "safemode"],
            vec!["dfs", "safemode", "off"],
        ] {
            let e = try_parse_from(&bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn local_args() {
        match parse(&[
            "dfs",
            "local",
            "--datanodes",
            "5",
            "--data-dir",
            "/tmp/x",
            "--port",
            "19870",
        ])
        .command
        {
            Command::Local(a) => {
                assert_eq!(a.datanodes, 5);
                assert_eq!(a.port, 19870);
                assert_eq!(a.data_dir, std::path::PathBuf::from("/tmp/x"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "local"]).command {
            Command::Local(a) => {
                assert_eq!(a.datanodes, 3);
                assert_eq!(a.port, 9870);
                assert_eq!(a.data_dir, std::path::PathBuf::from("./dfs-data"));
                assert_eq!(a.replication, None);
                assert_eq!(a.ports_file, None);
                assert!(a.namenode_args.is_empty() && a.datanode_args.is_empty());
            }
            other => panic!("{other:?}"),
        }
        // --port 0, the ports file, and flags passed on (hyphens and all)
        match parse(&[
            "dfs",
            "local",
            "--port",
            "0",
            "--ports-file",
            "/tmp/p.json",
            "--namenode-arg",
            "--heartbeat-interval",
            "--namenode-arg=300ms",
            "--datanode-arg=--cluster-secret-file",
            "--datanode-arg",
            "/s",
            "--namenode-arg",
            "--webhdfs-data-via-namenode",
        ])
        .command
        {
            Command::Local(a) => {
                assert_eq!(a.port, 0);
                assert_eq!(a.ports_file, Some(std::path::PathBuf::from("/tmp/p.json")));
                assert_eq!(
                    a.namenode_args,
                    [
                        "--heartbeat-interval",
                        "300ms",
                        "--webhdfs-data-via-namenode"
                    ]
                );
                assert_eq!(a.datanode_args, ["--cluster-secret-file", "/s"]);
            }
            other => panic!("{other:?}"),
        }
        for bad in [["--port", "3"], ["--port", "70000"]] {
            let mut argv = vec!["dfs", "local"];
            argv.extend(bad);
            assert_eq!(try_parse_from(&argv).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }
}
