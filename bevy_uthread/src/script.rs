//! The `Script` component: inserting it gives its entity a tasklet running the script;
//! replacing or removing it, or despawning the entity, kills that tasklet (its stack
//! unwinds). Also the `ScriptCrashed` marker.

use std::fmt;
use std::rc::Rc;
use std::sync::{Mutex, PoisonError};

use bevy_ecs::component::Component;
use bevy_ecs::entity::Entity;
use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::world::{DeferredWorld, World};
use frame_core::{Incident, IncidentKind, OnReturn};
use uthread::{Builder, Scheduler};

use crate::context::ScriptContext;
use crate::hub::Hub;
use crate::runtime::ScriptRuntime;

type Behaviour = Box<dyn FnOnce(&mut ScriptContext) + Send>;

/// A script: plain sequential code that runs as its entity's tasklet, one slice per
/// frame or more, and may wait anywhere (for the next frame, for virtual time, for a
/// message) through its [`ScriptContext`].
///
/// Inserting a `Script` starts its tasklet at once (it first runs in the next frame's
/// script phase, see [`UthreadPlugin`](crate::UthreadPlugin)); replacing it starts the
/// new one after killing the old. Removing it, or despawning the entity, kills the
/// tasklet: its stack unwinds (destructors run) before the despawn returns. When the
/// script returns, its entity loses the `Script` component (or is despawned, with
/// [`Script::despawn_on_return`]).
///
/// # Examples
///
/// ```
/// use bevy_app::App;
/// use bevy_ecs::prelude::*;
/// use bevy_uthread::{Budget, Script, UthreadPlugin};
///
/// #[derive(Component)]
/// struct Fuel(u32);
///
/// let mut app = App::new();
/// app.add_plugins(UthreadPlugin::default().budget(Budget::Resumes(1_000)));
/// let probe = app.world_mut().spawn((
///     Fuel(3),
///     // Burn one unit per frame until empty, then vanish.
///     Script::new(|ctx| {
///         while ctx.update(|f: &mut Fuel| { f.0 -= 1; f.0 }) > Some(0) {
///             ctx.next_frame().unwrap();
///         }
///     })
///     .name("probe")
///     .despawn_on_return(),
/// )).id();
/// for _ in 0..3 {
///     app.update();
/// }
/// assert!(app.world().get_entity(probe).is_err());
/// ```
///
/// The script itself is data on an entity, so it is `Send` and `Sync` like every
/// component (its closure must be `Send`; share tasklet primitives between scripts with
/// [`ScriptContext::shared`] rather than capturing them):
///
/// ```
/// fn assert_component<T: Send + Sync + 'static>() {}
/// assert_component::<bevy_uthread::Script>();
/// ```
///
/// ```compile_fail
/// let channel = uthread::Channel::<u32>::new(); // !Send
/// bevy_uthread::Script::new(move |_| drop(channel));
/// ```
#[derive(Component)]
#[component(on_insert = Script::inserted, on_discard = Script::discarded)]
pub struct Script {
    /// Taken when the tasklet starts (a `Mutex` makes the `Send` closure `Sync`, as a
    /// component must be; it is locked once).
    behaviour: Mutex<Option<Behaviour>>,
    name: Option<String>,
    stack_size: Option<usize>,
    on_return: OnReturn,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("on_return", &self.on_return)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// A script running `behaviour`, unnamed (its tasklet is named after its entity);
    /// its entity stays when it returns.
    pub fn new(behaviour: impl FnOnce(&mut ScriptContext) + Send + 'static) -> Script {
        Script {
            behaviour: Mutex::new(Some(Box::new(behaviour))),
            name: None,
            stack_size: None,
            on_return: OnReturn::Keep,
        }
    }

    /// Names its tasklet (shown in stats, incidents and uthread's reports).
    #[must_use = "the builder returns the named script"]
    pub fn name(mut self, name: impl Into<String>) -> Script {
        self.name = Some(name.into());
        self
    }

    /// Its tasklet's usable stack size in bytes (default: the plugin's).
    #[must_use = "the builder returns the changed script"]
    pub fn stack_size(mut self, bytes: usize) -> Script {
        self.stack_size = Some(bytes);
        self
    }

    /// What happens to the entity when the script returns.
    #[must_use = "the builder returns the changed script"]
    pub fn on_return(mut self, on_return: OnReturn) -> Script {
        self.on_return = on_return;
        self
    }

    /// Shorthand for `on_return(OnReturn::Despawn)`.
    #[must_use = "the builder returns the changed script"]
    pub fn despawn_on_return(self) -> Script {
        self.on_return(OnReturn::Despawn)
    }

    /// Whether the tasklet has been started (the behaviour was taken).
    pub fn is_started(&self) -> bool {
        self.behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// The `on_insert` hook: starts the tasklet.
    fn inserted(world: DeferredWorld<'_>, hook: HookContext) {
        let entity = hook.entity;
        let Some(runtime) = world.get_non_send::<ScriptRuntime>() else {
            log::error!(
                "entity {entity}: a Script was inserted into a world without UthreadPlugin; \
                 it will not run"
            );
            return;
        };
        let (scheduler, hub) = (runtime.scheduler().clone(), runtime.hub().clone());
        let Some(script) = world.get::<Script>(entity) else {
            return;
        };
        let behaviour = script
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(behaviour) = behaviour else {
            return; // started already: the same value inserted again
        };
        let name: Rc<str> = match &script.name {
            Some(name) => name.as_str().into(),
            None => format!("script {entity}").into(),
        };
        let (stack_size, on_return) = (script.stack_size, script.on_return);
        if let Err(error) = start(
            &hub,
            &scheduler,
            entity,
            name.clone(),
            stack_size,
            on_return,
            behaviour,
        ) {
            let incident = Incident {
                frame: hub.frame.get().number + 1,
                entity: Some(entity),
                tasklet: None,
                name: name.to_string(),
                kind: IncidentKind::SpawnFailed {
                    error: error.to_string(),
                },
            };
            log::error!("{incident}");
            hub.incidents.borrow_mut().push(incident);
        }
    }

    /// The `on_discard` hook (the component is replaced or removed, or its entity
    /// despawned): forgets the script and queues the kill of its tasklet, which the
    /// world's next flush (at the end of the despawn or removal) carries out with the
    /// world lent.
    fn discarded(mut world: DeferredWorld<'_>, hook: HookContext) {
        let Some(hub) = world
            .get_non_send::<ScriptRuntime>()
            .map(|r| r.hub().clone())
        else {
            return;
        };
        let Some((tasklet, _)) = hub.forget(hook.entity) else {
            return;
        };
        hub.doomed.borrow_mut().push(tasklet);
        world.commands().queue(kill_doomed);
    }
}

/// Kills the tasklets of discarded scripts, with the world lent.
fn kill_doomed(world: &mut World) {
    let Some(runtime) = world.get_non_send::<ScriptRuntime>() else {
        return;
    };
    let (scheduler, hub) = (runtime.scheduler().clone(), runtime.hub().clone());
    let doomed = std::mem::take(&mut *hub.doomed.borrow_mut());
    scheduler.enter(|| hub.kill(world, &doomed));
}

/// Starts a script's tasklet on `entity` and registers it. It first runs in the next
/// script phase.
fn start(
    hub: &Rc<Hub>,
    scheduler: &Scheduler,
    entity: Entity,
    name: Rc<str>,
    stack_size: Option<usize>,
    on_return: OnReturn,
    behaviour: Behaviour,
) -> Result<(), uthread::SpawnError> {
    let mut ctx = ScriptContext::new(entity, name.clone(), hub.clone());
    let mut builder = Builder::new().name(&*name);
    if let Some(bytes) = stack_size {
        builder = builder.stack_size(bytes);
    }
    let handle = builder.spawn_on(scheduler, move || {
        behaviour(&mut ctx);
        ctx.returned();
    })?;
    let tasklet = handle.tasklet().clone();
    // Detach: a panic then goes to the scheduler's error handler, which maps it back to
    // the entity.
    drop(handle);
    hub.scripts
        .borrow_mut()
        .insert(entity, tasklet, name, on_return);
    hub.started.set(hub.started.get() + 1);
    Ok(())
}

/// Marks an entity whose script crashed (under
/// [`CrashPolicy::MarkCrashed`](crate::CrashPolicy::MarkCrashed)); its `Script` is
/// removed.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct ScriptCrashed {
    /// The name of the tasklet that ran the script.
    pub tasklet: String,
    /// What went wrong (the panic message, or why it was killed).
    pub reason: String,
    /// The frame it happened in.
    pub frame: u64,
}
