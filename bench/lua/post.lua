-- POST /api/v1/updates: a new short update each time, as a focal point's script posts them.
local n = 0
-- wrk.format with a header table would drop the -H headers (the bearer token).
wrk.headers["Content-Type"] = "application/json"
function request()
  n = n + 1
  local body = string.format('{"title":"Benchmark update %d","body":"A short update posted by the benchmark harness about border security cooperation. %d","language":"en","tags":["financing"],"tlp":"green"}', n, n)
  return wrk.format("POST", "/api/v1/updates", nil, body)
end
