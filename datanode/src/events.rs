//! `BlockEvent`s: what the data path tells the namenode link, and the
//! channel they travel on. The receiver, the sender, the scanner, the
//! command runner and the API push events; [`crate::heartbeat`] alone
//! receives them and turns them into reports (HDFS: the DataNode's
//! `notifyNamenodeReceivedBlock` / `reportBadBlocks` feeding its
//! `BPServiceActor`).
//!
//! A leaf module, so that the modules the link drives
//! ([`crate::commands`] → [`crate::sender`]) never point back at the link.
//!
//! Invariants: sending never blocks and never fails the sender (the channel
//! is unbounded; after the link stopped, an event is logged and dropped).
use dfs_common::ids::BlockId;
use dfs_common::proto::datanode::ReportedBlock;
use tokio::sync::mpsc;

/// Something the namenode should hear about soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockEvent {
    /// A replica became durable here.
    Received(ReportedBlock),
    /// A replica was deleted here.
    Deleted(BlockId),
    /// A replica failed verification and was quarantined.
    Bad { id: BlockId, reason: String },
}

/// The sending side of the link's event channel; cheap to clone.
#[derive(Clone)]
pub struct EventSender(mpsc::UnboundedSender<BlockEvent>);

pub type EventReceiver = mpsc::UnboundedReceiver<BlockEvent>;

impl EventSender {
    pub fn send(&self, event: BlockEvent) {
        if self.0.send(event).is_err() {
            log::debug!("namenode link stopped; event not sent");
        }
    }
}

/// Unbounded on purpose: events are small, one per block change, and a
/// receiver must never stall a data transfer because the namenode is away.
pub fn event_channel() -> (EventSender, EventReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (EventSender(tx), rx)
}

/// Hands every event of `rx` to each of `copies` (one per namenode link),
/// until `rx` closes or `stop` fires (the node keeps a sender of `rx` for
/// as long as it runs: without `stop` a stopping node waited for this task
/// forever). At the stop what is already queued is handed on, for the
/// links' last flush; what they miss is in the next start's full report.
pub async fn fan_out(
    mut rx: EventReceiver,
    copies: Vec<EventSender>,
    stop: tokio_util::sync::CancellationToken,
) {
    let hand_on = |event: BlockEvent| {
        for c in &copies {
            c.send(event.clone());
        }
    };
    loop {
        tokio::select! {
            biased;
            next = rx.recv() => match next {
                Some(event) => hand_on(event),
                None => return,
            },
            _ = stop.cancelled() => {
                while let Ok(event) = rx.try_recv() {
                    hand_on(event);
                }
                return;
            }
        }
    }
}
