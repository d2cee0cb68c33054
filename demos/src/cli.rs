//! Command-line pieces the demo binaries share (`skirmish`, `swarm`, `skirmish-live`...):
//! the budget flags, the scenario argument, the stack strategy, and value parsers that
//! let clap refuse a bad value (a usage error, exit status 2) before a demo starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::{Budget, StackStrategy};

/// How much each frame's tasklet phase may do: `--budget-ms` (wall time) or
/// `--budget-resumes` (a count). Flatten it into a binary's flags with
/// `#[command(flatten)]`.
#[derive(Clone, Debug, clap::Args)]
pub struct BudgetArgs {
    /// Wall time each frame's tasklet phase may take, milliseconds; tasklets left over
    /// run first next frame.
    #[arg(long, default_value_t = 4.0, conflicts_with = "budget_resumes",
          value_parser = budget_ms)]
    pub budget_ms: f64,
    /// Resumes each frame may make instead of a time budget: deterministic (same
    /// inputs, seed and budget, same world hash).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub budget_resumes: Option<u64>,
}

impl BudgetArgs {
    /// The budget the flags ask for.
    ///
    /// # Errors
    ///
    /// A message naming the flag when `--budget-ms` is not a positive number.
    ///
    /// # Examples
    ///
    /// ```
    /// use clap::Parser;
    ///
    /// #[derive(Debug, Parser)]
    /// struct Flags {
    ///     #[command(flatten)]
    ///     budget: demos::cli::BudgetArgs,
    /// }
    ///
    /// let flags = Flags::parse_from(["demo", "--budget-resumes", "500"]);
    /// assert_eq!(flags.budget.budget().unwrap(), engine::Budget::Resumes(500));
    /// // clap refuses an impossible budget as a usage error.
    /// let refused = Flags::try_parse_from(["demo", "--budget-ms=-1"]).unwrap_err();
    /// assert_eq!(refused.exit_code(), 2);
    /// ```
    pub fn budget(&self) -> Result<Budget, String> {
        if !(self.budget_ms.is_finite() && self.budget_ms > 0.0) {
            return Err(format!(
                "--budget-ms must be a positive number of milliseconds, not {}",
                self.budget_ms
            ));
        }
        Ok(match self.budget_resumes {
            Some(n) => Budget::Resumes(n),
            None => Budget::Time(Duration::from_secs_f64(self.budget_ms / 1000.0)),
        })
    }
}

/// The scenario to fight: a path given as the first argument or with `--scenario`
/// (not both), else [`default_scenario`]. Flatten it into a binary's flags with
/// `#[command(flatten)]`.
///
/// # Examples
///
/// ```
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Flags {
///     #[command(flatten)]
///     scenario: demos::cli::ScenarioArgs,
/// }
///
/// let flags = Flags::parse_from(["demo", "my.ron"]);
/// assert_eq!(flags.scenario.path(), std::path::Path::new("my.ron"));
/// let flags = Flags::parse_from(["demo", "--scenario", "my.ron"]);
/// assert_eq!(flags.scenario.path(), std::path::Path::new("my.ron"));
/// assert!(Flags::try_parse_from(["demo", "a.ron", "--scenario", "b.ron"]).is_err());
/// ```
#[derive(Clone, Debug, clap::Args)]
pub struct ScenarioArgs {
    /// The scenario file (RON; the format is in assets/README.md) [default:
    /// assets/skirmish.ron]
    #[arg(value_name = "SCENARIO")]
    pub file: Option<PathBuf>,
    /// The scenario file, as a flag (the same as the first argument).
    #[arg(long = "scenario", value_name = "SCENARIO", conflicts_with = "file")]
    pub flag: Option<PathBuf>,
}

impl ScenarioArgs {
    /// The file the arguments name, or the default battle.
    pub fn path(&self) -> PathBuf {
        self.file
            .clone()
            .or_else(|| self.flag.clone())
            .unwrap_or_else(default_scenario)
    }
}

/// The `--stacks` choices: where the tasklets' stacks live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Stacks {
    /// A guarded stack of its own for every tasklet (the default, at any count).
    #[default]
    Dedicated,
    /// Stack copying: tasklets share one stack and keep their used part on the heap (a
    /// third of the memory, a copy per switch).
    Copying,
}

impl Stacks {
    /// The strategy this choice names.
    ///
    /// # Examples
    ///
    /// ```
    /// use demos::cli::Stacks;
    /// use engine::{StackKind, StackStrategy};
    ///
    /// assert_eq!(Stacks::Dedicated.strategy(), StackStrategy::dedicated());
    /// assert_eq!(Stacks::Copying.strategy().kind(), StackKind::Copying);
    /// ```
    pub fn strategy(self) -> StackStrategy {
        match self {
            Stacks::Dedicated => StackStrategy::dedicated(),
            Stacks::Copying => copying_stacks(),
        }
    }
}

/// Stack copying for the demos' tasklets (`--stacks copying`).
#[allow(unsafe_code, reason = "the demos' opt-in to stack copying")]
pub fn copying_stacks() -> StackStrategy {
    // SAFETY: the demos' tasklet bodies (the skirmish's and the galaxy's ship scripts,
    // the swarm's animals, the hackysack players, the classics) keep no pointer into
    // their stacks across a blocking call: they lend no local to another thread or
    // tasklet, pin no future, and talk through contexts and channels that take owned
    // values.
    unsafe { StackStrategy::copying() }
}

/// `"dedicated"` or `"copying"`, as the demos print it.
pub fn stack_name(strategy: StackStrategy) -> &'static str {
    strategy.kind().name()
}

/// A clap value parser for a finite number above 0.
///
/// # Errors
///
/// A message for clap when `text` is not such a number.
pub fn positive_number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("expected a number above 0, found {text:?}")),
    }
}

/// Longest `--budget-ms`: a minute per frame.
pub const MAX_BUDGET_MS: f64 = 60_000.0;

/// A clap value parser for `--budget-ms`: milliseconds above 0, at most
/// [`MAX_BUDGET_MS`] (1e308 overflowed a `Duration` and panicked).
///
/// # Errors
///
/// A message for clap when `text` is not such a number.
pub fn budget_ms(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= MAX_BUDGET_MS => Ok(x),
        _ => Err(format!(
            "expected milliseconds above 0 and at most {MAX_BUDGET_MS}, found {text:?}"
        )),
    }
}

/// A clap value parser for a probability, a number from 0 to 1.
///
/// # Errors
///
/// A message for clap when `text` is not such a number.
pub fn probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "expected a probability from 0 to 1, found {text:?}"
        )),
    }
}

/// A clap value parser for a stack size: `65536`, `64k`, `64KiB`, `1m` or `1MiB`
/// bytes, at least 16 KiB.
///
/// # Errors
///
/// A message for clap naming what is wrong.
///
/// # Examples
///
/// ```
/// use demos::cli::stack_size;
/// assert_eq!(stack_size("64k"), Ok(65536));
/// assert!(stack_size("8k").is_err());
/// ```
pub fn stack_size(text: &str) -> Result<usize, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let scale = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        other => return Err(format!("unknown unit {other:?} (use k or m)")),
    };
    let bytes = digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{text:?} is not a size in bytes (e.g. 65536, 64k, 1m)"))?;
    if bytes < 16 * 1024 {
        return Err(format!("{text} is too small: a stack needs at least 16k"));
    }
    Ok(bytes)
}

/// The default battle: `assets/skirmish.ron` under the working directory when it is
/// there (as under `cargo run`), else the one in this source tree.
pub fn default_scenario() -> PathBuf {
    let local = Path::new("assets/skirmish.ron");
    if local.exists() {
        local.to_owned()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/skirmish.ron")
    }
}

/// The exit status of a demo whose standard output was closed by its reader (`demo |
/// head`): 128 + SIGPIPE, what a shell reports for a C program that the signal stopped.
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// Makes a demo stop quietly, with [`BROKEN_PIPE_EXIT`], when whoever reads its standard
/// output stops reading (`skirmish | head -3`), instead of panicking with a backtrace on
/// its next line. Call it first in `main`; panic hooks installed later keep it as
/// their fallback. Every other panic is reported as before.
pub fn stop_quietly_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_broken_pipe_panic(panic_message(info.payload())) {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        previous(info);
    }));
}

/// The text of a panic's payload, when it has one.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
}

/// Whether `message` is the standard library's panic for a `println!` into a closed pipe
/// ("failed printing to stdout: Broken pipe (os error 32)").
fn is_broken_pipe_panic(message: Option<&str>) -> bool {
    message.is_some_and(|m| m.starts_with("failed printing to std") && m.contains("(os error 32)"))
}

#[cfg(test)]
mod broken_pipe_tests {
    use super::*;

    #[test]
    fn only_the_closed_pipe_panic_is_recognised() {
        assert!(is_broken_pipe_panic(Some(
            "failed printing to stdout: Broken pipe (os error 32)"
        )));
        assert!(!is_broken_pipe_panic(Some(
            "failed printing to stdout: No space left on device (os error 28)"
        )));
        assert!(!is_broken_pipe_panic(Some("index out of bounds")));
        assert!(!is_broken_pipe_panic(None));
        let payload: Box<dyn std::any::Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_message(&*payload), Some("owned"));
        let payload: Box<dyn std::any::Any + Send> = Box::new("static");
        assert_eq!(panic_message(&*payload), Some("static"));
        let payload: Box<dyn std::any::Any + Send> = Box::new(7);
        assert_eq!(panic_message(&*payload), None);
    }
}
