//! Timeouts and shutdown: an attempt past its time, a node that stops.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn a_timed_out_attempt_keeps_its_queue_locked_until_the_lease_ends(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .lease_margin(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let job = q
        .create_job(
            "a",
            "x",
            json!({"gate": "never", "backoff_ms": 1}),
            opts().timeout(Duration::from_millis(200)).max_attempts(2),
        )
        .await
        .unwrap();
    let Event::Failed {
        job: failed,
        timeout,
        ..
    } = wait_event(&mut rx, "the timeout", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(timeout);
    assert_eq!(failed.error.as_deref(), Some("timeout"));
    let first_start = failed.attempted_at.expect("attempted");
    let queues = q.list_queues().await.unwrap();
    let lock = queues[0].lock.as_ref().expect("the queue stays locked");
    assert_eq!(lock.running_job_id, None);
    assert!(lock.until >= first_start + chrono::Duration::milliseconds(500));
    // The second attempt starts only once the lease has run out.
    let Event::Started { job: second } = wait_event(&mut rx, "the second attempt", |e| {
        matches!(e, Event::Started { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!((second.id, second.attempts), (job.id, 2));
    assert!(second.attempted_at.expect("attempted") >= lock.until);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
    assert!(
        q.list_queues()
            .await
            .unwrap()
            .iter()
            .all(|i| i.lock.is_none())
    );
}

async fn shutdown_waits_then_interrupts_and_leaves_no_lock(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let finishing = q
        .create_job("a", "x", json!({"gate": "a"}), opts())
        .await
        .unwrap();
    let stuck = q
        .create_job("b", "x", json!({"gate": "b"}), opts())
        .await
        .unwrap();
    wait_event(&mut rx, "start 1", |e| matches!(e, Event::Started { .. })).await;
    wait_event(&mut rx, "start 2", |e| matches!(e, Event::Started { .. })).await;
    let queues = q.list_queues().await.unwrap();
    assert_eq!(queues.iter().filter(|i| i.lock.is_some()).count(), 2);
    script.open("a");
    q.shutdown(Duration::from_millis(500)).await.unwrap();
    let a = q.get_job(finishing.id).await.unwrap();
    assert_eq!(a.state, JobState::Done);
    let b = q.get_job(stuck.id).await.unwrap();
    assert_eq!(b.state, JobState::Retrying);
    assert_eq!(
        b.job.error.as_deref(),
        Some("interrupted: the node shut down")
    );
    let queues = q.list_queues().await.unwrap();
    assert!(queues.iter().all(|i| i.lock.is_none()), "{queues:?}");
    // Another node takes the interrupted job at once.
    let next = node(&t.db, "s", &script.sibling("n2")).await;
    let mut rx = next.subscribe();
    script.open("b");
    next.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, stuck.id);
    next.shutdown(Duration::from_secs(5)).await.unwrap();
}

behaviour_tests!(
    a_timed_out_attempt_keeps_its_queue_locked_until_the_lease_ends,
    shutdown_waits_then_interrupts_and_leaves_no_lock,
);
