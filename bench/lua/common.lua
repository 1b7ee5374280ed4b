-- Shared by every bench/lua script (wrk 4.1 runs one Lua state per thread, plus one for setup/done).
--
-- Every response is checked: a status outside 2xx is counted (per status code, with the first such body kept for the
-- report), and done() writes one JSON object with the counts, wrk's socket errors and the latency percentiles to
-- the file named by BENCH_RESULT. bench/bench.py reads it; a run with any non-2xx response or socket error is
-- FAILED, however fast it was.
--
-- Scripts read their parameters from BENCH_* environment variables and files written by bench/bench.py.
local M = {}

M.host = os.getenv("BENCH_HOST") or "127.0.0.1"

-- Thread bookkeeping (setup/done state).
local threads = {}

-- wrk calls setup() and then init() thread by thread, so the thread count comes from bench.py (BENCH_THREADS).
function M.setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

-- Per-thread counters (running state).
ok, bad, extra, first_bad = 0, 0, 0, ""
codes = {}

-- Count one response. expect(status) may be given to treat only some 2xx as the scenario's own answers.
function M.count(status, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      bad = bad + 1
      local k = tostring(status)
      codes[k] = (codes[k] or 0) + 1
      if first_bad == "" then
         first_bad = string.sub(tostring(status) .. " " .. (body or ""), 1, 600)
      end
   end
end

function M.read_lines(path)
   local lines = {}
   local f = assert(io.open(path, "r"), "cannot open " .. path)
   for line in f:lines() do
      if line ~= "" then
         lines[#lines + 1] = line
      end
   end
   f:close()
   return lines
end

function M.split(line)
   local t = {}
   for w in string.gmatch(line, "%S+") do
      t[#t + 1] = w
   end
   return t
end

-- Touches PATH (a marker bench.py waits for).
function M.touch(path)
   local f = io.open(path, "w")
   if f then
      f:write("done\n")
      f:close()
   end
end

-- A raw HTTP/1.1 request. headers: a string of "Name: value\r\n" lines.
function M.req(method, path, headers, body)
   local s = method .. " " .. path .. " HTTP/1.1\r\nHost: " .. M.host .. "\r\n" .. (headers or "")
   if body then
      s = s .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
   else
      s = s .. "\r\n"
   end
   return s
end

local function json_str(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function M.done(summary, latency, requests)
   local tok, tbad, textra = 0, 0, 0
   local all_codes, first = {}, ""
   for _, t in ipairs(threads) do
      tok = tok + (t:get("ok") or 0)
      tbad = tbad + (t:get("bad") or 0)
      textra = textra + (t:get("extra") or 0)
      local c = t:get("codes") or {}
      for k, v in pairs(c) do
         all_codes[k] = (all_codes[k] or 0) + v
      end
      local fb = t:get("first_bad") or ""
      if first == "" then
         first = fb
      end
   end
   local parts = {}
   for k, v in pairs(all_codes) do
      parts[#parts + 1] = json_str(k) .. ":" .. v
   end
   local e = summary.errors
   local out = string.format(
      '{"duration_us":%d,"requests":%d,"ok":%d,"non2xx":%d,"extra":%d,"codes":{%s},"first_bad":%s,' ..
      '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}}\n',
      summary.duration, summary.requests, tok, tbad, textra, table.concat(parts, ","), json_str(first),
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max)
   local path = os.getenv("BENCH_RESULT")
   if path then
      local f = assert(io.open(path, "w"))
      f:write(out)
      f:close()
   else
      io.write(out)
   end
end

return M
