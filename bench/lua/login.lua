-- POST /api/v1/auth/login, rotating over the users in $BENCH_LOGINS (one e-mail a line),
-- all with the password $BENCH_PASSWORD.
local emails = {}
local i = 0
function init(args)
  for line in io.lines(os.getenv("BENCH_LOGINS")) do emails[#emails + 1] = line end
  i = math.random(#emails)
end
-- wrk.format with a header table would drop the -H headers (the bearer token).
wrk.headers["Content-Type"] = "application/json"
function request()
  i = i % #emails + 1
  local body = string.format('{"email":"%s","password":"%s"}', emails[i], os.getenv("BENCH_PASSWORD"))
  return wrk.format("POST", "/api/v1/auth/login", nil, body)
end
