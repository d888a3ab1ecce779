//! Listing: jobs and queues, filtered and paged.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn listing_filters_pages_and_searches(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let queue = if i % 2 == 0 { "even" } else { "odd" };
        let action = if i < 3 { "mail" } else { "bill" };
        let job = q
            .create_job(
                queue,
                action,
                json!({"n": i, "note": format!("Note_{i}%")}),
                opts(),
            )
            .await
            .unwrap();
        ids.push(job.id);
    }
    let all = q.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(
        all.jobs.iter().map(|e| e.job.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(all.next, None);
    let page1 = q.list_jobs(&JobFilter::default().limit(3)).await.unwrap();
    assert_eq!(page1.jobs.len(), 3);
    let page2 = q
        .list_jobs(&JobFilter::default().limit(3).after(page1.next.unwrap()))
        .await
        .unwrap();
    assert_eq!(page2.jobs[0].job.id, ids[3]);
    let oldest = q
        .list_jobs(&JobFilter::default().oldest_first().limit(2))
        .await
        .unwrap();
    assert_eq!(oldest.jobs[0].job.id, ids[0]);
    let odd = q
        .list_jobs(&JobFilter::default().queue("odd"))
        .await
        .unwrap();
    assert_eq!(odd.jobs.len(), 3);
    let mail = q
        .list_jobs(&JobFilter::default().action("mail"))
        .await
        .unwrap();
    assert_eq!(mail.jobs.len(), 3);
    let one = q.list_jobs(&JobFilter::default().id(ids[4])).await.unwrap();
    assert_eq!(one.jobs.len(), 1);
    let search = q
        .list_jobs(&JobFilter::default().search("note_5%"))
        .await
        .unwrap();
    assert_eq!(search.jobs.len(), 1);
    assert_eq!(search.jobs[0].job.id, ids[5]);
    // `_` and `%` are literal in a search.
    let literal = q
        .list_jobs(&JobFilter::default().search("e_5"))
        .await
        .unwrap();
    assert_eq!(literal.jobs.len(), 1);
    let by_queue_text = q
        .list_jobs(&JobFilter::default().search("ODD"))
        .await
        .unwrap();
    assert_eq!(by_queue_text.jobs.len(), 3);
    let pending = q
        .list_jobs(&JobFilter::default().state(JobState::Pending))
        .await
        .unwrap();
    assert_eq!(pending.jobs.len(), 7);
    let done = q
        .list_jobs(&JobFilter::default().state(JobState::Done))
        .await
        .unwrap();
    assert!(done.jobs.is_empty());
    assert!(matches!(
        q.list_jobs(&JobFilter::default().limit(0)).await,
        Err(Error::Validation { field: "limit", .. })
    ));
    let queues = q.list_queues().await.unwrap();
    assert_eq!(
        queues.iter().map(|i| i.queue.as_str()).collect::<Vec<_>>(),
        vec!["even", "odd"]
    );
    assert_eq!(queues[0].size, 4);
    assert_eq!(queues[0].head.as_ref().unwrap().id, ids[0]);
    assert_eq!(queues[1].head.as_ref().unwrap().id, ids[1]);
    assert!(
        queues
            .iter()
            .all(|i| i.blocked.is_none() && i.lock.is_none())
    );
}

behaviour_tests!(listing_filters_pages_and_searches,);
