//! What a host does when a behaviour ends (by returning, or by crashing) and when one of
//! its slices overruns the watchdog's limit.

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

/// What the watchdog does to a tasklet that overran its slice. Every overrun is also
/// recorded as an [`Incident`](crate::Incident) naming the entity and tasklet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WatchdogPolicy {
    /// Only report it (the default).
    #[default]
    Report,
    /// Throw a [`SliceOverrun`](crate::SliceOverrun) error into it: its current (or next)
    /// blocking call returns `Thrown` with that error. It runs again next frame.
    Throw,
    /// Kill it (its stack unwinds) and apply the crash policy to its entity.
    Kill,
}
