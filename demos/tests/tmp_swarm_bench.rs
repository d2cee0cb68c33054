use std::time::{Duration, Instant};
use demos::swarm::*;
use engine::{Actor, Budget, FrameDriver, StackStrategy};

fn rss() -> f64 { resident_bytes().unwrap() as f64 }

fn measure(label: &str, n: usize, make: &dyn Fn() -> Actor) {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().budget(Budget::Unlimited).stack_strategy(StackStrategy::Copying).stack_size(64*1024).timing(false).build();
    let r0 = rss();
    world.reserve::<(Position, Velocity, Herd, Activity)>(n as u32);
    for i in 0..n {
        world.spawn((Position(Vec2::new(i as f64, 0.0)), Velocity(Vec2::ZERO), Herd(0), Activity::Resting));
    }
    let r1 = rss();
    let ents: Vec<_> = world.query::<hecs::Entity>().iter().collect();
    let t = Instant::now();
    for e in ents { driver.attach(&mut world, e, make()).unwrap(); }
    let spawn_t = t.elapsed();
    let r2 = rss();
    let t = Instant::now();
    driver.tick(&mut world, Duration::from_millis(16));
    let run_t = t.elapsed();
    let r3 = rss();
    let t = Instant::now();
    for _ in 0..10 { driver.tick(&mut world, Duration::from_millis(16)); }
    let idle_t = t.elapsed() / 10;
    let t = Instant::now();
    drop(driver);
    let drop_t = t.elapsed();
    eprintln!("{label}: world {:.0} B/ent, attach {:.0} B/ent ({:?}), first run {:.0} B/ent ({:?}), idle tick {:?}, drop {:?}", (r1-r0)/n as f64, (r2-r1)/n as f64, spawn_t / n as u32, (r3-r2)/n as f64, run_t / n as u32, idle_t, drop_t);
}

#[test]
fn bench() {
    let n: usize = std::env::var("N").map(|v| v.parse().unwrap()).unwrap_or(100_000);
    let which = std::env::var("WHICH").unwrap_or_default();
    let measure = |label: &str, n, make: &dyn Fn() -> Actor| if label == which { measure(label, n, make) };
    measure("sleep", n, &|| Actor::new(|ctx| loop { ctx.sleep(Duration::from_secs(1000)).unwrap(); }));
    measure("sleep-named", n, &|| Actor::new(|ctx| loop { ctx.sleep(Duration::from_secs(1000)).unwrap(); }).name("a"));
    measure("inbox+recv_timeout", n, &|| Actor::new(|ctx| loop { let _ = ctx.recv_timeout::<Encounter>(Duration::from_secs(1000)); }));
    measure("inbox+select", n, &|| Actor::new(|ctx| { let inbox = ctx.inbox::<Encounter>(); loop { let _ = ctx.blocking(|| uthread::select().recv(&inbox, |e: Encounter| Some(e)).timeout(Duration::from_secs(1000), || None).wait()); } }));
    measure("inbox+sleep", n, &|| Actor::new(|ctx| { let _inbox = ctx.inbox::<Encounter>(); loop { ctx.sleep(Duration::from_secs(1000)).unwrap(); } }));
    measure("be_nice", n, &|| Actor::new(|ctx| loop { ctx.be_nice().unwrap(); }));
}
