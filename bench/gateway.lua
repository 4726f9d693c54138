-- wrk: replays pre-signed requests (bench/gateway_requests.py), each once, in order
-- per thread. REQUESTS names the file; ACTION the x-acs-action.
local lines = {}
local i = 0
local action = os.getenv("ACTION")
local host = os.getenv("HOST")
for l in io.lines(os.getenv("REQUESTS")) do lines[#lines + 1] = l end

function request()
  i = i + 1
  local l = lines[i]
  if l == nil then l = lines[#lines] end -- ran out: a replay, refused and counted as non-2xx
  local auth, nonce, date, query = l:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)")
  return wrk.format("POST", "/?" .. query, {
    ["Host"] = host,
    ["Authorization"] = auth,
    ["x-acs-action"] = action,
    ["x-acs-version"] = "2016-01-20",
    ["x-acs-date"] = date,
    ["x-acs-signature-nonce"] = nonce,
    ["x-acs-content-sha256"] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  })
end

function done(summary, latency, requests)
  io.write(string.format("RESULT qps=%.0f p50_ms=%.3f p99_ms=%.3f non2xx=%d errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.requests))
end
