//! Background workers: named periodic tasks with one cooperative shutdown
//! signal, stopped in reverse start order with an exit deadline (Garage
//! `background/worker.rs`, mini-redis `shutdown.rs`).
//!
//! What it does not do: decide what a worker does; each worker module
//! (`leases`, `heartbeat`) supplies its tick.
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long `stop` waits for one worker to finish its current tick.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(5);

pub struct Workers {
    shutdown: watch::Sender<bool>,
    handles: Vec<(&'static str, JoinHandle<()>)>,
}

impl Default for Workers {
    fn default() -> Self {
        Self::new()
    }
}

impl Workers {
    pub fn new() -> Self {
        Workers {
            shutdown: watch::channel(false).0,
            handles: Vec::new(),
        }
    }

    /// Runs `tick` every `period` until shutdown. A tick in progress is
    /// allowed to finish.
    pub fn spawn_periodic<F, Fut>(&mut self, name: &'static str, period: Duration, mut tick: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let mut stop = self.shutdown.subscribe();
        let handle = tokio::spawn(async move {
            log::debug!("worker {name} started (every {period:?})");
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => tick().await,
                    _ = stop.changed() => break,
                }
            }
            log::debug!("worker {name} stopped");
        });
        self.handles.push((name, handle));
    }

    /// Signals every worker and waits for them, last started first.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        while let Some((name, handle)) = self.handles.pop() {
            match tokio::time::timeout(EXIT_DEADLINE, handle).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::error!("worker {name} failed: {e}"),
                Err(_) => log::warn!("worker {name} did not stop within {EXIT_DEADLINE:?}"),
            }
        }
    }
}
