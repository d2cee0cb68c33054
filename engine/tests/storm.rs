//! Despawn storms and driver drops at scale: a tenth of the actors despawned every frame
//! (by a system, by the host and by another actor's command, in turn) while their
//! tasklets wait on inboxes, timers, locks and a semaphore, with replacements spawned
//! as fast; and a driver dropped with 10,000 actors in every state. Drop counters and
//! the stack pool prove that every actor is unwound exactly once and nothing leaks; the
//! counts (spawned, despawned, alive, events) add up every frame.
//!
//! `ENGINE_STORM_SCALE` divides the sizes (the valgrind run uses 10).

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::{Drops, Token, DT};
use engine::{Actor, Budget, Context, FrameDriver, StackStrategy};
use hecs::{Entity, World};
use uthread::{Channel, Lock, Semaphore};

fn scale() -> usize {
    std::env::var("ENGINE_STORM_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1usize)
        .max(1)
}

/// What an actor of the storm waits on, most of its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Inbox,
    Timer,
    Lock,
    Semaphore,
    Nice,
    InboxTimeout,
}

const WAITS: [Wait; 6] = [
    Wait::Inbox,
    Wait::Timer,
    Wait::Lock,
    Wait::Semaphore,
    Wait::Nice,
    Wait::InboxTimeout,
];

/// The component that marks a storm actor.
#[derive(Clone, Copy, Debug)]
struct Member(#[allow(dead_code, reason = "shows in Debug output")] Wait);

/// An inbox event carrying a counted token: dropped once, by the actor that takes it or
/// with the inbox of an actor despawned before it could.
struct Ping(#[allow(dead_code, reason = "held for its destructor")] Token);

/// The assassin's orders: despawn these.
struct Targets(Vec<Entity>);

/// What the storm actors share.
#[derive(Clone)]
struct Shared {
    locks: Vec<Lock>,
    sem: Semaphore,
    /// One token per actor, moved into its behaviour: dropped when it ends, whether it
    /// started or not.
    lives: Drops,
    /// Slices run by storm actors (to show that they do run between the storms).
    turns: Rc<Cell<u64>>,
}

const PERMITS: usize = 3;

impl Shared {
    fn new() -> Shared {
        Shared {
            locks: (0..4)
                .map(|i| Lock::with_name(&format!("lock {i}")))
                .collect(),
            sem: Semaphore::new(PERMITS),
            lives: Drops::new(),
            turns: Rc::new(Cell::new(0)),
        }
    }

    fn turn(&self) {
        self.turns.set(self.turns.get() + 1);
    }
}

/// A storm actor: waits on `wait` over and over, for a random few frames each time.
fn member(shared: &Shared, wait: Wait, n: usize) -> Actor {
    let s = shared.clone();
    let life = shared.lives.token();
    Actor::new(move |ctx: &mut Context| {
        let _life = life;
        let frames = |ctx: &mut Context, most: u64| DT * (1 + ctx.rng().below(most) as u32);
        loop {
            s.turn();
            match wait {
                Wait::Inbox => {
                    let Ok(Ping(token)) = ctx.recv::<Ping>() else {
                        return;
                    };
                    drop(token);
                }
                Wait::Timer => {
                    let d = frames(ctx, 40);
                    ctx.sleep(d).unwrap();
                }
                Wait::Lock => {
                    let lock = s.locks[n % s.locks.len()].clone();
                    let guard = ctx.blocking(|| lock.lock()).unwrap();
                    let d = frames(ctx, 4);
                    ctx.sleep(d).unwrap();
                    drop(guard);
                }
                Wait::Semaphore => {
                    let sem = s.sem.clone();
                    let permit = ctx.blocking(|| sem.acquire()).unwrap();
                    let d = frames(ctx, 4);
                    ctx.sleep(d).unwrap();
                    drop(permit);
                }
                Wait::Nice => ctx.be_nice().unwrap(),
                Wait::InboxTimeout => {
                    let d = frames(ctx, 10);
                    match ctx.recv_timeout::<Ping>(d) {
                        Ok(Ping(token)) => drop(token),
                        Err(uthread::ChannelError::Timeout) => {}
                        Err(_) => return,
                    }
                }
            }
        }
    })
    .name(format!("{wait:?} {n}"))
}

/// Who despawns the victims of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reaper {
    System,
    Host,
    Actor,
}

struct Storm {
    world: World,
    driver: FrameDriver,
    shared: Shared,
    assassin: Entity,
    /// Victims chosen by the host for the current frame (reaped by the system, the host
    /// or the assassin).
    victims: Rc<std::cell::RefCell<Vec<Entity>>>,
    reaper: Rc<Cell<Reaper>>,
    spawned: Rc<Cell<usize>>,
    despawned: Rc<Cell<usize>>,
    pings: Drops,
    pings_sent: usize,
    /// How many members the system keeps alive (0 once the storm is over).
    population: Rc<Cell<usize>>,
}

impl Storm {
    fn new(actors: usize, strategy: StackStrategy, seed: u64) -> Storm {
        let shared = Shared::new();
        let mut world = World::new();
        let mut driver = FrameDriver::builder()
            .budget(Budget::Unlimited)
            .seed(seed)
            .stack_size(32 * 1024)
            .stack_strategy(strategy)
            .build();
        let victims: Rc<std::cell::RefCell<Vec<Entity>>> = Rc::default();
        let reaper = Rc::new(Cell::new(Reaper::System));
        let spawned = Rc::new(Cell::new(0));
        let despawned = Rc::new(Cell::new(0));
        let next_name = Rc::new(Cell::new(0usize));
        let population = Rc::new(Cell::new(actors));
        // The system reaps on its turn, then tops the population back up.
        let (v, r, sp, de, nn, sh, pop) = (
            victims.clone(),
            reaper.clone(),
            spawned.clone(),
            despawned.clone(),
            next_name.clone(),
            shared.clone(),
            population.clone(),
        );
        driver.add_system("storm", move |sys| {
            if r.get() == Reaper::System {
                for e in v.borrow_mut().drain(..) {
                    assert!(sys.despawn(e), "a victim was already gone");
                    de.set(de.get() + 1);
                }
            }
            let members = sys.world().query::<&Member>().iter().count();
            for _ in members..pop.get() {
                let n = nn.get();
                nn.set(n + 1);
                let wait = WAITS[sys.rng().below(WAITS.len() as u64) as usize];
                sys.spawn((Member(wait),), member(&sh, wait, n)).unwrap();
                sp.set(sp.get() + 1);
            }
        });
        let de = despawned.clone();
        let assassin = driver
            .spawn(
                &mut world,
                (),
                Actor::new(move |ctx| {
                    while let Ok(Targets(targets)) = ctx.recv::<Targets>() {
                        for e in targets {
                            ctx.despawn(e);
                            de.set(de.get() + 1);
                        }
                    }
                })
                .name("assassin"),
            )
            .unwrap();
        Storm {
            world,
            driver,
            shared,
            assassin,
            victims,
            reaper,
            spawned,
            despawned,
            pings: Drops::new(),
            pings_sent: 0,
            population,
        }
    }

    fn members(&self) -> Vec<Entity> {
        let mut members: Vec<Entity> = self
            .world
            .query::<(Entity, &Member)>()
            .iter()
            .map(|(e, _)| e)
            .collect();
        members.sort();
        members
    }

    /// One frame: pings for a few actors, a tenth of them chosen to die (reaped by
    /// `reaper`), then the tick.
    fn frame(&mut self, reaper: Reaper) {
        let members = self.members();
        let rng = self.driver.rng();
        let mut chosen = Vec::new();
        let mut pinged = Vec::new();
        for &e in &members {
            if rng.chance(0.1) {
                chosen.push(e);
            } else if rng.chance(0.2) {
                pinged.push(e);
            }
        }
        for e in pinged {
            if self.driver.send(e, Ping(self.pings.token())).is_ok() {
                self.pings_sent += 1;
            }
        }
        self.reaper.set(reaper);
        match reaper {
            Reaper::System => *self.victims.borrow_mut() = chosen,
            Reaper::Host => {
                for e in chosen {
                    assert!(self.driver.despawn(&mut self.world, e));
                    self.despawned.set(self.despawned.get() + 1);
                }
            }
            Reaper::Actor => self.driver.send(self.assassin, Targets(chosen)).unwrap(),
        }
        let stats = self.driver.tick(&mut self.world, DT);
        assert!(
            stats.incidents.is_empty(),
            "frame {}: {:?}",
            stats.frame,
            stats.incidents
        );
        self.check();
    }

    /// The books balance: every spawned actor is alive or was despawned, each despawned
    /// one dropped its life token once, every live actor holds one stack.
    fn check(&self) {
        let alive = self.members().len();
        let (spawned, despawned) = (self.spawned.get(), self.despawned.get());
        assert_eq!(spawned, alive + despawned, "spawned = alive + despawned");
        assert_eq!(
            self.shared.lives.count() as usize,
            despawned,
            "each despawned actor unwound exactly once"
        );
        assert_eq!(
            self.driver.actor_count(),
            alive + 1,
            "members + the assassin"
        );
        let stacks = self.driver.scheduler().stack_stats();
        assert_eq!(
            stacks.in_use + stacks.copying,
            alive + 1,
            "one stack per live actor, none leaked"
        );
        for lock in &self.shared.locks {
            if let Some(owner) = lock.owner() {
                assert!(owner.is_alive(), "{lock:?} held by the dead");
            }
        }
        assert!(
            self.shared.sem.available() <= PERMITS,
            "no permit was created"
        );
        let sched = self.driver.scheduler();
        assert!(
            sched.timer_count() <= alive,
            "no timer of a dead actor left"
        );
        assert_eq!(sched.alive_count(), alive + 1);
    }

    /// Despawns everyone and checks that nothing is left anywhere.
    fn finish(mut self) -> (usize, usize) {
        self.population.set(0);
        for e in self.members() {
            assert!(self.driver.despawn(&mut self.world, e));
            self.despawned.set(self.despawned.get() + 1);
        }
        self.driver.despawn(&mut self.world, self.assassin);
        self.driver.tick(&mut self.world, DT);
        let spawned = self.spawned.get();
        assert_eq!(self.despawned.get(), spawned);
        assert_eq!(self.shared.lives.count() as usize, spawned);
        assert_eq!(
            self.pings.count() as usize,
            self.pings_sent,
            "every ping dropped once"
        );
        for lock in &self.shared.locks {
            assert!(!lock.is_locked(), "{lock:?}");
            assert_eq!(lock.waiting(), 0, "{lock:?}");
        }
        assert_eq!(self.shared.sem.available(), PERMITS);
        assert_eq!(self.shared.sem.waiting(), 0);
        let sched = self.driver.scheduler();
        assert_eq!(sched.timer_count(), 0);
        assert_eq!(sched.nice_count(), 0);
        assert_eq!(sched.alive_count(), 0);
        let stacks = sched.stack_stats();
        assert_eq!(
            stacks.in_use + stacks.copying,
            0,
            "every stack back in the pool"
        );
        assert!(self.world.is_empty());
        (spawned, self.pings_sent)
    }
}

fn despawn_storm(strategy: StackStrategy) {
    let actors = 1000 / scale();
    let frames = 200 / scale().min(4);
    let mut storm = Storm::new(actors, strategy, 42);
    // The first tick spawns the population; every frame after it loses a tenth.
    storm.driver.tick(&mut storm.world, DT);
    storm.check();
    let turns_before = storm.shared.turns.get();
    for frame in 0..frames {
        let reaper = [Reaper::System, Reaper::Host, Reaper::Actor][frame % 3];
        storm.frame(reaper);
    }
    let turns = storm.shared.turns.get() - turns_before;
    assert!(
        turns > (actors * frames) as u64 / 8,
        "the actors kept running between the storms: {turns} turns"
    );
    let lost = storm.despawned.get();
    assert!(
        lost >= actors * frames / 20,
        "about a tenth despawned each frame: {lost}"
    );
    let pool = storm.driver.scheduler().stack_stats();
    let (spawned, pings) = storm.finish();
    eprintln!(
        "{strategy:?}: {frames} frames, {actors} actors, {spawned} spawned and despawned, \
         {turns} turns, {pings} pings, stacks mapped {} reused {}",
        pool.mapped, pool.reused
    );
}

#[test]
fn a_despawn_storm_on_dedicated_stacks_loses_nothing() {
    despawn_storm(StackStrategy::dedicated());
}

#[test]
fn a_despawn_storm_on_copied_stacks_loses_nothing() {
    despawn_storm(common::copying());
}

/// The states an actor can be in when its driver is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NeverStarted,
    Inbox,
    Sleeping,
    Nice,
    LockHolder,
    LockWaiter,
    SemaphoreWaiter,
    ChannelReceiver,
    Deferred,
    Returned,
}

const STATES: [State; 10] = [
    State::NeverStarted,
    State::Inbox,
    State::Sleeping,
    State::Nice,
    State::LockHolder,
    State::LockWaiter,
    State::SemaphoreWaiter,
    State::ChannelReceiver,
    State::Deferred,
    State::Returned,
];

fn drop_driver_with_every_state(strategy: StackStrategy) {
    // 10,000 live actors (the returned ones come on top).
    let per = (10_000 / scale()).div_ceil(STATES.len() - 1);
    let lives = Drops::new();
    let events = Drops::new();
    let lock = Lock::with_name("contended");
    let sem = Semaphore::new(0);
    let channel = Channel::<Token>::with_name("nobody sends");
    let mut world = World::new();
    let mut driver = FrameDriver::builder()
        .budget(Budget::Unlimited)
        .stack_size(32 * 1024)
        .stack_strategy(strategy)
        .build();
    let spawn = |driver: &mut FrameDriver, world: &mut World, state: State| {
        let life = lives.token();
        let (lock, sem, channel) = (lock.clone(), sem.clone(), channel.clone());
        let actor = Actor::new(move |ctx| {
            let _life = life;
            match state {
                State::NeverStarted | State::Deferred | State::Returned => {}
                State::Inbox => drop(ctx.recv::<Ping>()),
                State::Sleeping => drop(ctx.sleep(Duration::from_secs(3600))),
                State::Nice => loop {
                    ctx.be_nice().unwrap();
                },
                State::LockHolder | State::LockWaiter => {
                    let _guard = ctx.blocking(|| lock.lock()).unwrap();
                    ctx.sleep(Duration::from_secs(3600)).unwrap();
                }
                State::SemaphoreWaiter => drop(ctx.blocking(|| sem.acquire())),
                State::ChannelReceiver => drop(ctx.blocking(|| channel.receive())),
            }
            if state == State::Deferred {
                loop {
                    ctx.yield_now().unwrap();
                }
            }
        });
        driver.spawn(world, (state as u8,), actor).unwrap()
    };
    // Everything but the never started and the deferred, then run until all wait.
    let mut inboxes = Vec::new();
    for state in STATES {
        if matches!(state, State::NeverStarted | State::Deferred) {
            continue;
        }
        for _ in 0..per {
            let e = spawn(&mut driver, &mut world, state);
            if state == State::Inbox {
                inboxes.push(e);
            }
        }
    }
    driver.tick(&mut world, DT);
    // Deferred ones yield at every slice. Next frame the queue holds them, then the
    // be_nice waiters woken for it: a budget of twice `per` resumes runs each once,
    // leaving the deferred ones queued and the nice ones waiting for the frame after.
    for _ in 0..per {
        spawn(&mut driver, &mut world, State::Deferred);
    }
    driver.set_budget(Budget::Resumes(2 * per as u64));
    driver.tick(&mut world, DT);
    // Events that will never be read, and actors that will never start.
    for &e in &inboxes[..per / 2] {
        driver.send(e, 1u8).unwrap(); // an inbox type nobody waits on
    }
    for &e in &inboxes[per / 2..] {
        driver.send(e, Ping(events.token())).unwrap();
    }
    for _ in 0..per {
        spawn(&mut driver, &mut world, State::NeverStarted);
    }
    let sched = driver.scheduler();
    assert_eq!(lock.waiting(), 2 * per - 1, "one holder, the rest wait");
    assert_eq!(sem.waiting(), per);
    assert_eq!(channel.balance(), -(per as isize));
    assert_eq!(sched.nice_count(), per);
    assert_eq!(
        sched.scheduled_count(),
        2 * per + (per - per / 2),
        "deferred, never started, and inbox waiters handed a ping"
    );
    assert_eq!(
        sched.timer_count(),
        per + 1,
        "the sleepers and the lock holder"
    );
    let returned = per as u32;
    assert_eq!(lives.count(), returned, "only the returned ones ended");
    let actors = driver.actor_count();
    let started = std::time::Instant::now();
    drop(driver);
    eprintln!(
        "{strategy:?}: dropped a driver with {actors} actors in {} states in {:?}",
        STATES.len(),
        started.elapsed()
    );
    assert_eq!(
        lives.count() as usize,
        per * STATES.len(),
        "every behaviour dropped once"
    );
    assert_eq!(
        events.count() as usize,
        per - per / 2,
        "undelivered events dropped once"
    );
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
    assert_eq!(sem.waiting(), 0);
    assert_eq!(channel.balance(), 0);
    assert_eq!(
        world.len() as usize,
        per * STATES.len(),
        "the world is the host's"
    );
}

#[test]
fn dropping_a_driver_with_ten_thousand_actors_in_every_state_on_dedicated_stacks() {
    drop_driver_with_every_state(StackStrategy::dedicated());
}

#[test]
fn dropping_a_driver_with_ten_thousand_actors_in_every_state_on_copied_stacks() {
    drop_driver_with_every_state(common::copying());
}
