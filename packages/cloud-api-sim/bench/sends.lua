-- wrk script for the simulator's HTTP benchmark (see src/bench-http.ts, which runs it).
-- Each request is POST /{version}/{phone-number-id}/messages over a keep-alive connection, to a
-- recipient taken round-robin from a pool, so neither the pair rate limit (45 per recipient) nor
-- the cache of normalised numbers is what is measured. Arguments after `--`:
--   <path> <bearer token> <pool size> <text|template> <template name> <language>
-- done() prints one line `BENCH_RESULT {json}` with counts by status and error code, and latency.

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  path = args[1] or "/v23.0/106540352242922/messages"
  local token = args[2] or "bench-token"
  pool = tonumber(args[3] or "100000")
  local kind = args[4] or "text"
  local template = args[5] or "bench_notice"
  local language = args[6] or "en_US"
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  if kind == "template" then
    suffix = '","type":"template","template":{"name":"' .. template .. '","language":{"code":"'
      .. language .. '"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ada"},'
      .. '{"type":"text","text":"A-1042"}]}]}}'
  else
    suffix = '","type":"text","text":{"body":"Your order A-1042 has shipped."}}'
  end
  -- Threads start at different points of the pool.
  counter = thread_index * 7919
  ok = 0
  other = 0
  codes = {}
end

function request()
  counter = counter + 1
  local to = 2000000 + (counter % pool)
  return wrk.format("POST", path, headers,
    '{"messaging_product":"whatsapp","to":"+1650' .. to .. suffix)
end

function response(status, _, body)
  if status == 200 then
    ok = ok + 1
  else
    other = other + 1
    local code = body and string.match(body, '"code":(%d+)') or ("http" .. status)
    codes[code] = (codes[code] or 0) + 1
  end
end

function done(summary, latency, _)
  local accepted, rejected = 0, 0
  local by_code = {}
  for _, t in ipairs(threads) do
    accepted = accepted + t:get("ok")
    rejected = rejected + t:get("other")
    for code, n in pairs(t:get("codes")) do by_code[code] = (by_code[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(by_code) do table.insert(parts, string.format('"%s":%d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"accepted":%d,"rejected":%d,"rejectedByCode":{%s},"requests":%d,'
      .. '"durationUs":%d,"socketErrors":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\n',
    accepted, rejected, table.concat(parts, ","), summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
