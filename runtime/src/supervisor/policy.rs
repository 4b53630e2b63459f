//! How a supervisor restarts its children ([`Strategy`]) and what the top of a tree
//! does when it gives up ([`Escalation`]).

/// Which children a supervisor restarts when one of them ends and is to be restarted.
///
/// | here | OTP | restarted |
/// |---|---|---|
/// | `OneForOne` (the default) | `one_for_one` | the child alone |
/// | `OneForAll` | `one_for_all` | every child: the others are stopped, the last-started first, then all are started in order |
/// | `RestForOne` | `rest_for_one` | the child and those started after it, the same way |
///
/// A sibling stopped this way whose policy is [`RestartPolicy::Never`](crate::RestartPolicy::Never) is not started
/// again (as OTP's `temporary` children).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Restart the child alone: the children are independent.
    #[default]
    OneForOne,
    /// Restart every child: each depends on all the others.
    OneForAll,
    /// Restart the child and the ones started after it: each depends on those before.
    RestForOne,
}

/// What the top of a supervision tree does when it gives up (its intensity was
/// exceeded). A supervisor with a parent always fails to its parent, which decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Escalation {
    /// Start the registry's shutdown: an installed [`Shutdown`](crate::Shutdown) of the
    /// registry runs its ladder as on a signal (its report names the cause,
    /// [`Cause::Escalated`](crate::Cause::Escalated)); without one, every thread of the
    /// registry is asked to stop.
    #[default]
    Shutdown,
    /// Only report it: the supervisor ends `Failed` (logged, in its exit report and, if
    /// nobody joins it, in [`Registry::unjoined_exits`](crate::Registry::unjoined_exits) and the shutdown report, whose
    /// exit code it makes non-zero); the rest of the process goes on.
    Report,
}
