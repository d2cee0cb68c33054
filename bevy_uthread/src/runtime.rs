//! The plugin's state in the world: the scheduler, the pump and what scripts share, as
//! a non-send resource, and the per-frame stats as a resource.

use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use bevy_ecs::entity::Entity;
use bevy_ecs::resource::Resource;
use bevy_ecs::world::World;
use frame_core::{Budget, CrashPolicy, FramePump, FrameStats};
use uthread::{Scheduler, Tasklet, TaskletId};

use crate::error::SendError;
use crate::hub::{Hub, ScriptEvent};

/// Routes one registered message type into scripts' inboxes, once per frame.
pub(crate) type Router = Box<dyn FnMut(&World, &Hub)>;

/// The scripts' runtime: their scheduler (tasklets are `!Send`, so this is a non-send
/// resource, reached with `NonSend<ScriptRuntime>`), the budgeted pump and the state
/// every script's context shares. Inserted by [`UthreadPlugin`](crate::UthreadPlugin).
///
/// # Examples
///
/// A system sends a message to one script's inbox:
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use bevy_uthread::{Budget, Script, ScriptRuntime, UthreadPlugin};
///
/// #[derive(Component)]
/// struct Hull(u32);
/// struct Damaged(u32);
///
/// fn minefield(scripts: NonSend<ScriptRuntime>, ships: Query<Entity, With<Hull>>) {
///     for ship in &ships {
///         let _ = scripts.send(ship, Damaged(10));
///     }
/// }
///
/// let mut app = App::new();
/// app.add_plugins(UthreadPlugin::default().budget(Budget::Resumes(1_000))).add_systems(Update, minefield);
/// let ship = app.world_mut().spawn((Hull(100), Script::new(|ctx| {
///     while let Ok(Damaged(n)) = ctx.recv::<Damaged>() {
///         ctx.update(|h: &mut Hull| h.0 -= n);
///     }
/// }))).id();
/// for _ in 0..3 {
///     app.update();
/// }
/// assert_eq!(app.world().get::<Hull>(ship).unwrap().0, 70);
/// ```
///
/// Scripts are tasklets, which stay on the thread that made them, and so does the
/// runtime:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<bevy_uthread::ScriptRuntime>();
/// ```
pub struct ScriptRuntime {
    // Dropped before the hub (the pump holds the other handle): the scheduler kills
    // (unwinds) every script left.
    scheduler: Rc<Scheduler>,
    pump: Rc<RefCell<FramePump>>,
    hub: Rc<Hub>,
    pub(crate) on_panic: CrashPolicy,
    pub(crate) routers: Rc<RefCell<Vec<Router>>>,
}

impl fmt::Debug for ScriptRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptRuntime")
            .field("scripts", &self.script_count())
            .field("pump", &*self.pump.borrow())
            .field("on_panic", &self.on_panic)
            .finish_non_exhaustive()
    }
}

impl ScriptRuntime {
    pub(crate) fn new(
        scheduler: Scheduler,
        pump: impl FnOnce(Rc<Scheduler>) -> FramePump,
        on_panic: CrashPolicy,
    ) -> ScriptRuntime {
        let scheduler = Rc::new(scheduler);
        let hub = Rc::new(Hub::new());
        let errors = hub.clone();
        scheduler.set_error_handler(move |failure| {
            errors
                .events
                .borrow_mut()
                .push(ScriptEvent::Failed(failure));
        });
        ScriptRuntime {
            pump: Rc::new(RefCell::new(pump(scheduler.clone()))),
            scheduler,
            hub,
            on_panic,
            routers: Rc::new(RefCell::new(Vec::new())),
        }
    }

    pub(crate) fn hub(&self) -> &Rc<Hub> {
        &self.hub
    }

    pub(crate) fn pump(&self) -> &Rc<RefCell<FramePump>> {
        &self.pump
    }

    /// The scheduler that runs the scripts' tasklets (for introspection, or for
    /// tasklets that are not scripts).
    pub fn scheduler(&self) -> &Rc<Scheduler> {
        &self.scheduler
    }

    /// Puts a message into the inbox of `to`'s script, without waiting; the script gets
    /// it in the next script phase.
    ///
    /// # Errors
    ///
    /// [`SendError`] (with the message) when `to` runs no script.
    pub fn send<M: 'static>(&self, to: Entity, message: M) -> Result<(), SendError<M>> {
        self.hub.deliver(to, message)
    }

    /// Puts a copy of `message` into every open inbox for `M`, in a deterministic
    /// order. Returns how many scripts got one.
    pub fn broadcast<M: Clone + 'static>(&self, message: &M) -> usize {
        self.hub.broadcast(message)
    }

    /// How many scripts are running.
    pub fn script_count(&self) -> usize {
        self.hub.scripts.borrow().len()
    }

    /// Whether `entity` runs a script.
    pub fn is_script(&self, entity: Entity) -> bool {
        self.hub.scripts.borrow().get(entity).is_some()
    }

    /// The tasklet running `entity`'s script.
    pub fn tasklet_of(&self, entity: Entity) -> Option<Tasklet> {
        let scripts = self.hub.scripts.borrow();
        scripts.get(entity).map(|slot| slot.tasklet.clone())
    }

    /// The entity whose script `tasklet` runs.
    pub fn entity_of(&self, tasklet: TaskletId) -> Option<Entity> {
        self.hub.scripts.borrow().entity_of(tasklet)
    }

    /// The script phase's budget.
    pub fn budget(&self) -> Budget {
        self.pump.borrow().budget()
    }

    /// Changes the script phase's budget from the next frame on.
    pub fn set_budget(&self, budget: Budget) {
        self.pump.borrow_mut().set_budget(budget);
    }

    /// The number of the last frame run (0 before the first).
    pub fn frame(&self) -> u64 {
        self.hub.frame.get().number
    }
}

/// What the last script phase did (resumed, deferred, sleeping, blocked, the longest
/// slice and whose, incidents...): the shared [`FrameStats`], for Bevy entities, as a
/// resource.
///
/// # Examples
///
/// ```
/// use bevy_app::App;
/// use bevy_uthread::{Budget, Script, ScriptStats, UthreadPlugin};
///
/// let mut app = App::new();
/// app.add_plugins(UthreadPlugin::default().budget(Budget::Resumes(2)));
/// for _ in 0..3 {
///     app.world_mut().spawn(Script::new(|ctx| loop { ctx.next_frame().unwrap() }));
/// }
/// app.update();
/// let stats = app.world().resource::<ScriptStats>();
/// assert_eq!((stats.resumed, stats.deferred, stats.budget_spent), (2, 1, true));
/// ```
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct ScriptStats(pub FrameStats<Entity>);

impl Deref for ScriptStats {
    type Target = FrameStats<Entity>;

    fn deref(&self) -> &FrameStats<Entity> {
        &self.0
    }
}

impl DerefMut for ScriptStats {
    fn deref_mut(&mut self) -> &mut FrameStats<Entity> {
        &mut self.0
    }
}
