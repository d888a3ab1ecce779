//! Queuetopia's metrics (see the README's catalogue) in Prometheus's text
//! format: the `prometheus` feature.
//!
//! ```no_run
//! let metrics = queuetopia::prometheus::install().expect("no other recorder");
//! // ... in the application's `/metrics` handler:
//! let body: String = metrics.render();
//! ```

pub use metrics_exporter_prometheus::{BuildError, PrometheusHandle};

/// The histograms' buckets, in seconds: from a millisecond to an hour.
const BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Installs a process-wide recorder that keeps every metric the process
/// records (Queuetopia's and the application's) for Prometheus, with
/// histograms bucketed for jobs' durations and waits; returns the handle
/// whose [`PrometheusHandle::render`] is the text to serve.
///
/// # Errors
///
/// [`BuildError`] when the process already has a recorder.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&BUCKETS)?
        .install_recorder()
}
