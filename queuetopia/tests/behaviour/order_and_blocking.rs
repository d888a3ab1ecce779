//! Order and blocking: one job at a time per queue, in order; a failing head blocks only its queue.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn jobs_run_in_order_of_creation(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            q.create_job("q", "a", json!({"i": i}), opts())
                .await
                .unwrap()
                .id,
        );
    }
    wait_successes(&mut rx, 20).await;
    assert_eq!(script.order("q"), ids);
    let sequences: Vec<i64> = {
        let page = q
            .list_jobs(&JobFilter::default().queue("q").oldest_first())
            .await
            .unwrap();
        page.jobs.iter().map(|e| e.job.sequence).collect()
    };
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn batch_creation_keeps_order_per_queue(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let jobs: Vec<NewJob> = (0..30)
        .map(|i| NewJob::new(format!("q{}", i % 3), "a", json!({"i": i}), opts()).unwrap())
        .collect();
    let created = q.create_jobs(jobs).await.unwrap();
    assert_eq!(created.len(), 30);
    for (i, job) in created.iter().enumerate() {
        assert_eq!(job.params["i"], i);
        assert_eq!(job.queue, format!("q{}", i % 3));
    }
    wait_successes(&mut rx, 30).await;
    for k in 0..3 {
        let queue = format!("q{k}");
        let expected: Vec<i64> = created
            .iter()
            .filter(|j| j.queue == queue)
            .map(|j| j.id)
            .collect();
        assert_eq!(script.order(&queue), expected);
    }
    assert_eq!(script.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_slow_queue_does_not_delay_the_others(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let slow = q
        .create_job("slow", "a", json!({"gate": "slow"}), opts())
        .await
        .unwrap();
    let behind_slow = q.create_job("slow", "a", json!({}), opts()).await.unwrap();
    for i in 0..5 {
        q.create_job("fast", "a", json!({"i": i}), opts())
            .await
            .unwrap();
    }
    let done = wait_successes(&mut rx, 5).await;
    assert!(done.iter().all(|j| j.queue == "fast"));
    // The slow job is still running, and its queue waits behind it.
    assert_eq!(q.get_job(slow.id).await.unwrap().state, JobState::Running);
    assert_eq!(
        q.get_job(behind_slow.id).await.unwrap().state,
        JobState::Pending
    );
    script.open("slow");
    wait_successes(&mut rx, 2).await;
    assert_eq!(script.order("slow"), vec![slow.id, behind_slow.id]);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_failing_job_blocks_only_its_queue_until_it_succeeds(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let flaky = q
        .create_job("a", "x", json!({"fail_times": 2, "gate": "flaky"}), opts())
        .await
        .unwrap();
    let behind = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    // While the head of "a" fails, "b" runs.
    script.open("flaky");
    let failed = wait_event(&mut rx, "the first failure", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await;
    let Event::Failed {
        job,
        verdict,
        timeout,
    } = failed
    else {
        unreachable!()
    };
    assert_eq!(
        (job.id, job.attempts, verdict, timeout),
        (flaky.id, 1, Verdict::Retry, false)
    );
    assert_eq!(job.error.as_deref(), Some("failure 1"));
    assert!(job.next_attempt_at.is_some());
    let other = q.create_job("b", "x", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, other.id);
    let queues = q.list_queues().await.unwrap();
    let a = queues.iter().find(|i| i.queue == "a").expect("queue a");
    let blocked = a.blocked.as_ref().expect("a is blocked");
    assert_eq!(blocked.job_id, flaky.id);
    assert_eq!(blocked.error.as_deref(), Some("failure 1"));
    assert!(!blocked.held);
    assert_eq!(a.size, 2);
    // Retries happen by themselves (the scheduler wakes at the backoff's end).
    script.open("flaky");
    script.open("flaky");
    let done = wait_successes(&mut rx, 2).await;
    assert_eq!(done[0].id, flaky.id);
    assert_eq!(done[0].attempts, 3);
    assert_eq!(done[0].error, None);
    assert_eq!(done[1].id, behind.id);
    assert_eq!(
        script.order("a"),
        vec![flaky.id, flaky.id, flaky.id, behind.id]
    );
    assert_eq!(script.failure_hook_calls.lock().unwrap().len(), 2);
    let a = q.list_queues().await.unwrap();
    assert!(a.iter().all(|i| i.queue != "a"), "queue a is empty: {a:?}");
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_panicking_job_is_a_recorded_failure(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let bad = q
        .create_job(
            "a",
            "x",
            json!({"panic": true, "hook_fails": true}),
            opts().max_attempts(2),
        )
        .await
        .unwrap();
    let Event::Failed { job, .. } =
        wait_event(&mut rx, "a failure", |e| matches!(e, Event::Failed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(job.id, bad.id);
    assert_eq!(job.error.as_deref(), Some("panic: boom"));
    // The scheduler lives on, and the failing hook changed nothing.
    let ok = q.create_job("b", "x", json!({}), opts()).await.unwrap();
    let events = wait_each(
        &mut rx,
        "b's success and the give-up",
        &[&succeeded, &|e| failed_with(e, Verdict::GiveUp)],
    )
    .await;
    assert!(matches!(&events[0], Event::Succeeded { job } if job.id == ok.id));
    let Event::Failed { job, verdict, .. } = &events[1] else {
        unreachable!()
    };
    assert_eq!(*verdict, Verdict::GiveUp);
    assert!(job.given_up_at.is_some());
    assert_eq!(q.get_job(bad.id).await.unwrap().state, JobState::GivenUp);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn scheduled_jobs_wait_for_their_time(kind: Kind) {
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
    let start = clock.now().unwrap();
    let later = q
        .create_job(
            "a",
            "x",
            json!({}),
            opts().scheduled_at(start + chrono::Duration::seconds(10)),
        )
        .await
        .unwrap();
    let delayed = q
        .create_job("b", "x", json!({}), opts().delay(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(delayed.scheduled_at, start + chrono::Duration::seconds(5));
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(later.id).await.unwrap().state, JobState::Pending);
    assert_eq!(
        q.get_job(delayed.id).await.unwrap().state,
        JobState::Pending
    );
    clock.advance(Duration::from_secs(5));
    q.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, delayed.id);
    assert_eq!(q.get_job(later.id).await.unwrap().state, JobState::Pending);
    clock.advance(Duration::from_secs(5));
    q.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, later.id);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A queue that ends a job while other queues wait for a slot goes behind
/// them: its lock is handed straight to its next job only when nobody waits.
async fn waiting_queues_take_turns_with_a_draining_one(kind: Kind) {
    let t = fresh(kind).await;
    let producer = producer(&t.db, "s").await;
    let mut created = Vec::new();
    for queue in ["a", "b"] {
        for i in 0..3 {
            created.push(
                producer
                    .create_job(queue, "x", json!({ "i": i }), opts())
                    .await
                    .unwrap(),
            );
        }
    }
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .max_concurrent_jobs(1)
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    wait_successes(&mut rx, 6).await;
    let ran: Vec<i64> = script.runs().iter().map(|r| r.job_id).collect();
    let (a, b) = created.split_at(3);
    let turns: Vec<i64> = a.iter().zip(b).flat_map(|(a, b)| [a.id, b.id]).collect();
    assert_eq!(ran, turns, "a and b take turns, a first (ready first)");
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn scopes_never_see_each_other(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let mail = node(&t.db, "mail", &script).await;
    let bills = producer(&t.db, "bills").await;
    let mut rx = mail.subscribe();
    let theirs = bills.create_job("q", "a", json!({}), opts()).await.unwrap();
    let ours = mail.create_job("q", "a", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, ours.id);
    probe(&mail, &mut rx).await;
    assert_eq!(
        bills.get_job(theirs.id).await.unwrap().state,
        JobState::Pending
    );
    assert!(matches!(
        mail.get_job(theirs.id).await,
        Err(Error::JobNotFound(_))
    ));
    let listed = bills.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(bills.list_queues().await.unwrap().len(), 1);
    assert!(matches!(
        mail.skip_job(theirs.id).await,
        Err(Error::JobNotFound(_))
    ));
    mail.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn max_concurrent_jobs_bounds_a_node(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .max_concurrent_jobs(3)
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let jobs: Vec<NewJob> = (0..8)
        .map(|i| NewJob::new(format!("q{i}"), "a", json!({"gate": "g"}), opts()).unwrap())
        .collect();
    q.create_jobs(jobs).await.unwrap();
    for _ in 0..3 {
        wait_event(&mut rx, "a start", |e| matches!(e, Event::Started { .. })).await;
    }
    for round in 0..8 {
        let running = q
            .list_jobs(&JobFilter::default().state(JobState::Running))
            .await
            .unwrap()
            .jobs
            .len();
        assert!(running <= 3, "round {round}: {running} running");
        script.open("g");
        wait_successes(&mut rx, 1).await;
    }
    assert_eq!(script.runs().len(), 8);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

behaviour_tests!(
    jobs_run_in_order_of_creation,
    batch_creation_keeps_order_per_queue,
    a_slow_queue_does_not_delay_the_others,
    a_failing_job_blocks_only_its_queue_until_it_succeeds,
    a_panicking_job_is_a_recorded_failure,
    scheduled_jobs_wait_for_their_time,
    waiting_queues_take_turns_with_a_draining_one,
    scopes_never_see_each_other,
    max_concurrent_jobs_bounds_a_node,
);
