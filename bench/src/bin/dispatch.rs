//! What the storage seam's dispatch costs per call: a boxed future behind a
//! trait object (what `async_trait` over `dyn Store` makes) against a
//! `match` on an enum of the stores calling each one's own `async fn` (what
//! `StoreKind` does). Hold the difference against a job's floor, one commit
//! (`limit_1` of the main benchmark).
//!
//! The futures carry 2 KiB of state across their await point, about the
//! size of a store call's (a sqlx query and its connection). Run it with
//! `cargo run --release -p queuetopia-bench --bin dispatch`.

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// A future that is pending once, as a call that waits for the database is.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

struct Backend(u64);

impl Backend {
    async fn op(&self, x: u64) -> u64 {
        let state = black_box([x as u8; 2048]);
        YieldOnce(false).await;
        u64::from(black_box(state)[7]).wrapping_add(self.0)
    }
}

/// The trait object's way: every call boxes its future.
trait Boxed: Send + Sync {
    fn op(&self, x: u64) -> Pin<Box<dyn Future<Output = u64> + Send + '_>>;
}

impl Boxed for Backend {
    fn op(&self, x: u64) -> Pin<Box<dyn Future<Output = u64> + Send + '_>> {
        Box::pin(Backend::op(self, x))
    }
}

/// The enum's way: a match, the backend's future inline.
enum Kind {
    First(Backend),
    Second(Backend),
}

impl Kind {
    async fn op(&self, x: u64) -> u64 {
        match self {
            Kind::First(b) => b.op(x).await,
            Kind::Second(b) => b.op(x).await,
        }
    }
}

/// Polls `f` to its end with a waker that does nothing.
fn run<F: Future<Output = u64>>(f: F) -> u64 {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Nanoseconds per call of `call`, the best of five rounds.
fn per_call(mut call: impl FnMut(u64) -> u64) -> f64 {
    const CALLS: u64 = 2_000_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut sum = 0u64;
        for i in 0..CALLS {
            sum = sum.wrapping_add(call(i));
        }
        black_box(sum);
        best = best.min(start.elapsed().as_nanos() as f64 / CALLS as f64);
    }
    best
}

fn main() {
    let boxed: Vec<Box<dyn Boxed>> = vec![Box::new(Backend(1)), Box::new(Backend(2))];
    let kinds = [Kind::First(Backend(1)), Kind::Second(Backend(2))];
    let via_box = per_call(|i| run(black_box(&boxed[(i & 1) as usize]).op(i)));
    let via_enum = per_call(|i| run(black_box(&kinds[(i & 1) as usize]).op(i)));
    println!("dispatch of one store call (2 KiB of future state), best of 5 × 2,000,000 calls");
    println!("  boxed future behind dyn (async_trait)  {via_box:8.1} ns/call");
    println!("  match on an enum (StoreKind)           {via_enum:8.1} ns/call");
    println!(
        "  difference                             {:8.1} ns/call",
        via_box - via_enum
    );
}
