-- The flood of bench/overload.py: one request over and over (a GET, or a POST when a
-- body is given), counting answers by class; prints one BENCH_RESULT JSON line.
-- With a backoff (ms, the fourth argument) a connection refused with 429 waits that
-- long before its next request, as a client honouring Retry-After does; without one it
-- retries at once (a hostile flood).
local threads = {}
local method, path, body
local backoff = 0
local wait = 0
ok, refused, server_errors, other = 0, 0, 0, 0

function setup(thread)
   threads[#threads + 1] = thread
end

function init(args)
   method, path, body = args[1], args[2], args[3]
   backoff = tonumber(args[4] or "0") or 0
   if body ~= nil and body ~= "" then
      wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   else
      body = nil
   end
end

function request()
   return wrk.format(method, path, nil, body)
end

function delay()
   -- Called as the connection that was just answered is about to send again.
   local ms = wait
   wait = 0
   return ms
end

function response(status, headers, response_body)
   if status < 300 then
      ok = ok + 1
   elseif status == 429 then
      refused = refused + 1
      wait = backoff
   elseif status >= 500 then
      server_errors = server_errors + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local totals = {ok = 0, refused = 0, server_errors = 0, other = 0}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + (thread:get(name) or 0)
      end
   end
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"ok":%d,"refused":%d,"server_errors":%d,"other":%d,'
         .. '"timeouts":%d,"p99_us":%.0f}\n',
      summary.requests, summary.duration, totals.ok, totals.refused, totals.server_errors, totals.other,
      summary.errors.timeout, latency:percentile(99)))
end
