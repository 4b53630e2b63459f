//! Where the threads of a measurement run: anywhere (the scheduler decides), producers
//! and consumer on separate cores, or all on one core. A child process reads its
//! placement from `THREADWARD_BENCH_PIN`, and each measured thread pins itself.

use std::fmt;

/// A placement of a measurement's threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pin {
    Unpinned,
    /// Producers on core 0, the consumer on core 1.
    Split,
    /// Everything on core 0.
    OneCore,
}

/// Which side of a measurement a thread is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Role {
    Producer,
    Consumer,
}

pub(crate) const VARIABLE: &str = "THREADWARD_BENCH_PIN";

impl Pin {
    pub(crate) const ALL: [Pin; 3] = [Pin::Unpinned, Pin::Split, Pin::OneCore];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Pin::Unpinned => "unpinned",
            Pin::Split => "split",
            Pin::OneCore => "one-core",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Pin> {
        Pin::ALL.into_iter().find(|pin| pin.name() == name)
    }

    fn current() -> Pin {
        std::env::var(VARIABLE)
            .ok()
            .and_then(|name| Pin::parse(&name))
            .unwrap_or(Pin::Unpinned)
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Pins the calling thread as this process's placement says for `role`.
pub(crate) fn pin(role: Role) {
    let core = match (Pin::current(), role) {
        (Pin::Unpinned, _) => return,
        (Pin::Split, Role::Consumer) => 1,
        (Pin::Split, Role::Producer) | (Pin::OneCore, _) => 0,
    };
    // SAFETY: `cpu_set_t` is plain data, zero is its empty set, and the call only reads
    // the set it is given; pid 0 is the calling thread.
    #[allow(unsafe_code)]
    let pinned = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(
        pinned,
        0,
        "cannot pin to core {core}: {}",
        std::io::Error::last_os_error()
    );
}
