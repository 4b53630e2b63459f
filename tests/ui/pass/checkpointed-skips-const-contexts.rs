//! `#[checkpointed]` leaves const contexts alone: the compiler evaluates constants,
//! statics, `const {}` blocks, array lengths, const generic arguments, enum discriminants
//! and `const fn`s, and cannot call a checkpoint there (E0015), so their loops get none.
//! The function's own loop still gets one.
use threadward::checkpointed;

fn generic_len<const N: usize>() -> usize {
    N
}

struct Buffer;

impl Buffer {
    fn len<const N: usize>(&self) -> usize {
        N
    }
}

#[checkpointed]
fn constants() -> Vec<usize> {
    const CONST_ITEM: usize = {
        let mut n = 0;
        while n < 1 {
            n += 1;
        }
        n
    };
    static STATIC_ITEM: usize = {
        let mut n = 0;
        loop {
            n += 1;
            if n == 2 {
                break n;
            }
        }
    };
    let const_block = const {
        let mut n = 0;
        while n < 3 {
            n += 1;
        }
        n
    };
    let repeat = [0u8; {
        let mut n = 0;
        while n < 4 {
            n += 1;
        }
        n
    }];
    let annotated: [u8; {
        let mut n = 0;
        while n < 5 {
            n += 1;
        }
        n
    }] = [0; 5];
    let generic = generic_len::<
        {
            let mut n = 0;
            while n < 6 {
                n += 1;
            }
            n
        },
    >();
    let turbofish = Buffer.len::<{
        let mut n = 0;
        while n < 7 {
            n += 1;
        }
        n
    }>();
    let qualified = <[u8; {
        let mut n = 0;
        while n < 8 {
            n += 1;
        }
        n
    }]>::default()
    .len();

    struct Inherent;
    impl Inherent {
        const N: usize = Self::count_to(9);
        const fn count_to(limit: usize) -> usize {
            let mut n = 0;
            while n < limit {
                n += 1;
            }
            n
        }
    }
    trait Defaulted {
        const N: usize = {
            let mut n = 0;
            while n < 10 {
                n += 1;
            }
            n
        };
    }
    impl Defaulted for Inherent {}
    enum Discriminant {
        Eleven = {
            let mut n = 0;
            while n < 11 {
                n += 1;
            }
            n
        },
    }
    struct Field(
        [u8; {
            let mut n = 0;
            while n < 12 {
                n += 1;
            }
            n
        }],
    );
    mod nested {
        pub(super) const N: usize = {
            let mut n = 0;
            while n < 13 {
                n += 1;
            }
            n
        };
    }

    let mut values = vec![
        CONST_ITEM,
        STATIC_ITEM,
        const_block,
        repeat.len(),
        annotated.len(),
        generic,
        turbofish,
        qualified,
        Inherent::N,
        <Inherent as Defaulted>::N,
        Discriminant::Eleven as usize,
        std::mem::size_of::<Field>(),
        nested::N,
    ];
    // The function's own loop, instrumented as before.
    for value in &mut values {
        *value *= 10;
    }
    values
}

fn main() {
    let expected: Vec<usize> = (1..=13).map(|n| n * 10).collect();
    assert_eq!(constants(), expected);
}
