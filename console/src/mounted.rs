//! The console as an axum [`Router`], for a service that serves HTTP with axum.

use axum::body::Body;
use axum::extract::Request;
use axum::Router;

use crate::handler::Handler;

/// The console's routes as an axum [`Router`]: nest it under a path of your server
/// and link to that path with a trailing slash (the page's own requests are relative
/// to it). Needs the `axum` feature.
///
/// ```
/// use threadward_console::Console;
///
/// let (handler, updates) = Console::mounted().handler()?;
/// let app: axum::Router = axum::Router::new().nest("/console", threadward_console::router(handler));
/// // … serve `app`; the page is at /console/ …
/// # drop(app);
/// updates.stop();
/// updates.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub fn router(handler: Handler) -> Router {
    Router::new().fallback(move |request: Request| {
        let handler = handler.clone();
        async move { handler.respond(&request).map(Body::new) }
    })
}
