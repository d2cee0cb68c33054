//! Identifiers and the kill payload: the small types every other file names.

use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use slotmap::Key as _;

/// The panic payload that unwinds a killed tasklet. A `catch_unwind` inside a tasklet
/// that catches it should resume the unwind (`std::panic::resume_unwind`); if it does
/// not, the tasklet is killed again at its next blocking call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskletExit;

/// Identifies a tasklet among the live tasklets of its scheduler.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskletId(pub(crate) u64);

impl TaskletId {
    /// The raw value (stable while the tasklet lives; reused slots get new versions).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for TaskletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}v{}", self.0 & 0xffff_ffff, self.0 >> 32)
    }
}

impl fmt::Display for TaskletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0 & 0xffff_ffff)
    }
}

/// Identifies a channel or synchronisation object (unique in the process).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(u64);

impl ObjectId {
    pub(crate) fn next() -> ObjectId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ObjectId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The raw value.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A channel or primitive as named in [`BlockedOn`](crate::BlockedOn): its id and optional name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// The object's id.
    pub id: ObjectId,
    /// The object's name, if it was given one.
    pub name: Option<Rc<str>>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "'{name}' ({})", self.id),
            None => write!(f, "{}", self.id),
        }
    }
}

slotmap::new_key_type! {
    /// A tasklet's slot in its scheduler's registry; its id.
    pub(crate) struct Key;
}

impl Key {
    pub(crate) fn id(self) -> TaskletId {
        TaskletId(self.data().as_ffi())
    }
}
