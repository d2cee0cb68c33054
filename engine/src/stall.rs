//! Live stall reports that name the entity: the watchdog thread of the driver's scheduler
//! reports a behaviour stuck in one slice (a loop with no uthread call) while it runs,
//! and this labels the report with the actor's name and entity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hecs::Entity;
use uthread::{Scheduler, StallReport, TaskletId};

/// The default threshold of the engine's stall reports.
pub const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(100);

/// Labels of the live actors' tasklets, shared with the watchdog thread.
#[derive(Clone, Debug, Default)]
pub(crate) struct StallLabels(Option<Arc<Mutex<HashMap<TaskletId, String>>>>);

impl StallLabels {
    /// Turns the reports on for `scheduler`: they go to stderr, labelled.
    pub(crate) fn install(scheduler: &Scheduler, threshold: Duration) -> StallLabels {
        let labels: Arc<Mutex<HashMap<TaskletId, String>>> = Arc::default();
        let theirs = labels.clone();
        scheduler.set_stall_threshold(Some(threshold));
        scheduler.set_stall_handler(move |report: &StallReport| {
            let label = theirs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&report.tasklet)
                .cloned();
            eprintln!("{}", describe(report, label.as_deref()));
        });
        StallLabels(Some(labels))
    }

    /// Remembers which entity a tasklet runs the behaviour of.
    pub(crate) fn insert(&self, tasklet: TaskletId, name: &str, entity: Entity) {
        if let Some(labels) = &self.0 {
            labels
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    tasklet,
                    format!("actor '{name}' (entity {entity:?}, tasklet {tasklet})"),
                );
        }
    }

    /// Forgets a stopped actor's tasklet.
    pub(crate) fn remove(&self, tasklet: TaskletId) {
        if let Some(labels) = &self.0 {
            labels
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&tasklet);
        }
    }
}

/// One line for a stall report, labelled with its actor when there is one.
pub(crate) fn describe(report: &StallReport, label: Option<&str>) -> String {
    let ms = report.running_for.as_secs_f64() * 1000.0;
    let who = match label {
        Some(label) => label.to_owned(),
        None => match &report.name {
            Some(name) => format!("tasklet '{name}' ({})", report.tasklet),
            None => format!("tasklet {}", report.tasklet),
        },
    };
    if report.ended {
        format!("engine: stall: {who} ran {ms:.0} ms in one slice; it has yielded now")
    } else {
        format!(
            "engine: stall: {who} has run {ms:.0} ms without yielding and is still running \
             (a loop with no uthread call? make it #[uthread::preemptible] or call \
             uthread::preempt_point)"
        )
    }
}
