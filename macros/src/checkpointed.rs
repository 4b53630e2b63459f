//! `#[checkpointed]`: a checkpoint at the entry of a function and at the head of every
//! loop body in it, so long computations can be halted without hand-written checks.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, ExprClosure, ExprForLoop, ExprLoop, ExprWhile, ItemFn, Stmt};

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

/// Puts a checkpoint at the head of every loop body; leaves nested functions and
/// closures alone (they may run elsewhere, and get their own attribute if wanted).
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

    fn visit_expr_closure_mut(&mut self, _node: &mut ExprClosure) {}

    fn visit_item_fn_mut(&mut self, _node: &mut ItemFn) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn checkpoints_go_at_entry_and_loop_heads_only() {
        let mut errors = Errors::default();
        let out = expand(
            &TokenStream::new(),
            quote! {
                fn work(n: u64) -> u64 {
                    let mut sum = 0;
                    for i in 0..n { while sum > 100 { sum -= 1; } sum += i; }
                    loop { break; }
                    let f = || { for _ in 0..1 {} };
                    f();
                    sum
                }
            },
            &mut errors,
        )
        .to_string();
        assert!(errors.is_empty());
        // entry + for + while + loop; the closure's loop is left alone.
        assert_eq!(out.matches("checkpoint").count(), 4, "{out}");
    }
}
