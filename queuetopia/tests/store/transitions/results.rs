//! Results: what a stored result does to its queue, and a stale one.

#[allow(clippy::wildcard_imports)]
use super::*;

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

behaviour_tests!(
    a_success_hands_the_lock_on_to_the_next_job,
    a_success_without_a_claim_releases_the_queue,
    a_result_claims_another_queue_when_its_own_is_empty,
    a_failure_blocks_its_queue_and_the_claim_moves_to_another,
    a_given_up_head_lets_its_queue_move_on,
    a_stale_result_after_a_lost_lease_changes_nothing,
);
