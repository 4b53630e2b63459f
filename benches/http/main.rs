//! The notifier example's HTTP front under load, with the load generator on the same
//! machine: requests per second and latency percentiles of `POST /task` and
//! `GET /healthz` at 32 and 64 keep-alive connections. Run with
//!
//! ```text
//! cargo bench --bench http
//! ```
//!
//! The baseline, in the same run: a bare hyper server on the same stack (one
//! current-thread tokio runtime, a constant answer to every request, no threadward, no
//! timeouts, no logging), started from this binary with `--bare-server`. Each figure
//! comes from a fresh server process; the measurements of a round run one after the
//! other in an order that rotates from round to round, unpinned and then with the
//! server on core 0 and the load on core 1. The notifier runs its release build with
//! `RUST_LOG=warn` (no line per request) and instant deliveries.
//!
//! `THREADWARD_BENCH_ROUNDS` sets the rounds (default 3), `THREADWARD_BENCH_SECONDS`
//! the length of one measurement (default 2; a warm-up of a quarter of it comes first).

mod load;
// The tests' harness: its raw HTTP client, and the build of the example (here in the
// bench's release profile).
#[path = "../../tests/service/mod.rs"]
mod service;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use load::{Figures, Load};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches`: nothing to test here
    }
    if args.iter().any(|a| a == "--bare-server") {
        bare_server();
        return;
    }
    let rounds: usize = env_number("THREADWARD_BENCH_ROUNDS", 3);
    let seconds: f64 = env_number("THREADWARD_BENCH_SECONDS", 2.0);
    let notifier = service::example("notifier");
    let loads = [
        Load::new("notifier", "POST /task", 32),
        Load::new("notifier", "POST /task", 64),
        Load::new("notifier", "GET /healthz", 32),
        Load::new("notifier", "GET /healthz", 64),
        Load::new("bare hyper", "GET /healthz", 32),
        Load::new("bare hyper", "GET /healthz", 64),
    ];
    for split in [false, true] {
        let placement = if split {
            "server on core 0, load on core 1"
        } else {
            "unpinned"
        };
        println!("\n{placement}, {rounds} rounds of {seconds} s per measurement");
        let mut results: Vec<Vec<Figures>> = vec![Vec::new(); loads.len()];
        for round in 0..rounds.max(1) {
            for offset in 0..loads.len() {
                let at = (round + offset) % loads.len();
                let load = &loads[at];
                let server = Server::start(load.contender, &notifier, split);
                results[at].push(load.run(server.address, seconds, split));
            }
        }
        load::report(&loads, &results);
    }
}

fn env_number<N: std::str::FromStr>(name: &str, default: N) -> N {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A server process; stopped when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(contender: &str, notifier: &PathBuf, split: bool) -> Self {
        let mut command = if contender == "notifier" {
            let mut command = Command::new(notifier);
            command
                .args(["--port", "0"])
                .env("NOTIFIER_DELIVERY_MS", "0")
                .env("RUST_LOG", "warn");
            command
        } else {
            let mut command = Command::new(std::env::current_exe().expect("this binary"));
            command.arg("--bare-server");
            command
        };
        if split {
            // The child inherits this thread's cores: core 0; the load then pins to 1.
            load::pin_to(0);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server");
        if split {
            load::unpin();
        }
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the server ended before it listened")
                .expect("read the server's output");
            if let Some(rest) = line.strip_prefix("listening on http://") {
                let address = rest.split(';').next().unwrap_or_default();
                break address.parse().expect("an address");
            }
        };
        // Its further output is not read; at `warn` there is none.
        Self { child, address }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The baseline: hyper on a current-thread runtime answering every request with a
/// constant body.
fn bare_server() {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::Response;
    use hyper_util::rt::TokioIo;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("address")
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = service_fn(|_request| async {
                let body = Full::new(Bytes::from_static(br#"{"status":"ok"}"#));
                Ok::<_, std::convert::Infallible>(Response::new(body))
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
}
