//! The release of no-shows (issue 14, item 3): every replica runs a pass of
//! `Domain::release_no_shows` every `RELEASE_INTERVAL_SECONDS`. No leader is elected: each due
//! booking is released by exactly one pass, whichever locks it first (the others skip it, then
//! find it no longer due), so replicas only add passes, never doubles.

use concierge_domain::Domain;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The running task; dropping it leaves the task running until the runtime ends.
#[derive(Debug)]
pub struct ReleaseHandle {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ReleaseHandle {
    /// Stops the task after the pass in progress, if any.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Spawns the task: a pass now, then one every `every`.
pub fn start_releases(domain: Domain, every: std::time::Duration) -> ReleaseHandle {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        // A pass that took long is not followed by a burst of catching-up passes.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                _ = ticker.tick() => {}
            }
            match domain.release_no_shows(domain.clock.now()).await {
                Ok(0) => {}
                Ok(released) => tracing::info!(released, "released bookings nobody checked in to"),
                // Storage down or contended: the next pass finds the same bookings still due.
                Err(error) => tracing::warn!(
                    error = %error.public_message(),
                    "release pass failed; the next one tries again"
                ),
            }
        }
    });
    ReleaseHandle { stop, task }
}
