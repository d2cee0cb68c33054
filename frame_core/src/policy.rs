//! What a host does with an actor's entity when its behaviour ends: by returning, or by
//! crashing.

/// What happens to an entity when its behaviour returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnReturn {
    /// The entity stays, without a behaviour (the default).
    #[default]
    Keep,
    /// The entity is despawned in the command phase of the frame the behaviour returned.
    Despawn,
}

/// What happens to an entity whose behaviour panicked, or was killed by the watchdog or
/// for holding the world across a switch. The frame and every other entity carry on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CrashPolicy {
    /// The entity stays, marked with the host's crash marker component (the engine's
    /// `Crashed`, the Bevy plugin's `ScriptCrashed`), which says what went wrong. The
    /// default.
    #[default]
    MarkCrashed,
    /// The entity is despawned.
    Despawn,
}
