//! Reads `oha --output-format json` into the one-line measurement `bench/run.sh` records.
//!
//! oha, not wrk: wrk 4 adds made-up samples to its latency histogram before it reports
//! (`stats_correct`: for every request slower than the mean interval per connection, copies
//! at that interval below it), so one 300 ms stall among 4,000 requests of 10 ms became
//! dozens of samples and a p99 of 100–300 ms that neither the server's own timing nor a
//! packet capture saw (bench/README.md). oha reports the requests it actually timed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct OhaReport {
    summary: OhaSummary,
    #[serde(rename = "latencyPercentiles")]
    /// Seconds; `null` where there were no samples.
    latency_percentiles: BTreeMap<String, Option<f64>>,
    #[serde(rename = "statusCodeDistribution", default)]
    status_codes: BTreeMap<String, u64>,
    #[serde(rename = "errorDistribution", default)]
    errors: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct OhaSummary {
    #[serde(rename = "requestsPerSec")]
    requests_per_sec: f64,
}

/// The fields of a [`crate::report::Measurement`] that a load run gives.
#[derive(Debug, PartialEq, Serialize)]
pub struct LoadSummary {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answered requests (any status).
    pub requests: u64,
    /// Answers of status 400 and up, and requests that failed (connection, timeout); not
    /// the requests oha cut off at the end of the round.
    pub errors: u64,
}

/// oha's message for requests still running when `-z` ends the round (without `-w`).
const DEADLINE: &str = "aborted due to deadline";

pub fn summarise(json: &str) -> anyhow::Result<LoadSummary> {
    let report: OhaReport = serde_json::from_str(json)?;
    let percentile = |name: &str| -> anyhow::Result<f64> {
        (report.latency_percentiles.get(name).copied().flatten())
            .map(|seconds| seconds * 1000.0)
            .ok_or_else(|| anyhow::anyhow!("oha's report has no {name} latency"))
    };
    let mut errors: u64 = (report.errors.iter())
        .filter(|(message, _)| message.as_str() != DEADLINE)
        .map(|(_, count)| count)
        .sum();
    let mut requests = 0;
    for (status, count) in &report.status_codes {
        let code: u16 = status
            .parse()
            .map_err(|_| anyhow::anyhow!("oha's report has a status {status:?}"))?;
        requests += count;
        if code >= 400 {
            errors += count;
        }
    }
    if requests == 0 {
        // No answer at all: no latency to quote, and the round counts as failed.
        return Ok(LoadSummary {
            rps: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            requests,
            errors: errors.max(1),
        });
    }
    Ok(LoadSummary {
        rps: report.summary.requests_per_sec,
        p50_ms: percentile("p50")?,
        p99_ms: percentile("p99")?,
        requests,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &str, errors: &str) -> String {
        format!(
            r#"{{"summary":{{"successRate":1.0,"total":2.0,"requestsPerSec":1500.5}},
               "latencyPercentiles":{{"p10":0.001,"p50":0.0025,"p99":0.0312,"p99.9":0.09}},
               "statusCodeDistribution":{{{statuses}}},"errorDistribution":{{{errors}}}}}"#
        )
    }

    #[test]
    fn percentiles_are_read_in_milliseconds() {
        let summary = summarise(&report(r#""200":3001"#, "")).expect("read");
        assert_eq!(
            summary,
            LoadSummary {
                rps: 1500.5,
                p50_ms: 2.5,
                p99_ms: 31.2,
                requests: 3001,
                errors: 0
            }
        );
    }

    #[test]
    fn client_errors_and_failures_count_but_cut_off_requests_do_not() {
        let summary = summarise(&report(
            r#""200":90,"201":5,"401":3,"503":2"#,
            r#""aborted due to deadline":4,"connection closed":1"#,
        ))
        .expect("an oha report");
        assert_eq!((summary.requests, summary.errors), (100, 6));
    }

    #[test]
    fn a_round_without_answers_is_an_error() {
        let summary = summarise(&report("", r#""connection refused":7"#)).expect("an oha report");
        assert_eq!((summary.rps, summary.requests, summary.errors), (0.0, 0, 7));
        let summary = summarise(&report("", "")).expect("an oha report");
        assert_eq!(summary.errors, 1);
    }

    #[test]
    fn a_report_that_is_not_oha_s_is_refused() {
        assert!(summarise("Running 10s test @ http://127.0.0.1").is_err());
        assert!(summarise(r#"{"summary":{}}"#).is_err());
    }
}
