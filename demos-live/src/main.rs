//! `skirmish-live`: the fleet skirmish in a window, on macroquad.
//!
//! The host engine owns the loop. Once per frame it reads input, calls the frame
//! driver's `tick` with its own frame time (times the game speed) and the budget the
//! player set, and draws; the engine never runs a loop of its own.
//!
//! ```sh
//! cargo run --release -p demos-live                         # play: see the keys along the bottom
//! cargo run --release -p demos-live -- --ships 400          # 800 ships
//! xvfb-run -a -s "-screen 0 1280x800x24" \
//!   cargo run --release -p demos-live -- --frames 300 --screenshot shot.png
//! ```

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use demos::cli::{self, BudgetArgs, ScenarioArgs};
use demos::scenario::Scenario;
use demos_live::{screenshot, ClockMode, Controls, Layout, Live, Request};
use macroquad::prelude::{get_frame_time, get_time, next_frame, screen_height, screen_width};
use macroquad::window::Conf;

/// The skirmish live: macroquad's loop ticks the frame driver once per frame.
#[derive(Debug, Parser)]
#[command(version, long_about = None)]
struct Args {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Seed of the battle (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Scale both fleets to this many ships each, keeping their mix of classes.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    ships: Option<u32>,
    /// The frame budget (the bracket keys change it while playing).
    #[command(flatten)]
    budget: BudgetArgs,
    /// Game seconds per wall second at the start (+ and - change it while playing).
    #[arg(long, default_value_t = 1.0, value_parser = speed)]
    speed: f64,
    /// Advance the game clock by the scenario's time step every frame instead of by the
    /// frame time (on with --screenshot, so the picture does not depend on how fast the
    /// machine draws).
    #[arg(long)]
    fixed_step: bool,
    /// Close the window after this many frames (300 with --screenshot).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    frames: Option<u64>,
    /// Save the last frame as a PNG, then close.
    #[arg(long, value_name = "OUT.png")]
    screenshot: Option<PathBuf>,
    /// Select the ship whose tasklet has this name at the start ("Azure Cruiser 21").
    #[arg(long, value_name = "NAME")]
    select: Option<String>,
    /// Window width, pixels.
    #[arg(long, default_value_t = 1280, value_parser = clap::value_parser!(i32).range(640..=7680))]
    width: i32,
    /// Window height, pixels.
    #[arg(long, default_value_t = 800, value_parser = clap::value_parser!(i32).range(480..=4320))]
    height: i32,
    /// Samples per pixel for antialiasing (1: none; software rendering runs several
    /// times faster without).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..=16))]
    msaa: i32,
}

/// Exit status for a scenario or flags that cannot be used.
const BAD_INPUT: u8 = 2;

/// Frames run before the screenshot when --frames is not given.
const SCREENSHOT_FRAMES: u64 = 300;

fn main() -> ExitCode {
    demos::cli::stop_quietly_on_broken_pipe();
    let args = Args::parse();
    let live = match set_up(&args) {
        Ok(live) => live,
        Err(message) => {
            eprintln!("skirmish-live: {message}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let frames = args
        .frames
        .or(args.screenshot.as_ref().map(|_| SCREENSHOT_FRAMES));
    let conf = Conf {
        window_title: format!("skirmish-live: {}", live.skirmish.battle.scenario.name),
        window_width: args.width,
        window_height: args.height,
        window_resizable: true,
        sample_count: args.msaa,
        ..Conf::default()
    };
    // macroquad runs the future below as its game loop and returns when it ends.
    let outcome = Rc::new(RefCell::new(Ok(())));
    let result = outcome.clone();
    let screenshot = args.screenshot.clone();
    macroquad::Window::from_config(conf, async move {
        *result.borrow_mut() = host_loop(live, frames, screenshot).await;
    });
    let outcome = outcome.replace(Ok(()));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("skirmish-live: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The battle and the controls the flags ask for.
fn set_up(args: &Args) -> Result<Live, String> {
    let mut scenario = Scenario::load(args.scenario.path()).map_err(|e| e.to_string())?;
    if let Some(n) = args.ships {
        scenario = scenario.with_ships_per_fleet(n);
    }
    let budget = args.budget.budget()?;
    let step = Duration::from_secs_f64(scenario.time_step);
    let clock = if args.fixed_step || args.screenshot.is_some() {
        ClockMode::Fixed(step)
    } else {
        ClockMode::FrameTime
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let controls = Controls::new(budget, args.speed, clock, step);
    let mut live = Live::new(scenario, seed, controls).map_err(|e| e.to_string())?;
    if let Some(name) = &args.select {
        if !live.select_by_name(name) {
            return Err(format!(
                "--select: no ship is called {name:?}; the first of each kind are {}",
                first_names(&live).join(", ")
            ));
        }
    }
    Ok(live)
}

/// The `--speed` parser: game seconds per wall second, above 0 and at most 64.
fn speed(text: &str) -> Result<f64, String> {
    match cli::positive_number(text) {
        Ok(speed) if speed <= 64.0 => Ok(speed),
        _ => Err(format!(
            "expected a speed above 0 and at most 64, found {text:?}"
        )),
    }
}

/// The first ship's name of each fleet and class ("Azure Cruiser 9"), in order.
fn first_names(live: &Live) -> Vec<String> {
    let mut names: Vec<(hecs::Entity, String)> = live
        .skirmish
        .driver
        .tasklet_times()
        .into_iter()
        .map(|t| (t.entity, t.name.to_string()))
        .collect();
    names.sort();
    let mut kinds: Vec<String> = Vec::new();
    let mut firsts = Vec::new();
    for (_, name) in names {
        let kind = name
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_owned();
        if !kinds.contains(&kind) {
            firsts.push(format!("{name:?}"));
            kinds.push(kind);
        }
    }
    firsts
}

/// The game loop, owned by the host: input, one tick of the frame driver, drawing,
/// `next_frame`. Ends after `frames` frames (saving the last to `screenshot`) or when
/// the player quits.
async fn host_loop(
    mut live: Live,
    frames: Option<u64>,
    screenshot: Option<PathBuf>,
) -> Result<(), String> {
    let mut frame = 0;
    loop {
        let layout = Layout::new(screen_width(), screen_height());
        if live.handle_input(&layout) == Request::Quit {
            return Ok(());
        }
        let frame_time = Duration::from_secs_f32(get_frame_time().max(0.0));

        // The engine's part of the frame: one tick, with the host's frame time (scaled
        // by the game speed; nothing while paused) and the budget the player set.
        if let Some(dt) = live.controls.game_dt(frame_time) {
            let battle = &mut live.skirmish;
            battle.driver.set_budget(live.controls.budget());
            battle.driver.tick(&mut battle.world, dt);
            live.ticked();
        }

        live.draw(&layout, frame_time, get_time());
        frame += 1;
        if frames.is_some_and(|n| frame >= n) {
            if let Some(path) = &screenshot {
                save_screenshot(path)?;
                println!("wrote {} after {frame} frames", path.display());
            }
            return Ok(());
        }
        next_frame().await;
    }
}

/// Saves what has been drawn this frame as a PNG.
fn save_screenshot(path: &Path) -> Result<(), String> {
    let image = macroquad::texture::get_screen_data();
    let (width, height) = (u32::from(image.width), u32::from(image.height));
    // The frame buffer's rows run bottom to top.
    let row = width as usize * 4;
    let mut rgba = Vec::with_capacity(image.bytes.len());
    for line in image.bytes.chunks_exact(row).rev() {
        rgba.extend_from_slice(line);
    }
    screenshot::save_png(path, width, height, &rgba)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
