//! Leases: renewals and the release of a node's locks.

#[allow(clippy::wildcard_imports)]
use super::*;

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

behaviour_tests!(
    a_renewal_extends_the_attempts_own_lease,
    a_renewal_by_an_attempt_whose_lock_was_taken_over_is_refused,
    a_release_frees_only_the_locks_without_a_running_attempt,
);
