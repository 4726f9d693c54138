-- wrk: replays pre-signed requests (bench/gateway_requests.py), each once, in order
-- per thread. REQUESTS names the file; ACTION the x-acs-action; HOST the host signed.
-- Lines are read from the file as they are needed: holding hundreds of thousands of
-- them in a Lua table made the collector (or, with it stopped, the string table's
-- growth) stall the load generator for hundreds of milliseconds, which showed as every
-- server's p99, the bare one's too.
local file = io.open(os.getenv("REQUESTS"), "r")
local action = os.getenv("ACTION")
local host = os.getenv("HOST")
local last

function request()
  local l = file:read("*l") or last -- ran out: a replay, refused and counted as non-2xx
  last = l
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
