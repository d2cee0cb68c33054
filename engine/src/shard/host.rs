//! One shard: its world, its frame driver, and what it does around each tick (deliver
//! what other shards sent, hand departing entities over), with everything counted.

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hecs::{Entity, World};
use uthread::RemoteReceiver;

use super::counts::{DropReason, Dropped, HandOffCounts, MessageCounts, ReturnReason};
use super::failure::{panic_message, ShardFailure, Stage};
use super::handoff::{self, Arrival, ArrivalHandler, Cargo, Departure, Refusal, Refused};
use super::id::ShardId;
use super::mailbox::{ErasedMailbox, Mailbox};
use super::outbox::Outbox;
use super::parcel::{Parcel, Route};
use crate::command::{CommandQueue, Sent};
use crate::driver::FrameDriver;
use crate::error::SpawnError;

/// One shard of a cluster: a world and the frame driver that runs it, on the thread
/// that owns them, plus the shard's mailboxes, arrival handlers and outbox.
///
/// The cluster makes each shard on its thread and hands it to the set-up closure
/// (see [`ClusterBuilder::start`](super::ClusterBuilder::start)), which fills the world,
/// adds systems and actors to the driver, registers mailboxes and arrival handlers, and
/// takes [`Outbox`] handles for whatever sends. Then, every frame, the shard:
///
/// 1. delivers the messages due (in lockstep, all those sent in the previous frame, by
///    sending shard and in the order each sent them): into mailboxes, into actors'
///    inboxes, or to an arrival handler that spawns a handed-off entity;
/// 2. ticks its driver (the phases of [`phases`](crate::phases));
/// 3. hands over the entities whose behaviours called [`hand_off`](super::hand_off).
///
/// A panic in a system, an arrival handler or the observer fails the shard alone (see
/// [`ShardFailure`]); a behaviour's panic is the driver's business as usual.
pub struct Shard {
    /// The shard's world.
    pub world: World,
    /// The shard's frame driver: its scheduler, systems and actors.
    pub driver: FrameDriver,
    id: ShardId,
    name: Arc<str>,
    lockstep: bool,
    outbox: Outbox,
    inbound: RemoteReceiver<Parcel>,
    /// Received, not yet due (lockstep: sent in this frame or later).
    pending: Vec<Parcel>,
    /// Due this frame, being delivered in order (kept here so that a handler's panic
    /// loses none of them).
    due: VecDeque<Parcel>,
    /// The parcel given to an arrival handler, until it returns.
    in_hand: Option<Dropped>,
    mailboxes: HashMap<TypeId, Box<dyn ErasedMailbox>>,
    arrivals: HashMap<TypeId, ArrivalHandler>,
    departures: CommandQueue<Departure>,
    frame: u64,
    /// Frames run to the end (not counting one cut short by a failure).
    frames_run: u64,
    failure: Option<ShardFailure>,
    /// Sum of the driver's tasklet phases.
    tasklet_time: Duration,
    /// Sum of whole steps (delivery, tick, departures).
    busy_time: Duration,
}

impl fmt::Debug for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shard")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("frame", &self.frame)
            .field("entities", &self.world.len())
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl Shard {
    pub(crate) fn new(
        id: ShardId,
        name: Arc<str>,
        lockstep: bool,
        driver: FrameDriver,
        inbound: RemoteReceiver<Parcel>,
        outbox: Outbox,
    ) -> Shard {
        let departures = driver.command_queue::<Departure>();
        Shard {
            world: World::new(),
            driver,
            id,
            name,
            lockstep,
            outbox,
            inbound,
            pending: Vec::new(),
            due: VecDeque::new(),
            in_hand: None,
            mailboxes: HashMap::new(),
            arrivals: HashMap::new(),
            departures,
            frame: 0,
            frames_run: 0,
            failure: None,
            tasklet_time: Duration::ZERO,
            busy_time: Duration::ZERO,
        }
    }

    /// This shard's number.
    pub fn id(&self) -> ShardId {
        self.id
    }

    /// This shard's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many shards the cluster has.
    pub fn shard_count(&self) -> usize {
        self.outbox.shard_count()
    }

    /// The number of the last frame run (0 in set-up).
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// A handle to send messages from this shard (clone it into systems and
    /// behaviours).
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// This shard's mailbox for messages of type `T`, made on first use. Register it in
    /// set-up: a message of a type the shard has no mailbox for goes back to its
    /// sender.
    pub fn mailbox<T: Send + 'static>(&mut self) -> Mailbox<T> {
        let id = self.id;
        let mailbox = self
            .mailboxes
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(Mailbox::<T>::new(id)));
        let any: &dyn Any = mailbox.as_any();
        any.downcast_ref::<Mailbox<T>>()
            .expect("mailboxes are keyed by their message type")
            .clone()
    }

    /// Sets what happens when an entity with cargo `C` arrives (or comes back): the
    /// handler spawns it, with a fresh behaviour, through its [`Arrival`], at the start
    /// of the frame, before the systems run. Replaces an earlier handler for `C`.
    pub fn on_arrival<C: Cargo>(
        &mut self,
        handler: impl FnMut(&mut Arrival<'_>, C) -> Result<Entity, SpawnError> + 'static,
    ) {
        self.arrivals
            .insert(TypeId::of::<C>(), handoff::erase::<C>(handler));
    }

    /// What has happened so far to the messages this shard sent and received.
    pub fn messages(&self) -> MessageCounts {
        self.outbox.books().messages
    }

    /// What has happened so far to the entities handed to and from this shard.
    pub fn hand_offs(&self) -> HandOffCounts {
        self.outbox.books().hand_offs
    }

    /// The messages this shard dropped so far (the first 256; all are counted).
    pub fn dropped(&self) -> Vec<Dropped> {
        self.outbox.books().dropped.clone()
    }

    /// Why this shard stopped running frames, if it failed.
    pub fn failure(&self) -> Option<&ShardFailure> {
        self.failure.as_ref()
    }

    /// Frames run to the end (a failed shard's last frame does not count).
    pub fn frames_run(&self) -> u64 {
        self.frames_run
    }

    /// Wall time of the driver's tasklet phases, summed over every frame.
    pub fn tasklet_time(&self) -> Duration {
        self.tasklet_time
    }

    /// Wall time of whole frames (delivery, tick, hand-offs), summed.
    pub fn busy_time(&self) -> Duration {
        self.busy_time
    }

    // ---- the frame --------------------------------------------------------------------

    /// Runs frame `frame`: delivery, the tick, the hand-offs. A failed shard only sends
    /// back what reaches it.
    pub(crate) fn step(&mut self, frame: u64, dt: Duration) {
        self.frame = frame;
        self.outbox.set_frame(frame);
        if self.failure.is_some() {
            self.refuse_due(frame);
            return;
        }
        let start = Instant::now();
        let delivered = catch_unwind(AssertUnwindSafe(|| self.deliver(frame)));
        if let Err(payload) = delivered {
            return self.fail(Stage::Delivery, None, &*payload);
        }
        let ticked = catch_unwind(AssertUnwindSafe(|| {
            self.driver.tick(&mut self.world, dt).time.tasklets
        }));
        match ticked {
            Ok(tasklets) => self.tasklet_time += tasklets,
            Err(payload) => {
                let system = self.driver.interrupted_system().map(str::to_owned);
                return self.fail(Stage::Tick, system, &*payload);
            }
        }
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.depart())) {
            return self.fail(Stage::Departures, None, &*payload);
        }
        self.busy_time += start.elapsed();
        self.frames_run += 1;
    }

    /// Marks the shard failed. What it was delivering is dropped (the handler had it);
    /// what it had not yet delivered goes back to the pending parcels, to be sent back.
    pub(crate) fn fail(
        &mut self,
        stage: Stage,
        system: Option<String>,
        payload: &(dyn Any + Send),
    ) {
        if let Some(mut lost) = self.in_hand.take() {
            lost.reason = DropReason::HandlerPanicked;
            self.outbox.books().drop_one(lost);
        }
        self.pending.extend(self.due.drain(..));
        self.failure = Some(ShardFailure {
            shard: self.id,
            name: self.name.to_string(),
            frame: self.frame,
            stage,
            system,
            message: panic_message(payload),
        });
    }

    /// Moves what has arrived into `due`, in delivery order: in lockstep only what was
    /// sent before `frame` (all of which is here, since every shard finished the last
    /// frame before any began this one).
    fn collect_due(&mut self, frame: u64) {
        while let Ok(parcel) = self.inbound.try_recv() {
            self.pending.push(parcel);
        }
        if self.pending.is_empty() {
            return;
        }
        let mut due: Vec<Parcel> = if self.lockstep {
            let (due, later) = std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|p| p.stamp.frame < frame);
            self.pending = later;
            due
        } else {
            std::mem::take(&mut self.pending)
        };
        due.sort_by_key(|p| p.stamp);
        self.due.extend(due);
    }

    fn deliver(&mut self, frame: u64) {
        self.collect_due(frame);
        while let Some(mut parcel) = self.due.pop_front() {
            match parcel.returning.take() {
                None => self.receive(parcel),
                Some(reason) => self.take_back(parcel, reason),
            }
        }
    }

    /// Delivers a parcel sent here, or sends it back.
    fn receive(&mut self, mut parcel: Parcel) {
        let kind = parcel.body.kind();
        match parcel.route {
            Route::Mailbox(_) => {
                let Some(mailbox) = self.mailboxes.get(&kind) else {
                    return self.send_back(parcel, ReturnReason::NoMailbox);
                };
                match mailbox.put(parcel.body, parcel.origin, parcel.sent_frame) {
                    Ok(()) => self.outbox.books().messages.delivered += 1,
                    Err(body) => {
                        parcel.body = body;
                        self.send_back(parcel, ReturnReason::NoMailbox);
                    }
                }
            }
            Route::Actor(entity, _) => match parcel.body.into_inbox(&self.driver, entity) {
                Ok(()) => self.outbox.books().messages.delivered += 1,
                Err(body) => {
                    parcel.body = body;
                    self.send_back(parcel, ReturnReason::NoActor(entity));
                }
            },
            Route::Cargo => {
                if !self.arrivals.contains_key(&kind) {
                    return self.send_back(parcel, ReturnReason::NoArrivalHandler);
                }
                let from = parcel.origin;
                if self.arrive(parcel, from, false) {
                    let mut books = self.outbox.books();
                    books.messages.delivered += 1;
                    books.hand_offs.arrived += 1;
                }
            }
        }
    }

    /// Takes back a parcel this shard sent that could not be delivered.
    fn take_back(&mut self, parcel: Parcel, reason: ReturnReason) {
        let wrap = match parcel.route {
            Route::Mailbox(wrap) | Route::Actor(_, wrap) => wrap,
            Route::Cargo => return self.take_back_cargo(parcel, reason),
        };
        let record = describe(&parcel, DropReason::Unreturnable(reason.clone()));
        let to = parcel.destination();
        let returned = wrap(parcel.body, to, reason, parcel.sent_frame);
        // The letter says who sent it back, and when.
        let (returned_by, frame) = (parcel.destination, parcel.stamp.frame);
        let taken = match self.mailboxes.get(&returned.kind()) {
            Some(mailbox) => mailbox.put(returned, returned_by, frame).is_ok(),
            None => false,
        };
        if taken {
            self.outbox.books().messages.returned += 1;
        } else {
            self.outbox.books().drop_one(record);
        }
    }

    /// Takes back an entity that left this shard and could not be taken in.
    fn take_back_cargo(&mut self, parcel: Parcel, reason: ReturnReason) {
        if !self.arrivals.contains_key(&parcel.body.kind()) {
            return self.give_up(&parcel, DropReason::Unreturnable(reason));
        }
        let from = parcel.destination;
        if self.arrive(parcel, from, true) {
            let mut books = self.outbox.books();
            books.messages.returned += 1;
            books.hand_offs.came_back += 1;
        }
    }

    /// Gives a cargo parcel to its arrival handler (which must exist). Returns whether
    /// the entity was spawned; a failed spawn drops the parcel.
    fn arrive(&mut self, parcel: Parcel, from: ShardId, came_back: bool) -> bool {
        let record = describe(&parcel, DropReason::HandlerPanicked);
        let kind = parcel.body.kind();
        let Some(handler) = self.arrivals.get_mut(&kind) else {
            unreachable!("the caller checked for a handler");
        };
        let mut arrival = Arrival {
            world: &mut self.world,
            driver: &mut self.driver,
            from,
            frame: parcel.sent_frame,
            came_back,
        };
        self.in_hand = Some(record);
        let spawned = handler(&mut arrival, parcel.body);
        let record = self.in_hand.take();
        match (spawned, record) {
            (Ok(_), _) => true,
            (Err(e), Some(mut record)) => {
                record.reason = DropReason::ArrivalFailed(e.to_string());
                self.outbox.books().drop_one(record);
                false
            }
            (Err(_), None) => false,
        }
    }

    /// Sends an undeliverable parcel back to its origin; drops it if that cannot be.
    fn send_back(&mut self, mut parcel: Parcel, reason: ReturnReason) {
        let origin = parcel.origin;
        parcel.returning = Some(reason);
        if let Err(mut parcel) = self.outbox.forward(origin, parcel) {
            let reason = parcel.returning.take().unwrap_or(ReturnReason::ShardFailed);
            self.give_up(&parcel, DropReason::Unreturnable(reason));
        }
    }

    fn give_up(&mut self, parcel: &Parcel, reason: DropReason) {
        self.outbox.books().drop_one(describe(parcel, reason));
    }

    /// A failed shard's frame: everything due goes back (or, if it was coming back
    /// here, is dropped).
    fn refuse_due(&mut self, frame: u64) {
        self.collect_due(frame);
        while let Some(parcel) = self.due.pop_front() {
            match &parcel.returning {
                None => self.send_back(parcel, ReturnReason::ShardFailed),
                Some(reason) => {
                    let reason = DropReason::Unreturnable(reason.clone());
                    self.give_up(&parcel, reason);
                }
            }
        }
    }

    /// After the frame: hands over every entity whose behaviour asked to leave.
    fn depart(&mut self) {
        for Sent { from, command } in self.departures.drain() {
            self.depart_one(from, command);
        }
    }

    fn depart_one(&mut self, entity: Entity, departure: Departure) {
        if !self.world.contains(entity) || !self.driver.is_actor(entity) {
            self.outbox.books().hand_offs.cancelled += 1;
            return;
        }
        let to = departure.to;
        let refusal = if to.index() >= self.shard_count() {
            Some(Refusal::NoSuchShard(to))
        } else if !self.outbox.is_open(to) {
            Some(Refusal::Closed(to))
        } else {
            None
        };
        let packed = match refusal {
            Some(_) => None,
            None => self
                .world
                .entity(entity)
                .ok()
                .and_then(|e| (departure.pack)(e)),
        };
        let Some(body) = packed else {
            let why = refusal.unwrap_or(Refusal::CannotPack {
                cargo: departure.cargo,
            });
            self.outbox.books().hand_offs.refused += 1;
            let _ = self.driver.send(entity, Refused(why));
            return;
        };
        // The behaviour ends here (its stack unwinds); the state travels.
        self.driver.stop(&mut self.world, entity);
        let _ = self.world.despawn(entity);
        match self.outbox.post_body(to, Route::Cargo, body) {
            Ok(()) => self.outbox.books().hand_offs.departed += 1,
            Err(body) => {
                let mut books = self.outbox.books();
                books.messages.sent += 1;
                books.hand_offs.departed += 1;
                books.drop_one(Dropped {
                    origin: self.id,
                    destination: to,
                    frame: self.frame,
                    message_type: body.type_name(),
                    hand_off: true,
                    reason: DropReason::Closed,
                });
            }
        }
    }

    /// At the end of the run (every shard has stopped sending): whatever is still in
    /// transit to this shard is dropped, and its mailboxes close.
    pub(crate) fn drop_in_transit(&mut self) {
        while let Ok(parcel) = self.inbound.try_recv() {
            self.pending.push(parcel);
        }
        let mut left: Vec<Parcel> = self.due.drain(..).chain(self.pending.drain(..)).collect();
        left.sort_by_key(|p| p.stamp);
        for parcel in &left {
            self.give_up(parcel, DropReason::Stopped);
        }
        for mailbox in self.mailboxes.values() {
            mailbox.close();
        }
    }
}

/// A parcel's description for the dropped list.
fn describe(parcel: &Parcel, reason: DropReason) -> Dropped {
    Dropped {
        origin: parcel.origin,
        destination: parcel.destination,
        frame: parcel.sent_frame,
        message_type: parcel.body.type_name(),
        hand_off: parcel.route.is_cargo(),
        reason,
    }
}
