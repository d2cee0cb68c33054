//! Progress of long phases (setting up a million animals, the frames of a battle, the
//! teardown): the library reports through [`Progress`], and the binaries show it as a
//! bar on stderr when stderr is a terminal ([`Bars`]), or not at all ([`Silent`]), so
//! piped output and `--json` lines carry nothing extra.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Told how far a long phase has come. One phase runs at a time.
pub trait Progress {
    /// A phase starts: `what` it does, in `total` steps (0: unknown).
    fn start(&mut self, what: &str, total: u64);
    /// `done` of the phase's steps are done.
    fn set(&mut self, done: u64);
    /// The phase is over.
    fn finish(&mut self);
    /// Runs `print`, which writes lines to the terminal, without tearing a bar.
    fn suspend(&mut self, print: &mut dyn FnMut()) {
        print();
    }
}

/// Shows nothing.
///
/// # Examples
///
/// ```
/// use demos::progress::{Progress, Silent};
///
/// let mut quiet = Silent;
/// quiet.start("spawning", 10);
/// quiet.set(5);
/// quiet.finish();
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&mut self, _what: &str, _total: u64) {}
    fn set(&mut self, _done: u64) {}
    fn finish(&mut self) {}
}

/// A bar on stderr per phase, cleared when the phase ends; nothing at all when stderr is
/// not a terminal.
///
/// # Examples
///
/// ```
/// use demos::progress::{Bars, Progress};
///
/// // Under `cargo test` stderr is captured, so this draws nothing.
/// let mut bars = Bars::on_stderr();
/// bars.start("frames", 100);
/// bars.set(50);
/// bars.finish();
/// ```
#[derive(Debug)]
pub struct Bars {
    /// Whether stderr is a terminal.
    drawn: bool,
    bar: Option<ProgressBar>,
}

impl Bars {
    /// Bars on stderr if it is a terminal.
    pub fn on_stderr() -> Bars {
        Bars {
            drawn: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    /// Whether bars are drawn at all.
    pub fn is_drawn(&self) -> bool {
        self.drawn
    }
}

impl Progress for Bars {
    fn start(&mut self, what: &str, total: u64) {
        self.finish();
        if !self.drawn {
            return;
        }
        let bar = if total == 0 {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:<24} [{bar:32}] {human_pos}/{human_len} {elapsed} (eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        };
        bar.set_message(what.to_owned());
        self.bar = Some(bar);
    }

    fn set(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn suspend(&mut self, print: &mut dyn FnMut()) {
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.finish();
    }
}
