//! Error types of the plugin.

use bevy_ecs::entity::Entity;

/// A message that could not be delivered to a script's inbox (the entity runs no
/// script); the message comes back.
pub type SendError<M> = frame_core::SendError<M, Entity>;
