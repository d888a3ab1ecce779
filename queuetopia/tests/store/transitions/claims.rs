//! Claims: which heads a claim takes, and which queues it leaves.

#[allow(clippy::wildcard_imports)]
use super::*;

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

behaviour_tests!(
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
);
