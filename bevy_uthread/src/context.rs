//! The context a script receives: its entity, its world access, its inboxes, its waits.

use std::any::TypeId;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use bevy_ecs::component::{Component, Mutable};
use bevy_ecs::entity::Entity;
use frame_core::Inboxes;
use uthread::{ChannelError, RecvError, Select, TryRecvError, WaitError};

use crate::access::ScriptWorld;
use crate::error::SendError;
use crate::hub::{Hub, ScriptEvent};
use crate::Inbox;

/// What a script works through: one per script, lent to it for as long as it runs.
///
/// The rule that keeps world access safe: **everything that touches the world and
/// everything that can wait takes `&mut self`.** A [`ScriptWorld`] (and every component
/// reference taken from it) borrows the context, so the borrow checker rejects any
/// attempt to hold one across [`next_frame`](ScriptContext::next_frame),
/// [`sleep`](ScriptContext::sleep), [`recv`](ScriptContext::recv),
/// [`select`](ScriptContext::select) or [`blocking`](ScriptContext::blocking). Waits on
/// uthread primitives that are not methods here (a `Channel`, a `Lock`) go inside
/// [`ScriptContext::blocking`].
///
/// Time is Bevy's virtual time (`Time<Virtual>`): pausing it or scaling it pauses or
/// scales every sleep and timeout; [`next_frame`](ScriptContext::next_frame) waits for
/// the next frame whatever the clock does.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use bevy_app::App;
/// use bevy_ecs::prelude::*;
/// use bevy_time::{TimePlugin, TimeUpdateStrategy};
/// use bevy_uthread::{Budget, Script, UthreadPlugin};
///
/// #[derive(Component)]
/// struct Lamp(bool);
///
/// let mut app = App::new();
/// app.add_plugins((TimePlugin, UthreadPlugin::default().budget(Budget::Resumes(1_000))))
///     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
/// // Blink: on for 0.25 s, off for 0.25 s, forever.
/// let lamp = app.world_mut().spawn((Lamp(false), Script::new(|ctx| loop {
///     ctx.update(|l: &mut Lamp| l.0 = !l.0);
///     ctx.sleep(Duration::from_millis(250)).unwrap();
/// }))).id();
/// let mut seen = Vec::new();
/// for _ in 0..8 {
///     app.update();
///     seen.push(app.world().get::<Lamp>(lamp).unwrap().0);
/// }
/// // The first frame's time step is zero in Bevy; then 100 ms a frame.
/// assert_eq!(seen, [true, true, true, false, false, false, true, true]);
/// ```
///
/// A context belongs to its script's tasklet and cannot leave its thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<bevy_uthread::ScriptContext>();
/// ```
pub struct ScriptContext {
    entity: Entity,
    name: Rc<str>,
    hub: Rc<Hub>,
    /// Handles of this script's inboxes, so that receiving does not look them up.
    inboxes: Inboxes<Entity>,
}

impl fmt::Debug for ScriptContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptContext")
            .field("entity", &self.entity)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ScriptContext {
    pub(crate) fn new(entity: Entity, name: Rc<str>, hub: Rc<Hub>) -> ScriptContext {
        ScriptContext {
            entity,
            name,
            hub,
            inboxes: Inboxes::new(entity),
        }
    }

    /// Called by the tasklet body when the script has returned.
    pub(crate) fn returned(&self) {
        self.hub
            .events
            .borrow_mut()
            .push(ScriptEvent::Returned(self.entity));
    }

    /// This script's entity.
    pub fn entity(&self) -> Entity {
        self.entity
    }

    /// This script's tasklet name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Virtual time elapsed, as the scripts see it (Bevy's `Time<Virtual>::elapsed`
    /// when the frame began).
    pub fn now(&self) -> Duration {
        uthread::now()
    }

    /// The number of the frame being run (the plugin's first frame is 1).
    pub fn frame(&self) -> u64 {
        self.hub.frame.get().number
    }

    /// The virtual time step of the frame being run.
    pub fn dt(&self) -> Duration {
        self.hub.frame.get().dt
    }

    // ---- the world --------------------------------------------------------------

    /// Opens the world for the rest of this slice (or until the access is dropped). See
    /// [`ScriptWorld`].
    ///
    /// # Panics
    ///
    /// If the world cannot be had: only when a `ScriptWorld` was leaked
    /// (`std::mem::forget`), or when the script runs outside the script phase because
    /// the host handed it a value over a `Channel` rendezvous (use inboxes).
    #[inline]
    pub fn world(&mut self) -> ScriptWorld<'_> {
        let world = self.hub.borrow_world(self.entity);
        ScriptWorld::new(world, self.entity, &self.hub)
    }

    /// A copy of one of this entity's components.
    #[inline]
    pub fn get<T: Component + Clone>(&mut self) -> Option<T> {
        self.world().get::<T>().cloned()
    }

    /// Changes one of this entity's components in place; returns what `f` returns, or
    /// `None` if the entity has no such component.
    #[inline]
    pub fn update<T: Component<Mutability = Mutable>, R>(
        &mut self,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let mut world = self.world();
        let mut component = world.get_mut::<T>()?;
        Some(f(&mut component))
    }

    // ---- waiting --------------------------------------------------------------------

    /// Waits for the next frame (CCP's BeNice): the script runs again in the next
    /// frame's script phase, after the scripts that were already waiting.
    ///
    /// # Errors
    ///
    /// [`WaitError::Thrown`] when an error is thrown in (the watchdog's
    /// [`Throw`](crate::WatchdogPolicy::Throw) policy does this), [`WaitError::Killed`]
    /// while the script is being killed.
    #[inline]
    pub fn next_frame(&mut self) -> Result<(), WaitError> {
        uthread::be_nice()
    }

    /// Yields within the frame: the script goes to the back of the run queue and runs
    /// again in this frame if the budget allows.
    ///
    /// # Errors
    ///
    /// As [`ScriptContext::next_frame`].
    pub fn yield_now(&mut self) -> Result<(), WaitError> {
        uthread::schedule()
    }

    /// Sleeps `d` of virtual time. Zero waits for the next frame.
    ///
    /// # Errors
    ///
    /// As [`ScriptContext::next_frame`].
    pub fn sleep(&mut self, d: Duration) -> Result<(), WaitError> {
        uthread::sleep(d)
    }

    /// Sleeps until virtual time `t` (see [`ScriptContext::now`]).
    ///
    /// # Errors
    ///
    /// As [`ScriptContext::next_frame`].
    pub fn sleep_until(&mut self, t: Duration) -> Result<(), WaitError> {
        uthread::sleep_until(t)
    }

    /// Waits on several inboxes, channels or queues at once, with an optional timeout
    /// (in virtual time) or default arm: `build` adds the arms to a
    /// [`uthread::select`].
    ///
    /// # Errors
    ///
    /// As [`Select::wait`]: `Closed` when every source is closed, `Thrown`, `Killed`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # #[derive(Clone)] struct Alarm;
    /// # bevy_uthread::Script::new(|ctx| {
    /// let alarms = ctx.inbox::<Alarm>();
    /// let heard = ctx.select(|s| {
    ///     s.recv(&alarms, |_| true)
    ///         .timeout(Duration::from_secs(2), || false)
    /// });
    /// # });
    /// ```
    pub fn select<'a, R>(
        &mut self,
        build: impl FnOnce(Select<'a, R>) -> Select<'a, R>,
    ) -> Result<R, ChannelError> {
        build(uthread::select()).wait()
    }

    /// Runs a wait that is not a method of the context (a channel, a lock, a join) with
    /// the world released. Taking `&mut self` is the point: no component reference can
    /// be alive across it.
    pub fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
        f()
    }

    // ---- inboxes and sharing ----------------------------------------------------------

    /// This script's inbox for messages of type `M`, made now if it has none (a
    /// handle, e.g. for [`ScriptContext::select`]). Messages registered with
    /// [`ScriptAppExt::add_script_message`](crate::ScriptAppExt::add_script_message) are
    /// copied into every inbox for their type that is open when they are routed, so a
    /// script opens it before it wants to hear them.
    pub fn inbox<M: 'static>(&mut self) -> Inbox<M> {
        let (hub, entity) = (&self.hub, self.entity);
        self.inboxes.get_or_insert_with(|| {
            hub.scripts
                .borrow_mut()
                .inbox::<M>(entity)
                .unwrap_or_else(|| Inbox::closed(entity))
        })
    }

    /// Receives the next message of type `M`, waiting until one arrives.
    ///
    /// # Errors
    ///
    /// [`RecvError::Closed`](uthread::ChannelError::Closed) when the script is ending,
    /// `Thrown` and `Killed` as for [`ScriptContext::next_frame`].
    pub fn recv<M: 'static>(&mut self) -> Result<M, RecvError> {
        self.inbox::<M>().recv()
    }

    /// Like [`ScriptContext::recv`], giving up after `timeout` of virtual time.
    ///
    /// # Errors
    ///
    /// As [`ScriptContext::recv`], plus [`Timeout`](uthread::ChannelError::Timeout).
    pub fn recv_timeout<M: 'static>(&mut self, timeout: Duration) -> Result<M, RecvError> {
        self.inbox::<M>().recv_timeout(timeout)
    }

    /// Takes the next message of type `M` if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is.
    pub fn try_recv<M: 'static>(&mut self) -> Result<M, TryRecvError> {
        self.inbox::<M>().try_recv()
    }

    /// Puts a message into another script's inbox, without waiting.
    ///
    /// # Errors
    ///
    /// [`SendError`] (with the message) when `to` runs no script.
    pub fn send<M: 'static>(&mut self, to: Entity, message: M) -> Result<(), SendError<M>> {
        self.hub.deliver(to, message)
    }

    /// A uthread primitive shared by every script that asks for the same `key` and
    /// type, made by `make` on first use: a `Channel`, `Lock`, `Semaphore`, `Event`,
    /// `Queue`... (scripts cannot capture one, since a `Script` must be `Send` and
    /// tasklet primitives are not).
    ///
    /// # Examples
    ///
    /// ```
    /// # bevy_uthread::Script::new(|ctx| {
    /// let door: uthread::Lock = ctx.shared("door", uthread::Lock::new);
    /// ctx.blocking(|| door.acquire()).unwrap();
    /// // ... one script at a time here ...
    /// door.release().unwrap();
    /// # });
    /// ```
    pub fn shared<V: Clone + 'static>(&mut self, key: &str, make: impl FnOnce() -> V) -> V {
        let id = (TypeId::of::<V>(), key.to_owned());
        if let Some(value) = self.hub.shared.borrow().get(&id) {
            if let Some(value) = value.downcast_ref::<V>() {
                return value.clone();
            }
        }
        let value = make();
        self.hub
            .shared
            .borrow_mut()
            .insert(id, Box::new(value.clone()));
        value
    }
}
