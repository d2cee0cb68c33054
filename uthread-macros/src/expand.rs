//! `#[preemptible]` from tokens to tokens: its options, the checks on what it is put on,
//! and the rewritten fn (or a compile error that points at the user's code).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Item, ItemFn, LitStr, Path, PathArguments, TraitItemFn};

use crate::points::InsertPoints;

/// Expands `#[preemptible(args)] input`. On an error the input comes back unchanged after
/// the error, so the rest of the crate still sees the item and the user gets one message.
pub(crate) fn preemptible(args: TokenStream, input: TokenStream) -> TokenStream {
    match expand(args, input.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(input);
            tokens
        }
    }
}

fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let options = Options::parse(args)?;
    let mut function = target(input)?;
    let mut points = InsertPoints::new(options.krate.as_ref());
    points.visit_block_mut(&mut function.block);
    points.finish()?;
    Ok(function.into_token_stream())
}

/// What the attribute's arguments say.
#[derive(Default)]
struct Options {
    /// `crate = "path"`: where the `uthread` crate is, for a crate that renamed it.
    krate: Option<Path>,
}

impl Options {
    fn parse(args: TokenStream) -> syn::Result<Options> {
        let mut options = Options::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("crate") {
                if options.krate.is_some() {
                    return Err(meta.error("`crate` is given twice"));
                }
                let literal: LitStr = meta.value()?.parse()?;
                let path: Path = literal.parse()?;
                if path
                    .segments
                    .iter()
                    .any(|s| !matches!(s.arguments, PathArguments::None))
                {
                    return Err(syn::Error::new(
                        literal.span(),
                        "`crate` names a crate or module path, without generic arguments",
                    ));
                }
                options.krate = Some(path);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown option: #[preemptible] takes no options but \
                     `crate = \"path::to::uthread\"`",
                ))
            }
        });
        parser.parse2(args)?;
        Ok(options)
    }
}

/// The fn the attribute is on, or an error naming what it is on instead.
fn target(input: TokenStream) -> syn::Result<ItemFn> {
    let item = match syn::parse2::<Item>(input.clone()) {
        Ok(Item::Verbatim(_)) | Err(_) => return Err(not_an_item(input)),
        Ok(item) => item,
    };
    let refuse = |what: &str, span| {
        syn::Error::new(
            span,
            format!(
                "#[preemptible] goes on a fn (a free function, or a method in an impl \
                 block or a trait), not on {what}"
            ),
        )
    };
    match item {
        Item::Fn(function) => match function.sig.constness {
            Some(constness) => Err(syn::Error::new(
                constness.span,
                "#[preemptible] cannot go on a `const fn`: the preempt points it inserts \
                 are not `const` calls",
            )),
            None => Ok(function),
        },
        Item::Impl(block) => Err(refuse(
            "an impl block: put it on each method that loops",
            block.impl_token.span,
        )),
        Item::Trait(block) => Err(refuse(
            "a trait: put it on each method that loops",
            block.trait_token.span,
        )),
        Item::Struct(item) => Err(refuse("a struct", item.struct_token.span)),
        Item::Enum(item) => Err(refuse("an enum", item.enum_token.span)),
        Item::Union(item) => Err(refuse("a union", item.union_token.span)),
        Item::Mod(item) => Err(refuse("a module", item.mod_token.span)),
        Item::Const(item) => Err(refuse("a const", item.const_token.span)),
        Item::Static(item) => Err(refuse("a static", item.static_token.span)),
        Item::Type(item) => Err(refuse("a type alias", item.type_token.span)),
        Item::Use(item) => Err(refuse("a use declaration", item.use_token.span)),
        other => Err(refuse("this item", other.span())),
    }
}

/// The error for input that is not an item: a trait method without a body, or anything
/// the attribute cannot be on.
fn not_an_item(input: TokenStream) -> syn::Error {
    if let Ok(method) = syn::parse2::<TraitItemFn>(input.clone()) {
        if method.default.is_none() {
            return syn::Error::new(
                method.sig.ident.span(),
                format!(
                    "#[preemptible]: `{}` has no body to put preempt points in; put the \
                     attribute on its implementations (or give it a default body)",
                    method.sig.ident
                ),
            );
        }
    }
    syn::Error::new(
        input.span(),
        "#[preemptible] goes on a fn (a free function, or a method in an impl block or \
         a trait)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    /// The expansion, as a string to compare.
    fn expanded(args: TokenStream, input: TokenStream) -> String {
        preemptible(args, input).to_string()
    }

    /// The same tokens, as the string `expanded` makes of them.
    fn tokens(t: TokenStream) -> String {
        t.to_string()
    }

    /// The message of the compile error an expansion starts with.
    fn error(args: TokenStream, input: TokenStream) -> String {
        match expand(args, input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn every_kind_of_loop_gets_a_point_first_in_its_body() {
        let out = expanded(
            quote!(),
            quote! {
                fn spin(n: u64) -> u64 {
                    let mut acc = 0;
                    loop { acc += 1; if acc > n { break; } }
                    while acc > 0 { acc -= 1; }
                    while let Some(x) = it.next() { acc += x; }
                    for i in 0..n { acc ^= i; }
                    acc
                }
            },
        );
        assert_eq!(
            out,
            tokens(quote! {
                fn spin(n: u64) -> u64 {
                    let mut acc = 0;
                    loop { ::uthread::preempt_point(); acc += 1; if acc > n { break; } }
                    while acc > 0 { ::uthread::preempt_point(); acc -= 1; }
                    while let Some(x) = it.next() { ::uthread::preempt_point(); acc += x; }
                    for i in 0..n { ::uthread::preempt_point(); acc ^= i; }
                    acc
                }
            })
        );
    }

    #[test]
    fn nested_labelled_and_continuing_loops_each_check_before_anything_else() {
        let out = expanded(
            quote!(),
            quote! {
                fn grid() {
                    'rows: for y in 0..4 {
                        if y == 1 { continue; }
                        { loop { if done() { continue 'rows; } break; } }
                    }
                }
            },
        );
        assert_eq!(
            out,
            tokens(quote! {
                fn grid() {
                    'rows: for y in 0..4 {
                        ::uthread::preempt_point();
                        if y == 1 { continue; }
                        { loop { ::uthread::preempt_point(); if done() { continue 'rows; } break; } }
                    }
                }
            })
        );
    }

    #[test]
    fn closures_and_async_blocks_in_the_body_get_points() {
        let out = expanded(
            quote!(),
            quote! {
                fn f() {
                    let g = |n| { for _ in 0..n {} };
                    let h = async { loop {} };
                    match x { Some(_) => while go() {}, None => {} }
                }
            },
        );
        assert_eq!(
            out,
            tokens(quote! {
                fn f() {
                    let g = |n| { for _ in 0..n { ::uthread::preempt_point(); } };
                    let h = async { loop { ::uthread::preempt_point(); } };
                    match x { Some(_) => while go() { ::uthread::preempt_point(); }, None => {} }
                }
            })
        );
    }

    #[test]
    fn loops_in_a_while_condition_get_points_too() {
        let out = expanded(
            quote!(),
            quote! { fn f() { while { loop { break; } ; go() } { step(); } } },
        );
        assert_eq!(
            out,
            tokens(quote! {
                fn f() {
                    while { loop { ::uthread::preempt_point(); break; } ; go() } {
                        ::uthread::preempt_point();
                        step();
                    }
                }
            })
        );
    }

    #[test]
    fn nested_items_macros_and_const_contexts_are_left_alone() {
        let input = quote! {
            fn f() {
                fn inner() { loop {} }
                impl S { fn m(&self) { loop {} } }
                const N: usize = { let mut i = 0; while i < 3 { i += 1; } i };
                let a = [0u8; { let mut i = 0; while i < 3 { i += 1; } i }];
                let b = const { let mut i = 0; while i < 3 { i += 1; } i };
                let c = f::<{ let mut i = 0; while i < 3 { i += 1; } i }>();
                let d: [u8; { let mut i = 0; while i < 3 { i += 1; } i }] = a;
                println!("{}", { loop { break 1; } });
            }
        };
        assert_eq!(expanded(quote!(), input.clone()), tokens(input));
    }

    #[test]
    fn the_value_of_an_array_repeat_is_ordinary_code() {
        let out = expanded(
            quote!(),
            quote! { fn f() { let a = [{ loop { break 1; } }; 4]; } },
        );
        assert_eq!(
            out,
            tokens(quote! {
                fn f() { let a = [{ loop { ::uthread::preempt_point(); break 1; } }; 4]; }
            })
        );
    }

    #[test]
    fn methods_keep_their_receiver_attributes_and_signature() {
        let out = expanded(
            quote!(),
            quote! {
                #[inline]
                pub(crate) async unsafe fn m<'a, T: Copy>(&'a mut self, t: T) -> Option<T>
                where T: Send {
                    loop { return Some(t); }
                }
            },
        );
        assert_eq!(
            out,
            tokens(quote! {
                #[inline]
                pub(crate) async unsafe fn m<'a, T: Copy>(&'a mut self, t: T) -> Option<T>
                where T: Send {
                    loop { ::uthread::preempt_point(); return Some(t); }
                }
            })
        );
    }

    #[test]
    fn a_fn_without_loops_is_unchanged() {
        let input = quote! { fn f(x: u32) -> u32 { x + 1 } };
        assert_eq!(expanded(quote!(), input.clone()), tokens(input));
    }

    #[test]
    fn crate_option_names_where_uthread_is() {
        let out = expanded(
            quote!(crate = "my::renamed_uthread"),
            quote! { fn f() { loop {} } },
        );
        assert_eq!(
            out,
            tokens(quote! { fn f() { loop { my::renamed_uthread::preempt_point(); } } })
        );
    }

    #[test]
    fn bad_options_are_errors() {
        let f = quote! { fn f() {} };
        assert!(error(quote!(fast), f.clone()).contains("unknown option"));
        assert!(error(quote!(crate = "a", crate = "b"), f.clone()).contains("given twice"));
        assert!(error(quote!(crate = "a::b<T>"), f.clone()).contains("generic arguments"));
        assert!(!error(quote!(crate = "not a path"), f).is_empty());
    }

    #[test]
    fn what_is_not_a_fn_is_refused_by_name() {
        let cases = [
            (quote! { struct S; }, "not on a struct"),
            (quote! { enum E { A } }, "not on an enum"),
            (
                quote! { impl S { fn m(&self) {} } },
                "put it on each method",
            ),
            (
                quote! { trait T { fn m(&self) {} } },
                "put it on each method",
            ),
            (quote! { mod m {} }, "not on a module"),
            (quote! { static S: u8 = 0; }, "not on a static"),
            (quote! { const fn f() {} }, "cannot go on a `const fn`"),
            (quote! { fn m(&self); }, "`m` has no body"),
            (quote! { let x = 1; }, "goes on a fn"),
        ];
        for (input, expected) in cases {
            let message = error(quote!(), input.clone());
            assert!(
                message.contains(expected),
                "{input}: {message:?} does not say {expected:?}"
            );
        }
    }

    #[test]
    fn an_error_keeps_the_input_after_it() {
        let out = expanded(quote!(), quote! { struct S; });
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(out.ends_with("struct S ;"), "{out}");
    }
}
