//! Captures what the library traces, so that tests can check its spans and
//! events: each recorded event carries its own fields and those of every span
//! around it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One event the library emitted, with its level and message, and its
/// fields merged with its spans' (`span` names the innermost span).
#[derive(Debug, Clone)]
pub struct Trace {
    pub level: tracing::Level,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

impl Trace {
    /// The value of `field`, if the event or one of its spans has it.
    pub fn field(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

static TRACES: Mutex<Vec<Trace>> = Mutex::new(Vec::new());

/// Installs the process's subscriber once: the capture, and the test's log
/// output when `QUEUETOPIA_TEST_LOG` is set.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let capture = Capture.with_filter(filter_fn(|m| m.target().starts_with("queuetopia")));
        let logs = std::env::var_os("QUEUETOPIA_TEST_LOG").map(|_| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(LevelFilter::DEBUG)
        });
        let subscriber = tracing_subscriber::registry().with(capture).with(logs);
        // Another test harness may have set one already: then nothing is captured,
        // and the tests that read traces say so.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Every event recorded so far whose `scope` field (its own or a span's) is `scope`.
pub fn of_scope(scope: &str) -> Vec<Trace> {
    TRACES
        .lock()
        .unwrap()
        .iter()
        .filter(|t| t.field("scope") == Some(scope))
        .cloned()
        .collect()
}

struct Capture;

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S> Layer<S> for Capture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        fields
            .0
            .insert("span".to_owned(), attrs.metadata().name().to_owned());
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        if let Some(spans) = ctx.event_scope(event) {
            for span in spans.from_root() {
                if let Some(span_fields) = span.extensions().get::<Fields>() {
                    fields.0.extend(span_fields.0.clone());
                }
            }
        }
        event.record(&mut fields);
        if !fields.0.contains_key("scope") {
            return;
        }
        let message = fields.0.remove("message").unwrap_or_default();
        TRACES.lock().unwrap().push(Trace {
            level: *event.metadata().level(),
            message,
            fields: fields.0,
        });
    }
}
