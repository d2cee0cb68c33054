//! An animal's behaviour: one tasklet per animal, written as a plain script.
//!
//! Read `Animal::live` first: rest for a while, then get up and wander, steering
//! toward the rest of the herd, then lie down again. Every wait is also where trouble
//! arrives: the encounters system puts an [`Encounter`] in the animal's inbox when a
//! stranger comes close, and the waits are on that inbox with a timeout (a receive while
//! resting, a select between looks while walking), so a resting or wandering animal
//! reacts the moment it is startled: it runs away (checking every frame which way is
//! away), catches its breath, and goes back to resting.

use std::rc::Rc;
use std::time::Duration;

use engine::{Actor, Context, Inbox};
use uthread::ChannelError;

use super::{
    Activity, Alarmed, Encounter, Field, Herd, Position, Vec2, Velocity, BREATH, COHESION, FLEE,
    FLOCK_RADIUS, PERSONAL_SPACE, REST, RUN_SPEED, SEPARATION, THINK, WALK_SPEED, WANDER,
};

/// The driver is stopping this animal (its inbox closed), or an error was thrown into
/// its tasklet: the script ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stopped;

/// What a step of the script returns: `Err` ends the animal's life.
type Life<T = ()> = Result<T, Stopped>;

/// The behaviour of an animal on `field`, for the driver to spawn.
pub fn animal_actor(field: Rc<Field>) -> Actor {
    Actor::new(move |ctx| {
        field.started.set(field.started.get() + 1);
        let herd = ctx.get::<Herd>().map_or(0, |h| h.0);
        let inbox = ctx.inbox::<Encounter>();
        let mut animal = Animal {
            ctx,
            field,
            herd,
            inbox,
        };
        // `Err` only when it is being stopped; there is nothing left to do then.
        let _ = animal.live();
    })
}

/// An animal: its context, its herd, its inbox and the field it lives on.
struct Animal<'a> {
    ctx: &'a mut Context,
    field: Rc<Field>,
    herd: u8,
    inbox: Inbox<Encounter>,
}

// `rest`, `wander`, `flee` and `steer` are kept out of line (`#[inline(never)]`): with
// stack copying a suspended animal keeps the frames it is suspended in, and with them
// inlined, `live`'s frame would hold the locals of every step at once (measured: about
// 180 bytes more per suspended animal).
impl Animal<'_> {
    /// The animal's whole life: rest, wander, rest again; run away whenever startled.
    fn live(&mut self) -> Life {
        // The first rest is a random part of a full one, so the herds do not all get up
        // in the same frame.
        let mut rest = self.draw(REST).mul_f64(self.ctx.rng().next_f64());
        loop {
            if let Some(threat) = self.rest(rest)? {
                self.flee(threat)?;
            } else if let Some(threat) = self.wander()? {
                self.flee(threat)?;
            }
            rest = self.draw(REST);
        }
    }

    /// Lies down for `how_long`, unless startled first (then: where the stranger was).
    /// One source and a timeout: a receive with a timeout on the inbox (a select with a
    /// single arm, without the select's allocations, which a million resting animals
    /// would pay for all the time).
    #[inline(never)]
    fn rest(&mut self, how_long: Duration) -> Life<Option<Vec2>> {
        self.set(Activity::Resting, Vec2::ZERO);
        match self.ctx.recv_timeout::<Encounter>(how_long) {
            Ok(Encounter { threat }) => Ok(Some(threat)),
            Err(ChannelError::Timeout) => Ok(None),
            Err(_) => Err(Stopped),
        }
    }

    /// Gets up, picks a heading and walks for a while, looking around every [`THINK`]
    /// to steer toward the herd; stops early if startled (then: where the stranger was).
    /// Between looks it waits in a select on its inbox with a timeout.
    #[inline(never)]
    fn wander(&mut self) -> Life<Option<Vec2>> {
        let heading = self.random_heading();
        self.set(Activity::Wandering, heading * WALK_SPEED);
        let until = self.ctx.now() + self.draw(WANDER);
        while self.ctx.now() < until {
            if let Some(threat) = self.wait_for_trouble(THINK)? {
                return Ok(Some(threat));
            }
            let velocity = self.steer();
            self.set(Activity::Wandering, velocity);
        }
        Ok(None)
    }

    /// Runs away from `threat` for a while, every frame away from the latest stranger,
    /// then catches its breath (deaf to the world) and forgets what startled it.
    #[inline(never)]
    fn flee(&mut self, mut threat: Vec2) -> Life {
        let until = self.ctx.now() + self.draw(FLEE);
        while self.ctx.now() < until {
            while let Ok(Encounter { threat: latest }) = self.inbox.try_recv() {
                threat = latest;
            }
            let mut away = (self.position() - threat).normalized();
            if away == Vec2::ZERO {
                away = self.random_heading();
            }
            self.set(Activity::Fleeing, away * RUN_SPEED);
            self.ctx.be_nice().map_err(|_| Stopped)?;
        }
        self.set(Activity::Resting, Vec2::ZERO);
        self.ctx.sleep(BREATH).map_err(|_| Stopped)?;
        // Whatever came close while it panted is old news; it may be startled again.
        while self.inbox.try_recv().is_ok() {}
        self.ctx.update(|alarmed: &mut Alarmed| alarmed.0 = false);
        Ok(())
    }

    /// Waits up to `how_long` for an encounter: a select on the inbox with a timeout.
    fn wait_for_trouble(&mut self, how_long: Duration) -> Life<Option<Vec2>> {
        let inbox = &self.inbox;
        self.ctx
            .blocking(|| {
                uthread::select()
                    .recv(inbox, |encounter: Encounter| Some(encounter.threat))
                    .timeout(how_long, || None)
                    .wait()
            })
            .map_err(|_| Stopped)
    }

    /// The new velocity of a wandering animal: its heading, turned toward the middle of
    /// the herd mates around it and away from any that stand too close, plus a little
    /// randomness.
    #[inline(never)]
    fn steer(&mut self) -> Vec2 {
        let me = self.ctx.entity();
        let (position, velocity) = self
            .ctx
            .with::<(&Position, &Velocity), _>(|(p, v)| (p.0, v.0))
            .unwrap_or_default();
        let mut heading = velocity.normalized();
        if heading == Vec2::ZERO {
            heading = self.random_heading();
        }
        let (mut sum, mut mates, mut crowding) = (Vec2::ZERO, 0u32, Vec2::ZERO);
        self.field
            .grid
            .borrow()
            .for_each_near(position, FLOCK_RADIUS, |other| {
                if other.entity == me || other.herd != self.herd {
                    return;
                }
                sum += other.position;
                mates += 1;
                let off = position - other.position;
                let distance = off.length();
                if distance < PERSONAL_SPACE {
                    crowding += off.normalized() * (1.0 - distance / PERSONAL_SPACE);
                }
            });
        if mates > 0 {
            let middle = sum * (1.0 / f64::from(mates));
            let toward = (middle - position).normalized();
            heading = heading + toward * COHESION + crowding * SEPARATION;
        }
        // Up to about 20 degrees either way.
        let jitter = (self.ctx.rng().next_f64() - 0.5) * 0.7;
        let turned = Vec2::from_angle(heading.angle() + jitter);
        turned * WALK_SPEED
    }

    /// Sets what the animal is doing and how it moves.
    fn set(&mut self, activity: Activity, velocity: Vec2) {
        self.ctx
            .with::<(&mut Activity, &mut Velocity), _>(|(a, v)| {
                *a = activity;
                v.0 = velocity;
            });
    }

    fn position(&mut self) -> Vec2 {
        self.ctx.get::<Position>().unwrap_or_default().0
    }

    fn random_heading(&mut self) -> Vec2 {
        Vec2::from_angle(self.ctx.rng().next_f64() * std::f64::consts::TAU)
    }

    /// A random duration in `range`, in seconds.
    fn draw(&mut self, (low, high): (f64, f64)) -> Duration {
        Duration::from_secs_f64(low + (high - low) * self.ctx.rng().next_f64())
    }
}
