//! The `#[background_thread]` attribute of [threadward](https://docs.rs/threadward).
//! Use it through the `threadward` crate, which documents it.
//!
//! The attribute runs in three stages: [`args`] parses the arguments, [`model`]
//! validates them against the struct, [`expand`] writes the glue.

#![warn(clippy::unwrap_used, clippy::expect_used)]

mod args;
mod expand;
mod model;

use proc_macro::TokenStream;
use quote::ToTokens;

/// Declares a struct as a background thread. Documented in the `threadward` crate.
#[proc_macro_attribute]
pub fn background_thread(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let mut errors = Errors::default();
    let args = args::Args::parse(args.into(), &mut errors);
    let expanded = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(parsed) => match model::Model::new(args, parsed, &mut errors) {
            Some(model) => expand::expand(&model),
            // Not a struct: keep the item as it was, so only the attribute's error shows.
            None => item,
        },
        Err(error) => {
            errors.push(error);
            item
        }
    };
    let mut output = expanded;
    output.extend(errors.into_compile_errors());
    output.into()
}

/// Every error found in one expansion, reported together (after serde's `Ctxt`).
#[derive(Default)]
struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    fn error(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    fn into_compile_errors(self) -> proc_macro2::TokenStream {
        self.combined
            .map(|e| e.to_compile_error())
            .unwrap_or_default()
    }
}
