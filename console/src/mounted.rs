//! The console as an axum [`Router`], for a service that serves HTTP with axum.

use axum::body::Body;
use axum::extract::{OriginalUri, Request};
use axum::routing::any;
use axum::Router;

use crate::handler::Handler;

/// The console's routes as an axum [`Router`], to nest under a path of your server
/// (the page is at that path). Needs the `axum` feature.
///
/// ```
/// use threadward_console::Console;
///
/// let (handler, updates) = Console::mounted().handler()?;
/// let app: axum::Router = axum::Router::new().nest("/console", threadward_console::router(handler));
/// // … serve `app`; the page is at /console …
/// # drop(app);
/// updates.stop();
/// updates.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub fn router(handler: Handler) -> Router {
    let answer = move |request: Request| {
        let handler = handler.clone();
        async move {
            // Where the router was nested: the page's own requests go there.
            let inner = request.uri().path();
            let prefix = request
                .extensions()
                .get::<OriginalUri>()
                .map_or("", |original| {
                    let full = original.path();
                    if inner == "/" {
                        full.trim_end_matches('/')
                    } else {
                        full.strip_suffix(inner).unwrap_or("")
                    }
                });
            handler.respond_under(prefix, &request).map(Body::new)
        }
    };
    Router::new()
        .route("/", any(answer.clone()))
        .route("/{*path}", any(answer))
}
