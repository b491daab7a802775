-- wrk script of bench/wrk.py: one request shape, varied per request, figures as JSON.
--
-- Environment (set by wrk.py):
--   WRK_METHOD   POST, GET, ...
--   WRK_BODY     body template; {n} is a number unique to the request in this run,
--                {created} a factory-time 'YYYY-MM-DD hh:mm:ss' that moves on by a second
--                with each request (always in the past); wrk.py replaces {run} with a
--                token unique to the invocation before wrk starts
--   WRK_HEADERS  header lines "Name: value", separated by newlines; {n} as above
--   WRK_TIMELINE "1": count the answers per second of wall-clock time (costs some CPU)

local method = os.getenv("WRK_METHOD") or "GET"
local body_template = os.getenv("WRK_BODY") or ""
local timeline_on = os.getenv("WRK_TIMELINE") == "1"
local header_template = {}
for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  header_template[name] = value
end

local threads = {}
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_number", thread_number)
  table.insert(threads, thread)
end

local counter = 0
local base = os.time({year = 2023, month = 1, day = 1, hour = 0})
timeline = {}

local function fill(template, n)
  local out = string.gsub(template, "{n}", tostring(n))
  if string.find(out, "{created}", 1, true) then
    out = string.gsub(out, "{created}", os.date("%Y-%m-%d %H:%M:%S", base + n % 20000000))
  end
  return out
end

function request()
  counter = counter + 1
  local n = thread_number * 100000000 + counter
  local headers = {}
  for name, value in pairs(header_template) do
    headers[name] = fill(value, n)
  end
  local body = nil
  if body_template ~= "" then
    body = fill(body_template, n)
  end
  return wrk.format(method, nil, headers, body)
end

if timeline_on then
  function response(status, headers, body)
    local second = os.time()
    timeline[second] = (timeline[second] or 0) + 1
  end
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("timeline") or {}
    for second, count in pairs(counts) do
      merged[second] = (merged[second] or 0) + count
    end
  end
  local parts = {}
  for second, count in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', second, count))
  end
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}, ' ..
    '"timeline": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    table.concat(parts, ", ")))
end
