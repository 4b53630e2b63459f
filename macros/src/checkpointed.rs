//! `#[checkpointed]`: a checkpoint at the entry of a function and at the head of every
//! loop body in it, so long computations can be halted without hand-written checks.
//!
//! Only code that runs as part of a call to the function itself is instrumented. The
//! rest is left exactly as written:
//!
//! - nested items of every kind (`fn`, `const`, `static`, `impl`, `trait`, `mod`, `enum`,
//!   `struct`, …): their code runs in its own calls or at compile time, not as part of
//!   this function, and a nested function gets its own attribute if it wants one;
//! - closures and `async` blocks: they run when and where they are called or polled,
//!   possibly on another thread or after this function has returned;
//! - const contexts: `const { }` blocks, array lengths (`[x; N]`, `[T; N]`) and const
//!   generic arguments (`f::<{ N }>()`), and types in general, as every expression in a
//!   type is one of those. They are evaluated by the compiler, which cannot call a
//!   checkpoint (E0015);
//! - macro arguments, which are tokens rather than code until the macro expands them.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Block, ExprAsync, ExprClosure, ExprConst, ExprForLoop, ExprLoop, ExprRepeat, ExprWhile,
    GenericArgument, Item, ItemFn, Stmt, Type,
};

use crate::Errors;

pub(crate) fn expand(args: &TokenStream, item: TokenStream, errors: &mut Errors) -> TokenStream {
    if !args.is_empty() {
        errors.error(args, "`#[checkpointed]` takes no arguments");
    }
    let Ok(mut function) = syn::parse2::<ItemFn>(item.clone()) else {
        // Point at the item's keyword (after any visibility).
        let keyword = item
            .clone()
            .into_iter()
            .find(|token| !matches!(token.to_string().as_str(), "pub" | "#"))
            .into_iter()
            .collect::<TokenStream>();
        errors.error(
            keyword,
            "`#[checkpointed]` can only be applied to a function or method",
        );
        return item;
    };
    if let Some(constness) = &function.sig.constness {
        errors.error(
            constness,
            "`#[checkpointed]` cannot be applied to a `const fn`: a checkpoint is not `const`",
        );
        return function.into_token_stream();
    }
    let entry = checkpoint(function.sig.ident.span());
    Inserter.visit_block_mut(&mut function.block);
    function.block.stmts.insert(0, entry);
    function.into_token_stream()
}

/// `::threadward::checkpoint();`, located at `span` so that the recorded location is the
/// user's line.
fn checkpoint(span: proc_macro2::Span) -> Stmt {
    syn::parse_quote_spanned!(span=> ::threadward::checkpoint();)
}

fn prepend(block: &mut Block, span: proc_macro2::Span) {
    block.stmts.insert(0, checkpoint(span));
}

/// Puts a checkpoint at the head of every loop body that runs as part of the function;
/// see the module documentation for what is left alone and why.
struct Inserter;

impl VisitMut for Inserter {
    fn visit_expr_loop_mut(&mut self, node: &mut ExprLoop) {
        visit_mut::visit_expr_loop_mut(self, node);
        prepend(&mut node.body, node.loop_token.span());
    }

    fn visit_expr_while_mut(&mut self, node: &mut ExprWhile) {
        visit_mut::visit_expr_while_mut(self, node);
        prepend(&mut node.body, node.while_token.span());
    }

    fn visit_expr_for_loop_mut(&mut self, node: &mut ExprForLoop) {
        visit_mut::visit_expr_for_loop_mut(self, node);
        prepend(&mut node.body, node.for_token.span());
    }

    // A closure or an `async` block runs when and where it is called or polled: maybe on
    // another thread, maybe after the function has returned.
    fn visit_expr_closure_mut(&mut self, _node: &mut ExprClosure) {}

    fn visit_expr_async_mut(&mut self, _node: &mut ExprAsync) {}

    // The compiler evaluates a `const { }` block, and cannot call a checkpoint (E0015).
    fn visit_expr_const_mut(&mut self, _node: &mut ExprConst) {}

    // No nested item is part of the function's own code: its functions and methods run in
    // calls of their own (and can take the attribute themselves), and its `const`s,
    // `static`s, enum discriminants and array lengths are evaluated by the compiler.
    fn visit_item_mut(&mut self, _node: &mut Item) {}

    fn visit_expr_repeat_mut(&mut self, node: &mut ExprRepeat) {
        // In `[element; len]` the element runs with the function; the compiler evaluates
        // the length.
        self.visit_expr_mut(&mut node.expr);
    }

    // Nothing in a type runs: its only expressions are array lengths and const generic
    // arguments, which the compiler evaluates.
    fn visit_type_mut(&mut self, _node: &mut Type) {}

    // Types and constants, as in types; this also covers the generic arguments of paths
    // and turbofishes (`f::<{ N }>()`, `x.f::<{ N }>()`), which are not inside a `Type`.
    fn visit_generic_argument_mut(&mut self, _node: &mut GenericArgument) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn checkpoints_in(function: TokenStream) -> usize {
        let mut errors = Errors::default();
        let out = expand(&TokenStream::new(), function, &mut errors).to_string();
        assert!(errors.is_empty());
        println!("{out}"); // shown when a test fails
        out.matches("checkpoint").count()
    }

    /// The checkpoints `#[checkpointed]` adds to `fn work() { body }` besides the entry's.
    fn added_by(body: &TokenStream) -> usize {
        checkpoints_in(quote! { fn work() { #body } }) - 1
    }

    #[test]
    fn checkpoints_go_at_entry_and_loop_heads_only() {
        let function = quote! {
            fn work(n: u64) -> u64 {
                let mut sum = 0;
                for i in 0..n { while sum > 100 { sum -= 1; } sum += i; }
                loop { break; }
                let f = || { for _ in 0..1 {} };
                f();
                sum
            }
        };
        // entry + for + while + loop; the closure's loop is left alone.
        assert_eq!(checkpoints_in(function), 4);
    }

    #[test]
    fn methods_and_async_fns_are_instrumented() {
        let method = quote! { fn spin(&mut self) { loop { self.turns += 1; } } };
        assert_eq!(checkpoints_in(method), 2);
        let async_fn = quote! { async fn pump() { while ready().await {} } };
        assert_eq!(checkpoints_in(async_fn), 2);
    }

    #[test]
    fn nested_fns_are_skipped() {
        let body = quote! { fn inner() { loop {} } };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn nested_consts_are_skipped() {
        let body = quote! { const N: u32 = { let mut n = 0; while n < 3 { n += 1; } n }; };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn nested_statics_are_skipped() {
        let body = quote! { static N: u32 = { let mut n = 0; while n < 3 { n += 1; } n }; };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn nested_impl_blocks_are_skipped() {
        let body = quote! {
            struct S;
            impl S {
                const N: u32 = { let mut n = 0; while n < 3 { n += 1; } n };
                fn spin(&self) { loop {} }
            }
        };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn nested_trait_impls_are_skipped() {
        let body = quote! {
            struct S;
            impl Iterator for S {
                type Item = u32;
                fn next(&mut self) -> Option<u32> { for i in 0..3 { return Some(i); } None }
            }
        };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn nested_traits_default_bodies_are_skipped() {
        let body = quote! {
            trait T {
                const N: u32 = { let mut n = 0; while n < 3 { n += 1; } n };
                fn spin(&self) { loop {} }
            }
        };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn nested_modules_are_skipped() {
        let body = quote! {
            mod inner {
                pub(super) fn spin() { loop {} }
                pub(super) const N: u32 = { let mut n = 0; while n < 3 { n += 1; } n };
            }
        };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn nested_type_definitions_are_skipped() {
        let body = quote! {
            enum E { A = { let mut n = 0; while n < 3 { n += 1; } n } }
            struct S([u8; { let mut n = 0; while n < 3 { n += 1; } n }]);
        };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn async_blocks_are_skipped() {
        let borrowing = quote! { let f = async { loop {} }; };
        assert_eq!(added_by(&borrowing), 0);
        let moving = quote! { let f = async move { for _ in 0..3 {} }; };
        assert_eq!(added_by(&moving), 0);
    }

    #[test]
    fn const_blocks_are_skipped() {
        let body = quote! { let n = const { let mut n = 0; while n < 3 { n += 1; } n }; };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn array_lengths_are_skipped_but_repeated_elements_are_not() {
        let length = quote! { let a = [0u8; { let mut n = 0; while n < 3 { n += 1; } n }]; };
        assert_eq!(added_by(&length), 0);
        let element = quote! { let a = [{ let mut n = 0; while n < 3 { n += 1; } n }; 2]; };
        assert_eq!(added_by(&element), 1);
    }

    #[test]
    fn types_are_skipped() {
        let body = quote! {
            let a: [u8; { let mut n = 0; while n < 3 { n += 1; } n }] = [0; 3];
            let b = <[u8; { loop { break 3; } }]>::default();
        };
        assert_eq!(added_by(&body), 0);
    }

    #[test]
    fn const_generic_arguments_are_skipped() {
        let path = quote! { let n = len::<{ let mut n = 0; while n < 3 { n += 1; } n }>(); };
        assert_eq!(added_by(&path), 0);
        let turbofish = quote! { let n = x.len::<{ let mut n = 0; while n < 3 { n += 1; } n }>(); };
        assert_eq!(added_by(&turbofish), 0);
    }

    #[test]
    fn loops_around_skipped_code_keep_their_checkpoints() {
        let body = quote! {
            loop {
                const N: u32 = { let mut n = 0; while n < 3 { n += 1; } n };
                let f = async { loop {} };
                for _ in [0u8; { let mut n = 0; while n < 3 { n += 1; } n }] {}
            }
        };
        // the outer `loop` and the `for`, not what the constants or the block contain
        assert_eq!(added_by(&body), 2);
    }
}
