//! The table: one case per transition of the queue rule and its
//! neighbours, by area. Leases last 15 s (a 10 s timeout plus a 5 s margin).

use crate::common::Kind;
use crate::table::Action::{Cancel, Edit, Retry, Skip};
use crate::table::Ending::{Failed, GivenUp, Succeeded, TimedOut};
use crate::table::Options::{HoldAfterOne, Plain, ScheduledAt};
use crate::table::Was::{Lost, Stored};
use crate::table::{Case, Step, check};

// Set-ups several cases share.

/// Two jobs in queue `a`, one in `b`, created at 0.
const CREATED: Step = Step::Create {
    at: 0,
    jobs: &["a1", "a2", "b1"],
    options: Plain,
    wake: true,
};
/// n1 claims every ready queue at 0.
const N1_CLAIMS_AB: Step = Step::Claim {
    at: 0,
    node: "n1",
    limit: 10,
    takes: &["a1", "b1"],
};
/// One job in queue `a`, claimed by n1 at 0.
const A1_RUNNING: &[Step] = &[
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
const A1_WAITS: &[Step] = &[
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
const A1_WAITS_STATE: &[&str] = &[
    "a1 retrying #1 until +61",
    "a2 pending",
    "queue a: head a1, blocked",
];
/// a1, of one attempt, failed at 11: its queue waits for an operator.
const A1_HELD: &[Step] = &[
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
const A3_CREATED: Step = Step::Create {
    at: 2,
    jobs: &["a3"],
    options: Plain,
    wake: true,
};
const A1_A3_WAIT_STATE: &[&str] = &[
    "a1 retrying #1 until +61",
    "a2 pending",
    "a3 pending",
    "queue a: head a1, blocked",
];
/// a1's attempt by n1 timed out at 11: the queue stays locked to 15.
const A1_TIMED_OUT: &[Step] = &[
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
const A1_TAKEN_OVER: &[Step] = &[
    A1_RUNNING[0],
    A1_RUNNING[1],
    Step::Claim {
        at: 16,
        node: "n2",
        limit: 10,
        takes: &["a1 abandoned"],
    },
];
const A1_TAKEN_OVER_STATE: &[&str] = &[
    "a1 running #1",
    "queue a: head a1, locked by n2 until +31 for a1",
];

// Creation.

async fn a_creation_into_idle_queues_wakes_the_schedulers(kind: Kind) {
    check(
        kind,
        Case {
            given: &[],
            before: &[],
            when: CREATED,
            after: &[
                "a1 pending",
                "a2 pending",
                "b1 pending",
                "queue a: head a1",
                "queue b: head b1",
            ],
        },
    )
    .await
}

async fn a_creation_into_a_running_queue_waits_behind_it(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_RUNNING,
            before: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Create {
                at: 1,
                jobs: &["a2"],
                options: Plain,
                wake: false,
            },
            after: &[
                "a1 running #1",
                "a2 pending",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
        },
    )
    .await
}

/// A creation does not read its queue's head: it pulls the queue's
/// `ready_at` (a lower bound) down to its own time and wakes a scheduler,
/// whose claim then finds the head still waiting (the next case).
async fn a_creation_behind_a_head_waiting_for_its_backoff_leaves_it_blocked(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: A3_CREATED,
            after: A1_A3_WAIT_STATE,
        },
    )
    .await
}

async fn a_claim_after_a_creation_behind_a_waiting_head_takes_nothing(kind: Kind) {
    check(
        kind,
        Case {
            given: &[A1_WAITS[0], A1_WAITS[1], A1_WAITS[2], A3_CREATED],
            before: A1_A3_WAIT_STATE,
            when: Step::Claim {
                at: 2,
                node: "n2",
                limit: 10,
                takes: &[],
            },
            after: A1_A3_WAIT_STATE,
        },
    )
    .await
}

async fn a_creation_scheduled_later_wakes_nobody(kind: Kind) {
    check(
        kind,
        Case {
            given: &[],
            before: &[],
            when: Step::Create {
                at: 0,
                jobs: &["a1"],
                options: ScheduledAt(30),
                wake: false,
            },
            after: &["a1 pending", "queue a: head a1"],
        },
    )
    .await
}

// Claims.

async fn a_claim_takes_the_head_of_each_ready_queue(kind: Kind) {
    check(
        kind,
        Case {
            given: &[CREATED],
            before: &[
                "a1 pending",
                "a2 pending",
                "b1 pending",
                "queue a: head a1",
                "queue b: head b1",
            ],
            when: N1_CLAIMS_AB,
            after: &[
                "a1 running #1",
                "a2 pending",
                "b1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
                "queue b: head b1, locked by n1 until +15 for b1",
            ],
        },
    )
    .await
}

async fn a_claim_leaves_a_locked_queue_alone(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_RUNNING,
            before: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Claim {
                at: 14,
                node: "n2",
                limit: 10,
                takes: &[],
            },
            after: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
        },
    )
    .await
}

async fn a_claim_leaves_a_head_waiting_for_its_backoff(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: Step::Claim {
                at: 60,
                node: "n1",
                limit: 10,
                takes: &[],
            },
            after: A1_WAITS_STATE,
        },
    )
    .await
}

async fn a_claim_takes_a_head_whose_backoff_is_over(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: Step::Claim {
                at: 61,
                node: "n2",
                limit: 10,
                takes: &["a1"],
            },
            after: &[
                "a1 running #2",
                "a2 pending",
                "queue a: head a1, blocked, locked by n2 until +76 for a1",
            ],
        },
    )
    .await
}

async fn a_claim_waits_for_a_head_scheduled_later(kind: Kind) {
    check(
        kind,
        Case {
            given: &[Step::Create {
                at: 0,
                jobs: &["a1"],
                options: ScheduledAt(30),
                wake: false,
            }],
            before: &["a1 pending", "queue a: head a1"],
            when: Step::Claim {
                at: 29,
                node: "n1",
                limit: 10,
                takes: &[],
            },
            after: &["a1 pending", "queue a: head a1"],
        },
    )
    .await
}

async fn a_claim_takes_a_scheduled_head_when_its_time_comes(kind: Kind) {
    check(
        kind,
        Case {
            given: &[Step::Create {
                at: 0,
                jobs: &["a1"],
                options: ScheduledAt(30),
                wake: false,
            }],
            before: &["a1 pending", "queue a: head a1"],
            when: Step::Claim {
                at: 30,
                node: "n1",
                limit: 10,
                takes: &["a1"],
            },
            after: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +45 for a1",
            ],
        },
    )
    .await
}

async fn a_claim_leaves_a_held_queue_alone(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_HELD,
            before: &["a1 held #1", "queue a: head a1, held"],
            when: Step::Claim {
                at: 1000,
                node: "n1",
                limit: 10,
                takes: &[],
            },
            after: &["a1 held #1", "queue a: head a1, held"],
        },
    )
    .await
}

/// The queue's `ready_at` is only a lower bound: a creation pulls it down,
/// and the claim must still see that the head waits for an operator.
async fn a_claim_after_a_creation_behind_a_held_head_takes_nothing(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                A1_HELD[0],
                A1_HELD[1],
                A1_HELD[2],
                Step::Create {
                    at: 12,
                    jobs: &["a2"],
                    options: Plain,
                    wake: true,
                },
            ],
            before: &["a1 held #1", "a2 pending", "queue a: head a1, held"],
            when: Step::Claim {
                at: 13,
                node: "n1",
                limit: 10,
                takes: &[],
            },
            after: &["a1 held #1", "a2 pending", "queue a: head a1, held"],
        },
    )
    .await
}

/// A job scheduled before a held head runs first; its result must not hand
/// the lock on to the held job behind it.
async fn a_result_hands_no_lock_on_to_a_held_job(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                A1_HELD[0],
                A1_HELD[1],
                A1_HELD[2],
                Step::Create {
                    at: 12,
                    jobs: &["a2"],
                    options: ScheduledAt(5),
                    wake: true,
                },
                Step::Claim {
                    at: 12,
                    node: "n1",
                    limit: 10,
                    takes: &["a2"],
                },
            ],
            before: &[
                "a1 held #1",
                "a2 running #1",
                "queue a: head a2, locked by n1 until +27 for a2",
            ],
            when: Step::Finish {
                at: 13,
                node: "n1",
                job: "a2",
                ending: Succeeded,
                next: Some(1),
                written: Stored,
                takes: &[],
            },
            after: &["a1 held #1", "a2 done #1", "queue a: head a1, held"],
        },
    )
    .await
}

async fn a_claim_takes_over_an_expired_lease_as_abandoned(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_RUNNING,
            before: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: A1_TAKEN_OVER[2],
            after: A1_TAKEN_OVER_STATE,
        },
    )
    .await
}

async fn a_claim_leaves_a_timed_out_queue_locked_until_its_lease_ends(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_TIMED_OUT,
            before: &[
                "a1 retrying #1 until +11",
                "queue a: head a1, blocked, locked by n1 until +15",
            ],
            when: Step::Claim {
                at: 14,
                node: "n2",
                limit: 10,
                takes: &[],
            },
            after: &[
                "a1 retrying #1 until +11",
                "queue a: head a1, blocked, locked by n1 until +15",
            ],
        },
    )
    .await
}

async fn a_claim_takes_a_timed_out_queue_once_its_lease_ends(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_TIMED_OUT,
            before: &[
                "a1 retrying #1 until +11",
                "queue a: head a1, blocked, locked by n1 until +15",
            ],
            when: Step::Claim {
                at: 15,
                node: "n2",
                limit: 10,
                takes: &["a1"],
            },
            after: &[
                "a1 running #2",
                "queue a: head a1, blocked, locked by n2 until +30 for a1",
            ],
        },
    )
    .await
}

// Results.

async fn a_success_hands_the_lock_on_to_the_next_job(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                Step::Create {
                    at: 0,
                    jobs: &["a1", "a2"],
                    options: Plain,
                    wake: true,
                },
                A1_RUNNING[1],
            ],
            before: &[
                "a1 running #1",
                "a2 pending",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Finish {
                at: 1,
                node: "n1",
                job: "a1",
                ending: Succeeded,
                next: Some(1),
                written: Stored,
                takes: &["a2"],
            },
            after: &[
                "a1 done #1",
                "a2 running #1",
                "queue a: head a2, locked by n1 until +16 for a2",
            ],
        },
    )
    .await
}

async fn a_success_without_a_claim_releases_the_queue(kind: Kind) {
    check(
        kind,
        Case {
            given: &[CREATED, N1_CLAIMS_AB],
            before: &[
                "a1 running #1",
                "a2 pending",
                "b1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
                "queue b: head b1, locked by n1 until +15 for b1",
            ],
            when: Step::Finish {
                at: 1,
                node: "n1",
                job: "a1",
                ending: Succeeded,
                next: None,
                written: Stored,
                takes: &[],
            },
            after: &[
                "a1 done #1",
                "a2 pending",
                "b1 running #1",
                "queue a: head a2",
                "queue b: head b1, locked by n1 until +15 for b1",
            ],
        },
    )
    .await
}

async fn a_result_claims_another_queue_when_its_own_is_empty(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                A1_RUNNING[0],
                A1_RUNNING[1],
                Step::Create {
                    at: 1,
                    jobs: &["b1"],
                    options: Plain,
                    wake: true,
                },
            ],
            before: &[
                "a1 running #1",
                "b1 pending",
                "queue a: head a1, locked by n1 until +15 for a1",
                "queue b: head b1",
            ],
            when: Step::Finish {
                at: 2,
                node: "n1",
                job: "a1",
                ending: Succeeded,
                next: Some(1),
                written: Stored,
                takes: &["b1"],
            },
            after: &[
                "a1 done #1",
                "b1 running #1",
                "queue b: head b1, locked by n1 until +17 for b1",
            ],
        },
    )
    .await
}

async fn a_failure_blocks_its_queue_and_the_claim_moves_to_another(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                CREATED,
                Step::Claim {
                    at: 0,
                    node: "n1",
                    limit: 1,
                    takes: &["a1"],
                },
            ],
            before: &[
                "a1 running #1",
                "a2 pending",
                "b1 pending",
                "queue a: head a1, locked by n1 until +15 for a1",
                "queue b: head b1",
            ],
            when: Step::Finish {
                at: 1,
                node: "n1",
                job: "a1",
                ending: Failed { backoff: 60 },
                next: Some(1),
                written: Stored,
                takes: &["b1"],
            },
            after: &[
                "a1 retrying #1 until +61",
                "a2 pending",
                "b1 running #1",
                "queue a: head a1, blocked",
                "queue b: head b1, locked by n1 until +16 for b1",
            ],
        },
    )
    .await
}

async fn a_given_up_head_lets_its_queue_move_on(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                Step::Create {
                    at: 0,
                    jobs: &["a1", "a2"],
                    options: Plain,
                    wake: true,
                },
                A1_RUNNING[1],
            ],
            before: &[
                "a1 running #1",
                "a2 pending",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Finish {
                at: 1,
                node: "n1",
                job: "a1",
                ending: GivenUp,
                next: Some(1),
                written: Stored,
                takes: &["a2"],
            },
            after: &[
                "a1 given_up #1",
                "a2 running #1",
                "queue a: head a2, locked by n1 until +16 for a2",
            ],
        },
    )
    .await
}

async fn a_stale_result_after_a_lost_lease_changes_nothing(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_TAKEN_OVER,
            before: A1_TAKEN_OVER_STATE,
            when: Step::Finish {
                at: 17,
                node: "n1",
                job: "a1",
                ending: Succeeded,
                next: Some(1),
                written: Lost,
                takes: &[],
            },
            after: A1_TAKEN_OVER_STATE,
        },
    )
    .await
}

// Operators.

async fn a_retry_of_a_failed_head_makes_it_ready_now(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: Step::Act {
                at: 2,
                job: "a1",
                action: Retry,
                refused: false,
            },
            after: &["a1 retrying #1", "a2 pending", "queue a: head a1, blocked"],
        },
    )
    .await
}

async fn a_claim_takes_a_retried_head_at_once(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                A1_WAITS[0],
                A1_WAITS[1],
                A1_WAITS[2],
                Step::Act {
                    at: 2,
                    job: "a1",
                    action: Retry,
                    refused: false,
                },
            ],
            before: &["a1 retrying #1", "a2 pending", "queue a: head a1, blocked"],
            when: Step::Claim {
                at: 2,
                node: "n1",
                limit: 10,
                takes: &["a1"],
            },
            after: &[
                "a1 running #2",
                "a2 pending",
                "queue a: head a1, blocked, locked by n1 until +17 for a1",
            ],
        },
    )
    .await
}

async fn a_retry_of_a_held_head_gives_it_one_more_attempt(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_HELD,
            before: &["a1 held #1", "queue a: head a1, held"],
            when: Step::Act {
                at: 15,
                job: "a1",
                action: Retry,
                refused: false,
            },
            after: &["a1 retrying #1", "queue a: head a1, blocked"],
        },
    )
    .await
}

async fn a_skip_of_a_failed_head_lets_the_queue_move_on(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: Step::Act {
                at: 2,
                job: "a1",
                action: Skip,
                refused: false,
            },
            after: &["a1 given_up #1", "a2 pending", "queue a: head a2"],
        },
    )
    .await
}

async fn a_skip_of_a_job_behind_the_head_leaves_the_head(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: Step::Act {
                at: 2,
                job: "a2",
                action: Skip,
                refused: false,
            },
            after: &[
                "a1 retrying #1 until +61",
                "a2 given_up",
                "queue a: head a1, blocked",
            ],
        },
    )
    .await
}

async fn a_skip_of_a_running_job_is_refused(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_RUNNING,
            before: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Act {
                at: 1,
                job: "a1",
                action: Skip,
                refused: true,
            },
            after: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
        },
    )
    .await
}

async fn a_retry_of_a_done_job_is_refused(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                A1_RUNNING[0],
                A1_RUNNING[1],
                Step::Finish {
                    at: 1,
                    node: "n1",
                    job: "a1",
                    ending: Succeeded,
                    next: None,
                    written: Stored,
                    takes: &[],
                },
            ],
            before: &["a1 done #1"],
            when: Step::Act {
                at: 2,
                job: "a1",
                action: Retry,
                refused: true,
            },
            after: &["a1 done #1"],
        },
    )
    .await
}

async fn a_cancel_of_a_pending_head_lets_the_queue_move_on(kind: Kind) {
    check(
        kind,
        Case {
            given: &[CREATED],
            before: &[
                "a1 pending",
                "a2 pending",
                "b1 pending",
                "queue a: head a1",
                "queue b: head b1",
            ],
            when: Step::Act {
                at: 1,
                job: "a1",
                action: Cancel,
                refused: false,
            },
            after: &[
                "a1 gone",
                "a2 pending",
                "b1 pending",
                "queue a: head a2",
                "queue b: head b1",
            ],
        },
    )
    .await
}

async fn a_cancel_of_a_job_behind_a_running_head_leaves_the_head(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                A1_RUNNING[0],
                A1_RUNNING[1],
                Step::Create {
                    at: 1,
                    jobs: &["a2"],
                    options: Plain,
                    wake: false,
                },
            ],
            before: &[
                "a1 running #1",
                "a2 pending",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Act {
                at: 2,
                job: "a2",
                action: Cancel,
                refused: false,
            },
            after: &[
                "a1 running #1",
                "a2 gone",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
        },
    )
    .await
}

async fn a_cancel_of_a_job_that_ran_is_refused(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: Step::Act {
                at: 2,
                job: "a1",
                action: Cancel,
                refused: true,
            },
            after: A1_WAITS_STATE,
        },
    )
    .await
}

async fn an_edit_of_a_failed_head_keeps_its_place_and_its_backoff(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: Step::Act {
                at: 2,
                job: "a1",
                action: Edit,
                refused: false,
            },
            after: A1_WAITS_STATE,
        },
    )
    .await
}

async fn an_edit_of_a_job_that_never_ran_is_refused(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_WAITS,
            before: A1_WAITS_STATE,
            when: Step::Act {
                at: 2,
                job: "a2",
                action: Edit,
                refused: true,
            },
            after: A1_WAITS_STATE,
        },
    )
    .await
}

async fn an_edit_of_a_running_job_is_refused(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_RUNNING,
            before: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Act {
                at: 1,
                job: "a1",
                action: Edit,
                refused: true,
            },
            after: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
        },
    )
    .await
}

// Pauses.

const PAUSE_A: Step = Step::Pause {
    at: 0,
    queue: "a",
    pause: true,
    refused: false,
};

async fn a_pause_of_a_ready_queue_keeps_its_jobs(kind: Kind) {
    check(
        kind,
        Case {
            given: &[CREATED],
            before: &[
                "a1 pending",
                "a2 pending",
                "b1 pending",
                "queue a: head a1",
                "queue b: head b1",
            ],
            when: PAUSE_A,
            after: &[
                "a1 pending",
                "a2 pending",
                "b1 pending",
                "queue a: head a1, paused by op since +0",
                "queue b: head b1",
            ],
        },
    )
    .await
}

async fn a_claim_leaves_a_paused_queue_alone(kind: Kind) {
    check(
        kind,
        Case {
            given: &[CREATED, PAUSE_A],
            before: &[
                "a1 pending",
                "a2 pending",
                "b1 pending",
                "queue a: head a1, paused by op since +0",
                "queue b: head b1",
            ],
            when: Step::Claim {
                at: 1,
                node: "n1",
                limit: 10,
                takes: &["b1"],
            },
            after: &[
                "a1 pending",
                "a2 pending",
                "b1 running #1",
                "queue a: head a1, paused by op since +0",
                "queue b: head b1, locked by n1 until +16 for b1",
            ],
        },
    )
    .await
}

/// The attempt running when its queue was paused ends; the next one does
/// not start.
async fn a_result_hands_no_lock_on_in_a_paused_queue(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                A1_WAITS[0],
                A1_WAITS[1],
                Step::Pause {
                    at: 1,
                    queue: "a",
                    pause: true,
                    refused: false,
                },
            ],
            before: &[
                "a1 running #1",
                "a2 pending",
                "queue a: head a1, paused by op since +1, locked by n1 until +15 for a1",
            ],
            when: Step::Finish {
                at: 2,
                node: "n1",
                job: "a1",
                ending: Succeeded,
                next: Some(1),
                written: Stored,
                takes: &[],
            },
            after: &[
                "a1 done #1",
                "a2 pending",
                "queue a: head a2, paused by op since +1",
            ],
        },
    )
    .await
}

async fn a_claim_takes_a_resumed_queue(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                CREATED,
                PAUSE_A,
                Step::Claim {
                    at: 1,
                    node: "n1",
                    limit: 10,
                    takes: &["b1"],
                },
                Step::Pause {
                    at: 2,
                    queue: "a",
                    pause: false,
                    refused: false,
                },
            ],
            before: &[
                "a1 pending",
                "a2 pending",
                "b1 running #1",
                "queue a: head a1",
                "queue b: head b1, locked by n1 until +16 for b1",
            ],
            when: Step::Claim {
                at: 2,
                node: "n1",
                limit: 10,
                takes: &["a1"],
            },
            after: &[
                "a1 running #1",
                "a2 pending",
                "b1 running #1",
                "queue a: head a1, locked by n1 until +17 for a1",
                "queue b: head b1, locked by n1 until +16 for b1",
            ],
        },
    )
    .await
}

async fn a_pause_ahead_of_a_queues_jobs_holds_them(kind: Kind) {
    check(
        kind,
        Case {
            given: &[PAUSE_A],
            before: &["queue a: head -, paused by op since +0"],
            when: Step::Create {
                at: 1,
                jobs: &["a1"],
                options: Plain,
                wake: false,
            },
            after: &["a1 pending", "queue a: head a1, paused by op since +0"],
        },
    )
    .await
}

async fn a_prune_keeps_a_paused_queue_without_jobs(kind: Kind) {
    check(
        kind,
        Case {
            given: &[PAUSE_A],
            before: &["queue a: head -, paused by op since +0"],
            when: Step::Prune { at: 1, pruned: 0 },
            after: &["queue a: head -, paused by op since +0"],
        },
    )
    .await
}

async fn a_pause_of_a_paused_queue_is_refused(kind: Kind) {
    check(
        kind,
        Case {
            given: &[PAUSE_A],
            before: &["queue a: head -, paused by op since +0"],
            when: Step::Pause {
                at: 1,
                queue: "a",
                pause: true,
                refused: true,
            },
            after: &["queue a: head -, paused by op since +0"],
        },
    )
    .await
}

async fn a_resume_of_a_queue_not_paused_is_refused(kind: Kind) {
    check(
        kind,
        Case {
            given: &[CREATED],
            before: &[
                "a1 pending",
                "a2 pending",
                "b1 pending",
                "queue a: head a1",
                "queue b: head b1",
            ],
            when: Step::Pause {
                at: 1,
                queue: "a",
                pause: false,
                refused: true,
            },
            after: &[
                "a1 pending",
                "a2 pending",
                "b1 pending",
                "queue a: head a1",
                "queue b: head b1",
            ],
        },
    )
    .await
}

// Leases.

async fn a_renewal_extends_the_attempts_own_lease(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_RUNNING,
            before: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Renew {
                at: 10,
                node: "n1",
                job: "a1",
                lease: 15,
                renewed: true,
            },
            after: &[
                "a1 running #1",
                "queue a: head a1, locked by n1 until +25 for a1",
            ],
        },
    )
    .await
}

async fn a_renewal_by_an_attempt_whose_lock_was_taken_over_is_refused(kind: Kind) {
    check(
        kind,
        Case {
            given: A1_TAKEN_OVER,
            before: A1_TAKEN_OVER_STATE,
            when: Step::Renew {
                at: 17,
                node: "n1",
                job: "a1",
                lease: 15,
                renewed: false,
            },
            after: A1_TAKEN_OVER_STATE,
        },
    )
    .await
}

async fn a_release_frees_only_the_locks_without_a_running_attempt(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                CREATED,
                N1_CLAIMS_AB,
                Step::Finish {
                    at: 11,
                    node: "n1",
                    job: "a1",
                    ending: TimedOut { backoff: 0 },
                    next: None,
                    written: Stored,
                    takes: &[],
                },
            ],
            before: &[
                "a1 retrying #1 until +11",
                "a2 pending",
                "b1 running #1",
                "queue a: head a1, blocked, locked by n1 until +15",
                "queue b: head b1, locked by n1 until +15 for b1",
            ],
            when: Step::ReleaseAll {
                node: "n1",
                released: 1,
            },
            after: &[
                "a1 retrying #1 until +11",
                "a2 pending",
                "b1 running #1",
                "queue a: head a1, blocked",
                "queue b: head b1, locked by n1 until +15 for b1",
            ],
        },
    )
    .await
}

// Cleanup.

async fn a_deletion_of_done_jobs_keeps_recent_and_open_ones(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                CREATED,
                N1_CLAIMS_AB,
                Step::Finish {
                    at: 1,
                    node: "n1",
                    job: "a1",
                    ending: Succeeded,
                    next: Some(1),
                    written: Stored,
                    takes: &["a2"],
                },
                Step::Finish {
                    at: 50,
                    node: "n1",
                    job: "a2",
                    ending: Succeeded,
                    next: None,
                    written: Stored,
                    takes: &[],
                },
            ],
            before: &[
                "a1 done #1",
                "a2 done #1",
                "b1 running #1",
                "queue b: head b1",
            ],
            when: Step::DeleteDone {
                at: 60,
                older_than: 30,
                deleted: 1,
            },
            after: &["a1 gone", "a2 done #1", "b1 running #1", "queue b: head b1"],
        },
    )
    .await
}

async fn a_prune_deletes_only_the_rows_of_queues_with_nothing_left(kind: Kind) {
    check(
        kind,
        Case {
            given: &[
                CREATED,
                N1_CLAIMS_AB,
                Step::Finish {
                    at: 1,
                    node: "n1",
                    job: "b1",
                    ending: Succeeded,
                    next: None,
                    written: Stored,
                    takes: &[],
                },
            ],
            before: &[
                "a1 running #1",
                "a2 pending",
                "b1 done #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
            when: Step::Prune { at: 2, pruned: 1 },
            after: &[
                "a1 running #1",
                "a2 pending",
                "b1 done #1",
                "queue a: head a1, locked by n1 until +15 for a1",
            ],
        },
    )
    .await
}

behaviour_tests!(
    a_creation_into_idle_queues_wakes_the_schedulers,
    a_creation_into_a_running_queue_waits_behind_it,
    a_creation_behind_a_head_waiting_for_its_backoff_leaves_it_blocked,
    a_claim_after_a_creation_behind_a_waiting_head_takes_nothing,
    a_creation_scheduled_later_wakes_nobody,
    a_claim_takes_the_head_of_each_ready_queue,
    a_claim_leaves_a_locked_queue_alone,
    a_claim_leaves_a_head_waiting_for_its_backoff,
    a_claim_takes_a_head_whose_backoff_is_over,
    a_claim_waits_for_a_head_scheduled_later,
    a_claim_takes_a_scheduled_head_when_its_time_comes,
    a_claim_leaves_a_held_queue_alone,
    a_claim_after_a_creation_behind_a_held_head_takes_nothing,
    a_result_hands_no_lock_on_to_a_held_job,
    a_claim_takes_over_an_expired_lease_as_abandoned,
    a_claim_leaves_a_timed_out_queue_locked_until_its_lease_ends,
    a_claim_takes_a_timed_out_queue_once_its_lease_ends,
    a_success_hands_the_lock_on_to_the_next_job,
    a_success_without_a_claim_releases_the_queue,
    a_result_claims_another_queue_when_its_own_is_empty,
    a_failure_blocks_its_queue_and_the_claim_moves_to_another,
    a_given_up_head_lets_its_queue_move_on,
    a_stale_result_after_a_lost_lease_changes_nothing,
    a_retry_of_a_failed_head_makes_it_ready_now,
    a_claim_takes_a_retried_head_at_once,
    a_retry_of_a_held_head_gives_it_one_more_attempt,
    a_skip_of_a_failed_head_lets_the_queue_move_on,
    a_skip_of_a_job_behind_the_head_leaves_the_head,
    a_skip_of_a_running_job_is_refused,
    a_retry_of_a_done_job_is_refused,
    a_cancel_of_a_pending_head_lets_the_queue_move_on,
    a_cancel_of_a_job_behind_a_running_head_leaves_the_head,
    a_cancel_of_a_job_that_ran_is_refused,
    an_edit_of_a_failed_head_keeps_its_place_and_its_backoff,
    an_edit_of_a_job_that_never_ran_is_refused,
    an_edit_of_a_running_job_is_refused,
    a_pause_of_a_ready_queue_keeps_its_jobs,
    a_claim_leaves_a_paused_queue_alone,
    a_result_hands_no_lock_on_in_a_paused_queue,
    a_claim_takes_a_resumed_queue,
    a_pause_ahead_of_a_queues_jobs_holds_them,
    a_prune_keeps_a_paused_queue_without_jobs,
    a_pause_of_a_paused_queue_is_refused,
    a_resume_of_a_queue_not_paused_is_refused,
    a_renewal_extends_the_attempts_own_lease,
    a_renewal_by_an_attempt_whose_lock_was_taken_over_is_refused,
    a_release_frees_only_the_locks_without_a_running_attempt,
    a_deletion_of_done_jobs_keeps_recent_and_open_ones,
    a_prune_deletes_only_the_rows_of_queues_with_nothing_left,
);
