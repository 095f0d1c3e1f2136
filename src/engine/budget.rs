//! How much command output may wait between the engine and its front end,
//! counted in bytes: a step that prints millions of lines fills the budget,
//! and the engine then waits for the front end to take some before it reads
//! more from the command, so that the wait reaches the host's channel
//! (backpressure) and drydock's memory stays flat whatever a command prints.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Bytes of output lines (with their bookkeeping) that may wait for the front end.
pub const OUTPUT_BUDGET: usize = 4 * 1024 * 1024;

/// The bytes of output on their way to the front end.
#[derive(Debug)]
pub struct OutputBudget {
    limit: usize,
    used: Mutex<usize>,
    room: Notify,
}

impl OutputBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: Mutex::new(0),
            room: Notify::new(),
        })
    }

    /// Take `bytes` from the budget, waiting until there is room. Output
    /// larger than the whole budget goes alone, once nothing else waits.
    pub async fn reserve(self: &Arc<Self>, bytes: usize) -> Credit {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            // Registered before looking, so that no release is missed.
            room.as_mut().enable();
            {
                let Ok(mut used) = self.used.lock() else {
                    return Credit::default();
                };
                if *used == 0 || *used + bytes <= self.limit {
                    *used += bytes;
                    return Credit {
                        budget: Some(self.clone()),
                        bytes,
                    };
                }
            }
            room.await;
        }
    }

    fn release(&self, bytes: usize) {
        if let Ok(mut used) = self.used.lock() {
            *used = used.saturating_sub(bytes);
        }
        self.room.notify_waiters();
    }

    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.lock().map(|u| *u).unwrap_or_default()
    }
}

/// Bytes an output event holds of the budget, given back when the event is
/// dropped, that is once the front end has taken its lines. A copy of an
/// event holds nothing.
#[derive(Debug, Default)]
pub struct Credit {
    budget: Option<Arc<OutputBudget>>,
    bytes: usize,
}

impl Clone for Credit {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        if let Some(budget) = self.budget.take() {
            budget.release(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_budget_waits_until_credit_is_dropped() {
        let budget = OutputBudget::new(100);
        let first = budget.reserve(60).await;
        let copy = first.clone();
        drop(copy);
        assert_eq!(budget.used(), 60, "a copy gives nothing back");
        let second = budget.reserve(60);
        tokio::pin!(second);
        assert!(
            futures::poll!(second.as_mut()).is_pending(),
            "no room for 60 more"
        );
        drop(first);
        let second = second.await;
        assert_eq!(budget.used(), 60);
        drop(second);
        // Larger than the whole budget: alone, when nothing else waits.
        let big = budget.reserve(500).await;
        assert_eq!(budget.used(), 500);
        drop(big);
        assert_eq!(budget.used(), 0);
    }
}
