//! The error of a failed delivery to an entity's inbox.

use std::error::Error as StdError;
use std::fmt;

/// An event that could not be delivered to an entity's inbox; the event comes back.
pub struct SendError<M, E> {
    /// The event that was not delivered.
    pub event: M,
    /// The entity it was for.
    pub to: E,
}

impl<M, E> SendError<M, E> {
    /// The event that was not delivered.
    pub fn into_inner(self) -> M {
        self.event
    }
}

impl<M, E: fmt::Debug> fmt::Debug for SendError<M, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl<M, E: fmt::Debug> fmt::Display for SendError<M, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "entity {:?} has no running behaviour (actor or script) to receive the event",
            self.to
        )
    }
}

impl<M, E: fmt::Debug> StdError for SendError<M, E> {}
