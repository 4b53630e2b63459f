//! The notifier beyond one process (`--redis`): notifiers on two ports share one Redis
//! stream; every notification a client was told 202 for is delivered once, by one of
//! them, logged with the id of its 202; both stop cleanly on SIGTERM. Runs against a
//! real `redis-server` (skipped, saying so, without one, unless
//! `THREADWARD_REQUIRE_REDIS=1`).

#[path = "../redis/tests/support/mod.rs"]
mod redis_support;
mod service;

use std::collections::HashSet;

use redis_support::{length, pending, wait_until, Redis};
use service::Service;

#[test]
fn notifiers_on_two_ports_share_one_stream() {
    let Some(redis) = Redis::start("notifiers_on_two_ports_share_one_stream") else {
        return;
    };
    let url = redis.url();
    let args = ["--redis", url.as_str(), "--claim-idle-ms", "1000"];
    let mut a = Service::start_with_args(1, &args, &[]);
    let mut b = Service::start_with_args(1, &args, &[]);
    let mut accepted = Vec::new();
    for n in 0..40 {
        let service = if n % 2 == 0 { &a } else { &b };
        let body = format!(r#"{{"recipient": "r{n}@example.com", "text": "hello"}}"#);
        let answer = service.request("POST", "/task", Some(&body));
        assert_eq!(answer.status, 202, "{}", answer.body);
        accepted.push(answer.id().expect("an id"));
    }
    let all: HashSet<u64> = accepted.iter().copied().collect();
    assert_eq!(all.len(), 40, "ids are unique across the notifiers");
    wait_until("every notification delivered", || {
        a.read_log();
        b.read_log();
        let mut delivered = a.delivered();
        delivered.extend(b.delivered());
        delivered.len() >= 40
    });
    assert_eq!(a.stop("TERM"), 0, "{:#?}", a.log);
    assert_eq!(b.stop("TERM"), 0, "{:#?}", b.log);
    let mut delivered = a.delivered();
    delivered.extend(b.delivered());
    let once: HashSet<u64> = delivered.iter().copied().collect();
    assert_eq!(
        delivered.len(),
        once.len(),
        "a notification delivered twice"
    );
    assert_eq!(once, all, "every accepted notification is delivered");
    let mut con = redis.connection();
    assert_eq!(pending(&mut con, "notifications", "notifiers"), 0);
    assert_eq!(length(&mut con, "notifications"), 0);
}
