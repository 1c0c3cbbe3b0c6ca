-- Shared by every scenario script: numbers each thread, and prints one JSON line
-- (prefixed BENCH_RESULT) that bench/run.py reads instead of wrk's text summary.
local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
   thread:set("id", #threads)
end

function done(summary, latency, requests)
   local created = 0
   for _, thread in ipairs(threads) do
      created = created + (thread:get("created") or 0)
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,'
         .. '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%.0f,"p99_us":%.0f,"created":%d}\n',
      summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write,
      errors.status, errors.timeout, latency:percentile(50), latency:percentile(99), created))
end
