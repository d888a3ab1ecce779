//! Operators: retrying and skipping a job.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn an_operator_skip_lets_a_held_queue_move_on(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let held = q
        .create_job(
            "a",
            "x",
            json!({"fail_times": 9}),
            opts().max_attempts(1).on_exhausted(ExhaustionPolicy::Hold),
        )
        .await
        .unwrap();
    let behind = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_event(&mut rx, "the hold", |e| {
        matches!(
            e,
            Event::Failed {
                verdict: Verdict::Hold,
                ..
            }
        )
    })
    .await;
    let skipped = q.skip_job(held.id).await.unwrap();
    assert!(skipped.given_up_at.is_some());
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, behind.id);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_head_retried_at_once_shows_its_queue_blocked_until_it_succeeds(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let head = q
        .create_job(
            "a",
            "x",
            json!({"fail_times": 1, "backoff_ms": 0, "gate": "head"}),
            opts(),
        )
        .await
        .unwrap();
    let next = q
        .create_job("a", "x", json!({"gate": "next"}), opts())
        .await
        .unwrap();
    let started = |id: i64, attempts: u32| move |e: &Event| matches!(e, Event::Started { job } if job.id == id && job.attempts == attempts);
    // The first attempt fails; the second starts at once, on the same lock.
    script.open("head");
    wait_event(&mut rx, "the retry", started(head.id, 2)).await;
    let queues = q.list_queues().await.unwrap();
    let blocked = queues[0].blocked.as_ref().expect("blocked by its head");
    assert_eq!(
        (blocked.job_id, blocked.error.as_deref()),
        (head.id, Some("failure 1"))
    );
    let lock = queues[0].lock.as_ref().expect("locked");
    assert_eq!(lock.running_job_id, Some(head.id));
    // The head succeeds: the next job runs, and the queue is not blocked.
    script.open("head");
    wait_event(&mut rx, "the next job", started(next.id, 1)).await;
    let queues = q.list_queues().await.unwrap();
    assert!(queues[0].blocked.is_none(), "{queues:?}");
    let lock = queues[0].lock.as_ref().expect("locked");
    assert_eq!(lock.running_job_id, Some(next.id));
    script.open("next");
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, next.id);
    assert_eq!(script.order("a"), vec![head.id, head.id, next.id]);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

behaviour_tests!(
    an_operator_skip_lets_a_held_queue_move_on,
    a_head_retried_at_once_shows_its_queue_blocked_until_it_succeeds,
);
