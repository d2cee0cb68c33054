//! The engine's hub: the shared [`HubState`] holding this crate's world commands, as the
//! driver, its systems and the actors' lifecycle name it.

use crate::hub_state::HubState;

pub(crate) use crate::context::WorldCommand;
pub(crate) use crate::hub_state::{ActorEvent, FrameInfo};

/// The state the driver shares with its actors' contexts.
pub(crate) type Hub = HubState<WorldCommand>;
