//! The validated model of an annotated struct: everything the expansion needs, already
//! checked. Where an argument is wrong, the error is recorded and the model falls back
//! to the default, so the expansion still declares the type and one mistake does not
//! cascade into many.

use proc_macro2::Span;
use syn::{Ident, Item, ItemStruct, Path};

use crate::args::{Arg, Args};
use crate::Errors;

/// How `create` constructs the type.
pub(crate) enum Factory {
    Default,
    Path(Path),
}

/// What a thread with `every` does about ticks it missed (the runtime's `MissedTicks`).
#[derive(Clone, Copy)]
pub(crate) enum Missed {
    Skip,
    Burst,
    Delay,
}

/// `every` and `missed`: the tick's period in nanoseconds, with the span of the
/// `every` key (where a missing `Ticking` impl is reported).
pub(crate) struct Every {
    pub(crate) nanos: u64,
    pub(crate) key: Span,
    pub(crate) missed: Missed,
}

pub(crate) struct Model {
    pub(crate) item: ItemStruct,
    /// The thread's name: the factory, registry and OS thread name.
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) capacity: Option<usize>,
    /// `None` for generic structs, which get no factory entry.
    pub(crate) factory: Option<Factory>,
    pub(crate) every: Option<Every>,
    /// `deadline`, in nanoseconds.
    pub(crate) deadline: Option<u64>,
    /// `delay`, in nanoseconds.
    pub(crate) delay: Option<u64>,
    /// `startup_timeout`, in nanoseconds.
    pub(crate) startup_timeout: Option<u64>,
    /// `shutdown_timeout`, in nanoseconds.
    pub(crate) shutdown_timeout: Option<u64>,
    pub(crate) singleton: bool,
    pub(crate) restart: Option<crate::restart::Restart>,
    /// `workers`, when more than one, with the span of its key (where a missing
    /// factory is reported).
    pub(crate) workers: Option<(usize, Span)>,
    /// `settings`: the type `create_with` deserialises and the factory takes.
    pub(crate) settings: Option<syn::Path>,
}

impl Model {
    /// The model of `item`, or `None` (with the error recorded) if it is not a struct.
    pub(crate) fn new(mut args: Args, item: Item, errors: &mut Errors) -> Option<Self> {
        let item = match item {
            Item::Struct(item) => item,
            other => {
                errors.error(
                    item_keyword(&other),
                    "`#[background_thread]` can only be applied to a struct",
                );
                return None;
            }
        };
        let generic = !item.generics.params.is_empty();
        let restart = crate::restart::Restart::new(&mut args, generic, errors);
        let default_name = snake_case(&item.ident);
        let (name, name_span) = match args.name {
            Some(Arg { key, .. }) if generic => {
                errors.push(not_on_generic("name", key, &default_name));
                (default_name, item.ident.span())
            }
            Some(Arg { value, .. }) => match validate_name(&value.value()) {
                Ok(()) => (value.value(), value.span()),
                Err(message) => {
                    errors.error(&value, message);
                    (default_name, item.ident.span())
                }
            },
            None => (default_name, item.ident.span()),
        };
        let capacity = args.capacity.and_then(|Arg { value, .. }| {
            let message = match value.base10_parse::<usize>() {
                Ok(0) => "`capacity` must be at least 1; leave it out for an unbounded queue",
                Ok(capacity) => return Some(capacity),
                Err(_) if value.base10_digits().starts_with('-') => {
                    "`capacity` must be at least 1; leave it out for an unbounded queue"
                }
                Err(_) => "`capacity` does not fit in a `usize`",
            };
            errors.error(&value, message);
            None
        });
        let factory = match args.factory {
            Some(Arg { key, .. }) if generic => {
                errors.push(not_on_generic("factory", key, &name));
                None
            }
            _ if generic => None,
            Some(Arg { value, .. }) => Some(Factory::Path(value)),
            None => Some(Factory::Default),
        };
        let every = every(args.every, args.missed.as_ref(), errors);
        let deadline = args
            .deadline
            .and_then(|Arg { value, .. }| non_zero_duration("deadline", &value, errors));
        let delay = args
            .delay
            .and_then(|Arg { value, .. }| non_zero_duration("delay", &value, errors));
        let startup_timeout = match (args.startup_timeout, delay) {
            (Some(Arg { key, .. }), Some(_)) => {
                errors.push(syn::Error::new(
                    key,
                    "`startup_timeout` bounds how long `spawn` waits for `startup`, and a thread with `delay` is not waited for: `spawn` returns at once; leave one of them out",
                ));
                None
            }
            (Some(Arg { value, .. }), None) => non_zero_duration("startup_timeout", &value, errors),
            (None, _) => None,
        };
        let workers = args.workers.and_then(|arg| workers(arg, generic, errors));
        let settings = args.settings.and_then(|Arg { key, value }| {
            if generic {
                errors.push(not_on_generic("settings", key, &name));
                return None;
            }
            Some(value)
        });
        let shutdown_timeout = args
            .shutdown_timeout
            .and_then(|Arg { value, .. }| non_zero_duration("shutdown_timeout", &value, errors));
        Some(Self {
            item,
            name,
            name_span,
            capacity,
            factory,
            every,
            deadline,
            delay,
            startup_timeout,
            shutdown_timeout,
            singleton: args.singleton.is_some(),
            restart,
            workers,
            settings,
        })
    }
}

/// `workers`: a whole number from 1; `None` for 1 (a thread, not a pool).
fn workers(arg: Arg<syn::LitInt>, generic: bool, errors: &mut Errors) -> Option<(usize, Span)> {
    let Arg { key, value } = arg;
    let message = match value.base10_parse::<usize>() {
        Ok(0) => "`workers` must be at least 1: how many threads serve the queue",
        Ok(1) => return None,
        Ok(_) if generic => {
            errors.push(syn::Error::new(
                key,
                "`workers` makes more values through the type's factory, and a generic struct has none",
            ));
            return None;
        }
        Ok(workers) => return Some((workers, key)),
        Err(_) if value.base10_digits().starts_with('-') => {
            "`workers` must be at least 1: how many threads serve the queue"
        }
        Err(_) => "`workers` does not fit in a `usize`",
    };
    errors.error(&value, message);
    None
}

/// `every` (a non-zero duration) and `missed` (`skip`, `burst` or `delay`; only with
/// `every`).
fn every(
    every: Option<Arg<syn::LitStr>>,
    missed: Option<&Arg<syn::LitStr>>,
    errors: &mut Errors,
) -> Option<Every> {
    let policy = match missed {
        None => Some(Missed::Skip),
        Some(Arg { value, .. }) => match value.value().as_str() {
            "skip" => Some(Missed::Skip),
            "burst" => Some(Missed::Burst),
            "delay" => Some(Missed::Delay),
            other => {
                errors.error(
                    value,
                    format!("unknown `missed` policy `{other}`; expected `skip` (the default), `burst` or `delay`"),
                );
                None
            }
        },
    };
    let Some(Arg { key, value }) = every else {
        if let Some(Arg { key, .. }) = missed {
            errors.push(syn::Error::new(
                *key,
                "`missed` says what to do with missed ticks: it needs `every = \"...\"`",
            ));
        }
        return None;
    };
    let nanos = non_zero_duration("every", &value, errors)?;
    policy.map(|missed| Every { nanos, key, missed })
}

/// The duration `value` spells, in nanoseconds: more than zero, or an error on it.
pub(crate) fn non_zero_duration(
    key: &str,
    value: &syn::LitStr,
    errors: &mut Errors,
) -> Option<u64> {
    match crate::duration::parse(&value.value()) {
        Ok(0) => {
            errors.error(value, format!("`{key}` must be longer than zero"));
            None
        }
        Ok(nanos) => Some(nanos),
        Err(message) => {
            errors.error(value, message);
            None
        }
    }
}

fn not_on_generic(key: &str, span: Span, name: &str) -> syn::Error {
    syn::Error::new(
        span,
        format!(
            "`{key}` cannot be used on a generic struct: `create` needs one concrete type, so generic structs get no factory entry (the thread is named `{name}`)"
        ),
    )
}

/// Thread names appear in logs, URLs and OS tools: keep them plain.
fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("`name` must not be empty".to_owned());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        Some(c) => Err(format!(
            "`name` may contain only ASCII letters, digits, `_`, `-` and `.`, found {c:?}"
        )),
        None => Ok(()),
    }
}

/// `HttpServer` → `http_server`, `HTTPServer` → `http_server`, `Notifier2` → `notifier2`.
fn snake_case(ident: &Ident) -> String {
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let chars: Vec<char> = name.chars().collect();
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let previous = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if previous != '_'
                && (previous.is_lowercase() || previous.is_ascii_digit() || next_is_lower)
            {
                snake.push('_');
            }
        }
        snake.extend(c.to_lowercase());
    }
    snake
}

/// The token to point at when the attribute is on something other than a struct.
fn item_keyword(item: &Item) -> proc_macro2::TokenStream {
    use quote::ToTokens;
    match item {
        Item::Enum(item) => item.enum_token.to_token_stream(),
        Item::Union(item) => item.union_token.to_token_stream(),
        Item::Fn(item) => item.sig.fn_token.to_token_stream(),
        Item::Trait(item) => item.trait_token.to_token_stream(),
        Item::Impl(item) => item.impl_token.to_token_stream(),
        Item::Type(item) => item.type_token.to_token_stream(),
        Item::Mod(item) => item.mod_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        let cases = [
            ("Notifier", "notifier"),
            ("HttpServer", "http_server"),
            ("HTTPServer", "http_server"),
            ("Notifier2", "notifier2"),
            ("IOWorker", "io_worker"),
            ("already_snake", "already_snake"),
            ("A", "a"),
        ];
        for (ident, expected) in cases {
            let ident = Ident::new(ident, Span::call_site());
            assert_eq!(snake_case(&ident), expected, "{ident}");
        }
        assert_eq!(
            snake_case(&Ident::new_raw("type", Span::call_site())),
            "type"
        );
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_name("notification").is_ok());
        assert!(validate_name("db-flush.v2").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("has space").unwrap_err().contains("' '"));
        assert!(validate_name("nul\0").is_err());
    }
}
