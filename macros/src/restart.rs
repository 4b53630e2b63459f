//! `restart`, `max_restarts`, `within` and `backoff`: validated into a [`Restart`], and
//! expanded into the type's `RESTART` and the `__rebuild` that makes a fresh value
//! through its factory.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::args::{Arg, Args};
use crate::model::{non_zero_duration, Factory};
use crate::Errors;

/// A thread declared with `restart = "on-failure"`.
pub(crate) struct Restart {
    /// The span of the `restart` key, where a missing factory is reported.
    key: Span,
    /// `max_restarts` and `within` (nanoseconds), if given.
    intensity: Option<(u32, u64)>,
    /// `backoff` (nanoseconds), if given.
    backoff: Option<u64>,
}

impl Restart {
    /// The restart the arguments declare (`None` for `never`), or errors on them.
    pub(crate) fn new(args: &mut Args, generic: bool, errors: &mut Errors) -> Option<Self> {
        let (max_restarts, within, backoff) = (
            args.max_restarts.take(),
            args.within.take(),
            args.backoff.take(),
        );
        let key = match args.restart.take() {
            None => None,
            Some(Arg { key, value }) => match value.value().as_str() {
                "on-failure" => Some(key),
                "never" => None,
                other => {
                    errors.error(&value, unknown_policy(other));
                    return None;
                }
            },
        };
        let Some(key) = key else {
            for (given, name) in [
                (max_restarts.as_ref().map(|arg| arg.key), "max_restarts"),
                (within.as_ref().map(|arg| arg.key), "within"),
                (backoff.as_ref().map(|arg| arg.key), "backoff"),
            ] {
                if let Some(span) = given {
                    errors.push(syn::Error::new(
                        span,
                        format!("`{name}` is about restarts: it needs `restart = \"on-failure\"`"),
                    ));
                }
            }
            return None;
        };
        if generic {
            errors.push(syn::Error::new(
                key,
                "`restart` makes a fresh value through the type's factory, and a generic struct has none",
            ));
            return None;
        }
        let intensity = match (max_restarts, within) {
            (None, None) => None,
            (Some(Arg { key, .. }), None) => {
                errors.push(syn::Error::new(
                    key,
                    "`max_restarts` needs `within`: at most that many restarts within how long? (like `within = \"10s\"`)",
                ));
                None
            }
            (None, Some(Arg { key, .. })) => {
                errors.push(syn::Error::new(
                    key,
                    "`within` needs `max_restarts`: how many restarts within it? (like `max_restarts = 3`)",
                ));
                None
            }
            (Some(Arg { value: max, .. }), Some(Arg { value: within, .. })) => {
                let max = match max.base10_parse::<u32>() {
                    Ok(0) => {
                        errors.error(&max, "`max_restarts` must be at least 1; for no restarts, leave `restart` out");
                        None
                    }
                    Ok(max) => Some(max),
                    Err(_) => {
                        errors.error(
                            &max,
                            "`max_restarts` must be a whole number from 1 to 4294967295",
                        );
                        None
                    }
                };
                let within = non_zero_duration("within", &within, errors);
                max.zip(within)
            }
        };
        let backoff =
            backoff.and_then(|Arg { value, .. }| non_zero_duration("backoff", &value, errors));
        Some(Self {
            key,
            intensity,
            backoff,
        })
    }

    /// The `RESTART` and `__rebuild` of the type's `Declared` impl (no `__rebuild` for
    /// a type with `settings`: its fresh values come from the settings it was created
    /// with).
    pub(crate) fn expand(&self, factory: Option<&Factory>, settings: bool) -> TokenStream {
        let private = quote!(::threadward::__private);
        let nanos = |nanos: u64| quote!(::core::time::Duration::from_nanos(#nanos));
        let intensity = self.intensity.map(|(max, within)| {
            let within = nanos(within);
            quote!(.with_intensity(#max, #within))
        });
        let backoff = self.backoff.map(|backoff| {
            let backoff = nanos(backoff);
            quote!(.with_backoff(#backoff))
        });
        // Spanned on the `restart` key: a type without `Default` (and no `factory`) is
        // told there.
        let rebuild = (!settings).then(|| rebuild(factory, self.key));
        quote! {
            const RESTART: #private::Restart = #private::Restart::ON_FAILURE #intensity #backoff;
            #rebuild
        }
    }
}

/// The `__rebuild` that makes a fresh value (for a restart, or a pool's worker) through
/// the type's factory: its `factory`, or `Default`, whose absence is reported at `key`.
pub(crate) fn rebuild(factory: Option<&Factory>, key: Span) -> TokenStream {
    let fresh = if let Some(Factory::Path(path)) = factory {
        quote!(#path())
    } else {
        quote_spanned!(key=> <Self as ::core::default::Default>::default())
    };
    quote! {
        fn __rebuild() -> ::core::option::Option<Self> {
            ::core::option::Option::Some(#fresh)
        }
    }
}

fn unknown_policy(other: &str) -> String {
    let hint = match other {
        "temporary" => " (OTP's `temporary` is `never` here)",
        "transient" => " (OTP's `transient` is `on-failure` here)",
        "permanent" | "always" => {
            " (OTP's `permanent` is `always`, which only a `Supervisor` gives its children: a thread restarts itself only after a failure, since a stop is final)"
        }
        _ => "",
    };
    format!(
        "unknown `restart` policy `{other}`; expected `never` (the default) or `on-failure`{hint}"
    )
}
