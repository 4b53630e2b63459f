//! Parses the attribute's arguments: `name = "..."`, `capacity = N`, `factory = path`,
//! `every = "200ms"`, `missed = "skip"`, `delay = "1s"`, `deadline = "30s"`,
//! `startup_timeout = "5s"`, `shutdown_timeout = "5s"`, `singleton`, `restart = "on-failure"`, `max_restarts = 3`,
//! `within = "5s"`, `backoff = "100ms"`, `workers = 4`, `settings = Type`.
//! Every mistake is recorded and parsing goes on, so one build shows them all.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprPath, Lit, LitInt, LitStr, Meta, Path, Token};

use crate::Errors;

/// The keys the attribute accepts, in the order its documentation gives them.
const KEYS: &[&str] = &[
    "name",
    "capacity",
    "factory",
    "every",
    "missed",
    "delay",
    "deadline",
    "startup_timeout",
    "shutdown_timeout",
    "singleton",
    "restart",
    "max_restarts",
    "within",
    "backoff",
    "workers",
    "settings",
];

/// One argument that parsed, with the span of its key.
pub(crate) struct Arg<T> {
    pub(crate) key: Span,
    pub(crate) value: T,
}

/// The arguments as written, each checked for its own form only.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<Arg<LitStr>>,
    pub(crate) capacity: Option<Arg<LitInt>>,
    pub(crate) factory: Option<Arg<Path>>,
    pub(crate) every: Option<Arg<LitStr>>,
    pub(crate) missed: Option<Arg<LitStr>>,
    pub(crate) deadline: Option<Arg<LitStr>>,
    pub(crate) delay: Option<Arg<LitStr>>,
    pub(crate) startup_timeout: Option<Arg<LitStr>>,
    pub(crate) shutdown_timeout: Option<Arg<LitStr>>,
    pub(crate) restart: Option<Arg<LitStr>>,
    pub(crate) max_restarts: Option<Arg<LitInt>>,
    pub(crate) within: Option<Arg<LitStr>>,
    pub(crate) backoff: Option<Arg<LitStr>>,
    pub(crate) workers: Option<Arg<LitInt>>,
    pub(crate) settings: Option<Arg<Path>>,
    /// `singleton`, a flag: the span of the word.
    pub(crate) singleton: Option<Span>,
}

impl Args {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
            Ok(metas) => metas,
            Err(error) => {
                errors.push(error);
                return args;
            }
        };
        for meta in metas {
            args.add(meta, errors);
        }
        args
    }

    fn add(&mut self, meta: Meta, errors: &mut Errors) {
        let path = meta.path();
        let Some(key) = path
            .get_ident()
            .map(ToString::to_string)
            .filter(|k| KEYS.contains(&k.as_str()))
        else {
            let written = quote::ToTokens::to_token_stream(path)
                .to_string()
                .replace(' ', "");
            errors.error(
                path,
                format!("unknown argument `{written}`; expected {}", expected_keys()),
            );
            return;
        };
        let key_span = path.span();
        if key == "singleton" {
            match meta {
                Meta::Path(_) if self.singleton.is_some() => {
                    errors.push(syn::Error::new(key_span, "duplicate `singleton` argument"));
                }
                Meta::Path(_) => self.singleton = Some(key_span),
                _ => errors.error(&meta, "`singleton` takes no value: write `singleton`"),
            }
            return;
        }
        let Meta::NameValue(name_value) = meta else {
            errors.error(&meta, format!("expected `{key} = {}`", example(&key)));
            return;
        };
        let value = name_value.value;
        let durations_and_words = match key.as_str() {
            "name" => Some(&mut self.name),
            "every" => Some(&mut self.every),
            "missed" => Some(&mut self.missed),
            "delay" => Some(&mut self.delay),
            "deadline" => Some(&mut self.deadline),
            "startup_timeout" => Some(&mut self.startup_timeout),
            "shutdown_timeout" => Some(&mut self.shutdown_timeout),
            _ => None,
        };
        if let Some(slot) = durations_and_words {
            set(slot, &key, key_span, string_literal(&value), &value, errors);
            return;
        }
        match key.as_str() {
            "capacity" | "workers" => set(
                if key == "capacity" {
                    &mut self.capacity
                } else {
                    &mut self.workers
                },
                &key,
                key_span,
                int_literal(&value),
                &value,
                errors,
            ),
            "restart" | "within" | "backoff" | "max_restarts" => {
                self.add_restart(&key, key_span, &value, errors);
            }
            _ => set(
                if key == "settings" {
                    &mut self.settings
                } else {
                    &mut self.factory
                },
                &key,
                key_span,
                path_value(&value),
                &value,
                errors,
            ),
        }
    }
}

impl Args {
    /// `restart`, `within`, `backoff` (strings) and `max_restarts` (an integer).
    fn add_restart(&mut self, key: &str, key_span: Span, value: &Expr, errors: &mut Errors) {
        let slot = match key {
            "max_restarts" => {
                set(
                    &mut self.max_restarts,
                    key,
                    key_span,
                    int_literal(value),
                    value,
                    errors,
                );
                return;
            }
            "restart" => &mut self.restart,
            "within" => &mut self.within,
            _ => &mut self.backoff,
        };
        set(slot, key, key_span, string_literal(value), value, errors);
    }
}

/// Records one argument, or the error that its value has the wrong form or that it is
/// given twice.
fn set<T>(
    slot: &mut Option<Arg<T>>,
    key: &str,
    key_span: Span,
    value: Option<T>,
    written: &Expr,
    errors: &mut Errors,
) {
    if slot.is_some() {
        errors.push(syn::Error::new(
            key_span,
            format!("duplicate `{key}` argument"),
        ));
        return;
    }
    match value {
        Some(value) => {
            *slot = Some(Arg {
                key: key_span,
                value,
            });
        }
        None => errors.error(
            written,
            format!("expected {}, like `{key} = {}`", kind(key), example(key)),
        ),
    }
}

fn string_literal(value: &Expr) -> Option<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit.clone()),
        _ => None,
    }
}

fn int_literal(value: &Expr) -> Option<LitInt> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => Some(lit.clone()),
        _ => None,
    }
}

fn path_value(value: &Expr) -> Option<Path> {
    match value {
        Expr::Path(ExprPath {
            qself: None, path, ..
        }) => Some(path.clone()),
        _ => None,
    }
}

fn kind(key: &str) -> &'static str {
    match key {
        "name" | "every" | "missed" | "delay" | "deadline" | "startup_timeout"
        | "shutdown_timeout" | "restart" | "within" | "backoff" => "a string literal",
        "capacity" | "max_restarts" | "workers" => "an integer literal",
        "settings" => "a path to a type",
        _ => "a path to a function",
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "name" => "\"notifier\"",
        "capacity" => "1024",
        "every" => "\"200ms\"",
        "missed" => "\"skip\"",
        "deadline" => "\"30s\"",
        "delay" => "\"1s\"",
        "startup_timeout" | "shutdown_timeout" | "within" => "\"5s\"",
        "restart" => "\"on-failure\"",
        "max_restarts" => "3",
        "workers" => "4",
        "settings" => "MailerSettings",
        "backoff" => "\"100ms\"",
        _ => "Notifier::new",
    }
}

fn expected_keys() -> String {
    let keys: Vec<String> = KEYS.iter().map(|key| format!("`{key}`")).collect();
    match keys.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("one of {}, or {last}", rest.join(", ")),
        _ => keys.concat(),
    }
}
