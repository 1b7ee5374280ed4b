-- Replays requests signed just before the run by bench/sign.py (AWS SigV4 by botocore, or SDK-HMAC-SHA256): the file
-- BENCH_REQUESTS holds records "<length>\n<raw HTTP request>", each request distinct. They are split between the
-- threads; each is sent once. A thread whose share is used up writes BENCH_DONE.<tid> and stops (fillers after that
-- are GET /healthz, not counted).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local items, n, stopped, filler

function init(args)
   local f = assert(io.open(os.getenv("BENCH_REQUESTS"), "rb"))
   local data = f:read("*a")
   f:close()
   items = {}
   local pos, j = 1, 0
   while pos <= #data do
      local nl = string.find(data, "\n", pos, true)
      local len = tonumber(string.sub(data, pos, nl - 1))
      local rec = string.sub(data, nl + 1, nl + len)
      if j % nthreads == tid then
         items[#items + 1] = rec
      end
      j = j + 1
      pos = nl + len + 1
   end
   n = 0
   stopped = false
   filler = common.req("GET", "/healthz")
end

function request()
   n = n + 1
   if n > #items then
      if not stopped then
         stopped = true
         common.touch(os.getenv("BENCH_DONE") .. "." .. tid)
         wrk.thread:stop()
      end
      return filler
   end
   return items[n]
end

function response(status, headers, body)
   if stopped and status == 200 and body == "" then
      extra = extra + 1
      return
   end
   common.count(status, body)
end
