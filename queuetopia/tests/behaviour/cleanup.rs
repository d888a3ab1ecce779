//! Cleanup: retention and the pruning of empty queues.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn retention_deletes_only_old_done_jobs(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let clock = manual_clock();
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .on_exhausted(ExhaustionPolicy::Skip)
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let given_up = q
        .create_job("b", "x", json!({"fail_times": 9}), opts().max_attempts(1))
        .await
        .unwrap();
    wait_each(
        &mut rx,
        "a success and a give-up",
        &[&succeeded, &|e| failed_with(e, Verdict::GiveUp)],
    )
    .await;
    let pending = q
        .create_job(
            "c",
            "x",
            json!({}),
            opts().delay(Duration::from_secs(30 * 86_400)),
        )
        .await
        .unwrap();
    assert_eq!(
        q.delete_done_jobs(Duration::from_secs(86_400))
            .await
            .unwrap(),
        0
    );
    clock.advance(Duration::from_secs(8 * 86_400));
    let other = producer(&t.db, "other").await;
    other.create_job("a", "x", json!({}), opts()).await.unwrap();
    assert_eq!(
        q.delete_done_jobs(Duration::from_secs(7 * 86_400))
            .await
            .unwrap(),
        1
    );
    let left: Vec<i64> = q
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .jobs
        .iter()
        .map(|e| e.job.id)
        .collect();
    assert_eq!(left, vec![pending.id, given_up.id]);
    assert_eq!(
        other
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .len(),
        1
    );
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn empty_queues_are_pruned_and_come_back(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let held = q
        .create_job(
            "b",
            "x",
            json!({"fail_times": 9}),
            opts().max_attempts(1).on_exhausted(ExhaustionPolicy::Hold),
        )
        .await
        .unwrap();
    wait_each(
        &mut rx,
        "a success and a hold",
        &[&succeeded, &|e| failed_with(e, Verdict::Hold)],
    )
    .await;
    // "a" is empty and goes; "b" is held and stays.
    assert_eq!(q.prune_queues().await.unwrap(), 1);
    assert_eq!(q.prune_queues().await.unwrap(), 0);
    let queues = q.list_queues().await.unwrap();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].blocked.as_ref().unwrap().job_id, held.id);
    // A new job brings "a" back, in order.
    let again = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, again.id);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn the_cleaner_runs_by_itself(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .retention(Duration::from_millis(1))
        .cleanup_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    q.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_successes(&mut rx, 1).await;
    eventually("the done job deleted", || async {
        q.list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    })
    .await;
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

behaviour_tests!(
    retention_deletes_only_old_done_jobs,
    empty_queues_are_pruned_and_come_back,
    the_cleaner_runs_by_itself,
);
