//! `/metrics` output: every line is valid Prometheus text format 0.0.4; labels are escaped;
//! histograms are cumulative; label cardinality is capped.

use hotspot_controller::metrics::{
    MAX_LABEL_VALUE_LEN, MAX_SERIES, Metrics, Registry, escape_label,
};
use regex::Regex;

/// One line of the text format: HELP, TYPE, or a sample with optional escaped labels.
fn line_re() -> Regex {
    let name = r"[a-zA-Z_:][a-zA-Z0-9_:]*";
    let label = r#"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*""#;
    let value = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|Inf)|NaN)";
    Regex::new(&format!(
        r"^(?:# HELP {name} (?:[^\\\n]|\\[\\n])*|# TYPE {name} (?:counter|gauge|histogram|summary|untyped)|{name}(?:\{{{label}(?:,{label})*\}})? {value})$"
    ))
    .unwrap()
}

fn assert_valid(text: &str) {
    let re = line_re();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        assert!(re.is_match(line), "not Prometheus text format: {line:?}");
    }
}

#[test]
fn controller_metrics_render_in_text_format() {
    let m = Metrics::new();
    m.vouchers_issued.inc_by(&["central"], 10_000);
    m.vouchers_issued.inc(&["site"]);
    m.queue_depth.set(&["cafe-1"], 42.0);
    m.sites_online.set(&[], 3.0);
    m.routeros_call_seconds.observe(&["user_add"], 0.003);
    m.routeros_call_seconds.observe(&["user_add"], 0.07);
    m.routeros_call_seconds.observe(&["user_add"], 30.0);
    m.http_requests.inc(&["/api/routers/{id}", "200"]);
    let text = m.render();
    assert_valid(&text);
    for expected in [
        "# TYPE hotspot_vouchers_issued_total counter",
        "hotspot_vouchers_issued_total{origin=\"central\"} 10000",
        "hotspot_vouchers_issued_total{origin=\"site\"} 1",
        "hotspot_queue_depth{site=\"cafe-1\"} 42",
        "hotspot_sites_online 3",
        "# TYPE hotspot_routeros_call_seconds histogram",
        "hotspot_routeros_call_seconds_bucket{op=\"user_add\",le=\"0.005\"} 1",
        "hotspot_routeros_call_seconds_bucket{op=\"user_add\",le=\"0.05\"} 1",
        "hotspot_routeros_call_seconds_bucket{op=\"user_add\",le=\"0.1\"} 2",
        "hotspot_routeros_call_seconds_bucket{op=\"user_add\",le=\"10\"} 2",
        "hotspot_routeros_call_seconds_bucket{op=\"user_add\",le=\"+Inf\"} 3",
        "hotspot_routeros_call_seconds_count{op=\"user_add\"} 3",
        "hotspot_http_requests_total{route=\"/api/routers/{id}\",status=\"200\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "missing {expected:?} in\n{text}"
        );
    }
    let sum = text
        .lines()
        .find_map(|l| l.strip_prefix("hotspot_routeros_call_seconds_sum{op=\"user_add\"} "))
        .unwrap();
    assert!((sum.parse::<f64>().unwrap() - 30.073).abs() < 1e-9);
    assert_eq!(m.vouchers_issued.get(&["central"]), 10_000);
}

#[test]
fn fresh_metrics_render_and_unlabelled_ones_start_at_zero() {
    let text = Metrics::new().render();
    assert_valid(&text);
    assert!(
        text.lines().any(|l| l == "hotspot_sites_online 0"),
        "{text}"
    );
}

#[test]
fn label_values_and_help_are_escaped() {
    assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
    assert_eq!(escape_label("two\nlines"), r"two\nlines");
    let r = Registry::new();
    let c = r.counter(
        "odd_total",
        "Help with a \\ backslash\nand a newline.",
        &["v"],
    );
    c.inc(&["quote \" backslash \\ newline \n end"]);
    c.inc(&["{braces},commas=and=equals"]);
    let g = r.gauge("weird_gauge", "Gauge.", &[]);
    g.set(&[], f64::NAN);
    let g2 = r.gauge("inf_gauge", "Gauge.", &["s"]);
    g2.set(&["a"], f64::INFINITY);
    g2.set(&["b"], f64::NEG_INFINITY);
    g2.set(&["c"], -0.25);
    let text = r.encode();
    assert_valid(&text);
    assert!(
        text.contains(r#"odd_total{v="quote \" backslash \\ newline \n end"} 1"#),
        "{text}"
    );
    assert!(text.contains(r"# HELP odd_total Help with a \\ backslash\nand a newline."));
    assert!(text.contains("weird_gauge NaN"));
    assert!(text.contains("inf_gauge{s=\"a\"} +Inf") && text.contains("inf_gauge{s=\"b\"} -Inf"));
    assert!(text.contains("inf_gauge{s=\"c\"} -0.25"));
}

#[test]
fn series_are_capped_and_drops_are_counted() {
    let r = Registry::new();
    let g = r.gauge("queue_like", "Per key.", &["key"]);
    for i in 0..MAX_SERIES + 5 {
        g.set(&[&i.to_string()], 1.0);
    }
    let text = r.encode();
    assert_valid(&text);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("queue_like{"))
            .count(),
        MAX_SERIES
    );
    assert!(
        text.contains("hotspot_metrics_series_dropped_total{metric=\"queue_like\"} 5"),
        "drop count"
    );
    // Existing series keep working at the cap; removing one frees room.
    g.set(&["0"], 7.0);
    assert!(r.encode().contains("queue_like{key=\"0\"} 7"));
    g.remove(&["0"]);
    g.set(&["new"], 1.0);
    assert!(r.encode().contains("queue_like{key=\"new\"} 1"));
    // Long label values are cut.
    let c = r.counter("long_total", "Long.", &["v"]);
    c.inc(&[&"é".repeat(200)]);
    let kept = r
        .encode()
        .lines()
        .find(|l| l.starts_with("long_total{"))
        .unwrap()
        .to_owned();
    assert!(kept.len() < MAX_LABEL_VALUE_LEN + 40, "{kept}");
}

#[test]
#[should_panic(expected = "registered twice")]
fn names_are_unique() {
    let r = Registry::new();
    r.counter("a_total", "A.", &[]);
    r.counter("a_total", "A again.", &[]);
}
