-- Appended to every wrk script of bench/run.sh: one JSON line with the figures the report
-- needs (wrk's own summary has no machine-readable form).
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format('JSON {"rps":%.2f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"errors":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors))
end
