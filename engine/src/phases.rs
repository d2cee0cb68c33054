//! The phases of a frame, in order, and who may touch what in each.
//!
//! [`FrameDriver::tick(&mut world, dt)`](crate::FrameDriver::tick) runs:
//!
//! | # | phase | what happens | the world is | tasklets |
//! |---|---|---|---|---|
//! | 1 | clock | game time advances by `dt`; sleepers and timeouts that are due wake | untouched | none run |
//! | 2 | clock | tasklets that called `be_nice()` in the previous frame wake, once each | untouched | none run |
//! | 3 | systems | the systems run in the order they were added, then actors whose entities were despawned behind the driver's back are stopped | the systems', exclusively (`&mut World`) | none run (except a killed one, unwinding) |
//! | 4 | tasklets | ready tasklets are resumed in FIFO order until none is ready or the budget is spent; those left keep their order and run first next frame | lent to the tasklets, one slice at a time | run |
//! | 5 | commands | the watchdog acts on overruns; actors that returned, panicked or held the world are handled; commands queued by tasklets are applied in order | the driver's (`&mut World`) | none run (except killed ones, unwinding) |
//! | 6 | stats | [`FrameStats`](crate::FrameStats) are filled in and returned | untouched | none run |
//!
//! ## Who may touch what
//!
//! - **Systems** (phase 3) own the world: they read and write any component, spawn
//!   and despawn entities, and start or stop actors through their
//!   [`SystemContext`](crate::SystemContext) (which takes effect at once). They talk to
//!   tasklets by putting events into inboxes ([`SystemContext::send`], never blocks;
//!   the behaviour gets them in phase 4 of the same frame) and by draining the command
//!   queues behaviours fill ([`CommandQueue`](crate::CommandQueue)). Systems never
//!   block, and never hand a value over a rendezvous `uthread::Channel` to an actor:
//!   either would run tasklets there and then, outside phase 4, where the world is not
//!   theirs (an actor that then touches the world panics with a message saying so, and
//!   is reported like any crash).
//! - **Behaviours** (phase 4) touch the world only through their
//!   [`Context`](crate::Context), during their own slice: they read and write their own
//!   entity's components, and read any other entity's and query the world. The borrow
//!   checker keeps component references from living across a yield or a blocking call.
//!   Changes to other entities go through inboxes (to actors) or command queues (to
//!   systems); structural changes (spawn, despawn, insert, remove) are queued and
//!   applied in phase 5 of the same frame.
//! - **The host** (between ticks) owns the world and the driver: it may spawn, despawn
//!   and send events ([`FrameDriver::send`](crate::FrameDriver::send)); events wait in
//!   the inbox until phase 4. The same rule as for systems holds: no blocking uthread
//!   calls, no channel rendezvous with actors.
//! - **A killed tasklet** unwinds at once, wherever the kill came from (a system's
//!   despawn in phase 3, a despawn command in phase 5, the host); the world is lent to
//!   it while it unwinds, so destructors that use the context still see it.
//!
//! ## Budgets
//!
//! `Budget::Time(d)` (normal play) stops phase 4 once `d` of wall time has passed; it is
//! checked before each slice, so no slice starts after the budget is spent and a frame
//! overshoots by at most one slice ([`FrameStats::overshoot`](crate::FrameStats)).
//! `Budget::Resumes(n)` (deterministic) stops after `n` slices. Either way a tasklet
//! left over runs first next frame, so nobody starves.
//!
//! [`SystemContext::send`]: crate::SystemContext::send
