//! Retries and exhaustion: backoff on the clock, skip and hold, what the performer asks for.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn exhausted_jobs_are_skipped_by_default(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let doomed = q
        .create_job("a", "x", json!({"fail_times": 99}), opts().max_attempts(2))
        .await
        .unwrap();
    let next = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, next.id);
    let gone = q.get_job(doomed.id).await.unwrap();
    assert_eq!(gone.state, JobState::GivenUp);
    assert_eq!(gone.job.attempts, 2);
    assert_eq!(gone.job.error.as_deref(), Some("failure 2"));
    // An operator retry gives a given-up job one more attempt.
    q.retry_job(doomed.id).await.unwrap();
    let Event::Failed { job, verdict, .. } = wait_event(&mut rx, "the retried failure", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        (job.id, job.attempts, verdict),
        (doomed.id, 3, Verdict::GiveUp)
    );
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn exhausted_jobs_hold_their_queue_under_the_hold_policy(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .on_exhausted(ExhaustionPolicy::Hold)
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let held = q
        .create_job("a", "x", json!({"fail_times": 2}), opts().max_attempts(2))
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
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(held.id).await.unwrap().state, JobState::Held);
    assert_eq!(q.get_job(behind.id).await.unwrap().state, JobState::Pending);
    let info = q.list_queues().await.unwrap();
    let a = info.iter().find(|i| i.queue == "a").unwrap();
    assert!(
        a.blocked
            .as_ref()
            .is_some_and(|b| b.held && b.job_id == held.id)
    );
    // An operator retry gives it one more attempt, which succeeds.
    let retried = q.retry_job(held.id).await.unwrap();
    assert_eq!(retried.max_attempts, 3);
    let done = wait_successes(&mut rx, 2).await;
    assert_eq!(
        done.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![held.id, behind.id]
    );
    assert!(matches!(
        q.retry_job(held.id).await,
        Err(Error::JobState { .. })
    ));
    assert!(matches!(
        q.skip_job(held.id).await,
        Err(Error::JobState { .. })
    ));
    assert!(matches!(
        q.skip_job(held.id + 999).await,
        Err(Error::JobNotFound(_))
    ));
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A performer can give a job up at once, whatever attempts it has left
/// and under the hold policy too, or name the delay before the next attempt
/// (capped by the job's longest backoff).
async fn a_performer_can_give_up_or_name_the_next_delay(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .on_exhausted(ExhaustionPolicy::Hold)
        .clock(manual_clock())
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let gone = q
        .create_job("a", "x", json!({"fail_times": 9, "give_up": true}), opts())
        .await
        .unwrap();
    let behind = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let Event::Failed { job, verdict, .. } = wait_event(
        &mut rx,
        "the give-up",
        |e| matches!(e, Event::Failed { job, .. } if job.id == gone.id),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(verdict, Verdict::GiveUp);
    assert_eq!((job.attempts, job.error.as_deref()), (1, Some("failure 1")));
    assert!(job.given_up_at.is_some());
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, behind.id, "the queue moved on");
    assert_eq!(q.get_job(gone.id).await.unwrap().state, JobState::GivenUp);

    for (max_backoff, asked, expected) in [(3600, 90, 90), (60, 90, 60)] {
        let job = q
            .create_job(
                "b",
                "x",
                json!({"fail_times": 1, "retry_in_ms": asked * 1000}),
                opts().max_backoff(Duration::from_secs(max_backoff)),
            )
            .await
            .unwrap();
        let Event::Failed {
            job: failed,
            verdict,
            ..
        } = wait_event(
            &mut rx,
            "the retry",
            |e| matches!(e, Event::Failed { job: j, .. } if j.id == job.id),
        )
        .await
        else {
            unreachable!()
        };
        assert_eq!(verdict, Verdict::Retry);
        let attempted = failed.attempted_at.unwrap();
        assert_eq!(
            failed.next_attempt_at,
            Some(attempted + chrono::Duration::seconds(expected))
        );
        q.skip_job(job.id).await.unwrap();
    }
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn backoff_follows_the_clock(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let clock = manual_clock();
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let job = q
        .create_job(
            "a",
            "x",
            json!({"fail_times": 2, "default_backoff": true}),
            opts(),
        )
        .await
        .unwrap();
    let Event::Failed { job: failed, .. } =
        wait_event(&mut rx, "failure 1", |e| matches!(e, Event::Failed { .. })).await
    else {
        unreachable!()
    };
    let t0 = clock.now().unwrap();
    assert_eq!(
        failed.next_attempt_at,
        Some(t0 + chrono::Duration::seconds(2))
    );
    // One second later it is not yet time.
    clock.advance(Duration::from_secs(1));
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(job.id).await.unwrap().job.attempts, 1);
    // Two seconds later it is.
    clock.advance(Duration::from_secs(1));
    q.wake();
    let Event::Failed { job: failed, .. } =
        wait_event(&mut rx, "failure 2", |e| matches!(e, Event::Failed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(failed.attempts, 2);
    let t2 = t0 + chrono::Duration::seconds(2);
    assert_eq!(failed.attempted_at, Some(t2));
    // The second backoff is 3 s: 2^1 + 1.
    assert_eq!(
        failed.next_attempt_at,
        Some(t2 + chrono::Duration::seconds(3))
    );
    clock.advance(Duration::from_secs(2));
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(job.id).await.unwrap().job.attempts, 2);
    clock.advance(Duration::from_secs(1));
    q.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!((done[0].id, done[0].attempts), (job.id, 3));
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

behaviour_tests!(
    exhausted_jobs_are_skipped_by_default,
    exhausted_jobs_hold_their_queue_under_the_hold_policy,
    a_performer_can_give_up_or_name_the_next_delay,
    backoff_follows_the_clock,
);
