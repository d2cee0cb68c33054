//! Command-line pieces the demo binaries share (`skirmish`, `swarm`, `skirmish-live`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::Budget;

/// How much each frame's tasklet phase may do: `--budget-ms` (wall time) or
/// `--budget-resumes` (a count). Flatten it into a binary's flags with
/// `#[command(flatten)]`.
#[derive(Clone, Debug, clap::Args)]
pub struct BudgetArgs {
    /// Wall time each frame's tasklet phase may take, milliseconds; tasklets left over
    /// run first next frame.
    #[arg(long, default_value_t = 4.0, conflicts_with = "budget_resumes")]
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
    /// #[derive(Parser)]
    /// struct Flags {
    ///     #[command(flatten)]
    ///     budget: demos::cli::BudgetArgs,
    /// }
    ///
    /// let flags = Flags::parse_from(["demo", "--budget-resumes", "500"]);
    /// assert_eq!(flags.budget.budget().unwrap(), engine::Budget::Resumes(500));
    /// let flags = Flags::parse_from(["demo", "--budget-ms=-1"]);
    /// assert!(flags.budget.budget().unwrap_err().contains("--budget-ms"));
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
