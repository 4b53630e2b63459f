//! Code generation. The expansion is glue only: it declares the type's name, queue,
//! time and singleton flag (and the call of its `tick`), gives it `spawn`/`spawn_in`,
//! registers its factory entry and asserts it can live on another thread. Every path goes through `::threadward::__private`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::model::{Every, Factory, Missed, Model};

pub(crate) fn expand(model: &Model) -> TokenStream {
    let item = &model.item;
    let ident = &item.ident;
    let vis = &item.vis;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let private = quote!(::threadward::__private);
    let name = syn::LitStr::new(&model.name, model.name_span);
    let capacity = if let Some(capacity) = model.capacity {
        quote!(::core::option::Option::Some(#capacity))
    } else {
        quote!(::core::option::Option::None)
    };
    // `spawn` needs `impl BackgroundThread`. Written as a higher-ranked bound, it is
    // checked where `spawn` is called instead of here, so a missing impl is reported
    // once, by the factory entry's assertion below (or, on a generic struct, where a
    // `spawn` is called on an instance that has no impl).
    let spawn_bound = quote_spanned!(ident.span()=>
        where for<'__threadward> Self: #private::BackgroundThread
    );
    let (spawn_doc, spawn_in_doc) = spawn_docs(model);
    let spawn_with_doc = String::from(
        " As `spawn`, and the thread's tasks come from `source` too (a stream on a broker,\n \
         shared with other threads and processes; see `threadward::Source`): it is opened\n \
         before `startup` runs, and the thread's stop, halt and end reach it.\n\n \
         # Errors\n\n As `spawn`, and `SpawnFailure::Source` if the source could not be opened;\n \
         the value is handed back.",
    );
    let spawn_with_in_doc = format!(
        " Starts this value as the background thread `{}` in `registry`, fed from `source`\n \
         too; see `spawn_with`.\n\n # Errors\n\n As `spawn_with`.",
        model.name
    );
    let factory = model
        .factory
        .as_ref()
        .map(|factory| expand_factory(model, factory));
    let timing = expand_timing(model);
    let singleton = model.singleton.then(|| {
        quote!(
            const SINGLETON: bool = true;
        )
    });

    let restart = model
        .restart
        .as_ref()
        .map(|restart| restart.expand(model.factory.as_ref(), model.settings.is_some()));
    // A pool makes its extra workers as a restart makes a fresh value.
    let workers = model.workers.map(|(workers, key)| {
        let rebuild = (model.restart.is_none() && model.settings.is_none())
            .then(|| crate::restart::rebuild(model.factory.as_ref(), key));
        quote! {
            const WORKERS: usize = #workers;
            #rebuild
        }
    });

    quote! {
        #item

        impl #impl_generics #private::Declared for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            const CAPACITY: ::core::option::Option<usize> = #capacity;
            #singleton
            #timing
            #restart
            #workers
        }

        impl #impl_generics #ident #ty_generics #where_clause {
            #[doc = #spawn_doc]
            #vis fn spawn(
                self,
            ) -> ::core::result::Result<#private::Handle<Self>, #private::SpawnError<Self>>
            #spawn_bound
            {
                Self::spawn_in(self, #private::registry())
            }

            #[doc = #spawn_in_doc]
            #vis fn spawn_in(
                self,
                registry: &#private::Registry,
            ) -> ::core::result::Result<#private::Handle<Self>, #private::SpawnError<Self>>
            #spawn_bound
            {
                #private::spawn_in(self, registry)
            }

            #[doc = #spawn_with_doc]
            #vis fn spawn_with<S>(
                self,
                source: S,
            ) -> ::core::result::Result<#private::Handle<Self>, #private::SpawnError<Self>>
            #spawn_bound, S: #private::SourceFor<Self>
            {
                Self::spawn_with_in(self, source, #private::registry())
            }

            #[doc = #spawn_with_in_doc]
            #vis fn spawn_with_in<S>(
                self,
                source: S,
                registry: &#private::Registry,
            ) -> ::core::result::Result<#private::Handle<Self>, #private::SpawnError<Self>>
            #spawn_bound, S: #private::SourceFor<Self>
            {
                #private::spawn_with_in(self, source, registry)
            }
        }

        #factory
    }
}

/// The timing of a thread declared with `every` or `deadline`: its `TIMING`, and for
/// `every` the call of its `tick`, spanned on the `every` key so that a missing
/// `Ticking` impl is reported there.
fn expand_timing(model: &Model) -> Option<TokenStream> {
    let private = quote!(::threadward::__private);
    let base = match &model.every {
        Some(every) => {
            let (nanos, missed) = (every.nanos, missed(every.missed));
            quote!(#private::Timing::ticking(
                ::core::time::Duration::from_nanos(#nanos),
                #private::MissedTicks::#missed,
            ))
        }
        None if model.deadline.is_some()
            || model.delay.is_some()
            || model.startup_timeout.is_some()
            || model.shutdown_timeout.is_some() =>
        {
            quote!(#private::Timing::NONE)
        }
        None => return None,
    };
    let nanos = |nanos: u64| quote!(::core::time::Duration::from_nanos(#nanos));
    let deadline = model.deadline.map(|d| {
        let d = nanos(d);
        quote!(.with_deadline(#d))
    });
    let delay = model.delay.map(|d| {
        let d = nanos(d);
        quote!(.with_delay(#d))
    });
    let startup_timeout = model.startup_timeout.map(|d| {
        let d = nanos(d);
        quote!(.with_startup_timeout(#d))
    });
    let shutdown_timeout = model.shutdown_timeout.map(|d| {
        let d = nanos(d);
        quote!(.with_shutdown_timeout(#d))
    });
    let timing = quote!(#base #deadline #delay #startup_timeout #shutdown_timeout);
    let tick = model.every.as_ref().map(expand_tick);
    Some(quote! {
        const TIMING: #private::Timing = #timing;
        #tick
    })
}

fn missed(missed: Missed) -> TokenStream {
    match missed {
        Missed::Skip => quote!(Skip),
        Missed::Burst => quote!(Burst),
        Missed::Delay => quote!(Delay),
    }
}

fn expand_tick(every: &Every) -> TokenStream {
    let private = quote!(::threadward::__private);
    // Only `<Self as Ticking>` carries the key's span: `self` and `ctx` keep the call
    // site's hygiene, also when the attribute comes from a `macro_rules!` expansion.
    let ticking = quote_spanned!(every.key=> <Self as #private::Ticking>);
    let tick = quote!(#ticking::tick(self, ctx));
    quote! {
        fn __tick(
            &mut self,
            ctx: &#private::Context,
        ) -> ::core::result::Result<(), #private::BoxError> {
            #tick
        }
    }
}

/// The factory entry of a concrete type. (`Send + 'static` needs no assertion of its own:
/// it is a supertrait of `BackgroundThread`, so rustc reports it on the user's `impl`.)
fn expand_factory(model: &Model, factory: &Factory) -> TokenStream {
    let private = quote!(::threadward::__private);
    let ident = &model.item.ident;
    let name = syn::LitStr::new(&model.name, model.name_span);
    if let Some(settings) = &model.settings {
        return expand_configured(model, factory, settings);
    }
    let constructor = match factory {
        // `Default::default` if the type has it; otherwise it is spawned by hand only.
        Factory::Default => quote! {
            #[allow(unused_imports)]
            use #private::{ViaDefault as _, WithoutDefault as _};
            (&&#private::DefaultProbe::<Self>::new()).constructor()
        },
        // A call in a closure, so that a constructor of the wrong type is one error,
        // on the user's path.
        Factory::Path(path) => {
            let span = syn::spanned::Spanned::span(path);
            quote_spanned!(span=> ::core::option::Option::Some(|| -> Self { #path() }))
        }
    };
    quote! {
        const _: () = {
            impl #private::Construct for #ident {
                fn constructor() -> #private::Constructor<Self> {
                    #constructor
                }
            }

            #private::inventory::submit! {
                #private::FactoryEntry::new::<#ident>(#name)
            }
        };
    }
}

/// The docs of the generated `spawn` and `spawn_in`.
fn spawn_docs(model: &Model) -> (String, String) {
    let spawn_doc = if model.delay.is_some() {
        format!(
            " Starts this value as the background thread `{}` in the process-wide registry and\n \
             returns its handle at once: `startup` runs after the thread's `delay` (a stop\n \
             before then ends it unstarted), and its failure is told by the thread's exit.\n\n \
             # Errors\n\n Hands the value back if the thread did not start: the registry's \
             limit is\n reached, or the operating system could not start a thread.",
            model.name
        )
    } else {
        let timeout = model.startup_timeout.map_or(String::new(), |nanos| {
            format!(
                " After {:?} (`startup_timeout`), a `startup` still\n running is halted \
                 and this fails once it returned (at its next checkpoint).",
                std::time::Duration::from_nanos(nanos)
            )
        });
        format!(
            " Starts this value as the background thread `{}` in the process-wide registry and\n \
             returns its handle once `startup` has finished.{timeout}\n\n # Errors\n\n Hands the \
             value back if the thread did not start: `startup` failed, panicked or timed out, \
             the\n registry's limit is reached, or the operating system could not start a thread.",
            model.name
        )
    };
    let spawn_doc = match model.workers {
        Some((workers, _)) => format!(
            "{spawn_doc}\n\n A pool of {workers} workers on one queue: this value is the last to start,\n              after {} made by the factory; the handle is the pool's (see `threadward::Pool`).",
            workers - 1
        ),
        None => spawn_doc,
    };
    let spawn_in_doc = format!(
        " Starts this value as the background thread `{}` in `registry`; see `spawn`.\n\n \
         # Errors\n\n As `spawn`.",
        model.name
    );
    (spawn_doc, spawn_in_doc)
}

/// The factory entry of a type declared with `settings = S`: its value is made from
/// its settings, by the `factory` (a `fn(S) -> Self`) or by `From<S>`.
fn expand_configured(model: &Model, factory: &Factory, settings: &syn::Path) -> TokenStream {
    let private = quote!(::threadward::__private);
    let ident = &model.item.ident;
    let name = syn::LitStr::new(&model.name, model.name_span);
    let configure = match factory {
        Factory::Path(path) => {
            let span = syn::spanned::Spanned::span(path);
            quote_spanned!(span=> #path(settings))
        }
        Factory::Default => {
            let span = syn::spanned::Spanned::span(settings);
            quote_spanned!(span=> <Self as ::core::convert::From<#settings>>::from(settings))
        }
    };
    quote! {
        const _: () = {
            impl #private::Configured for #ident {
                type Settings = #settings;
                fn configure(settings: #settings) -> Self {
                    #configure
                }
            }

            #private::inventory::submit! {
                #private::FactoryEntry::configured::<#ident>(#name)
            }
        };
    }
}
