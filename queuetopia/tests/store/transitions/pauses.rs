//! Pauses: a paused queue runs nothing until it is resumed.

#[allow(clippy::wildcard_imports)]
use super::*;

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

behaviour_tests!(
    a_pause_of_a_ready_queue_keeps_its_jobs,
    a_claim_leaves_a_paused_queue_alone,
    a_result_hands_no_lock_on_in_a_paused_queue,
    a_claim_takes_a_resumed_queue,
    a_pause_ahead_of_a_queues_jobs_holds_them,
    a_prune_keeps_a_paused_queue_without_jobs,
    a_pause_of_a_paused_queue_is_refused,
    a_resume_of_a_queue_not_paused_is_refused,
);
