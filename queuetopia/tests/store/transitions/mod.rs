//! The table: one case per transition of the queue rule and its
//! neighbours, by area (a file each). Leases last 15 s (a 10 s timeout plus a 5 s margin).

pub(super) use crate::common::Kind;
pub(super) use crate::table::Action::{Cancel, Edit, Retry, Skip};
pub(super) use crate::table::Ending::{Failed, GivenUp, Succeeded, TimedOut};
pub(super) use crate::table::Options::{HoldAfterOne, Plain, ScheduledAt};
pub(super) use crate::table::Was::{Lost, Stored};
pub(super) use crate::table::{Case, Step, check};

// Set-ups several cases share.

/// Two jobs in queue `a`, one in `b`, created at 0.
pub(super) const CREATED: Step = Step::Create {
    at: 0,
    jobs: &["a1", "a2", "b1"],
    options: Plain,
    wake: true,
};
/// n1 claims every ready queue at 0.
pub(super) const N1_CLAIMS_AB: Step = Step::Claim {
    at: 0,
    node: "n1",
    limit: 10,
    takes: &["a1", "b1"],
};
/// One job in queue `a`, claimed by n1 at 0.
pub(super) const A1_RUNNING: &[Step] = &[
    Step::Create {
        at: 0,
        jobs: &["a1"],
        options: Plain,
        wake: true,
    },
    Step::Claim {
        at: 0,
        node: "n1",
        limit: 10,
        takes: &["a1"],
    },
];
/// a1 failed at 1, to run again at 61; a2 behind it.
pub(super) const A1_WAITS: &[Step] = &[
    Step::Create {
        at: 0,
        jobs: &["a1", "a2"],
        options: Plain,
        wake: true,
    },
    Step::Claim {
        at: 0,
        node: "n1",
        limit: 10,
        takes: &["a1"],
    },
    Step::Finish {
        at: 1,
        node: "n1",
        job: "a1",
        ending: Failed { backoff: 60 },
        next: None,
        written: Stored,
        takes: &[],
    },
];
pub(super) const A1_WAITS_STATE: &[&str] = &[
    "a1 retrying #1 until +61",
    "a2 pending",
    "queue a: head a1, blocked",
];
/// a1, of one attempt, failed at 11: its queue waits for an operator.
pub(super) const A1_HELD: &[Step] = &[
    Step::Create {
        at: 10,
        jobs: &["a1"],
        options: HoldAfterOne,
        wake: true,
    },
    Step::Claim {
        at: 10,
        node: "n1",
        limit: 10,
        takes: &["a1"],
    },
    Step::Finish {
        at: 11,
        node: "n1",
        job: "a1",
        ending: Failed { backoff: 1 },
        next: None,
        written: Stored,
        takes: &[],
    },
];
/// a3 created at 2 behind a1, which waits for its backoff.
pub(super) const A3_CREATED: Step = Step::Create {
    at: 2,
    jobs: &["a3"],
    options: Plain,
    wake: true,
};
pub(super) const A1_A3_WAIT_STATE: &[&str] = &[
    "a1 retrying #1 until +61",
    "a2 pending",
    "a3 pending",
    "queue a: head a1, blocked",
];
/// a1's attempt by n1 timed out at 11: the queue stays locked to 15.
pub(super) const A1_TIMED_OUT: &[Step] = &[
    A1_RUNNING[0],
    A1_RUNNING[1],
    Step::Finish {
        at: 11,
        node: "n1",
        job: "a1",
        ending: TimedOut { backoff: 0 },
        next: None,
        written: Stored,
        takes: &[],
    },
];
/// n1's lease on a1 ran out at 15; n2 took the queue over at 16.
pub(super) const A1_TAKEN_OVER: &[Step] = &[
    A1_RUNNING[0],
    A1_RUNNING[1],
    Step::Claim {
        at: 16,
        node: "n2",
        limit: 10,
        takes: &["a1 abandoned"],
    },
];
pub(super) const A1_TAKEN_OVER_STATE: &[&str] = &[
    "a1 running #1",
    "queue a: head a1, locked by n2 until +31 for a1",
];

mod claims;
mod cleanup;
mod creation;
mod leases;
mod operators;
mod pauses;
mod results;
