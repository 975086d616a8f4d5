//! Work a request leaves behind it, done after its answer (so that the answer's time says
//! nothing about the work): spawned here, counted, so that it can be waited for.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

#[derive(Debug, Clone, Default)]
pub(crate) struct Background {
    running: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl Background {
    /// Runs `work` after the answer; a failure is the work's to log.
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.running.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        tokio::spawn(async move {
            // Counted down even if `work` panics (the guard drops while unwinding).
            let _done = Done(this);
            work.await;
        });
    }

    /// Waits until no work is running.
    pub(crate) async fn settle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

struct Done(Background);

impl Drop for Done {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}
