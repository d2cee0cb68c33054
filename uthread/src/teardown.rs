//! The end of a scheduler: `kill_all`, and what dropping the [`Scheduler`] does. Every
//! tasklet is killed (unwound) in a few rounds; one that keeps catching its kill is leaked
//! with a report rather than waited for, so a drop always returns.
//!
//! [`Scheduler`]: crate::Scheduler

use std::rc::Rc;

use crate::block::KILL_RETRIES;
use crate::core::{PumpExit, PumpLimits, Shared};
use crate::state::TaskletState;
use crate::sys::switch;
use crate::task::Tasklet;

/// Rounds of killing in a teardown (destructors of the killed may spawn more tasklets).
const TEARDOWN_ROUNDS: usize = 8;

impl Shared {
    /// `Scheduler::kill_all`: from one of its own tasklets (or hooks), kill each other
    /// tasklet and then the caller; from anywhere else, a teardown that leaves the
    /// scheduler open for new tasklets.
    pub(crate) fn kill_all(self: &Rc<Self>) {
        if self.pumping.get() {
            self.kill_all_from_a_tasklet();
        } else {
            switch::outside_fibers(|| self.teardown_now());
        }
    }

    /// What dropping the `Scheduler` does. Dropped while its own pump runs (from one of
    /// its tasklets, or a hook), it can only mark itself orphaned: the pump call tears it
    /// down when it returns ([`Shared::finish_orphaned`]). Dropped from a tasklet of
    /// another scheduler on this thread, it runs its own pump from that tasklet's stack
    /// (the other scheduler's tasklet stays current over there).
    pub(crate) fn shut_down(self: &Rc<Self>) {
        if self.pumping.get() {
            self.orphaned.set(true);
            self.closing.set(true);
            return;
        }
        switch::outside_fibers(|| self.shut_down_now());
    }

    /// Tears down a scheduler whose handle was dropped during this pump call, once the
    /// call has returned (called by the pump's callers).
    pub(crate) fn finish_orphaned(self: &Rc<Self>) {
        if self.orphaned.get() && !self.pumping.get() && !std::thread::panicking() {
            self.orphaned.set(false);
            switch::outside_fibers(|| self.shut_down_now());
        }
    }

    fn shut_down_now(self: &Rc<Self>) {
        // The stacks are unmapped with the pool: giving their pages back one by one
        // first would only cost system calls.
        self.pool.borrow_mut().set_closing();
        self.tearing_down.set(true);
        self.teardown_now();
        self.closing.set(true);
        // The main context's tasklet-locals end with its scheduler, as a tasklet's end
        // with the tasklet. They may refer to main's own record (a lock it acquired
        // without a guard names main as its holder), a cycle that would leak the
        // scheduler; dropping them also releases such locks, as for any tasklet.
        let locals = self.main.locals.borrow_mut().take();
        drop(locals);
        // Queue, be_nice and registry entries hold tasklet records that may hold wait
        // refs or handles back into the scheduler: clear them to break the cycles.
        self.clear_queues();
        crate::core::uninstall(self);
    }

    /// `kill_all` from inside a tasklet, where the teardown pump cannot run: kill each
    /// other tasklet (each unwinds before its kill returns), then the caller (which
    /// unwinds at once). Unlike a drop, this leaves the scheduler open for new tasklets.
    fn kill_all_from_a_tasklet(self: &Rc<Self>) {
        let me = self.current_task();
        let others: Vec<_> = self
            .registry
            .borrow()
            .values()
            .filter(|t| !Rc::ptr_eq(t, &self.main) && !Rc::ptr_eq(t, &me))
            .cloned()
            .collect();
        for task in others {
            let _ = Tasklet::from_task(task).kill();
        }
        if !Rc::ptr_eq(&me, &self.main) {
            let _ = Tasklet::from_task(me).kill();
        }
    }

    /// Kills every tasklet, a few rounds in case destructors spawn more; whatever
    /// survives (a tasklet that keeps catching its kill) is abandoned: its stack is leaked
    /// rather than unwound blindly, and stderr says so. Must run outside any fiber.
    fn teardown_now(self: &Rc<Self>) {
        let handler = self.hooks.borrow_mut().error_handler.take();
        let others = |shared: &Rc<Shared>| -> Vec<_> {
            shared
                .registry
                .borrow()
                .values()
                .filter(|t| !Rc::ptr_eq(t, &shared.main))
                .cloned()
                .collect()
        };
        for _round in 0..TEARDOWN_ROUNDS {
            let tasks = others(self);
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                let _ = Tasklet::from_task(task).kill_pending();
            }
            // Failures during teardown (a destructor panicking) are dropped: there is
            // nobody left to report them to but stderr, where the panic hook wrote them.
            while let PumpExit::Failed(_) = self.pump(PumpLimits::UNLIMITED) {}
            self.failures.borrow_mut().clear();
        }
        // Anything still alive refused to die (caught the kill and blocked forever): its
        // stack is leaked rather than unwound blindly.
        for task in others(self) {
            let why = if task.kill_refused.get() {
                format!("caught its kill {} times in a row", KILL_RETRIES)
            } else {
                "survived every kill".to_owned()
            };
            eprintln!(
                "uthread: dropping the scheduler leaks tasklet {}: it {why}; its stack and \
                 everything on it are leaked",
                Tasklet::from_task(task.clone())
            );
            task.state.set(TaskletState::Dead);
            let fiber = task.fiber.borrow_mut().take();
            if let Some(fiber) = fiber {
                std::mem::forget(fiber);
            }
            let removed = self.registry.borrow_mut().remove(task.key);
            drop(removed);
        }
        self.alive.set(0);
        let mut hooks = self.hooks.borrow_mut();
        if hooks.error_handler.is_none() {
            hooks.error_handler = handler;
        }
        drop(hooks);
        self.refresh_hooks_active();
    }
}
