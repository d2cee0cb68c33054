//! Hand-offs: an entity leaves one shard at the end of a frame, as the components its
//! cargo type packs, and arrives on another at the start of the next frame, where a
//! fresh behaviour starts from them. The state travels, not the stack.

use std::error::Error as StdError;
use std::fmt;

use hecs::{DynamicBundle, Entity, EntityRef, World};
use uthread::WaitError;

use super::id::ShardId;
use super::parcel::{self, Body};
use crate::actor::Actor;
use crate::context::Context;
use crate::driver::FrameDriver;
use crate::error::SpawnError;

/// What of an entity travels when it is handed to another shard: the components it
/// needs there, copied out of the world. Its behaviour does not travel: the receiving
/// shard's arrival handler (see [`Shard::on_arrival`](super::Shard::on_arrival)) starts
/// a fresh one from the cargo.
///
/// # Examples
///
/// ```
/// use engine::shard::Cargo;
///
/// #[derive(Clone, Copy)]
/// struct Hull(u32);
/// #[derive(Clone, Copy)]
/// struct Fuel(u32);
///
/// /// A freighter's hull and fuel go through the gate; its autopilot does not.
/// struct Freighter { hull: Hull, fuel: Fuel }
///
/// impl Cargo for Freighter {
///     fn pack(entity: hecs::EntityRef<'_>) -> Option<Freighter> {
///         Some(Freighter {
///             hull: *entity.get::<&Hull>()?,
///             fuel: *entity.get::<&Fuel>()?,
///         })
///     }
/// }
/// ```
pub trait Cargo: Send + Sized + 'static {
    /// Copies what travels out of `entity`; `None` when it lacks something that must
    /// travel (the hand-off is then refused and the entity stays where it is).
    fn pack(entity: EntityRef<'_>) -> Option<Self>;
}

/// A behaviour's request to leave, queued through its context's command queue and
/// carried out by its shard after the frame.
pub(crate) struct Departure {
    pub(crate) to: ShardId,
    pub(crate) pack: fn(EntityRef<'_>) -> Option<Box<dyn Body>>,
    pub(crate) cargo: &'static str,
}

fn pack_body<C: Cargo>(entity: EntityRef<'_>) -> Option<Box<dyn Body>> {
    C::pack(entity).map(parcel::body)
}

/// Why a shard would not hand an entity over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The cluster has no such shard.
    NoSuchShard(ShardId),
    /// The entity lacks a component its cargo needs (`Cargo::pack` returned `None`).
    CannotPack {
        /// The cargo type.
        cargo: &'static str,
    },
    /// The shard's channel is closed (the cluster is stopping).
    Closed(ShardId),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoSuchShard(to) => write!(f, "the cluster has no {to}"),
            Refusal::CannotPack { cargo } => {
                write!(f, "the entity lacks a component that {cargo} needs")
            }
            Refusal::Closed(to) => write!(f, "{to} takes no more entities"),
        }
    }
}

/// The refusal, as the shard puts it into the behaviour's inbox.
pub(crate) struct Refused(pub(crate) Refusal);

/// Why [`hand_off`] returned: the entity did not leave.
#[derive(Debug)]
pub enum HandOffError {
    /// The shard would not hand the entity over (the behaviour carries on).
    Refused(Refusal),
    /// Nothing took the entity at the end of the frame: its driver does not run as a
    /// [`Shard`](super::Shard) of a cluster.
    NotTaken,
    /// The wait for the end of the frame was interrupted (an error thrown in).
    Interrupted(WaitError),
}

impl fmt::Display for HandOffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandOffError::Refused(why) => write!(f, "hand-off refused: {why}"),
            HandOffError::NotTaken => f.write_str(
                "hand-off not taken: the actor's driver does not run as a shard of a cluster",
            ),
            HandOffError::Interrupted(e) => write!(f, "hand-off interrupted: {e}"),
        }
    }
}

impl StdError for HandOffError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            HandOffError::Interrupted(e) => Some(e),
            _ => None,
        }
    }
}

/// Hands this actor's entity over to shard `to`: at the end of this frame its shard packs
/// the entity's [`Cargo`] `C`, kills its tasklet (the stack unwinds, destructors run),
/// despawns it and sends the cargo; at the start of `to`'s next frame the arrival
/// handler for `C` spawns it there with a fresh behaviour.
///
/// **On success this call does not return**: the behaviour ends inside it. It returns
/// only when the entity did not leave, saying why; the behaviour then carries on where
/// it is. If the entity is despawned, or its behaviour killed, before the frame ends,
/// nothing leaves (counted as [`cancelled`](super::HandOffCounts::cancelled)).
///
/// Like [`Context::despawn`], this is applied after the tasklet phase, so the entity's
/// components are those at the end of the frame.
///
/// # Examples
///
/// See the [module's example](super).
pub fn hand_off<C: Cargo>(ctx: &mut Context, to: ShardId) -> HandOffError {
    ctx.command(Departure {
        to,
        pack: pack_body::<C>,
        cargo: std::any::type_name::<C>(),
    });
    // The shard takes the entity (and kills this tasklet) before the next frame; waking
    // up means it did not.
    if let Err(e) = ctx.be_nice() {
        return HandOffError::Interrupted(e);
    }
    match ctx.try_recv::<Refused>() {
        Ok(Refused(why)) => HandOffError::Refused(why),
        Err(_) => HandOffError::NotTaken,
    }
}

/// An entity arriving on a shard, as its arrival handler sees it: the world and driver to
/// spawn it into, and where it came from.
pub struct Arrival<'a> {
    pub(crate) world: &'a mut World,
    pub(crate) driver: &'a mut FrameDriver,
    pub(crate) from: ShardId,
    pub(crate) frame: u64,
    pub(crate) came_back: bool,
}

impl fmt::Debug for Arrival<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arrival")
            .field("from", &self.from)
            .field("frame", &self.frame)
            .field("came_back", &self.came_back)
            .finish_non_exhaustive()
    }
}

impl Arrival<'_> {
    /// The shard the entity left.
    pub fn from(&self) -> ShardId {
        self.from
    }

    /// The frame (of the shard it left) it left in.
    pub fn departed_in(&self) -> u64 {
        self.frame
    }

    /// Whether the entity is back where it left, because the shard it went to could not
    /// take it (see [`ReturnReason`](super::ReturnReason)).
    pub fn came_back(&self) -> bool {
        self.came_back
    }

    /// The world it arrives in.
    pub fn world(&mut self) -> &mut World {
        self.world
    }

    /// The driver that will run its behaviour (for its generator, say).
    pub fn driver(&mut self) -> &mut FrameDriver {
        self.driver
    }

    /// Spawns the arriving entity with `components` and starts `actor` on it; it first
    /// runs in this frame's tasklet phase.
    ///
    /// # Errors
    ///
    /// As [`FrameDriver::spawn`].
    pub fn spawn(
        &mut self,
        components: impl DynamicBundle,
        actor: Actor,
    ) -> Result<Entity, SpawnError> {
        self.driver.spawn(self.world, components, actor)
    }
}

/// An arrival handler with its cargo type erased.
pub(crate) type ArrivalHandler =
    Box<dyn FnMut(&mut Arrival<'_>, Box<dyn Body>) -> Result<Entity, SpawnError>>;

/// Erases `handler`'s cargo type.
pub(crate) fn erase<C: Cargo>(
    mut handler: impl FnMut(&mut Arrival<'_>, C) -> Result<Entity, SpawnError> + 'static,
) -> ArrivalHandler {
    Box::new(move |arrival, body| match parcel::unwrap::<C>(body) {
        Ok(cargo) => handler(arrival, cargo),
        Err(_) => unreachable!("handlers are looked up by their cargo's type"),
    })
}
