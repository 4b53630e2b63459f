//! [`Console`]: how a console is configured, started on its own server, or handed to a
//! service's server.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use threadward_runtime::{ClosureThread, Context, Handle, Registry, SpawnFailure};
use tokio::sync::watch;

use crate::handler::{split_host, Handler};
use crate::hub::{Hub, Settings};
use crate::server::{listen, serve, Limits};

/// A console of a registry's threads, to configure and then run: on its own server
/// ([`spawn`](Self::spawn)) or on yours ([`handler`](Self::handler), or
/// `router` with the `axum` feature).
///
/// Safe by default: it serves loopback only unless given a token; with a token every
/// read of thread data needs it (`Authorization: Bearer …`); actions (stop or halt one
/// thread) are off unless turned on, and then need the token too.
#[derive(Debug, Clone)]
#[must_use = "a console does nothing until it is spawned"]
pub struct Console {
    address: Option<String>,
    registry: Registry,
    token: Option<String>,
    actions: bool,
    interval: Duration,
    stuck_after: Duration,
    hosts: Vec<String>,
    limits: Limits,
    ping: Duration,
}

/// Why a console did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// The address to bind is not an address.
    #[error("`{address}` is not an address to listen on: {reason}")]
    Address {
        /// The address given.
        address: String,
        /// Why it is not one.
        reason: String,
    },
    /// The address is not a loopback one, and no token was given: anybody on the
    /// network could read the threads.
    #[error("the console would listen on {address}, beyond this machine: give it a token (`Console::token`)")]
    TokenRequired {
        /// The address.
        address: SocketAddr,
    },
    /// The token is shorter than 16 characters, or holds a character that cannot
    /// travel in a header.
    #[error("a console's token needs at least 16 visible ASCII characters")]
    WeakToken,
    /// A host given to [`Console::allow_host`] is not one: a name or an IP address,
    /// with a port or not, an IPv6 address in brackets.
    #[error("`{0}` is not a host to allow (`name`, `name:port`, `[IPv6 address]:port`)")]
    AllowedHost(String),
    /// The update interval is zero.
    #[error("a console's update interval must be above zero")]
    ZeroInterval,
    /// Listening failed.
    #[error("could not listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// Its thread could not be spawned.
    #[error("could not start the console's thread: {0}")]
    Spawn(#[source] SpawnFailure),
}

/// A console serving on its own server: a managed thread named `threadward-console`
/// that a [`Shutdown`](threadward_runtime::Shutdown) stops after every other thread,
/// so that its pages show the drain to its end and the report.
#[derive(Debug)]
pub struct Running {
    handle: Handle<ClosureThread>,
    address: SocketAddr,
}

impl Running {
    /// Where it listens (with the port the system chose, for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The page's address: `http://127.0.0.1:9750/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Its thread's handle (to stop it, or join it).
    pub fn handle(&self) -> &Handle<ClosureThread> {
        &self.handle
    }
}

impl Console {
    /// A console that will listen on `address` (`"127.0.0.1:9750"`; port 0 takes a
    /// free one).
    pub fn bind(address: impl Into<String>) -> Self {
        Self {
            address: Some(address.into()),
            registry: threadward_runtime::registry().clone(),
            token: None,
            actions: false,
            interval: Duration::from_millis(250),
            stuck_after: Duration::from_secs(5),
            hosts: Vec::new(),
            limits: Limits::default(),
            ping: Duration::from_secs(15),
        }
    }

    /// A console to serve from your own server ([`handler`](Self::handler)).
    pub fn mounted() -> Self {
        Self {
            address: None,
            ..Self::bind("")
        }
    }

    /// The registry it shows (the global one unless set).
    pub fn registry(self, registry: &Registry) -> Self {
        Self {
            registry: registry.clone(),
            ..self
        }
    }

    /// The bearer token that reads of thread data and actions need (at least 16
    /// characters; a long random one). Required to listen beyond loopback.
    pub fn token(self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self
        }
    }

    /// Serves `POST /threads/<id>/stop` and `/halt`, with the token (off unless set).
    pub fn actions(self, on: bool) -> Self {
        Self {
            actions: on,
            ..self
        }
    }

    /// How often the pages are updated (250 ms unless set).
    pub fn interval(self, interval: Duration) -> Self {
        Self { interval, ..self }
    }

    /// How long a thread may be busy on one task without passing a checkpoint before
    /// it is shown stuck (5 s unless set).
    pub fn stuck_after(self, stuck_after: Duration) -> Self {
        Self {
            stuck_after,
            ..self
        }
    }

    /// Also serves requests whose `Host` is `host`, for a console behind a name.
    /// Without it only IP addresses and `localhost` are served, against DNS rebinding.
    ///
    /// A name without a port (`console.example.com`) is served on any port; with one
    /// (`console.example.com:9750`), on that port, or without a port in the request
    /// when it is 80 or 443 (a proxy in front). Both the `Host` header and the
    /// request's target, when it names a host (HTTP/2's `:authority`, a request line
    /// in absolute form), are checked. A host no request could name (`h:+80`,
    /// `[name]`) makes `spawn` and `handler` fail with [`ConsoleError::AllowedHost`].
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// How often an event stream carries a comment line (`: ping`) besides its
    /// updates, for proxies that close connections they think idle (15 s unless set).
    pub fn ping(self, ping: Duration) -> Self {
        Self { ping, ..self }
    }

    /// What its server allows clients (see [`Limits`]).
    pub fn limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }

    fn check(&self) -> Result<(), ConsoleError> {
        if self.interval.is_zero() {
            return Err(ConsoleError::ZeroInterval);
        }
        if let Some(host) = self.hosts.iter().find(|host| split_host(host).is_none()) {
            return Err(ConsoleError::AllowedHost(host.clone()));
        }
        if let Some(token) = &self.token {
            if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConsoleError::WeakToken);
            }
        }
        Ok(())
    }

    fn settings(&self, port: Option<u16>) -> Settings {
        Settings {
            token: self.token.clone(),
            actions: self.actions,
            hosts: self.hosts.clone(),
            port,
            ping: self.ping,
        }
    }

    /// Binds and starts the console's thread, which serves until stopped.
    ///
    /// # Errors
    ///
    /// A [`ConsoleError`] naming what is wrong: the address, a missing or weak token,
    /// a zero interval, the bind, or the thread's spawn.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadward_console::Console;
    ///
    /// let console = Console::bind("127.0.0.1:0").spawn()?;
    /// println!("console on {}", console.url());
    /// console.handle().stop();
    /// console.handle().join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn(self) -> Result<Running, ConsoleError> {
        self.check()?;
        let given = self.address.clone().unwrap_or_default();
        let address = given
            .to_socket_addrs()
            .map_err(|error| error.to_string())
            .and_then(|mut all| all.next().ok_or_else(|| "it names no address".to_owned()))
            .map_err(|reason| ConsoleError::Address {
                address: given.clone(),
                reason,
            })?;
        if !address.ip().is_loopback() && self.token.is_none() {
            return Err(ConsoleError::TokenRequired { address });
        }
        let (runtime, listener) = bind(address)?;
        let bound = listener
            .local_addr()
            .map_err(|source| ConsoleError::Listen { address, source })?;
        let hub = Arc::new(Hub::new(
            &self.registry,
            self.stuck_after,
            self.settings(Some(bound.port())),
        ));
        let handler = Handler {
            hub: Arc::clone(&hub),
        };
        let (interval, limits) = (self.interval, self.limits);
        let mut parts = Some((runtime, listener));
        let handle = threadward_runtime::thread("threadward-console")
            .stop_last()
            .spawn_in(&self.registry, move |ctx| {
                let Some((mut runtime, listener)) = parts.take() else {
                    return Ok(());
                };
                let stop = stop_wiring(ctx, &hub);
                if let Some(runtime) = runtime.0.take() {
                    runtime.block_on(run(listener, limits, stop, interval, handler.clone()));
                }
                Ok(())
            })
            .map_err(|error| ConsoleError::Spawn(error.into_parts().0))?;
        Ok(Running {
            handle,
            address: bound,
        })
    }

    /// The console's request handler, to serve from your own server, and the handle of
    /// its updating thread (`threadward-console`, stopped after the others by a
    /// shutdown; stopping it ends the event streams). Host checks serve IP addresses
    /// and `localhost` on any port, and the hosts allowed.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn), but for the address and the bind.
    pub fn handler(self) -> Result<(Handler, Handle<ClosureThread>), ConsoleError> {
        self.check()?;
        let hub = Arc::new(Hub::new(
            &self.registry,
            self.stuck_after,
            self.settings(None),
        ));
        let ticking = Arc::clone(&hub);
        let mut wired = false;
        let handle = threadward_runtime::thread("threadward-console")
            .every(self.interval)
            .stop_last()
            .spawn_in(&self.registry, move |ctx| {
                if !std::mem::replace(&mut wired, true) {
                    let closing = Arc::clone(&ticking);
                    ctx.on_stop(move || closing.close());
                }
                ticking.tick();
                Ok(())
            })
            .map_err(|error| ConsoleError::Spawn(error.into_parts().0))?;
        Ok((Handler { hub }, handle))
    }
}

/// The console's own runtime, until its thread takes it. Dropped untaken (a spawn that
/// failed), it shuts down without blocking: the caller may be async code, where dropping
/// a runtime panics.
struct Owned(Option<tokio::runtime::Runtime>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A runtime and a listener on `address`, made on a helper thread: `spawn` may be
/// called from async code, where blocking on a runtime of its own would panic.
fn bind(address: SocketAddr) -> Result<(Owned, tokio::net::TcpListener), ConsoleError> {
    let made = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let listener = runtime.block_on(async { listen(address) })?;
                Ok::<_, std::io::Error>((Owned(Some(runtime)), listener))
            })
            .join()
    });
    match made {
        Ok(Ok(made)) => Ok(made),
        Ok(Err(source)) => Err(ConsoleError::Listen { address, source }),
        Err(_) => Err(ConsoleError::Listen {
            address,
            source: std::io::Error::other("the thread binding it panicked"),
        }),
    }
}

/// On a stop, gives the streams their last update, then stops the server.
fn stop_wiring(ctx: &Context, hub: &Arc<Hub>) -> watch::Receiver<bool> {
    let (stopping, stop) = watch::channel(false);
    let hub = Arc::clone(hub);
    ctx.on_stop(move || {
        hub.close();
        stopping.send_replace(true);
    });
    stop
}

/// Updates every `interval` and serves, until stopped.
async fn run(
    listener: tokio::net::TcpListener,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    interval: Duration,
    handler: Handler,
) {
    let hub = Arc::clone(&handler.hub);
    let mut ticks_stop = stop.clone();
    let ticks = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks_stop.wait_for(|stopping| *stopping) => break,
                _ = ticks.tick() => hub.tick(),
            }
        }
    });
    let served = stop.clone();
    serve(listener, limits, served, move |request| {
        let handler = handler.clone();
        async move { handler.respond(&request) }
    })
    .await;
    let _ = stop.wait_for(|stopping| *stopping).await;
    let _ = ticks.await;
}
