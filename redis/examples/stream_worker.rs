//! A consumer process: threads that handle jobs from a Redis stream until SIGINT or
//! SIGTERM, then finish what they hold, acknowledge it and print what they did. Run
//! several (on one machine or many) and they share the stream.
//!
//! ```text
//! cargo run -p threadward-redis --example stream_worker -- redis://127.0.0.1:6379/ jobs \
//!     --threads 2 --prefetch 10 --claim-idle-ms 30000
//! ```
//!
//! Each job is `{"id": 7, "work_ms": 20, "abort": false}`: the worker sleeps `work_ms`
//! (a stop or halt cuts it short) and prints `handled 7`; a job with `abort` aborts the
//! process (a poison pill). The repository's process-level tests run it.

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    match unix::run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("stream_worker: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("stream_worker stops on SIGINT and SIGTERM, which this platform does not have");
}

#[cfg(unix)]
mod unix {
    use std::io::Write;
    use std::time::Duration;

    use serde::{Deserialize, Serialize};
    use threadward::{background_thread, BackgroundThread, BoxError, Context, Shutdown};
    use threadward_redis::Stream;

    /// A job: how long it takes, and whether it kills its process.
    #[derive(Serialize, Deserialize, Debug)]
    pub(crate) struct Job {
        pub(crate) id: u64,
        #[serde(default)]
        pub(crate) work_ms: u64,
        #[serde(default)]
        pub(crate) abort: bool,
    }

    #[background_thread(name = "stream-worker")]
    #[derive(Default)]
    struct Worker;

    impl BackgroundThread for Worker {
        type Task = Job;
        fn handle(&mut self, job: Job, ctx: &Context) -> Result<(), BoxError> {
            if job.abort {
                std::process::abort();
            }
            ctx.sleep(Duration::from_millis(job.work_ms));
            // One line per job, written whole: the tests read them as they come.
            let mut out = std::io::stdout().lock();
            writeln!(out, "handled {}", job.id)?;
            out.flush()?;
            Ok(())
        }
    }

    /// The value after `flag` in the arguments, if given.
    fn option(args: &[String], flag: &str) -> Result<Option<u64>, String> {
        match args.iter().position(|arg| arg == flag) {
            None => Ok(None),
            Some(at) => args
                .get(at + 1)
                .and_then(|value| value.parse().ok())
                .map(Some)
                .ok_or_else(|| format!("{flag} needs a number")),
        }
    }

    pub(crate) fn run() -> Result<std::process::ExitCode, BoxError> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let (Some(url), Some(key)) = (args.first(), args.get(1)) else {
            return Err(
                "usage: stream_worker <redis-url> <stream-key> [--threads N] \
                        [--prefetch N] [--claim-idle-ms N] [--max-deliveries N]"
                    .into(),
            );
        };
        // What the runtime and the stream log (failures, reconnects, dead letters), on
        // stderr.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::INFO)
            .init();
        // Signals are taken over before anything starts: a SIGTERM from now on stops
        // the workers gracefully, never by the default action.
        let shutdown = Shutdown::on_signals()
            .grace(Duration::from_secs(10))
            .install()?;
        let threads = option(&args, "--threads")?.unwrap_or(1);
        let mut handles = Vec::new();
        for _ in 0..threads {
            let mut stream = Stream::<Job>::connect(url)?.key(key).group("workers");
            if let Some(prefetch) = option(&args, "--prefetch")? {
                stream = stream.prefetch(usize::try_from(prefetch)?);
            }
            if let Some(idle) = option(&args, "--claim-idle-ms")? {
                stream = stream.claim_idle(Duration::from_millis(idle));
            }
            if let Some(deliveries) = option(&args, "--max-deliveries")? {
                stream = stream.max_deliveries(u32::try_from(deliveries)?);
            }
            handles.push(Worker.spawn_with(stream)?);
        }
        println!("ready");
        let report = shutdown.wait();
        drop(handles); // the shutdown took the exits: its report has them
        print!("{report}");
        Ok(std::process::ExitCode::from(
            u8::try_from(report.exit_code()).unwrap_or(1),
        ))
    }
}
