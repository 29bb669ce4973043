-- GET /api/v1/documents/{id}, cycling over documents the reader may see ($BENCH_IDS, one
-- id a line). The Authorization header comes from wrk -H.
local ids = {}
local i = 0
function init(args)
  for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
  i = math.random(#ids)
end
function request()
  i = i % #ids + 1
  return wrk.format("GET", "/api/v1/documents/" .. ids[i])
end
