//! Leases and fencing: nodes never overlap, a crashed node's queues are taken over, stale results are refused.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn two_schedulers_never_overlap_nor_reorder(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let other = script.sibling("n2");
    let a = node(&t.db, "s", &script).await;
    let b = node(&t.db, "s", &other).await;
    let mut rx_a = a.subscribe();
    let mut rx_b = b.subscribe();
    let jobs: Vec<NewJob> = (0..200)
        .map(|i| NewJob::new(format!("q{}", i % 10), "a", json!({"i": i}), opts()).unwrap())
        .collect();
    let created = a.create_jobs(jobs).await.unwrap();
    b.wake();
    eventually("every job done", || async {
        a.list_jobs(&JobFilter::default().state(JobState::Done).limit(1000))
            .await
            .unwrap()
            .jobs
            .len()
            == 200
    })
    .await;
    assert_eq!(script.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    for k in 0..10 {
        let queue = format!("q{k}");
        let expected: Vec<i64> = created
            .iter()
            .filter(|j| j.queue == queue)
            .map(|j| j.id)
            .collect();
        assert_eq!(script.order(&queue), expected, "order of {queue}");
    }
    let runs = script.runs();
    assert_eq!(runs.len(), 200, "each job ran once");
    assert!(runs.iter().any(|r| r.node == "n2") || runs.iter().all(|r| r.node == "n1"));
    drop((rx_a.try_recv(), rx_b.try_recv()));
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_crashed_nodes_lease_is_taken_over(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("crashing");
    // The crashing node runs on its own runtime, which we drop without any
    // cleanup: its lock stays behind, like a SIGKILL's.
    let db = t.reconnect().await;
    let crashing = script.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let q = Queuetopia::builder(db, crashing.clone())
                .scope("s")
                .node("crashing")
                .poll_interval(Duration::from_secs(3600))
                .lease_margin(Duration::from_millis(100))
                .start()
                .await
                .unwrap();
            let mut events = q.subscribe();
            let job = q
                .create_job(
                    "a",
                    "x",
                    json!({"gate": "never"}),
                    opts().timeout(Duration::from_secs(3600)).max_attempts(3),
                )
                .await
                .unwrap();
            wait_event(&mut events, "the start", |e| {
                matches!(e, Event::Started { .. })
            })
            .await;
            tx.send(job).unwrap();
            std::mem::forget(q);
        });
        rt.shutdown_background();
    });
    let job = rx.recv().unwrap();
    thread.join().unwrap();
    // The lease runs for an hour: a clock two hours ahead sees it lapsed.
    let clock = Clock::manual(Utc::now() + chrono::Duration::hours(2));
    let survivor = script.sibling("survivor");
    let q = Queuetopia::builder(t.db.clone(), survivor)
        .scope("s")
        .node("survivor")
        .poll_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let mut events = q.subscribe();
    q.wake();
    let Event::Failed {
        job: failed,
        verdict,
        ..
    } = wait_event(&mut events, "the abandoned attempt's failure", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(verdict, Verdict::Retry);
    assert_eq!(failed.attempts, 1);
    assert!(
        failed.error.as_deref().unwrap().starts_with("abandoned"),
        "{failed:?}"
    );
    // Its next attempt runs on the survivor after the backoff.
    clock.advance(Duration::from_secs(3));
    script.open("never");
    q.wake();
    let done = wait_successes(&mut events, 1).await;
    assert_eq!((done[0].id, done[0].attempts), (job.id, 2));
    assert_eq!(done[0].attempted_by.as_deref(), Some("survivor"));
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_stale_nodes_result_is_refused(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("stale");
    let start = Utc::now();
    let stale_clock = Clock::manual(start);
    let stale = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .node("stale")
        .poll_interval(Duration::from_secs(3600))
        .clock(stale_clock)
        .start()
        .await
        .unwrap();
    let mut stale_events = stale.subscribe();
    let job = stale
        .create_job(
            "a",
            "x",
            json!({"gate": "stale"}),
            opts().timeout(Duration::from_secs(600)),
        )
        .await
        .unwrap();
    wait_event(&mut stale_events, "the stale start", |e| {
        matches!(e, Event::Started { .. })
    })
    .await;
    // Another node, whose clock is past the lease, takes the queue over and
    // runs the job to completion.
    let fresh_clock = Clock::manual(start + chrono::Duration::hours(1));
    let other = script.sibling("fresh");
    let fresh_node = Queuetopia::builder(t.db.clone(), other)
        .scope("s")
        .node("fresh")
        .poll_interval(Duration::from_secs(3600))
        .clock(fresh_clock.clone())
        .start()
        .await
        .unwrap();
    let mut fresh_events = fresh_node.subscribe();
    fresh_node.wake();
    wait_event(&mut fresh_events, "the takeover", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await;
    fresh_clock.advance(Duration::from_secs(10));
    fresh_node.wake();
    wait_event(&mut fresh_events, "the rerun start", |e| {
        matches!(e, Event::Started { .. })
    })
    .await;
    // The stale node wakes up first (it waited first at the gate), while the
    // new owner runs: its result is refused.
    script.open("stale");
    let refused = wait_event(&mut stale_events, "the refusal", |e| {
        matches!(e, Event::ResultRefused { .. })
    })
    .await;
    assert!(matches!(refused, Event::ResultRefused { job_id, attempt: 1 } if job_id == job.id));
    script.open("stale");
    let done = wait_successes(&mut fresh_events, 1).await;
    assert_eq!(done[0].attempted_by.as_deref(), Some("fresh"));
    let stored = fresh_node.get_job(job.id).await.unwrap().job;
    assert_eq!(stored.attempts, 2);
    assert_eq!(stored.attempted_by.as_deref(), Some("fresh"));
    assert!(stored.done_at.is_some());
    stale.shutdown(Duration::from_secs(5)).await.unwrap();
    fresh_node.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Both nodes read one manual clock, which only the test moves: a renewal
/// delayed by a loaded machine cannot let the lease run out under the other
/// node's claims.
async fn renewed_leases_keep_long_jobs_and_a_lost_one_cancels(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("a");
    let clock = manual_clock();
    let a = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .node("a")
        .poll_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .renewed_lease(Duration::from_millis(1500))
        .start()
        .await
        .unwrap();
    let mut rx = a.subscribe();
    let job = a
        .create_job(
            "q",
            "x",
            json!({"gate": "long"}),
            opts().timeout(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    wait_event(&mut rx, "the start", |e| matches!(e, Event::Started { .. })).await;
    let lock_until = || async {
        a.list_queues().await.unwrap()[0]
            .lock
            .as_ref()
            .map(|l| l.until)
    };
    let first = lock_until().await.expect("locked");
    // A lease of 1.5 s, not the timeout's 61 s.
    assert!(
        first <= clock.now().unwrap() + chrono::Duration::seconds(5),
        "{first}"
    );
    // Another node polls all the while, and cannot take the queue.
    let b = Queuetopia::builder(t.reconnect().await, script.sibling("b"))
        .scope("s")
        .node("b")
        .poll_interval(Duration::from_millis(20))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        let before = lock_until().await.expect("locked");
        // Less than the lease: only a renewal moves its end past `before`.
        clock.advance(Duration::from_millis(100));
        eventually("a renewal", || async {
            lock_until().await.is_some_and(|u| u > before)
        })
        .await;
    }
    assert_eq!(
        b.stats().attempts,
        0,
        "the queue stayed with its renewing node"
    );
    assert_eq!(script.in_flight("q"), 1);
    // A takeover (here: the lock's token changed behind the node's back)
    // makes the next renewal fail, and the attempt is cancelled.
    t.execute("UPDATE queuetopia_queues SET lock_token = lock_token + 1")
        .await;
    let refused = wait_event(&mut rx, "the cancellation", |e| {
        matches!(e, Event::ResultRefused { .. })
    })
    .await;
    assert!(matches!(refused, Event::ResultRefused { job_id, attempt: 1 } if job_id == job.id));
    eventually("the performer dropped", || async {
        script.in_flight("q") == 0
    })
    .await;
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_millis(100)).await.unwrap();
}

/// A queue draining alone hands its lock straight to its next job (the
/// short path of a result): that job gets the same lease a claim gives it,
/// its own timeout plus the margin, or the renewed lease when that is
/// shorter.
async fn a_lock_handed_to_the_next_job_carries_that_jobs_lease(kind: Kind) {
    let t = fresh(kind).await;
    let clock = manual_clock();
    let now = clock.now().expect("a manual clock");
    for (scope, renewed) in [("full", None), ("capped", Some(Duration::from_secs(7)))] {
        let script = Script::new(scope);
        let mut builder = Queuetopia::builder(t.db.clone(), script.clone())
            .scope(scope)
            .node(scope)
            .poll_interval(Duration::from_secs(3600))
            .lease_margin(Duration::from_secs(2))
            .clock(clock.clone());
        if let Some(lease) = renewed {
            builder = builder.renewed_lease(lease);
        }
        let q = builder.start().await.unwrap();
        let mut rx = q.subscribe();
        let mut jobs = Vec::new();
        for (gate, timeout) in [("first", 10), ("second", 30)] {
            let options = opts().timeout(Duration::from_secs(timeout));
            jobs.push(
                q.create_job("a", "x", json!({ "gate": gate }), options)
                    .await
                    .unwrap(),
            );
        }
        for (i, job) in jobs.iter().enumerate() {
            wait_event(
                &mut rx,
                "the start",
                |e| matches!(e, Event::Started { job: j } if j.id == job.id),
            )
            .await;
            let lock = q.list_queues().await.unwrap()[0]
                .lock
                .clone()
                .expect("locked");
            let full = job.timeout + Duration::from_secs(2);
            let lease = renewed.map_or(full, |cap| cap.min(full));
            assert_eq!(lock.running_job_id, Some(job.id), "{scope}, job {i}");
            assert_eq!(
                lock.until,
                now + chrono::Duration::from_std(lease).unwrap(),
                "{scope}, job {i}"
            );
            script.open(if i == 0 { "first" } else { "second" });
        }
        // (The first job's success went by while waiting for the second's start.)
        let done = wait_successes(&mut rx, 1).await;
        assert_eq!(done[0].id, jobs[1].id);
        assert_eq!(script.order("a"), vec![jobs[0].id, jobs[1].id]);
        assert_eq!(q.stats().result_commits, 2, "{scope}: one commit per job");
        q.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}

async fn lost_connections_are_survived(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_millis(500))
        .lease_margin(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    // Short timeouts: a claim whose answer is lost with its connection is
    // recovered when its lease (timeout + margin) runs out.
    let options = || opts().timeout(Duration::from_millis(500));
    let mut created = Vec::new();
    for round in 0..5 {
        for k in 0..3 {
            let job = loop {
                // Creating may meet a cut connection too: the caller retries.
                match q
                    .create_job(format!("q{k}"), "a", json!({"round": round}), options())
                    .await
                {
                    Ok(job) => break job,
                    Err(e) if e.is_transient() => continue,
                    Err(e) => panic!("{e}"),
                }
            };
            created.push(job);
        }
        assert!(t.cut_connections().await > 0);
    }
    eventually("every job done after the cuts", || async {
        q.list_jobs(&JobFilter::default().state(JobState::Done))
            .await
            .is_ok_and(|page| page.jobs.len() == created.len())
    })
    .await;
    assert_eq!(script.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    for k in 0..3 {
        let queue = format!("q{k}");
        let expected: Vec<i64> = created
            .iter()
            .filter(|j| j.queue == queue)
            .map(|j| j.id)
            .collect();
        let mut order = script.order(&queue);
        order.dedup();
        assert_eq!(order, expected, "order of {queue}");
    }
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// PostgreSQL's claim and result functions read with a fresh snapshot per
/// statement: under another isolation level they refuse to run rather than
/// park a queue, and the scheduler only logs and retries.
async fn claims_refuse_isolation_levels_they_cannot_trust(kind: Kind) {
    let t = fresh(kind).await;
    let pool = t.db.pg_pool().unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .unwrap();
    let refused = sqlx::query("SELECT * FROM queuetopia_claim('s', NULL, 1, 'n', 100, 1, NULL)")
        .fetch_all(&mut *tx)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("READ COMMITTED"), "{refused}");
    tx.rollback().await.unwrap();
    // Under READ COMMITTED the same call answers.
    let rows = sqlx::query("SELECT * FROM queuetopia_claim('s', NULL, 1, 'n', 100, 1, NULL)")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one 'examined' row");
}

behaviour_tests!(
    two_schedulers_never_overlap_nor_reorder,
    a_crashed_nodes_lease_is_taken_over,
    a_stale_nodes_result_is_refused,
    renewed_leases_keep_long_jobs_and_a_lost_one_cancels,
    a_lock_handed_to_the_next_job_carries_that_jobs_lease,
    lost_connections_are_survived,
);

postgres_only_tests!(claims_refuse_isolation_levels_they_cannot_trust,);
