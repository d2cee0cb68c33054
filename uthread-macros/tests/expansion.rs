//! Annotated fns compiled for real: they return what they would without the attribute,
//! and each iteration of each of their loops runs exactly one point. A stand-in for
//! uthread's `preempt_point` (named with the `crate` option) counts the points.

use std::cell::Cell;

mod counting {
    use super::Cell;

    thread_local! {
        static POINTS: Cell<u64> = const { Cell::new(0) };
    }

    /// Counts one point (called by the inserted code as `crate::counting::preempt_point`).
    pub fn preempt_point() {
        POINTS.with(|p| p.set(p.get() + 1));
    }

    /// Points counted on this thread since the last call.
    pub fn take() -> u64 {
        POINTS.with(|p| p.replace(0))
    }
}

#[uthread::preemptible(crate = "crate::counting")]
fn sum_below(n: u64) -> u64 {
    let mut total = 0;
    for i in 0..n {
        total += i;
    }
    total
}

#[test]
fn a_for_loop_checks_once_per_iteration() {
    counting::take();
    assert_eq!(sum_below(10), 45);
    assert_eq!(counting::take(), 10);
    assert_eq!(sum_below(0), 0);
    assert_eq!(
        counting::take(),
        0,
        "a loop that never iterates pays nothing"
    );
}

#[uthread::preemptible(crate = "crate::counting")]
fn odd_sum(n: u64) -> u64 {
    let (mut i, mut total) = (0, 0);
    while i < n {
        i += 1;
        if i % 2 == 0 {
            continue; // the next iteration still starts with its point
        }
        total += i;
    }
    total
}

#[test]
fn a_while_loop_that_continues_early_still_checks_every_iteration() {
    counting::take();
    assert_eq!(odd_sum(10), 25);
    assert_eq!(counting::take(), 10);
}

#[uthread::preemptible(crate = "crate::counting")]
fn first_pair_summing_to(target: u32, limit: u32) -> Option<(u32, u32)> {
    let mut found = None;
    'outer: for a in 0..limit {
        let mut b = 0;
        loop {
            if b >= limit {
                continue 'outer;
            }
            if a + b == target && a * b == 24 {
                found = Some((a, b));
                break 'outer;
            }
            b += 1;
        }
    }
    found
}

#[test]
fn labelled_nested_loops_check_on_every_iteration_of_each() {
    counting::take();
    assert_eq!(first_pair_summing_to(10, 8), Some((4, 6)));
    // Outer iterations a = 0..=4 (five points); inner iterations: for a in 0..4 each
    // runs b = 0..=8 (nine points, the last one continuing 'outer), and a = 4 stops at
    // b = 6 (seven points).
    assert_eq!(counting::take(), 5 + 4 * 9 + 7);
}

#[uthread::preemptible(crate = "crate::counting")]
fn drain_with_while_let(mut items: Vec<u32>) -> u32 {
    let mut total = 0;
    while let Some(item) = items.pop() {
        total += item;
    }
    total
}

#[test]
fn a_while_let_loop_checks_once_per_item() {
    counting::take();
    assert_eq!(drain_with_while_let(vec![1, 2, 3, 4]), 10);
    assert_eq!(counting::take(), 4);
}

#[uthread::preemptible(crate = "crate::counting")]
fn closure_loops(n: u32) -> u32 {
    let count_to = |k: u32| {
        let mut c = 0;
        while c < k {
            c += 1;
        }
        c
    };
    // The outer `for` checks three times, the closure's loop once per unit counted.
    let mut total = 0;
    for k in 1..=3 {
        total += count_to(k * n);
    }
    total
}

#[test]
fn loops_in_closures_written_in_the_body_check_too() {
    counting::take();
    assert_eq!(closure_loops(2), 12);
    assert_eq!(counting::take(), 3 + 12);
}

#[uthread::preemptible(crate = "crate::counting")]
fn with_inner_fn(n: u32) -> u32 {
    // Not annotated: an item of its own, so no points in it.
    fn unchecked(n: u32) -> u32 {
        let mut c = 0;
        for _ in 0..n {
            c += 1;
        }
        c
    }
    let mut total = 0;
    loop {
        total += unchecked(n);
        if total >= 3 * n {
            break total;
        }
    }
}

#[test]
fn a_fn_declared_in_the_body_gets_no_points_and_break_values_survive() {
    counting::take();
    assert_eq!(with_inner_fn(5), 15);
    assert_eq!(counting::take(), 3);
}

struct Counter(u64);

impl Counter {
    #[uthread::preemptible(crate = "crate::counting")]
    fn count_to(&mut self, n: u64) -> &mut Self {
        while self.0 < n {
            self.0 += 1;
        }
        self
    }
}

trait Spin {
    fn step(&mut self) -> bool;

    #[uthread::preemptible(crate = "crate::counting")]
    fn spin(&mut self) -> u32 {
        let mut steps = 0;
        while self.step() {
            steps += 1;
        }
        steps
    }
}

impl Spin for Counter {
    #[uthread::preemptible(crate = "crate::counting")]
    fn step(&mut self) -> bool {
        for _ in 0..2 {
            self.0 = self.0.saturating_sub(1);
        }
        self.0 > 0
    }
}

#[test]
fn methods_trait_defaults_and_trait_impls_check() {
    counting::take();
    let mut c = Counter(0);
    assert_eq!(c.count_to(6).0, 6);
    assert_eq!(counting::take(), 6);
    // step() runs three times (6 -> 4 -> 2 -> 0), two points each; spin's loop body
    // runs twice.
    assert_eq!(c.spin(), 2);
    assert_eq!(counting::take(), 3 * 2 + 2);
}

#[uthread::preemptible(crate = "crate::counting")]
fn generic_max<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut best: Option<T> = None;
    for &item in items {
        if best.is_none_or(|b| item > b) {
            best = Some(item);
        }
    }
    best
}

#[test]
fn generic_fns_keep_their_bounds() {
    counting::take();
    assert_eq!(generic_max(&[3, 9, 2]), Some(9));
    assert_eq!(generic_max::<f32>(&[]), None);
    assert_eq!(counting::take(), 3);
}

/// With the real `uthread::preempt_point`: outside any tasklet a point does nothing, so
/// an annotated fn can be called from plain code.
#[uthread::preemptible]
fn triangle(n: u64) -> u64 {
    (1..=n).sum::<u64>() + {
        let mut extra = 0;
        while extra < 3 {
            extra += 1;
        }
        extra - 3
    }
}

#[test]
fn the_real_point_is_harmless_outside_a_tasklet() {
    assert_eq!(triangle(100), 5050);
}
