//! The core that every channel, queue and synchronisation primitive shares: its id, its
//! optional name and its state behind one `RefCell`, how a cancelled wait leaves its
//! queue, and the boilerplate of the cheap handles that point at it.

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::rc::Rc;

use crate::id::{ObjectId, ObjectRef};
use crate::task::{Cancel, WaitKey};
use crate::wait::WaitList;

/// One channel, queue or primitive: what every handle to it points at.
pub(crate) struct Object<S> {
    /// Unique in the process; names the object in reports and in [`crate::BlockedOn`].
    pub(crate) id: ObjectId,
    pub(crate) name: Option<Rc<str>>,
    /// The kind's own state, wait list included; never borrowed across a switch.
    pub(crate) state: RefCell<S>,
}

impl<S> Object<S> {
    /// A new object with a fresh id.
    pub(crate) fn new(name: Option<Rc<str>>, state: S) -> Rc<Object<S>> {
        Rc::new(Object {
            id: ObjectId::next(),
            name,
            state: RefCell::new(state),
        })
    }

    /// The object as reports name it.
    pub(crate) fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            id: self.id,
            name: self.name.clone(),
        }
    }

    /// Starts the `Debug` of a handle called `kind` with the object's id and name; the
    /// handle adds its own fields.
    pub(crate) fn debug<'a, 'b>(
        &self,
        f: &'a mut fmt::Formatter<'b>,
        kind: &str,
    ) -> fmt::DebugStruct<'a, 'b> {
        let mut d = f.debug_struct(kind);
        d.field("id", &self.id).field("name", &self.name);
        d
    }
}

/// The state of an object that tasklets wait on: where its wait list is.
pub(crate) trait Waitable {
    /// What a waiter offers (a sender its value, most waiters nothing).
    type Offer;
    /// What a waiter is given when it is served.
    type Reply;

    /// The object's wait list.
    fn waiters(&mut self) -> &mut WaitList<Self::Offer, Self::Reply>;

    /// Called when a cancel (timeout, kill, throw) took a waiter off the list, for kinds
    /// that count their waiters elsewhere too.
    fn left(&mut self) {}
}

/// Implements [`Waitable`] for a state whose wait list is its field `waiters`, e.g.
/// `waitable_state!([T] State<T>, offer Msg<T>, reply Msg<T>);`.
macro_rules! waitable_state {
    ([$($generics:tt)*] $state:ty, offer $offer:ty, reply $reply:ty) => {
        impl<$($generics)*> $crate::object::Waitable for $state {
            type Offer = $offer;
            type Reply = $reply;

            fn waiters(&mut self) -> &mut $crate::wait::WaitList<$offer, $reply> {
                &mut self.waiters
            }
        }
    };
}

pub(crate) use waitable_state;

/// An object whose state is nothing but its wait list (a condition, a remote receiver).
impl<P, R> Waitable for WaitList<P, R> {
    type Offer = P;
    type Reply = R;

    fn waiters(&mut self) -> &mut WaitList<P, R> {
        self
    }
}

impl<S: Waitable> Cancel for Object<S> {
    fn describe(&self) -> Option<ObjectRef> {
        Some(self.object_ref())
    }

    fn cancel(&self, key: WaitKey) {
        let mut state = self.state.borrow_mut();
        let waiters = state.waiters();
        let before = waiters.len();
        waiters.cancel(key);
        if waiters.len() < before {
            state.left();
        }
    }
}

/// The wait list of `object`, borrowed: what the blocking glue pushes to and takes from.
pub(crate) fn waiters<S: Waitable>(object: &Object<S>) -> RefMut<'_, WaitList<S::Offer, S::Reply>> {
    RefMut::map(object.state.borrow_mut(), S::waiters)
}

/// Implements the boilerplate of handles that are cheap clones of one `Rc<Object<_>>` in a
/// field named `inner`: `clone` (another handle to the same object, with no bound on the
/// handle's type parameters), `default` (the handle's `new()`), and the `id` and `name`
/// getters, documented with the kind's noun. For example
/// `handle_impls!([T: 'static] Channel<T>, "channel": clone, default, id, name);`.
macro_rules! handle_impls {
    ($generics:tt $handle:ty, $noun:literal: $($part:ident),+) => {
        $( $crate::object::handle_impls!(@$part $generics $handle, $noun); )+
    };
    (@clone [$($generics:tt)*] $handle:ty, $noun:literal) => {
        impl<$($generics)*> Clone for $handle {
            fn clone(&self) -> Self {
                Self {
                    inner: self.inner.clone(),
                }
            }
        }
    };
    (@default [$($generics:tt)*] $handle:ty, $noun:literal) => {
        impl<$($generics)*> Default for $handle {
            fn default() -> Self {
                Self::new()
            }
        }
    };
    (@id [$($generics:tt)*] $handle:ty, $noun:literal) => {
        impl<$($generics)*> $handle {
            #[doc = concat!("This ", $noun, "'s id.")]
            pub fn id(&self) -> $crate::id::ObjectId {
                self.inner.id
            }
        }
    };
    (@name [$($generics:tt)*] $handle:ty, $noun:literal) => {
        impl<$($generics)*> $handle {
            #[doc = concat!("This ", $noun, "'s name, if it has one.")]
            pub fn name(&self) -> Option<&str> {
                self.inner.name.as_deref()
            }
        }
    };
}

pub(crate) use handle_impls;
