-- Keystone credential delete, the peer of cred_delete.lua: DELETE /v3/credentials/{id}, once per credential of a
-- pool made for this run (BENCH_KEYS_FILE, split between the threads), admin X-Auth-Token. A thread whose share is
-- used up writes BENCH_DONE.<tid> and stops; bench.py ends the run when every thread has. Requests sent after that
-- (GET /v3, answered 200, where a delete answers 204) are not counted.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local items, hdr, n, stopped

function init(args)
   hdr = "X-Auth-Token: " .. os.getenv("BENCH_TOKEN") .. "\r\n"
   local all = common.read_lines(os.getenv("BENCH_KEYS_FILE"))
   items = {}
   for j = tid + 1, #all, nthreads do
      items[#items + 1] = common.split(all[j])[1]
   end
   n = 0
   stopped = false
end

function request()
   n = n + 1
   if n > #items then
      if not stopped then
         stopped = true
         common.touch(os.getenv("BENCH_DONE") .. "." .. tid)
         wrk.thread:stop()
      end
      return common.req("GET", "/v3")
   end
   return common.req("DELETE", "/v3/credentials/" .. items[n], hdr)
end

function response(status, headers, body)
   if stopped and status == 200 then
      extra = extra + 1 -- a GET /v3 filler
      return
   end
   common.count(status, body)
end
