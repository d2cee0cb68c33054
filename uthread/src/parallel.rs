//! `join_all` and `try_join_all`: run closures as tasklets and collect their results in
//! order; the first failure (in time, not position) surfaces.

use std::fmt;

use crate::error::{SpawnError, WaitError};
use crate::queue::Queue;
use crate::spawn::{spawn, JoinError, JoinHandle};

/// What happens to the other tasklets when one fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// Kill the ones still running and return at once (the default).
    #[default]
    KillOthers,
    /// Let them finish, then return the first failure.
    AwaitOthers,
}

/// Why a [`try_join_all`] failed.
#[derive(Debug)]
pub enum ParallelError<E> {
    /// A closure returned this error (the first to do so).
    Failed {
        /// Which closure (its position).
        index: usize,
        /// Its error.
        error: E,
    },
    /// A tasklet ended badly (panic, kill) or the caller's wait was interrupted.
    Join {
        /// Which closure, when a tasklet failed.
        index: Option<usize>,
        /// What happened.
        error: JoinError,
    },
    /// A tasklet could not be spawned.
    Spawn(SpawnError),
}

impl<E: fmt::Display> fmt::Display for ParallelError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParallelError::Failed { index, error } => write!(f, "job {index} failed: {error}"),
            ParallelError::Join {
                index: Some(i),
                error,
            } => write!(f, "job {i}: {error}"),
            ParallelError::Join { index: None, error } => fmt::Display::fmt(error, f),
            ParallelError::Spawn(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ParallelError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ParallelError::Failed { error, .. } => Some(error),
            ParallelError::Join { error, .. } => Some(error),
            ParallelError::Spawn(e) => Some(e),
        }
    }
}

/// Posts its index to the completion queue when its tasklet ends, however it ends.
struct Done {
    queue: Queue<usize>,
    index: usize,
}

impl Drop for Done {
    fn drop(&mut self) {
        // Unbounded: never blocks, so it is safe while unwinding.
        let _ = self.queue.try_put(self.index);
    }
}

/// Owns the jobs' handles; kills whichever are unfinished when the caller leaves, by any
/// path (an early error under `KillOthers`, an interrupted wait, its own kill).
struct Jobs<T: 'static> {
    handles: Vec<Option<JoinHandle<T>>>,
}

impl<T: 'static> Drop for Jobs<T> {
    fn drop(&mut self) {
        for h in self.handles.iter().flatten() {
            let _ = h.tasklet().kill_pending();
        }
    }
}

/// Runs each closure as a tasklet and returns their results in order.
///
/// # Errors
///
/// The first tasklet to end badly (panic, kill), or an interrupted wait; see
/// [`OnError`] for what happens to the others.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let total = sched.spawn(|| {
///     let scans: Vec<Box<dyn FnOnce() -> u32>> = (1..=3u32)
///         .map(|n| Box::new(move || { uthread::schedule().unwrap(); n * 10 }) as Box<dyn FnOnce() -> u32>)
///         .collect();
///     uthread::join_all(scans, uthread::OnError::KillOthers).unwrap()
/// }).unwrap();
/// sched.run().unwrap();
/// assert_eq!(total.join().unwrap(), [10, 20, 30]);
/// ```
pub fn join_all<T, F, I>(
    jobs: I,
    on_error: OnError,
) -> Result<Vec<T>, ParallelError<std::convert::Infallible>>
where
    I: IntoIterator<Item = F>,
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    try_join_all(
        jobs.into_iter()
            .map(|f| move || Ok::<T, std::convert::Infallible>(f())),
        on_error,
    )
}

/// Like [`join_all`] for closures that return `Result`: the first `Err` (in time)
/// surfaces as [`ParallelError::Failed`].
///
/// # Errors
///
/// As [`join_all`], plus the first `Err` a closure returns.
pub fn try_join_all<T, E, F, I>(jobs: I, on_error: OnError) -> Result<Vec<T>, ParallelError<E>>
where
    I: IntoIterator<Item = F>,
    F: FnOnce() -> Result<T, E> + 'static,
    T: 'static,
    E: 'static,
{
    let done = Queue::<usize>::new();
    let mut jobs_left = Jobs {
        handles: Vec::new(),
    };
    for (index, job) in jobs.into_iter().enumerate() {
        let notify = Done {
            queue: done.clone(),
            index,
        };
        let handle = spawn(move || {
            let _notify = notify;
            job()
        })
        .map_err(ParallelError::Spawn)?;
        jobs_left.handles.push(Some(handle));
    }
    let n = jobs_left.handles.len();
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut first_error: Option<ParallelError<E>> = None;
    for _ in 0..n {
        let index = done.get().map_err(|e| ParallelError::Join {
            index: None,
            error: JoinError::Wait(WaitError::from_channel(e)),
        })?;
        let Some(handle) = jobs_left.handles[index].take() else {
            continue;
        };
        // The job has ended (its notice is posted as it unwinds or returns), so this
        // join does not wait.
        let failure = match handle.join() {
            Ok(Ok(v)) => {
                results[index] = Some(v);
                continue;
            }
            Ok(Err(error)) => ParallelError::Failed { index, error },
            Err(error) => ParallelError::Join {
                index: Some(index),
                error,
            },
        };
        if on_error == OnError::KillOthers {
            return Err(failure); // `jobs_left` kills the rest.
        }
        first_error.get_or_insert(failure);
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every job finished"))
        .collect())
}
