-- Delete: DELETE /v3.0/OS-CREDENTIAL/credentials/{ak}, once per key of a pool made for this run (BENCH_KEYS_FILE,
-- split between the threads). A thread whose share is used up writes BENCH_DONE.<tid> and stops; bench.py ends
-- the run when every thread has. Requests sent after that (GET /healthz, answered 200, not 204) are not counted.
-- Keystone's peer sets BENCH_BASE=/v3/credentials/ and BENCH_FILLER=/v3 (bench/keystone/peer.py).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local items, hdr, n, stopped, base, filler

function init(args)
   hdr = "X-Auth-Token: " .. os.getenv("BENCH_TOKEN") .. "\r\n"
   local all = common.read_lines(os.getenv("BENCH_KEYS_FILE"))
   items = {}
   for j = tid + 1, #all, nthreads do
      items[#items + 1] = common.split(all[j])[1]
   end
   n = 0
   stopped = false
   base = os.getenv("BENCH_BASE") or "/v3.0/OS-CREDENTIAL/credentials/"
   filler = os.getenv("BENCH_FILLER") or "/healthz"
end

function request()
   n = n + 1
   if n > #items then
      if not stopped then
         stopped = true
         common.touch(os.getenv("BENCH_DONE") .. "." .. tid)
         wrk.thread:stop()
      end
      return common.req("GET", filler)
   end
   return common.req("DELETE", base .. items[n], hdr)
end

function response(status, headers, body)
   if stopped and status == 200 then
      extra = extra + 1 -- a filler
      return
   end
   common.count(status, body)
end
