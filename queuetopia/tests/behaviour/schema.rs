//! The schema: migrations and where the tables live.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn migrations_are_versioned_idempotent_and_reversible(kind: Kind) {
    let t = common::fresh_unmigrated(kind).await;
    assert_eq!(t.db.schema_version().await.unwrap(), 0);
    let latest = t.db.latest_schema_version();
    assert!(latest >= 1, "{latest}");
    let outdated = Queuetopia::producer(t.db.clone()).scope("s").build().await;
    assert!(
        matches!(
            outdated,
            Err(Error::SchemaOutdated { found: 0, expected }) if expected == latest
        ),
        "{outdated:?}"
    );
    let message = outdated.unwrap_err().to_string();
    assert!(message.contains("migrate"), "{message}");
    t.db.migrate().await.unwrap();
    t.db.migrate().await.unwrap();
    assert_eq!(
        t.db.schema_version().await.unwrap(),
        t.db.latest_schema_version()
    );
    let q = producer(&t.db, "s").await;
    q.create_job("q", "a", json!({}), opts()).await.unwrap();
    // Migrating again to the same version keeps the jobs.
    t.db.migrate_to(t.db.latest_schema_version()).await.unwrap();
    t.db.migrate().await.unwrap();
    assert_eq!(
        q.list_jobs(&JobFilter::default()).await.unwrap().jobs.len(),
        1
    );
    t.db.migrate_to(0).await.unwrap();
    assert_eq!(t.db.schema_version().await.unwrap(), 0);
    assert!(q.list_jobs(&JobFilter::default()).await.is_err());
    t.db.migrate().await.unwrap();
    assert!(
        q.list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert!(matches!(
        t.db.migrate_to(99).await,
        Err(Error::Validation { .. })
    ));
}

async fn concurrent_migrations_agree(kind: Kind) {
    let t = common::fresh_unmigrated(kind).await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let db = t.db.clone();
            tokio::spawn(async move { db.migrate().await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    assert_eq!(
        t.db.schema_version().await.unwrap(),
        t.db.latest_schema_version()
    );
}

async fn table_placement_keeps_instances_apart(kind: Kind) {
    let t = fresh(kind).await;
    let mut tables = queuetopia::Tables::default().prefix("app_qt_");
    if t.db.capabilities().schemas {
        let schema = t.schema.as_deref().expect("a test schema");
        tables = tables.schema(format!("{schema}_placed"));
    } else {
        let refused = t.with_tables(tables.clone().schema("elsewhere"));
        assert!(matches!(
            refused,
            Err(Error::Validation {
                field: "schema",
                ..
            })
        ));
    }
    let placed = t.reconnect_with(tables.clone()).await;
    assert!(matches!(
        Queuetopia::producer(placed.clone()).build().await,
        Err(Error::SchemaOutdated { .. })
    ));
    placed.migrate().await.unwrap();
    let script = Script::new("n1");
    let q = node(&placed, "s", &script).await;
    let mut rx = q.subscribe();
    let job = q.create_job("q", "a", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, job.id);
    // The default placement, same scope, sees nothing of it.
    let default = producer(&t.db, "s").await;
    assert!(
        default
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    default
        .create_job("q", "a", json!({}), opts())
        .await
        .unwrap();
    assert_eq!(
        q.list_jobs(&JobFilter::default()).await.unwrap().jobs.len(),
        1
    );
    q.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(tables.jobs_table().rsplit('.').next(), Some("app_qt_jobs"));
    placed.migrate_to(0).await.unwrap();
    assert_eq!(
        default
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .len(),
        1
    );
}

async fn unsafe_table_names_are_refused(kind: Kind) {
    let t = fresh(kind).await;
    for bad in [
        "x; DROP TABLE queuetopia_jobs; --",
        "Upper",
        "a-b",
        "a.b",
        "",
    ] {
        let result = t.with_tables(queuetopia::Tables::default().prefix(bad));
        assert!(
            matches!(
                result,
                Err(Error::Validation {
                    field: "table_prefix",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    let schema = queuetopia::Tables::default().schema("public\"; DROP SCHEMA public; --");
    let result = t.with_tables(schema);
    assert!(matches!(
        result,
        Err(Error::Validation {
            field: "schema",
            ..
        })
    ));
    assert_eq!(
        t.db.schema_version().await.unwrap(),
        t.db.latest_schema_version()
    );
}

/// PostgreSQL's functions are applied by every migration run, not only by
/// the migration that creates the tables: one dropped behind the library's
/// back comes back with the next `migrate`, and the jobs stay.
async fn functions_are_applied_by_every_migration(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    q.create_job("q", "a", json!({}), opts()).await.unwrap();
    t.execute("DROP FUNCTION queuetopia_claim").await;
    assert!(
        t.try_execute("SELECT * FROM queuetopia_claim('s', NULL, 1, 'n', 1, 1, NULL)")
            .await
            .is_err()
    );
    t.db.migrate().await.unwrap();
    let script = Script::new("n1");
    let node = node(&t.db, "s", &script).await;
    let mut rx = node.subscribe();
    node.wake();
    wait_successes(&mut rx, 1).await;
    node.shutdown(Duration::from_secs(5)).await.unwrap();
}

behaviour_tests!(
    migrations_are_versioned_idempotent_and_reversible,
    concurrent_migrations_agree,
    table_placement_keeps_instances_apart,
    unsafe_table_names_are_refused,
);

postgres_only_tests!(functions_are_applied_by_every_migration);
