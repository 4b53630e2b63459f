//! `#[checkpointed]` instruments only the function's own code. The methods of nested
//! `impl` blocks and traits, the functions of nested modules, `async` blocks and
//! closures run in calls or polls of their own, and keep their loops unchecked: on a
//! managed thread, the last checkpoint each probe below passes is its entry. A nested
//! function opts in with its own attribute.
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use threadward::{background_thread, checkpointed, BackgroundThread, BoxError, Context};

#[background_thread]
#[derive(Default)]
struct Prober;

impl BackgroundThread for Prober {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

// Each probe returns its result and the line of its entry checkpoint, which is located
// at the function's name, on the line above the first statement.

#[checkpointed]
fn nested_impl() -> (u32, u32) {
    let entry = line!() - 1;
    struct Counter(u32);
    impl Counter {
        fn run(&mut self) -> u32 {
            while self.0 < 3 {
                self.0 += 1;
            }
            self.0
        }
    }
    (Counter(0).run(), entry)
}

#[checkpointed]
fn nested_trait_impl() -> (u32, u32) {
    let entry = line!() - 1;
    struct Countdown(u32);
    impl Iterator for Countdown {
        type Item = u32;
        fn next(&mut self) -> Option<u32> {
            // the even numbers below the start
            loop {
                if self.0 == 0 {
                    return None;
                }
                self.0 -= 1;
                if self.0 % 2 == 0 {
                    return Some(self.0);
                }
            }
        }
    }
    (Countdown(5).sum(), entry)
}

#[checkpointed]
fn nested_trait_default() -> (u32, u32) {
    let entry = line!() - 1;
    trait Spin {
        fn spin(&self) -> u32 {
            let mut n = 0;
            for _ in 0..3 {
                n += 1;
            }
            n
        }
    }
    impl Spin for () {}
    (().spin(), entry)
}

#[checkpointed]
fn nested_module() -> (u32, u32) {
    let entry = line!() - 1;
    mod inner {
        pub(super) struct Doubler;
        impl Doubler {
            pub(super) fn run(&self, mut n: u32) -> u32 {
                for _ in 0..2 {
                    n *= 2;
                }
                n
            }
        }
    }
    (inner::Doubler.run(1), entry)
}

#[checkpointed]
fn async_block() -> (u32, u32) {
    let entry = line!() - 1;
    let future = async {
        let mut n = 0;
        while n < 3 {
            n += 1;
        }
        n
    };
    (block_on(future), entry)
}

#[checkpointed]
fn nested_fn_and_closure() -> (u32, u32) {
    let entry = line!() - 1;
    fn plain() -> u32 {
        let mut n = 0;
        loop {
            n += 1;
            if n == 2 {
                break n;
            }
        }
    }
    let closure = || {
        let mut n = 0;
        for _ in 0..3 {
            n += 1;
        }
        n
    };
    (plain() + closure(), entry)
}

#[checkpointed]
fn nested_checkpointed_fn() -> (u32, u32) {
    #[checkpointed]
    fn opted_in() -> (u32, u32) {
        let mut n = 0;
        let line = line!() + 1;
        while n < 3 {
            n += 1;
        }
        (n, line)
    }
    opted_in()
}

fn main() {
    let prober = Prober.spawn().unwrap();
    let probes: [(fn() -> (u32, u32), u32); 7] = [
        (nested_impl, 3),
        (nested_trait_impl, 6),
        (nested_trait_default, 3),
        (nested_module, 4),
        (async_block, 3),
        (nested_fn_and_closure, 5),
        // Here the line is the loop's in the nested function.
        (nested_checkpointed_fn, 3),
    ];
    for (index, (probe, expected)) in probes.into_iter().enumerate() {
        let (value, line) = prober.call(move |_, _| probe()).unwrap();
        assert_eq!(value, expected, "probe {index}");
        let last = prober
            .info()
            .last_checkpoint
            .expect("a checkpoint was passed");
        assert_eq!(last.location.file(), file!(), "probe {index}");
        assert_eq!(
            last.location.line(),
            line,
            "probe {index}: the last checkpoint"
        );
    }
    prober.stop();
    prober.join().unwrap();
}
