//! Frame traces: one span per frame, per phase, per system and per slice, exported as
//! Chrome trace JSON (which Perfetto and `chrome://tracing` open).

use std::fmt::Write as _;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hecs::Entity;
use uthread::TaskletId;

/// Which timeline a span is drawn on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// Frames, phases and systems.
    Driver,
    /// Tasklet slices.
    Tasklets,
}

impl Track {
    fn tid(self) -> u32 {
        match self {
            Track::Driver => 1,
            Track::Tasklets => 2,
        }
    }
}

/// What a span covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// A whole frame.
    Frame,
    /// One phase of a frame (`clock`, `systems`, `tasklets`, `commands`).
    Phase,
    /// One system's run.
    System,
    /// One slice of a tasklet.
    Slice {
        /// The tasklet.
        tasklet: TaskletId,
        /// Its actor's entity, if it is an actor's.
        entity: Option<Entity>,
    },
}

/// One span of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// Its label (frame number, phase, system or tasklet name).
    pub name: Rc<str>,
    /// What it covers.
    pub kind: SpanKind,
    /// The frame it belongs to.
    pub frame: u64,
    /// Start, since the trace began.
    pub start: Duration,
    /// Length.
    pub duration: Duration,
}

impl Span {
    fn track(&self) -> Track {
        match self.kind {
            SpanKind::Slice { .. } => Track::Tasklets,
            _ => Track::Driver,
        }
    }
}

/// The spans of the frames recorded by
/// [`FrameDriver::record_trace`](crate::FrameDriver::record_trace).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, FrameDriver};
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::new();
/// driver.add_system("physics", |_sys| {});
/// driver.spawn(&mut world, (), Actor::new(|ctx| loop {
///     ctx.be_nice().unwrap();
/// }).name("idler")).unwrap();
/// driver.record_trace(2);
/// for _ in 0..3 {
///     driver.tick(&mut world, Duration::from_millis(16));
/// }
/// let trace = driver.trace();
/// assert_eq!(trace.frames(), 2);
/// assert!(trace.spans().iter().any(|s| &*s.name == "idler"));
/// let json = trace.to_chrome_json();
/// assert!(json.starts_with("{\"traceEvents\":["));
/// ```
#[derive(Clone, Debug)]
pub struct Trace {
    epoch: Instant,
    spans: Vec<Span>,
    frames: usize,
}

impl Trace {
    pub(crate) fn new() -> Trace {
        Trace {
            epoch: Instant::now(),
            spans: Vec::new(),
            frames: 0,
        }
    }

    /// Forgets every span; times count from now.
    pub(crate) fn restart(&mut self) {
        self.epoch = Instant::now();
        self.spans.clear();
        self.frames = 0;
    }

    pub(crate) fn push(
        &mut self,
        name: Rc<str>,
        kind: SpanKind,
        frame: u64,
        start: Instant,
        duration: Duration,
    ) {
        if kind == SpanKind::Frame {
            self.frames += 1;
        }
        self.spans.push(Span {
            name,
            kind,
            frame,
            start: start.saturating_duration_since(self.epoch),
            duration,
        });
    }

    /// The recorded spans, in the order they were recorded (a frame's own span comes
    /// after its phases', systems' and slices').
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// How many whole frames were recorded.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The trace as Chrome trace event JSON (complete `X` events, microsecond times,
    /// one track for the driver and one for tasklet slices).
    pub fn to_chrome_json(&self) -> String {
        let mut out = String::with_capacity(64 + self.spans.len() * 128);
        out.push_str("{\"traceEvents\":[");
        for (track, label) in [(Track::Driver, "driver"), (Track::Tasklets, "tasklets")] {
            let _ = write!(
                out,
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{},\"args\":{{\"name\":\"{label}\"}}}},",
                track.tid()
            );
        }
        for (i, span) in self.spans.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            push_json_string(&mut out, &span.name);
            let cat = match span.kind {
                SpanKind::Frame => "frame",
                SpanKind::Phase => "phase",
                SpanKind::System => "system",
                SpanKind::Slice { .. } => "slice",
            };
            let _ = write!(
                out,
                ",\"cat\":\"{cat}\",\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{:.3},\"dur\":{:.3},\"args\":{{\"frame\":{}",
                span.track().tid(),
                micros(span.start),
                micros(span.duration),
                span.frame
            );
            if let SpanKind::Slice { tasklet, entity } = &span.kind {
                let _ = write!(out, ",\"tasklet\":\"{tasklet}\"");
                if let Some(e) = entity {
                    let _ = write!(out, ",\"entity\":\"{e:?}\"");
                }
            }
            out.push_str("}}");
        }
        out.push_str("],\"displayTimeUnit\":\"ns\"}");
        out
    }

    /// Writes [`Trace::to_chrome_json`] to `w`.
    ///
    /// # Errors
    ///
    /// Whatever `w` returns.
    pub fn write_chrome_json(&self, mut w: impl io::Write) -> io::Result<()> {
        w.write_all(self.to_chrome_json().as_bytes())
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_json_string;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
