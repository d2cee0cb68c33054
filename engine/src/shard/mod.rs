//! Shards: a game world split over several threads, one frame driver per thread-owned
//! world, as EVE Online ran one solar system per server node.
//!
//! Tasklets are `!Send`: each belongs to one scheduler on one thread. So the unit of
//! scale-out is a **shard**: a hecs `World` plus the [`FrameDriver`](crate::FrameDriver)
//! that runs it, made on its thread and never leaving it. A [`Cluster`] runs N shards on
//! T threads (T may be 1), all ticking on one frame clock, and carries what crosses
//! between them at frame boundaries:
//!
//! - **Messages.** An [`Outbox`] sends any `Send` value to a shard's [`Mailbox`] for that
//!   type, or into an actor's inbox on any shard (by [`Address`]). The transport is
//!   uthread's [`RemoteSender`](uthread::RemoteSender); the receiving shard puts what is
//!   due into mailboxes and inboxes at the start of its next frame, which wakes the
//!   tasklets waiting there.
//! - **Entities.** A behaviour calls [`hand_off`] to move its entity to another shard:
//!   at the end of frame F its [`Cargo`] (the components that travel) is packed, its
//!   tasklet killed (the stack unwinds) and its entity despawned; at the start of frame
//!   F + 1 the other shard's arrival handler spawns it with a fresh behaviour. The state
//!   travels, not the stack.
//!
//! Every message is delivered, returned to its sender (as a [`Returned`], or a
//! hand-off's entity back where it left) or dropped, and each shard counts which
//! ([`MessageCounts`]); summed over a stopped cluster the counts balance. A message
//! still in transit when the cluster stops is dropped and described; so is one whose
//! arrival handler panicked. A panic in a shard's system fails that shard alone,
//! reported with the shard's name ([`ShardFailure`]); what is sent to it afterwards goes
//! back.
//!
//! **Clock.** In [`ClockMode::Lockstep`] every thread finishes frame F before any starts
//! F + 1, and each shard takes in exactly the messages sent in F, ordered by sending
//! shard and sending order. With a resume-count budget and a seed, every shard's world
//! is then identical frame for frame, run after run, and on 1 thread or on N. The
//! default, [`ClockMode::FreeRunning`], has no barrier: each thread runs at its own pace,
//! at most a set number of frames ahead of the slowest, and a shard takes in whatever
//! has arrived when its frame starts (lower latency, no replay).
//!
//! Lockstep replays as long as nothing else in the shards varies: seeds come from the
//! engine (cluster seed, then shard, then actor), the budget counts resumes, and systems
//! and behaviours share nothing across shards but messages and read no wall clock. (A
//! `select` that finds several arms ready at once tries them in a rotating order kept
//! per scheduler, so it chooses the same whichever shards share its thread.)
//!
//! `docs/shards.md` in the repository says how shards would map onto processes and
//! machines.
//!
//! # Examples
//!
//! Two solar systems on two threads: on Amarr a probe jumps to Jita, and a greeting
//! goes ahead of it.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use engine::shard::{self, Cargo, Cluster, Shard, ShardId, ShardObserver};
//! use engine::{Actor, Budget, FrameDriver};
//!
//! #[derive(Clone, Copy)]
//! struct Fuel(u32);
//!
//! /// What goes through the gate: the probe's fuel.
//! struct Probe(Fuel);
//! impl Cargo for Probe {
//!     fn pack(entity: hecs::EntityRef<'_>) -> Option<Probe> {
//!         Some(Probe(*entity.get::<&Fuel>()?))
//!     }
//! }
//!
//! struct Hello(&'static str);
//!
//! /// What each shard tells the host at the end: the fuel of every probe in its world,
//! /// and the greetings it heard.
//! struct Report(Rc<RefCell<Vec<&'static str>>>);
//! impl ShardObserver for Report {
//!     type Frame = ();
//!     type End = (Vec<u32>, Vec<&'static str>);
//!     fn at_end(&mut self, shard: &mut Shard) -> Self::End {
//!         let fuel = shard.world.query::<&Fuel>().iter().map(|f| f.0).collect();
//!         (fuel, self.0.borrow().clone())
//!     }
//! }
//!
//! let jita = ShardId::new(1);
//! let cluster = Cluster::builder()
//!     .shards(["Amarr", "Jita"])
//!     .threads(2)
//!     .lockstep()
//!     .frames(3)
//!     .driver(FrameDriver::builder().budget(Budget::Resumes(100)))
//!     .start(move |shard| {
//!         // A probe arriving anywhere has burnt one unit of fuel, and idles.
//!         shard.on_arrival(|arrival, Probe(fuel)| {
//!             let idle = Actor::new(|ctx| while ctx.be_nice().is_ok() {});
//!             arrival.spawn((Fuel(fuel.0 - 1),), idle)
//!         });
//!         let heard = Rc::new(RefCell::new(Vec::new()));
//!         if shard.id() == jita {
//!             // Jita listens for greetings.
//!             let letters = shard.mailbox::<Hello>();
//!             let log = heard.clone();
//!             let listener = Actor::new(move |ctx| {
//!                 while let Ok(letter) = ctx.blocking(|| letters.recv()) {
//!                     log.borrow_mut().push(letter.message.0);
//!                 }
//!             });
//!             shard.driver.spawn(&mut shard.world, (), listener)?;
//!         } else {
//!             // Amarr greets Jita, and its probe jumps there in frame 1.
//!             shard.outbox().send(jita, Hello("probe coming"))?;
//!             let probe = Actor::new(move |ctx| {
//!                 let why = shard::hand_off::<Probe>(ctx, jita);
//!                 panic!("the probe did not leave: {why}");
//!             });
//!             shard.driver.spawn(&mut shard.world, (Fuel(10),), probe)?;
//!         }
//!         Ok(Report(heard))
//!     })
//!     .unwrap();
//! let report = cluster.join();
//! assert_eq!(report.shards[0].end, Some((vec![], vec![])));
//! assert_eq!(report.shards[1].end, Some((vec![9], vec!["probe coming"])));
//! assert_eq!(report.hand_offs().arrived, 1);
//! let messages = report.messages();
//! assert_eq!((messages.sent, messages.delivered), (2, 2));
//! assert!(messages.balanced());
//! ```
//!
//! A shard, like its driver and tasklets, never leaves its thread:
//!
//! ```compile_fail
//! fn assert_send<T: Send>() {}
//! assert_send::<engine::shard::Shard>();
//! ```

mod clock;
mod cluster;
mod counts;
mod failure;
mod handoff;
mod host;
mod id;
mod letter;
mod mailbox;
mod outbox;
mod parcel;
mod report;
mod thread;

pub use clock::ClockMode;
pub use cluster::{Cluster, ClusterBuilder};
pub use counts::{DropReason, Dropped, HandOffCounts, MessageCounts, ReturnReason};
pub use failure::{ShardFailure, Stage};
pub use handoff::{hand_off, Arrival, Cargo, HandOffError, Refusal};
pub use host::Shard;
pub use id::{Address, ShardId};
pub use letter::{Destination, Letter, Returned};
pub use mailbox::Mailbox;
pub use outbox::{Outbox, PostError};
pub use report::{ClusterReport, ShardObserver, ShardReport, StartError, ThreadReport, Update};
pub use thread::SetupError;
