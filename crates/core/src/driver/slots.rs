//! The requests a counted pass has running at once.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `concurrency` requests running, each holding a slot until its answer is in. A
/// slot frees as soon as any request ends, not when the oldest one's page is taken: with a
/// plain in-order window, one slow answer at the head held every finished one behind it,
/// and the pass ran with fewer requests in flight than its concurrency allows.
#[derive(Debug)]
pub(super) struct Slots {
    free: Arc<Semaphore>,
}

/// One running request's slot; dropping it frees the slot.
pub(super) type Slot = OwnedSemaphorePermit;

impl Slots {
    /// `concurrency` free slots.
    pub(super) fn new(concurrency: usize) -> Self {
        Self {
            free: Arc::new(Semaphore::new(concurrency)),
        }
    }

    /// A slot free now, if any.
    pub(super) fn try_take(&self) -> Option<Slot> {
        self.free.clone().try_acquire_owned().ok()
    }

    /// The next slot to free up (`None` only if the slots were closed, which they never are).
    pub(super) async fn take(&self) -> Option<Slot> {
        self.free.clone().acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slot_frees_when_its_holder_drops_it() {
        let slots = Slots::new(2);
        let a = slots.try_take().expect("a first slot");
        let _b = slots.try_take().expect("a second slot");
        assert!(slots.try_take().is_none(), "two at most");
        drop(a);
        assert!(slots.take().await.is_some());
    }
}
