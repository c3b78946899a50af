//! The registry behind [`crate::metrics`]: metric families, their series, and the text
//! exposition format 0.0.4 (`# HELP`, `# TYPE`, samples; histograms as cumulative `_bucket`
//! series with `le`, plus `_sum` and `_count`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Content type of [`Registry::encode`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Most label sets per family.
pub const MAX_SERIES: usize = 10_000;
/// Longest label value kept, in bytes.
pub const MAX_LABEL_VALUE_LEN: usize = 128;

const DROPPED_NAME: &str = "hotspot_metrics_series_dropped_total";

#[derive(Clone, Debug, Default)]
struct HistogramValue {
    /// Per bucket, not cumulative (made cumulative when encoded).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Clone, Debug)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(HistogramValue),
}

#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    label_names: Vec<&'static str>,
    buckets: Vec<f64>,
    series: Mutex<BTreeMap<Vec<String>, Value>>,
    dropped: AtomicU64,
}

impl Family {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<String>, Value>> {
        // A panic while holding the lock cannot leave a series half-written: keep serving.
        self.series.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the series for `labels`, creating it from `empty` if there is room.
    fn with(&self, labels: &[&str], empty: impl FnOnce() -> Value, f: impl FnOnce(&mut Value)) {
        assert_eq!(
            labels.len(),
            self.label_names.len(),
            "metric {} takes labels {:?}",
            self.name,
            self.label_names
        );
        let key: Vec<String> = labels.iter().map(|v| cut(v).to_owned()).collect();
        let mut series = self.lock();
        let len = series.len();
        match series.get_mut(&key) {
            Some(v) => f(v),
            None if len < MAX_SERIES => f(series.entry(key).or_insert_with(empty)),
            None => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn cut(v: &str) -> &str {
    if v.len() <= MAX_LABEL_VALUE_LEN {
        return v;
    }
    let mut end = MAX_LABEL_VALUE_LEN;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    &v[..end]
}

/// A set of metric families that encode together.
#[derive(Debug, Default)]
pub struct Registry {
    families: Mutex<Vec<Arc<Family>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    fn register(
        &self,
        name: &'static str,
        help: &'static str,
        kind: &'static str,
        label_names: &[&'static str],
        buckets: &[f64],
    ) -> Arc<Family> {
        assert!(valid_name(name, true), "bad metric name {name:?}");
        for l in label_names {
            assert!(
                valid_name(l, false) && !l.starts_with("__"),
                "bad label {l:?}"
            );
            assert!(
                kind != "histogram" || *l != "le",
                "`le` is reserved in histograms"
            );
        }
        let family = Arc::new(Family {
            name,
            help,
            kind,
            label_names: label_names.to_vec(),
            buckets: buckets.to_vec(),
            series: Mutex::new(BTreeMap::new()),
            dropped: AtomicU64::new(0),
        });
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        assert!(
            families.iter().all(|f| f.name != name) && name != DROPPED_NAME,
            "metric {name} registered twice"
        );
        families.push(family.clone());
        family
    }

    /// A counter; an unlabelled one starts at 0 in the output.
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[&'static str],
    ) -> Counter {
        let c = Counter(self.register(name, help, "counter", labels, &[]));
        if labels.is_empty() {
            c.inc_by(&[], 0);
        }
        c
    }

    /// A gauge; an unlabelled one starts at 0 in the output.
    pub fn gauge(&self, name: &'static str, help: &'static str, labels: &[&'static str]) -> Gauge {
        let g = Gauge(self.register(name, help, "gauge", labels, &[]));
        if labels.is_empty() {
            g.add(&[], 0.0);
        }
        g
    }

    /// A histogram with `buckets` (upper bounds, strictly increasing, finite; `+Inf` is added).
    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[&'static str],
        buckets: &[f64],
    ) -> Histogram {
        assert!(
            buckets.iter().all(|b| b.is_finite()) && buckets.windows(2).all(|w| w[0] < w[1]),
            "histogram {name} buckets must be finite and increasing"
        );
        Histogram(self.register(name, help, "histogram", labels, buckets))
    }

    /// Everything in the Prometheus text format.
    pub fn encode(&self) -> String {
        let families = self
            .families
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = String::new();
        let mut dropped = Vec::new();
        for f in &families {
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
            for (values, value) in f.lock().iter() {
                let labels: Vec<(&str, &str)> = f
                    .label_names
                    .iter()
                    .copied()
                    .zip(values.iter().map(String::as_str))
                    .collect();
                encode_series(&mut out, f, &labels, value);
            }
            let n = f.dropped.load(Ordering::Relaxed);
            if n > 0 {
                dropped.push((f.name, n));
            }
        }
        if !dropped.is_empty() {
            let _ = writeln!(
                out,
                "# HELP {DROPPED_NAME} Label sets not recorded because a metric reached its series cap."
            );
            let _ = writeln!(out, "# TYPE {DROPPED_NAME} counter");
            for (name, n) in dropped {
                let _ = writeln!(out, "{DROPPED_NAME}{} {n}", label_text(&[("metric", name)]));
            }
        }
        out
    }
}

fn encode_series(out: &mut String, f: &Family, labels: &[(&str, &str)], value: &Value) {
    match value {
        Value::Counter(n) => {
            let _ = writeln!(out, "{}{} {n}", f.name, label_text(labels));
        }
        Value::Gauge(v) => {
            let _ = writeln!(out, "{}{} {}", f.name, label_text(labels), number(*v));
        }
        Value::Histogram(h) => {
            let base = label_pairs(labels);
            let sep = if base.is_empty() { "" } else { "," };
            let mut cumulative = 0u64;
            let bounds = f
                .buckets
                .iter()
                .map(|b| number(*b))
                .chain(["+Inf".to_owned()]);
            for (i, le) in bounds.enumerate() {
                cumulative += h.counts.get(i).copied().unwrap_or(0);
                let count = if le == "+Inf" { h.count } else { cumulative };
                let _ = writeln!(out, "{}_bucket{{{base}{sep}le=\"{le}\"}} {count}", f.name);
            }
            let _ = writeln!(
                out,
                "{}_sum{} {}",
                f.name,
                label_text(labels),
                number(h.sum)
            );
            let _ = writeln!(out, "{}_count{} {}", f.name, label_text(labels), h.count);
        }
    }
}

/// `{a="x",b="y"}`, or nothing for no labels.
fn label_text(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", label_pairs(labels))
    }
}

/// `a="x",b="y"`.
fn label_pairs(labels: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{name}=\"{}\"", escape_label(value));
    }
    s
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', r"\\").replace('\n', r"\n")
}

/// Go's float syntax as Prometheus reads it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn valid_name(name: &str, colon_ok: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic()
            || c == '_'
            || (colon_ok && c == ':')
            || (!first && c.is_ascii_digit())
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

/// A monotonically increasing count.
#[derive(Clone, Debug)]
pub struct Counter(Arc<Family>);

impl Counter {
    pub fn inc(&self, labels: &[&str]) {
        self.inc_by(labels, 1);
    }
    pub fn inc_by(&self, labels: &[&str], n: u64) {
        self.0.with(
            labels,
            || Value::Counter(0),
            |v| {
                if let Value::Counter(c) = v {
                    *c = c.saturating_add(n);
                }
            },
        );
    }
    /// The current value (0 for a label set never recorded).
    pub fn get(&self, labels: &[&str]) -> u64 {
        let key: Vec<String> = labels.iter().map(|v| cut(v).to_owned()).collect();
        match self.0.lock().get(&key) {
            Some(Value::Counter(c)) => *c,
            _ => 0,
        }
    }
}

/// A value that goes up and down.
#[derive(Clone, Debug)]
pub struct Gauge(Arc<Family>);

impl Gauge {
    pub fn set(&self, labels: &[&str], value: f64) {
        self.0
            .with(labels, || Value::Gauge(0.0), |v| *v = Value::Gauge(value));
    }
    pub fn add(&self, labels: &[&str], delta: f64) {
        self.0.with(
            labels,
            || Value::Gauge(0.0),
            |v| {
                if let Value::Gauge(g) = v {
                    *g += delta;
                }
            },
        );
    }
    /// Forgets a label set (a removed site), so it no longer appears.
    pub fn remove(&self, labels: &[&str]) {
        let key: Vec<String> = labels.iter().map(|v| cut(v).to_owned()).collect();
        self.0.lock().remove(&key);
    }
}

/// Observations counted into fixed buckets.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<Family>);

impl Histogram {
    pub fn observe(&self, labels: &[&str], value: f64) {
        let buckets = &self.0.buckets;
        let empty = || {
            Value::Histogram(HistogramValue {
                counts: vec![0; buckets.len()],
                ..HistogramValue::default()
            })
        };
        self.0.with(labels, empty, |v| {
            if let Value::Histogram(h) = v {
                if let Some(i) = buckets.iter().position(|b| value <= *b) {
                    h.counts[i] += 1;
                }
                h.sum += value;
                h.count += 1;
            }
        });
    }
}
