//! Operators: retry, skip, cancel and edit.

#[allow(clippy::wildcard_imports)]
use super::*;

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

behaviour_tests!(
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
);
