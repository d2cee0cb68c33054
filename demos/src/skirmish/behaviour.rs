//! A ship's behaviour: one tasklet per ship, written as a plain script.
//!
//! Read `Pilot::fly` (below) first: find the nearest hostile, approach it, lock it
//! (locking takes time, so the script just waits), orbit at weapon range firing on every
//! cycle; break off to retreat and repair when badly damaged (and turn to fight if chased
//! down); warp out when the fleet cannot win. Every wait is also where hits arrive: the
//! weapons system puts them in this ship's inbox, and `Pilot::wait` takes them as they
//! come, so a ship that is locking, cycling its weapon or repairing still feels every hit
//! the moment it lands.
//!
//! Where a ship can go beyond its battle is a [`Gates`]: in the skirmish nowhere (a ship
//! whose fleet cannot win warps out of the game, one with nobody left to fight holds
//! position); in the galaxy, through stargates to other solar systems.

use std::rc::Rc;
use std::time::Duration;

use engine::{Actor, Context};
use hecs::Entity;
use uthread::ChannelError;

use super::{Battle, Departure, Fire, Helm, Hit, Hull, Motion};
use crate::scenario::ShipClass;
use crate::Vec2;

/// Why a ship leaves the battle (its behaviour returns and its entity is despawned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leave {
    /// Its hull gave out.
    Destroyed,
    /// It warped out.
    WarpedOut,
    /// The driver is stopping it (despawned, or the battle is over).
    Stopped,
}

/// What a step of the script returns: `Err` ends the ship's life.
type Flight<T = ()> = Result<T, Leave>;

/// A stargate as a ship's script sees it: where it is, and where it leads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gate {
    /// Its position in this battle's arena.
    pub position: Vec2,
    /// Where it leads, in the numbering of the [`Gates`] that gave it.
    pub to: usize,
}

/// The ways out of a battle: gates a ship can fly to and jump through.
pub trait Gates {
    /// The gate a ship of `fleet` at `at` takes when its fleet cannot win here; `None`
    /// warps it out of the game instead.
    fn retreat(&self, fleet: usize, at: Vec2) -> Option<Gate>;
    /// The gate a ship of `fleet` at `at` takes when nobody is left to fight here;
    /// `None` holds position.
    fn patrol(&self, fleet: usize, at: Vec2) -> Option<Gate>;
    /// Takes the ship, arrived at `gate`, through it. Returns only if it could not
    /// jump (the ship then carries on here).
    fn jump(&self, ctx: &mut Context, gate: Gate);
}

/// The skirmish's battlefield: no gates.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoGates;

impl Gates for NoGates {
    fn retreat(&self, _: usize, _: Vec2) -> Option<Gate> {
        None
    }

    fn patrol(&self, _: usize, _: Vec2) -> Option<Gate> {
        None
    }

    fn jump(&self, _: &mut Context, _: Gate) {}
}

/// The behaviour of a ship of `class` in fleet `fleet`, for the driver to spawn.
pub fn ship_actor(battle: Rc<Battle>, fleet: usize, class: usize, name: String) -> Actor {
    ship_actor_with_gates(battle, fleet, class, name, Rc::new(NoGates))
}

/// The behaviour of a ship that can leave its battle through `gates`.
pub fn ship_actor_with_gates(
    battle: Rc<Battle>,
    fleet: usize,
    class: usize,
    name: String,
    gates: Rc<dyn Gates>,
) -> Actor {
    Actor::new(move |ctx| {
        let class = battle.scenario.classes[class].clone();
        let home = battle.scenario.fleets[fleet].position;
        let clockwise = ctx.rng().below(2) == 0;
        let mut pilot = Pilot {
            ctx,
            battle,
            class,
            fleet,
            home: Vec2::new(home.x, home.y),
            clockwise,
            cornered: false,
            gates,
        };
        let why = pilot.fly();
        pilot.leave(why);
    })
    .name(name)
    .despawn_on_return()
}

/// A ship's pilot: its context, what it is, and the battle it is in.
struct Pilot<'a> {
    ctx: &'a mut Context,
    battle: Rc<Battle>,
    class: ShipClass,
    fleet: usize,
    /// Where its fleet started: it retreats there.
    home: Vec2,
    /// Which way it circles its targets.
    clockwise: bool,
    /// Chased down while retreating: it fights on until repaired.
    cornered: bool,
    /// Its ways out of the battle.
    gates: Rc<dyn Gates>,
}

impl Pilot<'_> {
    /// The ship's whole life: decide, act, repeat, until it leaves the battle.
    fn fly(&mut self) -> Leave {
        loop {
            if let Err(why) = self.next_move() {
                return why;
            }
        }
    }

    /// One decision and what follows from it.
    fn next_move(&mut self) -> Flight {
        self.fault_point("deciding its next move");
        if self.fleet_cannot_win() {
            let at = self.position();
            return match self.gates.retreat(self.fleet, at) {
                Some(gate) => self.go_through(gate, false),
                None => self.warp_out(),
            };
        }
        if self.badly_damaged() {
            return self.retreat_and_repair();
        }
        match self.nearest_hostile() {
            Some(target) => self.engage(target),
            None => {
                let at = self.position();
                if let Some(gate) = self.gates.patrol(self.fleet, at) {
                    return self.go_through(gate, true);
                }
                // Nobody left to fight: hold position and look again in a second.
                self.steer(Helm::Hold);
                self.wait(Duration::from_secs(1))
            }
        }
    }

    /// Approach `target`, lock it, then orbit at weapon range and fire every cycle until
    /// it is gone, the lock is lost, or the ship must break off.
    fn engage(&mut self, target: Entity) -> Flight {
        let range = self.class.weapon_range;

        self.steer(Helm::Approach {
            target,
            distance: range * 0.8,
        });
        loop {
            match self.distance_to(target) {
                None => return Ok(()), // someone else got it
                Some(d) if d <= range => break,
                Some(_) => {}
            }
            if self.must_break_off() {
                return Ok(());
            }
            self.fault_point("approaching its target");
            self.wait_frame()?;
        }

        // Locking takes time; the ship keeps circling meanwhile.
        self.steer(Helm::Orbit {
            target,
            radius: range * 0.8,
            clockwise: self.clockwise,
        });
        self.wait(secs(self.class.lock_time))?;
        self.fault_point("locking its target");

        loop {
            let Some(distance) = self.distance_to(target) else {
                return Ok(()); // destroyed or warped out: find the next one
            };
            if distance > range * 1.5 || self.must_break_off() {
                return Ok(()); // lock lost, or time to leave
            }
            if distance <= range {
                self.fault_point("firing");
                self.ctx.command(Fire { target });
            }
            // At least a frame: a cycle time that rounds to nothing must not spin the
            // loop without ever yielding (found by the fuzz test).
            let cycle = secs(self.class.cycle_time).max(self.ctx.dt());
            self.wait(cycle)?;
        }
    }

    /// Fly home, out of reach, and repair until nearly whole (or until the fleet gives up).
    /// A ship that cannot shake off its pursuers for a while turns and fights.
    fn retreat_and_repair(&mut self) -> Flight {
        self.steer(Helm::GoTo(self.home));
        let safe = self.battle.longest_range * 1.2;
        let mut chased = Duration::ZERO;
        loop {
            self.wait(Duration::from_secs(1))?;
            self.fault_point("retreating");
            if self.fleet_cannot_win() {
                return Ok(());
            }
            let threat = self
                .nearest_hostile_position()
                .map_or(f64::INFINITY, |p| p.distance(self.position()));
            if threat <= safe {
                chased += Duration::from_secs(1);
                if chased >= CORNERED_AFTER {
                    self.cornered = true;
                    return Ok(());
                }
            } else {
                let repair = self.class.repair_rate;
                let hull = self.ctx.update(|h: &mut Hull| {
                    h.hit_points = (h.hit_points + repair).min(h.max);
                    h.fraction()
                });
                if hull.unwrap_or(1.0) >= 0.9 {
                    self.cornered = false;
                    return Ok(());
                }
            }
        }
    }

    /// Align (taking time, and fire) and warp out of the battle.
    fn warp_out(&mut self) -> Flight {
        let away = self.position() + (self.home - self.position()).normalized() * 10_000.0;
        self.steer(Helm::GoTo(away));
        self.wait(secs(self.class.align_time))?;
        self.fault_point("aligning to warp");
        Err(Leave::WarpedOut)
    }

    /// Fly to `gate` and jump through it. A retreat goes on whatever happens; a patrol
    /// turns back to fight if hostiles show up on the way.
    fn go_through(&mut self, gate: Gate, patrol: bool) -> Flight {
        self.steer(Helm::GoTo(gate.position));
        while self.position().distance(gate.position) > GATE_RANGE {
            if patrol && self.hostiles_here() {
                return Ok(());
            }
            self.fault_point("flying to a gate");
            self.wait_frame()?;
        }
        let gates = self.gates.clone();
        gates.jump(self.ctx, gate);
        // Still here: the jump did not happen; look around again.
        Ok(())
    }

    // ---- waiting, and taking hits ----------------------------------------------------

    /// Waits `d` of game time, taking every hit that arrives meanwhile.
    fn wait(&mut self, d: Duration) -> Flight {
        let until = self.ctx.now() + d;
        loop {
            let now = self.ctx.now();
            if now >= until {
                return Ok(());
            }
            match self.ctx.recv_timeout::<Hit>(until - now) {
                Ok(hit) => self.take(hit)?,
                Err(ChannelError::Timeout) => return Ok(()),
                Err(_) => return Err(Leave::Stopped),
            }
        }
    }

    /// Waits until the next frame, taking hits.
    fn wait_frame(&mut self) -> Flight {
        let dt = self.ctx.dt();
        self.wait(dt)
    }

    fn take(&mut self, hit: Hit) -> Flight {
        // A fault here strikes inside a component update, with the hull borrowed.
        let fault = self.roll_fault("taking a hit, inside a hull update");
        let left = self
            .ctx
            .update(|h: &mut Hull| {
                if let Some(fault) = fault {
                    fault.strike();
                }
                h.hit_points -= hit.damage;
                h.hit_points
            })
            .unwrap_or(0.0);
        if left <= 0.0 {
            Err(Leave::Destroyed)
        } else {
            Ok(())
        }
    }

    // ---- what the ship knows ---------------------------------------------------------

    fn position(&mut self) -> Vec2 {
        self.ctx.get::<Motion>().map_or(self.home, |m| m.position)
    }

    fn distance_to(&mut self, target: Entity) -> Option<f64> {
        let mine = self.position();
        let world = self.ctx.world();
        let theirs = world.read::<Motion>(target)?.position;
        Some(mine.distance(theirs))
    }

    fn nearest_hostile(&mut self) -> Option<Entity> {
        let from = self.position();
        let sensors = self.battle.sensors.borrow();
        sensors.nearest_hostile(from, self.fleet).map(|c| c.entity)
    }

    fn nearest_hostile_position(&mut self) -> Option<Vec2> {
        let from = self.position();
        let sensors = self.battle.sensors.borrow();
        sensors
            .nearest_hostile(from, self.fleet)
            .map(|c| c.position)
    }

    fn badly_damaged(&mut self) -> bool {
        let class = &self.class;
        if class.repair_rate <= 0.0 || class.retreat_below <= 0.0 || self.cornered {
            return false; // it cannot repair (or get away), so it fights on
        }
        let below = class.retreat_below;
        self.ctx.get::<Hull>().is_some_and(|h| h.fraction() < below)
    }

    /// The fleet's strength has fallen below its warp-out share of the enemy's.
    fn fleet_cannot_win(&self) -> bool {
        let share = self.battle.scenario.fleets[self.fleet].warp_out_below;
        let sensors = self.battle.sensors.borrow();
        let (ours, theirs) = (
            sensors.strength(self.fleet),
            sensors.hostile_strength(self.fleet),
        );
        theirs > 0.0 && ours < share * theirs
    }

    fn hostiles_here(&self) -> bool {
        self.battle.sensors.borrow().hostile_strength(self.fleet) > 0.0
    }

    fn must_break_off(&mut self) -> bool {
        self.badly_damaged() || self.fleet_cannot_win()
    }

    // ---- fault injection (`--inject-panics RATE`) -----------------------------------

    /// Panics here with the scenario's fault rate (see [`Pilot::roll_fault`]).
    fn fault_point(&mut self, doing: &'static str) {
        if let Some(fault) = self.roll_fault(doing) {
            fault.strike();
        }
    }

    /// Draws from the ship's own generator (seeded from the battle's seed, so a replay
    /// panics at the same points) whether a fault strikes at this point; if so, counts
    /// it as injected and returns it, for the caller to strike where it chooses. Draws
    /// nothing when injection is off, so ordinary battles are unchanged.
    fn roll_fault(&mut self, doing: &'static str) -> Option<InjectedFault> {
        let rate = self.battle.inject_panics;
        if rate <= 0.0 || self.ctx.rng().next_f64() >= rate {
            return None;
        }
        self.battle.log.borrow_mut().crashed[self.fleet] += 1;
        self.battle
            .panics_injected
            .set(self.battle.panics_injected.get() + 1);
        Some(InjectedFault {
            message: format!(
                "{INJECTED_FAULT} while {doing} (frame {})",
                self.ctx.frame()
            ),
        })
    }

    fn steer(&mut self, helm: Helm) {
        self.ctx.update(|h: &mut Helm| *h = helm);
    }

    /// Records the departure; the driver despawns the entity when the behaviour returns.
    fn leave(&mut self, why: Leave) {
        if why == Leave::Stopped {
            return;
        }
        let entity = self.ctx.entity();
        let position = self.position();
        self.battle.log.borrow_mut().depart(Departure {
            entity,
            fleet: self.fleet,
            position,
            size: self.class.size,
            destroyed: why == Leave::Destroyed,
        });
    }
}

/// The start of every injected panic's message.
pub const INJECTED_FAULT: &str = "injected fault";

/// A panic the fault injector decided on, to be raised where the caller chooses.
struct InjectedFault {
    message: String,
}

impl InjectedFault {
    fn strike(self) -> ! {
        std::panic::panic_any(self.message)
    }
}

/// How close to a gate a ship must be to jump through it, metres.
const GATE_RANGE: f64 = 500.0;

/// A retreating ship still chased after this long stops running and fights.
const CORNERED_AFTER: Duration = Duration::from_secs(15);

/// Waits longer than this are as good as for ever (and `Duration` cannot hold 1e300 s).
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).map_or(FOREVER, |d| d.min(FOREVER))
}
