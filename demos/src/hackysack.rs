//! Grant Olson's hackysack game from "Why Stackless" (2006), the classic Stackless
//! benchmark: N players stand in a circle, each a tasklet waiting on its own channel;
//! whoever gets the sack kicks it to a random other player; after T kicks everyone is
//! told to go home and every tasklet ends.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uthread::{Builder, Channel, RunError, RunOutcome, Scheduler, SpawnError};

use crate::Rng;

/// The settings of one game.
#[derive(Clone, Debug)]
pub struct Game {
    /// Players in the circle (at least 2: nobody kicks to themselves).
    pub players: usize,
    /// Kicks before the game ends.
    pub turns: u64,
    /// Seed of the random choice of who gets the sack next.
    pub seed: u64,
    /// The scheduler the players run on (stack size and strategy are chosen there).
    pub scheduler: uthread::SchedulerBuilder,
    /// Print every kick (Olson's `debug` flag); only sensible for small games.
    pub verbose: bool,
}

/// What happened, and how long each part took.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Players who played.
    pub players: usize,
    /// Kicks made (equal to the turns asked for).
    pub kicks: u64,
    /// Players who went home (equal to `players`).
    pub went_home: usize,
    /// Spawning every player.
    pub create: Duration,
    /// From the first kick until the last player went home.
    pub game: Duration,
    /// Dropping the channels, and after the last round the scheduler (stacks back to
    /// the system).
    pub teardown: Duration,
}

impl Outcome {
    /// Creation, game and teardown together (the figure Olson's paper reports).
    pub fn total(&self) -> Duration {
        self.create + self.game + self.teardown
    }
}

/// Why a game could not be played to the end.
#[derive(Debug)]
pub enum HackysackError {
    /// Fewer than two players, or no turns: there is no game.
    NoGame {
        /// Players asked for.
        players: usize,
        /// Turns asked for.
        turns: u64,
    },
    /// A player's tasklet could not be created (typically: out of stacks).
    Spawn {
        /// The index of the player that could not be created (as many were created).
        player: usize,
        /// How many players were asked for.
        players: usize,
        /// Why.
        error: SpawnError,
    },
    /// The scheduler stopped with an error (a player panicked).
    Run(RunError),
    /// The game ended with players still waiting or kicks missing (a bug).
    Unfinished {
        /// Kicks made.
        kicks: u64,
        /// Players who went home.
        went_home: usize,
        /// What the scheduler said.
        outcome: String,
    },
}

impl fmt::Display for HackysackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HackysackError::NoGame { players, turns } => write!(
                f,
                "no game with {players} player(s) and {turns} turn(s): it takes at least 2 \
                 players and 1 turn"
            ),
            HackysackError::Spawn {
                player,
                players,
                error,
            } => write!(
                f,
                "could not create player {} of {players}: {error}",
                player + 1
            ),
            HackysackError::Run(e) => write!(f, "the game stopped: {e}"),
            HackysackError::Unfinished {
                kicks,
                went_home,
                outcome,
            } => write!(
                f,
                "the game did not finish: {kicks} kick(s), {went_home} player(s) went home; \
                 the scheduler said {outcome}"
            ),
        }
    }
}

impl std::error::Error for HackysackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HackysackError::Spawn { error, .. } => Some(error),
            HackysackError::Run(e) => Some(e),
            _ => None,
        }
    }
}

/// What arrives on a player's channel.
#[derive(Clone, Copy, Debug)]
enum Message {
    /// The sack, kicked by this player (`None`: thrown in by the referee to start).
    Sack { from: Option<usize> },
    /// The game is over.
    GoHome,
}

/// Everything the players share: the circle of channels, the random source and the
/// referee's count (Olson keeps the count in a class attribute of `hackysacker`).
struct Circle {
    inboxes: Vec<Channel<Message>>,
    rng: RefCell<Rng>,
    turns: u64,
    kicks: Cell<u64>,
    went_home: Cell<usize>,
    verbose: bool,
}

impl Circle {
    /// A random player other than `me` (drawing from the others directly rather than
    /// re-drawing until the pick is not `me`, as Olson does; the odds are the same).
    fn pick_other(&self, me: usize) -> usize {
        let others = self.inboxes.len() as u64 - 1;
        let pick = self.rng.borrow_mut().below(others) as usize;
        if pick >= me {
            pick + 1
        } else {
            pick
        }
    }

    /// The referee counts a kick; `true` when it was the last one.
    fn count_kick(&self) -> bool {
        let kicks = self.kicks.get() + 1;
        self.kicks.set(kicks);
        kicks >= self.turns
    }

    /// The last kicker tells everyone else to go home.
    fn send_everyone_home(&self, me: usize) {
        for (player, inbox) in self.inboxes.iter().enumerate() {
            if player != me {
                // Each send waits until that player takes the message and leaves.
                inbox
                    .send(Message::GoHome)
                    .expect("a player's channel is never closed");
            }
        }
    }
}

/// One player: wait for the sack, kick it on, until told to go home.
fn player(me: usize, circle: Rc<Circle>) {
    let inbox = &circle.inboxes[me];
    loop {
        let from = match inbox.receive() {
            Ok(Message::Sack { from }) => from,
            Ok(Message::GoHome) => break,
            Err(e) => panic!("player {me} could not receive: {e}"),
        };
        let to = circle.pick_other(me);
        if circle.verbose {
            match from {
                Some(from) => println!("{me} got the sack from {from}, kicks it to {to}"),
                None => println!("{me} got the sack from the referee, kicks it to {to}"),
            }
        }
        if circle.count_kick() {
            if circle.verbose {
                println!("{me} made the last kick: everybody go home");
            }
            circle.send_everyone_home(me);
            break;
        }
        circle.inboxes[to]
            .send(Message::Sack { from: Some(me) })
            .expect("a player's channel is never closed");
    }
    circle.went_home.set(circle.went_home.get() + 1);
}

/// Plays one game and times it.
///
/// # Errors
///
/// [`HackysackError::NoGame`] for fewer than 2 players or 0 turns;
/// [`HackysackError::Spawn`] when a player cannot be created (out of stacks: the message
/// names the limit); [`HackysackError::Run`] if a player fails.
///
/// # Examples
///
/// ```
/// let game = demos::hackysack::Game {
///     players: 10,
///     turns: 50,
///     seed: 1,
///     scheduler: uthread::Scheduler::builder(),
///     verbose: false,
/// };
/// let outcome = demos::hackysack::play(&game).unwrap();
/// assert_eq!((outcome.kicks, outcome.went_home), (50, 10));
/// ```
pub fn play(game: &Game) -> Result<Outcome, HackysackError> {
    let mut rounds = play_rounds(game, 1)?;
    Ok(rounds.remove(0))
}

/// Plays `rounds` games one after the other on one scheduler, as the greenlet peer plays
/// its rounds in one process: the second game's players get the first game's stacks
/// from the pool, warm (the scheduler keeps up to `players` idle stacks' memory). The
/// last round's teardown includes dropping the scheduler.
///
/// # Errors
///
/// As [`play`], for the first round that fails.
pub fn play_rounds(game: &Game, rounds: usize) -> Result<Vec<Outcome>, HackysackError> {
    let start = Instant::now();
    let sched = game.scheduler.clone().max_idle_stacks(game.players).build();
    let setup = start.elapsed();
    let mut outcomes = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        outcomes.push(play_on(game, &sched)?);
    }
    let start = Instant::now();
    drop(sched);
    if let Some(last) = outcomes.last_mut() {
        last.teardown += start.elapsed();
    }
    if let Some(first) = outcomes.first_mut() {
        first.create += setup;
    }
    Ok(outcomes)
}

/// One game on `sched`.
fn play_on(game: &Game, sched: &Scheduler) -> Result<Outcome, HackysackError> {
    if game.players < 2 || game.turns == 0 {
        return Err(HackysackError::NoGame {
            players: game.players,
            turns: game.turns,
        });
    }
    let start = Instant::now();
    let circle = Rc::new(Circle {
        inboxes: (0..game.players).map(|_| Channel::new()).collect(),
        rng: RefCell::new(Rng::new(game.seed)),
        turns: game.turns,
        kicks: Cell::new(0),
        went_home: Cell::new(0),
        verbose: game.verbose,
    });
    for me in 0..game.players {
        let circle = circle.clone();
        // Unnamed: naming 100,000 tasklets would cost more than creating them.
        Builder::new()
            .spawn_on(sched, move || player(me, circle))
            .map_err(|error| HackysackError::Spawn {
                player: me,
                players: game.players,
                error,
            })?;
    }
    let create = start.elapsed();

    let start = Instant::now();
    // Olson's `one.channel.send(one)`: the main context (the referee) throws the sack to
    // the first player; while it waits, the scheduler runs the players.
    circle.inboxes[0]
        .send(Message::Sack { from: None })
        .map_err(|e| HackysackError::Unfinished {
            kicks: 0,
            went_home: 0,
            outcome: e.to_string(),
        })?;
    let outcome = sched.run().map_err(HackysackError::Run)?;
    let game_time = start.elapsed();

    let (kicks, went_home) = (circle.kicks.get(), circle.went_home.get());
    if kicks != game.turns || went_home != game.players || !matches!(outcome, RunOutcome::Finished)
    {
        return Err(HackysackError::Unfinished {
            kicks,
            went_home,
            outcome: format!("{outcome:?}"),
        });
    }

    let start = Instant::now();
    drop(circle);
    let teardown = start.elapsed();
    Ok(Outcome {
        players: game.players,
        kicks,
        went_home,
        create,
        game: game_time,
        teardown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uthread::Scheduler;

    fn game(players: usize, turns: u64, seed: u64) -> Game {
        Game {
            players,
            turns,
            seed,
            scheduler: Scheduler::builder(),
            verbose: false,
        }
    }

    #[test]
    fn rounds_on_one_scheduler_are_whole_games() {
        let outcomes = play_rounds(&game(300, 200, 4), 3).unwrap();
        assert_eq!(outcomes.len(), 3);
        for outcome in &outcomes {
            assert_eq!((outcome.kicks, outcome.went_home), (200, 300));
        }
    }

    #[test]
    fn every_turn_is_played_and_everyone_goes_home() {
        for (players, turns) in [(2, 1), (2, 7), (5, 100), (300, 1000)] {
            let outcome = play(&game(players, turns, 9)).unwrap();
            assert_eq!(outcome.kicks, turns);
            assert_eq!(outcome.went_home, players);
        }
    }

    #[test]
    fn nobody_kicks_to_themselves_and_everyone_can_be_picked() {
        let circle = Circle {
            inboxes: (0..4).map(|_| Channel::new()).collect(),
            rng: RefCell::new(Rng::new(5)),
            turns: 1,
            kicks: Cell::new(0),
            went_home: Cell::new(0),
            verbose: false,
        };
        let mut picked = [0; 4];
        for _ in 0..400 {
            let to = circle.pick_other(2);
            assert_ne!(to, 2);
            picked[to] += 1;
        }
        assert!(
            picked[0] > 0 && picked[1] > 0 && picked[3] > 0,
            "{picked:?}"
        );
    }

    #[test]
    fn a_game_needs_two_players_and_a_turn() {
        assert!(matches!(
            play(&game(1, 10, 0)),
            Err(HackysackError::NoGame { players: 1, .. })
        ));
        assert!(matches!(
            play(&game(3, 0, 0)),
            Err(HackysackError::NoGame { turns: 0, .. })
        ));
    }
}
