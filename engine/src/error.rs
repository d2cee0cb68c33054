//! Error types, one per operation that can fail.

use std::error::Error as StdError;
use std::fmt;

use hecs::Entity;

/// Why an actor could not be spawned. Its entity is not left behind.
#[derive(Debug)]
pub enum SpawnError {
    /// No tasklet could be made (the stack pool said why).
    Tasklet(uthread::SpawnError),
    /// The entity already has a behaviour (an entity owns at most one tasklet).
    AlreadyAnActor(Entity),
    /// The entity to attach a behaviour to does not exist.
    NoSuchEntity(Entity),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Tasklet(e) => write!(f, "cannot start the actor's behaviour: {e}"),
            SpawnError::AlreadyAnActor(e) => write!(f, "entity {e:?} already has a behaviour"),
            SpawnError::NoSuchEntity(e) => write!(f, "entity {e:?} does not exist"),
        }
    }
}

impl StdError for SpawnError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            SpawnError::Tasklet(e) => Some(e),
            _ => None,
        }
    }
}

impl From<uthread::SpawnError> for SpawnError {
    fn from(e: uthread::SpawnError) -> Self {
        SpawnError::Tasklet(e)
    }
}

/// An event that could not be delivered to an actor's inbox; the event comes back.
pub type SendError<E> = frame_core::SendError<E, Entity>;
