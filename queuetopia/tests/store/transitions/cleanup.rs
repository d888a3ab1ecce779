//! Cleanup: retention and the prune of empty queues.

#[allow(clippy::wildcard_imports)]
use super::*;

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
    a_deletion_of_done_jobs_keeps_recent_and_open_ones,
    a_prune_deletes_only_the_rows_of_queues_with_nothing_left,
);
