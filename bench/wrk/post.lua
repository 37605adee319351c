-- wrk script for every benchmark scenario: POST a JSON body, report one parseable line.
--
-- The body and the optional bearer key come from the environment, so one script serves
-- all scenarios (the body's model name differs between the direct call and the gateway):
--
--   BENCH_BODY='{"model":"gpt-fake","messages":[{"role":"user","content":"hi"}]}' \
--   BENCH_AUTH=bench-key-0123456789 \
--   wrk -t1 -c32 -d10s --latency -s bench/wrk/post.lua http://127.0.0.1:18700/v1/chat/completions
--
-- done() prints "BENCH_RESULT {json}" with the request count, duration, latency
-- percentiles (microseconds) and error counts; bench/harness.py reads that line.

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or error("BENCH_BODY is not set")
wrk.headers["Content-Type"] = "application/json"

local key = os.getenv("BENCH_AUTH")
if key and key ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. key
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout))
end
