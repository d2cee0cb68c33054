//! Per-entity typed inboxes, for hecs entities: systems (and other actors) put events in
//! without blocking; the entity's behaviour receives them, blocking, with a timeout, or
//! inside a select.

/// The inbox of one actor for events of type `E`: an unbounded FIFO built on
/// [`uthread::Queue`] (the shared [`frame_core::Inbox`], for hecs entities).
///
/// Each actor has one inbox per event type, made on first use by either side. Senders
/// never block: [`FrameDriver::send`](crate::FrameDriver::send),
/// [`SystemContext::send`](crate::SystemContext::send) and
/// [`Context::send`](crate::Context::send). The behaviour receives with
/// [`Context::recv`](crate::Context::recv) and its variants; for a select it takes a
/// handle with [`Context::inbox`](crate::Context::inbox) and selects inside
/// [`Context::blocking`](crate::Context::blocking), since an inbox is
/// [`Receivable`](uthread::Receivable). Blocking calls live on the context, not here, so that the borrow
/// checker can keep component references out of them.
///
/// When the actor ends, its inboxes close and undelivered events are dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, FrameDriver};
///
/// struct Damaged(u32);
/// struct Healed(u32);
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::new();
/// let ship = driver
///     .spawn(&mut world, (100u32,), Actor::new(|ctx| {
///         let damage = ctx.inbox::<Damaged>();
///         let heals = ctx.inbox::<Healed>();
///         loop {
///             let change = ctx.blocking(|| {
///                 uthread::select()
///                     .recv(&damage, |Damaged(n)| -(n as i64))
///                     .recv(&heals, |Healed(n)| n as i64)
///                     .wait()
///             });
///             let Ok(change) = change else { return };
///             ctx.update(|hp: &mut u32| *hp = (*hp as i64 + change) as u32);
///         }
///     }))
///     .unwrap();
/// driver.tick(&mut world, Duration::from_millis(16)); // the ship starts and waits
/// driver.send(ship, Damaged(30)).unwrap();
/// driver.send(ship, Healed(5)).unwrap();
/// driver.tick(&mut world, Duration::from_millis(16));
/// assert_eq!(*world.get::<&u32>(ship).unwrap(), 75);
/// ```
pub type Inbox<E> = frame_core::Inbox<E, hecs::Entity>;
