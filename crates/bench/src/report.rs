//! `compact-bench report`: medians of interleaved rounds, ratios to the baselines and the
//! targets of issue 6, as Markdown and JSON.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

/// One measured round of one figure (a line of the run's measurements file).
#[derive(Debug, Clone, Deserialize)]
pub struct Measurement {
    pub backend: String,
    pub figure: String,
    /// `product` or `baseline`.
    pub side: String,
    pub round: u32,
    pub rps: f64,
    #[serde(default)]
    pub p50_ms: f64,
    #[serde(default)]
    pub p99_ms: f64,
    #[serde(default)]
    pub errors: u64,
    /// Product rounds: the requests the server itself timed in the round, and how many of
    /// them took longer than 50 ms there (its `/metrics` histogram, read before and after).
    #[serde(default)]
    pub server_requests: Option<u64>,
    #[serde(default)]
    pub server_over_50ms: Option<u64>,
}

/// Server memory of one backend's run (kB, from /proc/PID/status).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Memory {
    pub backend: String,
    pub idle_rss_kb: u64,
    pub peak_rss_kb: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub figure: String,
    pub baseline: String,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub baseline_rps: f64,
    pub baseline_p99_ms: f64,
    /// The median over rounds of product ÷ baseline throughput.
    pub ratio: f64,
    pub ratio_target: Option<f64>,
    pub p99_target_ms: Option<f64>,
    pub errors: u64,
    pub rounds: usize,
    /// The median over rounds of the share (%) of requests over 50 ms as the server timed
    /// them: above the load generator's share, the rest of the tail was outside the server
    /// (scheduling, sockets, the load generator itself).
    pub server_over_50ms_pct: Option<f64>,
}

pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// What each figure is compared with, and its targets (ratio, p99 ms).
pub fn baseline_of(figure: &str) -> (&'static str, Option<f64>, Option<f64>) {
    match figure {
        f if f.starts_with("search") => ("same SQL, native", Some(0.8), Some(50.0)),
        "get document" => ("same SQL, native", Some(0.6), None),
        "post update" => ("same transaction, native", Some(0.7), None),
        "feed page" => ("same SQL, native", None, None),
        "me" => ("bare actix-web JSON", Some(0.8), None),
        "login" => ("argon2 bound (cores ÷ hash time)", Some(0.8), None),
        _ => ("", None, None),
    }
}

pub fn rows(measurements: &[Measurement], backend: &str) -> Vec<Row> {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<(String, String), Vec<&Measurement>> = BTreeMap::new();
    for m in measurements.iter().filter(|m| m.backend == backend) {
        if !order.contains(&m.figure) {
            order.push(m.figure.clone());
        }
        by.entry((m.figure.clone(), m.side.clone()))
            .or_default()
            .push(m);
    }
    order
        .into_iter()
        .map(|figure| {
            let product = by
                .get(&(figure.clone(), "product".into()))
                .cloned()
                .unwrap_or_default();
            let baseline = by
                .get(&(figure.clone(), "baseline".into()))
                .cloned()
                .unwrap_or_default();
            let med = |ms: &[&Measurement], f: fn(&Measurement) -> f64| {
                median(&mut ms.iter().map(|m| f(m)).collect::<Vec<_>>())
            };
            // Pair each product round with the baseline round next to it.
            let mut ratios: Vec<f64> = product
                .iter()
                .filter_map(|p| {
                    baseline
                        .iter()
                        .find(|b| b.round == p.round)
                        .map(|b| p.rps / b.rps)
                })
                .filter(|r| r.is_finite())
                .collect();
            let (name, ratio_target, p99_target_ms) = baseline_of(&figure);
            Row {
                baseline: name.into(),
                rps: med(&product, |m| m.rps),
                p50_ms: med(&product, |m| m.p50_ms),
                p99_ms: med(&product, |m| m.p99_ms),
                baseline_rps: med(&baseline, |m| m.rps),
                baseline_p99_ms: med(&baseline, |m| m.p99_ms),
                ratio: median(&mut ratios),
                ratio_target,
                p99_target_ms,
                errors: product.iter().map(|m| m.errors).sum(),
                rounds: product.len(),
                server_over_50ms_pct: server_share_over_50ms(&product),
                figure,
            }
        })
        .collect()
}

fn server_share_over_50ms(product: &[&Measurement]) -> Option<f64> {
    let mut shares: Vec<f64> = product
        .iter()
        .filter_map(|m| match (m.server_over_50ms, m.server_requests) {
            (Some(over), Some(all)) if all > 0 => Some(100.0 * over as f64 / all as f64),
            _ => None,
        })
        .collect();
    (!shares.is_empty()).then(|| median(&mut shares))
}

/// Requests per second, with a decimal where there are few.
fn rate(rps: f64) -> String {
    if rps < 10.0 {
        format!("{rps:.1}")
    } else {
        format!("{rps:.0}")
    }
}

fn verdict(row: &Row) -> String {
    if !row.ratio.is_finite() || row.rps == 0.0 {
        return "no measurement: no request finished in the round, or errors".into();
    }
    let mut out = Vec::new();
    if let Some(t) = row.ratio_target {
        out.push(format!(
            "ratio ≥ {t}: {}",
            if row.ratio >= t { "met" } else { "**not met**" }
        ));
    }
    if let Some(t) = row.p99_target_ms {
        out.push(format!(
            "p99 ≤ {t} ms: {}",
            if row.p99_ms <= t {
                "met"
            } else {
                "**not met**"
            }
        ));
        if let Some(share) = row.server_over_50ms_pct {
            out.push(format!("over 50 ms in the server: {share:.2} %"));
        }
    }
    out.join("; ")
}

pub fn markdown(
    meta: &serde_json::Value,
    backends: &[(String, Vec<Row>, Option<Memory>)],
) -> String {
    let mut md = format!(
        "### {} — {} items, {}\n\nCommit {}, {}. Medians of {} interleaved rounds (baseline, product, …).\n",
        meta["date"].as_str().unwrap_or(""),
        meta["items"],
        meta["mode"].as_str().unwrap_or(""),
        meta["commit"].as_str().unwrap_or(""),
        meta["machine"].as_str().unwrap_or(""),
        meta["rounds"],
    );
    for (backend, rows, memory) in backends {
        md.push_str(&format!(
            "\n#### {backend}\n\n| figure | req/s | p50 ms | p99 ms | baseline | baseline req/s | baseline p99 ms | ratio | targets |\n|---|---|---|---|---|---|---|---|---|\n"
        ));
        for r in rows {
            let rounds = meta["rounds"].as_u64().unwrap_or(0) as usize;
            let note = if r.rounds < rounds {
                format!(" ({} round)", r.rounds)
            } else {
                String::new()
            };
            let errors = if r.errors > 0 {
                format!(" ({} errors)", r.errors)
            } else {
                String::new()
            };
            md.push_str(&format!(
                "| {}{}{} | {} | {:.1} | {:.1} | {} | {} | {:.1} | {:.2} | {} |\n",
                r.figure,
                note,
                errors,
                rate(r.rps),
                r.p50_ms,
                r.p99_ms,
                r.baseline,
                rate(r.baseline_rps),
                r.baseline_p99_ms,
                r.ratio,
                verdict(r)
            ));
        }
        if let Some(m) = memory {
            let idle = m.idle_rss_kb as f64 / 1024.0;
            let peak = m.peak_rss_kb as f64 / 1024.0;
            md.push_str(&format!(
                "\nServer memory: idle {idle:.0} MB (target ≤ 50: {}), peak under load {peak:.0} MB (target ≤ 300: {}).\n",
                if idle <= 50.0 { "met" } else { "**not met**" },
                if peak <= 300.0 { "met" } else { "**not met**" },
            ));
        }
    }
    md
}

pub fn run(
    measurements_path: &Path,
    memory_path: Option<&Path>,
    meta: serde_json::Value,
    out_md: &Path,
    out_json: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(measurements_path)?;
    let measurements: Vec<Measurement> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let memory: Vec<Memory> = match memory_path {
        Some(p) if p.exists() => std::fs::read_to_string(p)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    let mut backends: Vec<String> = Vec::new();
    for m in &measurements {
        if !backends.contains(&m.backend) {
            backends.push(m.backend.clone());
        }
    }
    let tables: Vec<(String, Vec<Row>, Option<Memory>)> = backends
        .into_iter()
        .map(|b| {
            let rows = rows(&measurements, &b);
            let mem = memory.iter().find(|m| m.backend == b).cloned();
            (b, rows, mem)
        })
        .collect();
    let md = markdown(&meta, &tables);
    std::fs::write(out_md, &md)?;
    let json = json!({
        "meta": meta,
        "backends": tables.iter().map(|(b, rows, mem)| json!({"backend": b, "rows": rows, "memory": mem})).collect::<Vec<_>>(),
    });
    std::fs::write(out_json, serde_json::to_string_pretty(&json)?)?;
    print!("{md}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(side: &str, round: u32, rps: f64) -> Measurement {
        Measurement {
            backend: "sqlite".into(),
            figure: "get document".into(),
            side: side.into(),
            round,
            rps,
            p50_ms: 1.0,
            p99_ms: 2.0,
            errors: 0,
            server_requests: None,
            server_over_50ms: None,
        }
    }

    #[test]
    fn the_server_share_over_50_ms_is_a_median_of_rounds_that_have_one() {
        let timed = |round, over| Measurement {
            server_requests: Some(1_000),
            server_over_50ms: Some(over),
            ..m("product", round, 50.0)
        };
        let ms = vec![
            timed(1, 2),
            timed(2, 30),
            timed(3, 5),
            m("product", 4, 50.0),
        ];
        let share = rows(&ms, "sqlite")[0]
            .server_over_50ms_pct
            .expect("timed rounds");
        assert!((share - 0.5).abs() < 1e-9, "{share}");
        assert_eq!(
            rows(&[m("product", 1, 50.0)], "sqlite")[0].server_over_50ms_pct,
            None
        );
    }

    #[test]
    fn ratios_pair_rounds_and_take_the_median() {
        let ms = vec![
            m("baseline", 1, 100.0),
            m("product", 1, 50.0),
            m("baseline", 2, 200.0),
            m("product", 2, 60.0),
            m("baseline", 3, 100.0),
            m("product", 3, 70.0),
        ];
        let rows = rows(&ms, "sqlite");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].rps, 60.0);
        assert_eq!(rows[0].baseline_rps, 100.0);
        // Ratios per round: 0.5, 0.3, 0.7.
        assert!((rows[0].ratio - 0.5).abs() < 1e-9);
    }

    #[test]
    fn median_of_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
