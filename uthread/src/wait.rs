//! Wait lists: the FIFO queues of blocked tasklets that every primitive is built on.
//!
//! A blocked tasklet's wait entry, and any value it is handing over, lives in the
//! primitive's `WaitList` on the heap, never on the tasklet's stack. The tasklet's record
//! keeps a [`WaitRef`] back to each entry so that kill, throw and timeouts can take it off
//! the list at once (a channel's balance is always exact). Whatever happens, the woken
//! tasklet collects its own entry with [`WaitList::take`] when it runs again, which is
//! where a send that failed gets its value back. Blocking on a list is in `block.rs`.

use std::collections::VecDeque;

use slotmap::SlotMap;

use crate::task::{TaskletRef, WaitKey};

/// Where one waiter stands.
pub(crate) enum Slot<P, R> {
    /// Queued, holding what it offers (a value to send, for example).
    Waiting(P),
    /// Served: holds what it was given.
    Done(R),
    /// Taken off the queue without being served (kill, throw, timeout, the other arm of
    /// a select); still holds what it offered, to give back.
    Cancelled(P),
    /// Transient, while a state is being moved out; never observed.
    Moving,
}

struct Entry<P, R> {
    tasklet: TaskletRef,
    slot: Slot<P, R>,
}

/// A FIFO of blocked tasklets, each offering a `P` and expecting an `R`.
pub(crate) struct WaitList<P, R> {
    /// Made on the first wait: a slot map allocates even when empty, and most channels,
    /// join states and locks never see a waiter.
    entries: Option<SlotMap<WaitKey, Entry<P, R>>>,
    /// Waiting entries in arrival order; keys of entries no longer waiting are skipped.
    order: VecDeque<WaitKey>,
    /// Entries in the `Waiting` state.
    waiting: usize,
}

impl<P, R> Default for WaitList<P, R> {
    fn default() -> Self {
        WaitList {
            entries: None,
            order: VecDeque::new(),
            waiting: 0,
        }
    }
}

impl<P, R> WaitList<P, R> {
    fn entry(&self, key: WaitKey) -> Option<&Entry<P, R>> {
        self.entries.as_ref()?.get(key)
    }

    /// Number of tasklets waiting.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// Queues a waiter at the back.
    pub(crate) fn push(&mut self, tasklet: TaskletRef, offer: P) -> WaitKey {
        let key = self
            .entries
            .get_or_insert_with(SlotMap::with_key)
            .insert(Entry {
                tasklet,
                slot: Slot::Waiting(offer),
            });
        self.order.push_back(key);
        self.waiting += 1;
        key
    }

    /// The key of the first entry still waiting (stale keys at the front are dropped).
    pub(crate) fn front_key(&mut self) -> Option<WaitKey> {
        while let Some(&key) = self.order.front() {
            if matches!(
                self.entry(key),
                Some(Entry {
                    slot: Slot::Waiting(_),
                    ..
                })
            ) {
                return Some(key);
            }
            self.order.pop_front();
        }
        None
    }

    /// Serves the first waiter: `reply` turns its offer into what it is given (`R`) and
    /// what the server keeps (`X`). Returns who must be woken, and `X`.
    pub(crate) fn serve_front<X>(
        &mut self,
        reply: impl FnOnce(P) -> (R, X),
    ) -> Option<(TaskletRef, X)> {
        let key = self.front_key()?;
        self.serve(key, reply)
    }

    /// Serves one particular entry if it is still waiting (see [`WaitList::serve_front`]).
    pub(crate) fn serve<X>(
        &mut self,
        key: WaitKey,
        reply: impl FnOnce(P) -> (R, X),
    ) -> Option<(TaskletRef, X)> {
        let entry = self.entries.as_mut()?.get_mut(key)?;
        if !matches!(entry.slot, Slot::Waiting(_)) {
            return None;
        }
        let Slot::Waiting(offer) = std::mem::replace(&mut entry.slot, Slot::Moving) else {
            return None;
        };
        let (given, kept) = reply(offer);
        entry.slot = Slot::Done(given);
        self.waiting -= 1;
        if self.order.front() == Some(&key) {
            self.order.pop_front();
        }
        Some((entry.tasklet.clone(), kept))
    }

    /// Takes a waiting entry off the queue, keeping its offer for the owner.
    pub(crate) fn cancel(&mut self, key: WaitKey) {
        let Some(entry) = self.entries.as_mut().and_then(|e| e.get_mut(key)) else {
            return;
        };
        if !matches!(entry.slot, Slot::Waiting(_)) {
            return; // Served already, or cancelled: nothing to take off.
        }
        if let Slot::Waiting(offer) = std::mem::replace(&mut entry.slot, Slot::Moving) {
            entry.slot = Slot::Cancelled(offer);
            self.waiting -= 1;
        }
    }

    /// Removes and returns an entry; the owner calls this when it runs again.
    pub(crate) fn take(&mut self, key: WaitKey) -> Option<Slot<P, R>> {
        let entry = self.entries.as_mut()?.remove(key)?;
        if let Slot::Waiting(_) = entry.slot {
            self.waiting -= 1;
        }
        Some(entry.slot)
    }

    /// Serves every waiter in order with `reply`, returning who must be woken.
    pub(crate) fn serve_all(&mut self, mut reply: impl FnMut(P) -> R) -> Vec<TaskletRef> {
        let mut woken = Vec::with_capacity(self.waiting);
        while let Some((t, ())) = self.serve_front(|p| (reply(p), ())) {
            woken.push(t);
        }
        woken
    }

    /// Tasklets waiting, in order.
    pub(crate) fn waiters(&self) -> impl Iterator<Item = &TaskletRef> + '_ {
        self.order.iter().filter_map(move |k| match self.entry(*k) {
            Some(Entry {
                tasklet,
                slot: Slot::Waiting(_),
            }) => Some(tasklet),
            _ => None,
        })
    }
}
