//! The game world, lent to tasklets while they run: one slice at a time borrows it, and
//! a tasklet that suspends while still holding it is found and killed so that the world
//! can be handed back.

use std::cell::{Cell, RefCell, RefMut};
use std::fmt;

/// Holds the game world while tasklets run (and while a killed tasklet unwinds), and a
/// spare, empty world otherwise. Swapped with the host's world, never copied.
///
/// A tasklet borrows the world through [`WorldLoan::borrow`] for as long as its access
/// lives; the host's access type calls [`WorldLoan::release`] when it drops. A tasklet
/// that suspends with the borrow alive (a blocking call made around its context, which
/// the borrow checker cannot see) is found by whoever next needs the world, and evicted
/// by the host's `evict` function: the host kills it (its unwinding drops the borrow)
/// and reports its entity.
///
/// `W` is the host's world type, `E` its entity id.
///
/// # Examples
///
/// ```
/// use frame_core::WorldLoan;
///
/// let loan: WorldLoan<Vec<u32>, u8> = WorldLoan::new(Vec::new());
/// let mut world = vec![1, 2, 3];
/// {
///     let lent = loan.lend(&mut world, |_holder| false);
///     loan.borrow(7, |_| false).push(4); // entity 7's slice
///     loan.release();
///     lent.reclaim();
/// } // the world goes back to the host here
/// assert_eq!(world, [1, 2, 3, 4]);
/// ```
pub struct WorldLoan<W, E> {
    world: RefCell<W>,
    /// Whether `world` holds the game world (it is lent to the tasklets).
    lent: Cell<bool>,
    /// The entity whose tasklet holds the borrow, to name (and evict) it if it suspends.
    holder: Cell<Option<E>>,
}

impl<W, E: fmt::Debug + Copy> fmt::Debug for WorldLoan<W, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorldLoan")
            .field("lent", &self.lent.get())
            .field("holder", &self.holder.get())
            .finish_non_exhaustive()
    }
}

impl<W, E: Copy + Eq + fmt::Debug> WorldLoan<W, E> {
    /// A loan holding `spare` (an empty world) until the host lends its own.
    pub fn new(spare: W) -> WorldLoan<W, E> {
        WorldLoan {
            world: RefCell::new(spare),
            lent: Cell::new(false),
            holder: Cell::new(None),
        }
    }

    /// Whether the host's world is lent out now.
    pub fn is_lent(&self) -> bool {
        self.lent.get()
    }

    /// The entity whose tasklet holds the world now.
    pub fn holder(&self) -> Option<E> {
        self.holder.get()
    }

    /// Moves `world` into the loan for as long as the guard lives; it goes back when
    /// the guard drops, after any tasklet still holding it was evicted.
    ///
    /// # Panics
    ///
    /// When the world is lent already.
    pub fn lend<'a, F: Fn(E) -> bool>(&'a self, world: &'a mut W, evict: F) -> Lent<'a, W, E, F> {
        assert!(!self.lent.get(), "the world is lent already");
        std::mem::swap(world, &mut *self.world.borrow_mut());
        self.lent.set(true);
        Lent {
            loan: self,
            world,
            evict,
        }
    }

    /// Borrows the world for `me`'s tasklet. If a suspended tasklet still holds it,
    /// `evict` is called with its entity (the host kills it and reports it; it returns
    /// whether it could) and the borrow is tried again.
    ///
    /// # Panics
    ///
    /// When the world cannot be had even so: `me` itself holds it (a leaked access), or
    /// the holder could not be evicted. Also when the world is not lent: the tasklet
    /// runs outside the tasklet phase, because the host woke it through a rendezvous
    /// (a `Channel` send) instead of an inbox. (While unwinding, it gets the spare world
    /// instead, so that destructors do not abort.)
    #[inline]
    pub fn borrow(&self, me: E, evict: impl Fn(E) -> bool) -> RefMut<'_, W> {
        if self.lent.get() {
            if let Ok(world) = self.world.try_borrow_mut() {
                self.holder.set(Some(me));
                return world;
            }
        }
        self.borrow_slow(me, &evict)
    }

    #[cold]
    #[inline(never)]
    fn borrow_slow(&self, me: E, evict: &dyn Fn(E) -> bool) -> RefMut<'_, W> {
        assert!(
            self.lent.get() || std::thread::panicking(),
            "the tasklet of {me:?} ran outside the tasklet phase and cannot reach the world: \
             wake tasklets from systems and the host through inboxes, not channel rendezvous"
        );
        for _ in 0..2 {
            if let Ok(world) = self.world.try_borrow_mut() {
                self.holder.set(Some(me));
                return world;
            }
            match self.holder.get() {
                Some(holder) if holder != me => {
                    evict(holder);
                }
                _ => break,
            }
        }
        panic!(
            "the tasklet of {me:?} cannot borrow the world: it is still borrowed by {:?} (a \
             leaked world access?)",
            self.holder.get()
        );
    }

    /// Forgets the holder: the host's access calls this as it drops its borrow.
    #[inline]
    pub fn release(&self) {
        self.holder.set(None);
    }
}

/// The host's world, moved into a [`WorldLoan`] for as long as this guard lives, and
/// moved back when it drops.
pub struct Lent<'a, W, E: Copy + Eq + fmt::Debug, F: Fn(E) -> bool> {
    loan: &'a WorldLoan<W, E>,
    world: &'a mut W,
    evict: F,
}

impl<W, E: Copy + Eq + fmt::Debug, F: Fn(E) -> bool> fmt::Debug for Lent<'_, W, E, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lent").field("loan", self.loan).finish()
    }
}

impl<W, E: Copy + Eq + fmt::Debug, F: Fn(E) -> bool> Lent<'_, W, E, F> {
    /// Makes sure no suspended tasklet still borrows the world, evicting any that does.
    ///
    /// # Panics
    ///
    /// When a holder cannot be made to let go (it is not an actor, or refused to die).
    pub fn reclaim(&self) {
        for _ in 0..4 {
            if self.loan.world.try_borrow_mut().is_ok() {
                return;
            }
            match self.loan.holder.get() {
                Some(holder) if (self.evict)(holder) => {}
                holder => {
                    panic!("the world is still borrowed by {holder:?} and cannot be reclaimed")
                }
            }
        }
        panic!("the world is still borrowed after killing its holders");
    }
}

impl<W, E: Copy + Eq + fmt::Debug, F: Fn(E) -> bool> Drop for Lent<'_, W, E, F> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.reclaim();
        }
        // If a holder could not be evicted we are already panicking; leave the world
        // where it is rather than panic twice.
        if let Ok(mut lent) = self.loan.world.try_borrow_mut() {
            std::mem::swap(self.world, &mut *lent);
            self.loan.lent.set(false);
        }
    }
}
