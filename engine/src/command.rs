//! Typed command channels from behaviours to systems (`Fire { target }`,
//! `MoveTo { pos }`): behaviours push without blocking, the owning system drains them in
//! its phase.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use hecs::Entity;

/// A command as a system receives it: who sent it, and what it says.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent<C> {
    /// The actor that sent it.
    pub from: Entity,
    /// The command.
    pub command: C,
}

/// The queue of commands of type `C`, one per type per driver. Handles are cheap clones
/// of one queue; behaviours push with [`Context::command`](crate::Context::command), and
/// the system that owns the queue drains it (take the handle once with
/// [`FrameDriver::command_queue`](crate::FrameDriver::command_queue) and move it into
/// the system, or look it up each frame with
/// [`SystemContext::commands`](crate::SystemContext::commands)).
///
/// Pushing never blocks and never fails; commands wait in FIFO order until drained.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, FrameDriver};
///
/// #[derive(Debug, PartialEq)]
/// struct Fire { target: u32 }
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::new();
/// let fire = driver.command_queue::<Fire>();
/// let fired = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// let log = fired.clone();
/// driver.add_system("weapons", move |_sys| {
///     for sent in fire.drain() {
///         log.borrow_mut().push(sent.command.target);
///     }
/// });
/// driver.spawn(&mut world, (), Actor::new(|ctx| {
///     for target in 1..=2 {
///         ctx.command(Fire { target });
///         ctx.be_nice().unwrap();
///     }
/// })).unwrap();
/// for _ in 0..3 {
///     driver.tick(&mut world, Duration::from_millis(16));
/// }
/// // Each command is drained by the system in the frame after it was sent.
/// assert_eq!(*fired.borrow(), [1, 2]);
/// ```
pub struct CommandQueue<C> {
    inner: Rc<RefCell<Vec<Sent<C>>>>,
}

impl<C> Clone for CommandQueue<C> {
    fn clone(&self) -> Self {
        CommandQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<C> fmt::Debug for CommandQueue<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandQueue")
            .field("command", &std::any::type_name::<C>())
            .field("len", &self.len())
            .finish()
    }
}

impl<C> Default for CommandQueue<C> {
    fn default() -> Self {
        CommandQueue::new()
    }
}

impl<C> CommandQueue<C> {
    /// An empty queue (normally made by the driver; see the type's docs).
    pub fn new() -> CommandQueue<C> {
        CommandQueue {
            inner: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// Appends a command from `from`.
    pub fn push(&self, from: Entity, command: C) {
        self.inner.borrow_mut().push(Sent { from, command });
    }

    /// Takes every queued command, oldest first.
    pub fn drain(&self) -> Vec<Sent<C>> {
        std::mem::take(&mut *self.inner.borrow_mut())
    }

    /// Calls `f` on every queued command, oldest first, and empties the queue (keeping
    /// its allocation). Commands pushed by `f` wait for the next drain.
    pub fn drain_each(&self, mut f: impl FnMut(Sent<C>)) {
        let mut batch = std::mem::take(&mut *self.inner.borrow_mut());
        for sent in batch.drain(..) {
            f(sent);
        }
        let mut inner = self.inner.borrow_mut();
        if inner.is_empty() {
            // Give the emptied buffer back, so steady traffic does not allocate.
            *inner = batch;
        }
    }

    /// Commands waiting.
    pub fn len(&self) -> usize {
        self.inner.borrow().len()
    }

    /// Whether no command is waiting.
    pub fn is_empty(&self) -> bool {
        self.inner.borrow().is_empty()
    }
}
