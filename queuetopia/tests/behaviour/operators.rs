//! Operators: retrying, skipping, cancelling and editing a job, pausing and
//! resuming a queue, and the audit each action leaves.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn an_operator_skip_lets_a_held_queue_move_on(kind: Kind) {
    let t = fresh(kind).await;
    let (q, _script, held, behind) = held_head(&t).await;
    let mut rx = q.subscribe();
    let skipped = q.skip_job(held).await.unwrap();
    assert!(skipped.given_up_at.is_some());
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, behind);
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

/// A head held after its only attempt, with a job behind it; the node that ran it.
async fn held_head(t: &common::TestDb) -> (Queuetopia, Script, i64, i64) {
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let held = q
        .create_job(
            "a",
            "x",
            json!({"fail_times": 1, "to": "bad@address"}),
            opts().max_attempts(1).on_exhausted(ExhaustionPolicy::Hold),
        )
        .await
        .unwrap();
    let behind = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_event(
        &mut rx,
        "the hold",
        |e| matches!(e, Event::Failed { verdict: Verdict::Hold, job, .. } if job.id == held.id),
    )
    .await;
    (q, script, held.id, behind.id)
}

async fn a_cancelled_job_leaves_its_queue_and_the_rest_keep_their_order(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let first = q
        .create_job("a", "x", json!({"gate": "first"}), opts())
        .await
        .unwrap();
    let cancelled = q
        .create_job("a", "x", json!({"n": 2}), opts())
        .await
        .unwrap();
    let last = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_event(
        &mut rx,
        "the first job",
        |e| matches!(e, Event::Started { job } if job.id == first.id),
    )
    .await;
    let alice = q.operator(Operator::new("alice").reason("sent by mistake"));
    let gone = alice.cancel_job(cancelled.id).await.unwrap();
    assert_eq!(gone.id, cancelled.id);
    assert!(matches!(
        q.get_job(cancelled.id).await,
        Err(Error::JobNotFound(id)) if id == cancelled.id
    ));
    script.open("first");
    wait_successes(&mut rx, 2).await;
    assert_eq!(script.order("a"), vec![first.id, last.id]);
    let audit = q.list_audit(&AuditFilter::default()).await.unwrap();
    let entry = &audit.entries[0];
    assert_eq!(audit.entries.len(), 1, "{audit:?}");
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.action.as_str(),
            entry.reason.as_deref()
        ),
        ("alice", "cancel", Some("sent by mistake"))
    );
    assert_eq!(
        (entry.scope.as_str(), entry.queue.as_deref(), entry.job_id),
        ("s", Some("a"), Some(cancelled.id))
    );
    assert_eq!(entry.params_before, Some(cancelled.params.clone()));
    assert_eq!(entry.params_after, None);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn refused_actions_change_nothing_and_leave_no_audit(kind: Kind) {
    let t = fresh(kind).await;
    let (q, script, held, behind) = held_head(&t).await;
    let before = q.get_job(held).await.unwrap();
    // A job that ran cannot be cancelled; one that never ran cannot be
    // edited; a done one cannot be retried.
    for refused in [
        q.cancel_job(held).await,
        q.edit_job_params(behind, json!({"x": 1})).await,
    ] {
        assert!(
            matches!(refused, Err(Error::JobState { .. })),
            "{refused:?}"
        );
    }
    let mut rx = q.subscribe();
    let running = q
        .create_job("b", "x", json!({"gate": "b"}), opts())
        .await
        .unwrap();
    wait_event(
        &mut rx,
        "the gated job",
        |e| matches!(e, Event::Started { job } if job.id == running.id),
    )
    .await;
    for refused in [
        q.cancel_job(running.id).await,
        q.edit_job_params(running.id, json!({})).await,
        q.skip_job(running.id).await,
    ] {
        assert!(
            matches!(refused, Err(Error::JobState { reason, .. }) if reason.contains("running")),
            "{refused:?}"
        );
    }
    // Bad input is refused before anything is read.
    for refused in [
        q.operator(Operator::new("")).skip_job(held).await,
        q.operator(Operator::new("a\0b")).skip_job(held).await,
        q.operator(Operator::new("x").reason("r".repeat(queuetopia::MAX_REASON_BYTES + 1)))
            .skip_job(held)
            .await,
        q.edit_job_params(held, json!([1, 2])).await,
        q.edit_job_params(held, json!({"nul": "a\0b"})).await,
    ] {
        assert!(
            matches!(refused, Err(Error::Validation { .. })),
            "{refused:?}"
        );
    }
    assert!(matches!(
        q.cancel_job(i64::MAX).await,
        Err(Error::JobNotFound(_))
    ));
    assert_eq!(q.get_job(held).await.unwrap(), before);
    let audit = q.list_audit(&AuditFilter::default()).await.unwrap();
    assert!(audit.entries.is_empty(), "{audit:?}");
    script.open("b");
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn an_edited_head_runs_again_with_its_new_params(kind: Kind) {
    let t = fresh(kind).await;
    let (q, script, held, behind) = held_head(&t).await;
    let mut rx = q.subscribe();
    let bob = q.operator(Operator::new("bob").reason("address fixed"));
    let edited = bob
        .edit_job_params(held, json!({"to": "good@address"}))
        .await
        .unwrap();
    assert_eq!(edited.params["to"], "good@address");
    // Still held: an edit alone runs nothing.
    assert_eq!(q.get_job(held).await.unwrap().state, JobState::Held);
    bob.retry_job(held).await.unwrap();
    let done = wait_successes(&mut rx, 2).await;
    assert_eq!(done[0].id, held);
    assert_eq!(done[0].params["to"], "good@address");
    assert_eq!(script.order("a"), vec![held, held, behind]);
    let audit = q
        .list_audit(&AuditFilter::default().job(held))
        .await
        .unwrap();
    let actions: Vec<&str> = audit.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["retry", "edit"]);
    let edit = &audit.entries[1];
    assert_eq!(edit.params_before.as_ref().unwrap()["to"], "bad@address");
    assert_eq!(edit.params_after.as_ref().unwrap()["to"], "good@address");
    assert!(audit.entries[0].at >= edit.at);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn the_audit_pages_newest_first_and_keeps_its_retention(kind: Kind) {
    let t = fresh(kind).await;
    let clock = manual_clock();
    let q = Queuetopia::producer(t.db.clone())
        .scope("s")
        .node("node-7")
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let other = producer(&t.db, "other").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let job = q
            .create_job("a", "x", json!({"i": i}), opts())
            .await
            .unwrap();
        ids.push(job.id);
    }
    for id in &ids {
        q.skip_job(*id).await.unwrap();
        clock.advance(Duration::from_secs(60));
    }
    // Another scope's audit is its own.
    assert!(
        other
            .list_audit(&AuditFilter::default())
            .await
            .unwrap()
            .entries
            .is_empty()
    );
    let first = q
        .list_audit(&AuditFilter::default().limit(2))
        .await
        .unwrap();
    let seen: Vec<Option<i64>> = first.entries.iter().map(|e| e.job_id).collect();
    assert_eq!(seen, [Some(ids[2]), Some(ids[1])]);
    assert!(
        first
            .entries
            .iter()
            .all(|e| e.actor == "node-7" && e.reason.is_none())
    );
    let rest = q
        .list_audit(&AuditFilter::default().limit(2).after(first.next.unwrap()))
        .await
        .unwrap();
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(rest.entries[0].job_id, Some(ids[0]));
    assert_eq!(rest.next, None);
    assert!(matches!(
        q.list_audit(&AuditFilter::default().limit(0)).await,
        Err(Error::Validation { .. })
    ));
    // Entries older than 150 s, at the third skip + 60 s: the first one.
    assert_eq!(
        q.delete_old_audit(Duration::from_secs(150)).await.unwrap(),
        1
    );
    let left = q.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(left.entries.len(), 2);
    assert_eq!(q.delete_old_audit(Duration::ZERO).await.unwrap(), 2);
}

async fn a_paused_queue_finishes_its_attempt_and_starts_no_other_until_resumed(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let first = q
        .create_job("a", "x", json!({"gate": "first"}), opts())
        .await
        .unwrap();
    let second = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_event(
        &mut rx,
        "the first job",
        |e| matches!(e, Event::Started { job } if job.id == first.id),
    )
    .await;
    let alice = q.operator(Operator::new("alice").reason("provider down"));
    alice.pause_queue("a").await.unwrap();
    script.open("first");
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, first.id);
    // A claim after the pause (the probe's) leaves the paused queue alone.
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(second.id).await.unwrap().state, JobState::Pending);
    assert_eq!(script.order("a"), vec![first.id]);
    let queues = q.list_queues().await.unwrap();
    let a = queues.iter().find(|i| i.queue == "a").unwrap();
    let paused = a.paused.as_ref().expect("paused");
    assert_eq!(paused.by, "alice");
    assert!(a.lock.is_none(), "{a:?}");
    alice.resume_queue("a").await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, second.id);
    let queues = q.list_queues().await.unwrap();
    assert!(queues.iter().all(|i| i.paused.is_none()), "{queues:?}");
    let audit = q.list_audit(&AuditFilter::default()).await.unwrap();
    let seen: Vec<(&str, Option<&str>, Option<i64>)> = audit
        .entries
        .iter()
        .map(|e| (e.action.as_str(), e.queue.as_deref(), e.job_id))
        .collect();
    assert_eq!(
        seen,
        [("resume", Some("a"), None), ("pause", Some("a"), None)]
    );
    assert!(
        audit
            .entries
            .iter()
            .all(|e| e.reason.as_deref() == Some("provider down"))
    );
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_pause_is_stored_and_holds_jobs_created_later_on_a_new_node(kind: Kind) {
    let t = fresh(kind).await;
    // Paused from a producer, before the queue has any job.
    let ops = producer(&t.db, "s").await;
    ops.pause_queue("a").await.unwrap();
    for refused in [ops.pause_queue("a").await, ops.resume_queue("b").await] {
        assert!(
            matches!(refused, Err(Error::QueueState { .. })),
            "{refused:?}"
        );
    }
    for refused in [
        ops.pause_queue("").await,
        ops.operator(Operator::new("")).resume_queue("a").await,
    ] {
        assert!(
            matches!(refused, Err(Error::Validation { .. })),
            "{refused:?}"
        );
    }
    // The cleaner keeps a paused queue's row, jobs or not.
    assert_eq!(ops.prune_queues().await.unwrap(), 0);
    let script = Script::new("n2");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let held = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(held.id).await.unwrap().state, JobState::Pending);
    // Another scope's queue of the same name is not paused.
    let other = node(&t.db, "other", &Script::new("n3")).await;
    let mut other_rx = other.subscribe();
    other.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_successes(&mut other_rx, 1).await;
    ops.resume_queue("a").await.unwrap();
    // The resume on the producer's handle wakes only its own (absent)
    // scheduler: this node finds the queue at its next look.
    q.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, held.id);
    other.shutdown(Duration::from_secs(5)).await.unwrap();
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn bulk_actions_act_on_what_the_filter_matches_and_count_first(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    let other = producer(&t.db, "other").await;
    let new = |queue: &str, action: &str| NewJob::new(queue, action, json!({}), opts()).unwrap();
    // A prefix is literal: `_` and `%` match themselves only.
    let jobs = q
        .create_jobs([
            new("mail_%1", "send"),
            new("mail_%2", "send"),
            new("mailx", "send"),
            new("sms:1", "text"),
        ])
        .await
        .unwrap();
    other
        .create_job("mail_%1", "send", json!({}), opts())
        .await
        .unwrap();
    let many: Vec<NewJob> = (0..1001)
        .map(|i| new(&format!("bulk:{}", i % 3), "x"))
        .collect();
    q.create_jobs(many).await.unwrap();
    let ops = q.operator(Operator::new("carol").reason("provider outage"));
    let mail = BulkFilter::default().queue_prefix("mail_%");
    assert_eq!(ops.count_jobs(&mail).await.unwrap(), 2);
    let skipped = ops.skip_jobs(&mail).await.unwrap();
    assert_eq!((skipped.matched, skipped.acted, skipped.refused), (2, 2, 0));
    for job in &jobs[..2] {
        assert_eq!(q.get_job(job.id).await.unwrap().state, JobState::GivenUp);
    }
    assert_eq!(
        q.get_job(jobs[2].id).await.unwrap().state,
        JobState::Pending
    );
    // Given up jobs cannot be cancelled: counted as refused.
    let cancelled = ops
        .cancel_jobs(&BulkFilter::default().action("send"))
        .await
        .unwrap();
    assert_eq!(
        (cancelled.matched, cancelled.acted, cancelled.refused),
        (3, 1, 2)
    );
    let given_up = BulkFilter::default().state(JobState::GivenUp);
    let retried = ops.retry_jobs(&given_up).await.unwrap();
    assert_eq!(retried.acted, 2);
    assert_eq!(ops.count_jobs(&given_up).await.unwrap(), 0);
    // More than a page.
    let bulk = BulkFilter::default().queue_prefix("bulk:");
    assert_eq!(ops.count_jobs(&bulk).await.unwrap(), 1001);
    assert_eq!(ops.cancel_jobs(&bulk).await.unwrap().acted, 1001);
    assert_eq!(
        ops.count_jobs(&BulkFilter::default().all()).await.unwrap(),
        3
    );
    for refused in [
        ops.count_jobs(&BulkFilter::default()).await,
        ops.skip_jobs(&BulkFilter::default()).await.map(|o| o.acted),
        ops.count_jobs(&BulkFilter::default().queue_prefix(""))
            .await,
    ] {
        assert!(
            matches!(refused, Err(Error::Validation { .. })),
            "{refused:?}"
        );
    }
    // One audit entry per job acted on (2 + 1 + 2 + 1001); the other
    // scope untouched.
    let first = q
        .list_audit(&AuditFilter::default().limit(1000))
        .await
        .unwrap();
    let rest = q
        .list_audit(
            &AuditFilter::default()
                .limit(1000)
                .after(first.next.unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(first.entries.len() + rest.entries.len(), 1006);
    assert_eq!(rest.next, None);
    assert!(first.entries.iter().all(|e| e.actor == "carol"));
    let others = other.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(others.jobs[0].state, JobState::Pending);
}

behaviour_tests!(
    an_operator_skip_lets_a_held_queue_move_on,
    a_head_retried_at_once_shows_its_queue_blocked_until_it_succeeds,
    a_cancelled_job_leaves_its_queue_and_the_rest_keep_their_order,
    refused_actions_change_nothing_and_leave_no_audit,
    an_edited_head_runs_again_with_its_new_params,
    the_audit_pages_newest_first_and_keeps_its_retention,
    a_paused_queue_finishes_its_attempt_and_starts_no_other_until_resumed,
    a_pause_is_stored_and_holds_jobs_created_later_on_a_new_node,
    bulk_actions_act_on_what_the_filter_matches_and_count_first,
);
