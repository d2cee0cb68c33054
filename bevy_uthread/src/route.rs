//! Feeding scripts' inboxes from Bevy: buffered messages (copied to every script that
//! opened an inbox for their type) and entity events (to their target's inbox).

use bevy_app::App;
use bevy_ecs::event::EntityEvent;
use bevy_ecs::message::{Message, MessageCursor, Messages};
use bevy_ecs::observer::On;
use bevy_ecs::system::NonSend;
use bevy_ecs::world::World;

use crate::hub::Hub;
use crate::runtime::ScriptRuntime;

/// Registers Bevy message and event types whose values scripts receive in their
/// inboxes. Add [`UthreadPlugin`](crate::UthreadPlugin) first.
///
/// # Examples
///
/// ```
/// use bevy_app::App;
/// use bevy_ecs::prelude::*;
/// use bevy_uthread::{Budget, Script, ScriptAppExt, UthreadPlugin};
///
/// #[derive(Message, Clone)]
/// struct Alarm { x: i32 }
/// #[derive(EntityEvent, Clone)]
/// struct Poke { entity: Entity }
/// #[derive(Component, Default)]
/// struct Heard(Vec<&'static str>);
///
/// let mut app = App::new();
/// app.add_plugins(UthreadPlugin::default().budget(Budget::Resumes(1_000)))
///     .add_script_message::<Alarm>()
///     .add_script_event::<Poke>();
/// let guard = app.world_mut().spawn((Heard::default(), Script::new(|ctx| {
///     let alarms = ctx.inbox::<Alarm>(); // open it: broadcasts reach open inboxes
///     let pokes = ctx.inbox::<Poke>();
///     loop {
///         let what = ctx.select(|s| s.recv(&alarms, |_| "alarm").recv(&pokes, |_| "poke"));
///         let Ok(what) = what else { return };
///         ctx.update(|h: &mut Heard| h.0.push(what));
///     }
/// }))).id();
/// app.update(); // the guard starts and waits
/// app.world_mut().write_message(Alarm { x: 3 });
/// app.world_mut().trigger(Poke { entity: guard });
/// app.update();
/// assert_eq!(app.world().get::<Heard>(guard).unwrap().0, ["poke", "alarm"]);
/// ```
pub trait ScriptAppExt {
    /// Registers message type `M` (as `App::add_message` does) and copies each message
    /// written into every inbox for `M` that a script has open, in the script phase's
    /// routing step (messages written later in the frame arrive next frame).
    fn add_script_message<M: Message + Clone>(&mut self) -> &mut Self;

    /// Delivers every triggered event of type `E` to its target's inbox (made then if
    /// the script has none), at once; events whose target runs no script are dropped.
    fn add_script_event<E: EntityEvent + Clone>(&mut self) -> &mut Self;
}

impl ScriptAppExt for App {
    fn add_script_message<M: Message + Clone>(&mut self) -> &mut Self {
        self.add_message::<M>();
        let Some(runtime) = self.world().get_non_send::<ScriptRuntime>() else {
            log::error!(
                "add_script_message::<{}>: add UthreadPlugin first; the messages will not \
                 reach scripts",
                std::any::type_name::<M>()
            );
            return self;
        };
        let mut cursor = MessageCursor::<M>::default();
        runtime
            .routers
            .borrow_mut()
            .push(Box::new(move |world: &World, hub: &Hub| {
                if let Some(messages) = world.get_resource::<Messages<M>>() {
                    for message in cursor.read(messages) {
                        hub.broadcast(message);
                    }
                }
            }));
        self
    }

    fn add_script_event<E: EntityEvent + Clone>(&mut self) -> &mut Self {
        self.add_observer(
            |event: On<'_, '_, E>, runtime: NonSend<'_, ScriptRuntime>| {
                let _ = runtime.send(event.event_target(), event.event().clone());
            },
        )
    }
}
