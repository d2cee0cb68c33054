//! The rewrite itself: a preempt point at the top of every loop body in one fn body.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::visit_mut::{self, VisitMut};
use syn::{
    Block, ExprClosure, ExprConst, ExprForLoop, ExprLoop, ExprRepeat, ExprWhile, GenericArgument,
    Item, Path, Stmt, Type,
};

/// Walks one fn body and puts `<uthread>::preempt_point();` first in the body of each
/// `loop`, `while` (and `while let`) and `for` it finds, however deeply nested, closures
/// and async blocks included. It does not enter what is not this fn's own runtime code:
/// nested items (they are functions of their own), macro invocations (opaque tokens),
/// types, and const contexts (a point is not a `const` call).
pub(crate) struct InsertPoints<'a> {
    /// The path of the uthread crate, when `crate = "..."` named one; `::uthread` if not.
    krate: Option<&'a Path>,
    /// Points inserted so far.
    inserted: usize,
    /// The first point that did not parse (only a strange `crate` path can cause one).
    error: Option<syn::Error>,
}

impl<'a> InsertPoints<'a> {
    pub(crate) fn new(krate: Option<&'a Path>) -> Self {
        InsertPoints {
            krate,
            inserted: 0,
            error: None,
        }
    }

    /// How many points the walk inserted, or why one could not be.
    pub(crate) fn finish(self) -> syn::Result<usize> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.inserted),
        }
    }

    /// Makes `body` start with a point. The call carries the loop keyword's span, so an
    /// error about it (no `uthread` crate in scope, say) points at the user's loop.
    fn prepend(&mut self, body: &mut Block, loop_keyword: Span) {
        let krate = match self.krate {
            Some(path) => quote!(#path),
            None => quote_spanned!(loop_keyword=> ::uthread),
        };
        let point: TokenStream = quote_spanned!(loop_keyword=> #krate::preempt_point(););
        match syn::parse2::<Stmt>(point) {
            Ok(point) => {
                body.stmts.insert(0, point);
                self.inserted += 1;
            }
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
    }
}

impl VisitMut for InsertPoints<'_> {
    fn visit_expr_loop_mut(&mut self, node: &mut ExprLoop) {
        visit_mut::visit_expr_loop_mut(self, node);
        self.prepend(&mut node.body, node.loop_token.span);
    }

    fn visit_expr_while_mut(&mut self, node: &mut ExprWhile) {
        // The condition may hold loops of its own (in a block or a closure): those get
        // their points from this walk too.
        visit_mut::visit_expr_while_mut(self, node);
        self.prepend(&mut node.body, node.while_token.span);
    }

    fn visit_expr_for_loop_mut(&mut self, node: &mut ExprForLoop) {
        visit_mut::visit_expr_for_loop_mut(self, node);
        self.prepend(&mut node.body, node.for_token.span);
    }

    fn visit_expr_closure_mut(&mut self, node: &mut ExprClosure) {
        // A closure's loops run on behalf of the fn (iterator callbacks, spawned
        // tasklets); a `const` closure's body is a const context.
        if node.constness.is_none() {
            visit_mut::visit_expr_closure_mut(self, node);
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {
        // A fn, impl or module declared inside the body is code of its own: it gets
        // points where it carries `#[preemptible]` itself.
    }

    fn visit_expr_const_mut(&mut self, _: &mut ExprConst) {
        // `const { ... }` runs at compile time.
    }

    fn visit_expr_repeat_mut(&mut self, node: &mut ExprRepeat) {
        // `[value; len]`: `len` is a const context, `value` is ordinary code.
        self.visit_expr_mut(&mut node.expr);
    }

    fn visit_type_mut(&mut self, _: &mut Type) {
        // Expressions in types (array lengths) are const contexts.
    }

    fn visit_generic_argument_mut(&mut self, _: &mut GenericArgument) {
        // Turbofish arguments are types and const expressions: nothing that runs.
    }
}
