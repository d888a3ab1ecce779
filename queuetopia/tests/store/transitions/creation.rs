//! Creations: into idle, running, waiting and paused queues.

#[allow(clippy::wildcard_imports)]
use super::*;

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

behaviour_tests!(
    a_creation_into_idle_queues_wakes_the_schedulers,
    a_creation_into_a_running_queue_waits_behind_it,
    a_creation_behind_a_head_waiting_for_its_backoff_leaves_it_blocked,
    a_claim_after_a_creation_behind_a_waiting_head_takes_nothing,
    a_creation_scheduled_later_wakes_nobody,
);
