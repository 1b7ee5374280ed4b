-- Token validation: GET /v3/auth/tokens with X-Auth-Token (an admin token) and X-Subject-Token, rotating over the
-- tokens in BENCH_SUBJECTS (one per line). No database access in oscred (DESIGN.md: tokens verify in memory).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local reqs, n

function init(args)
   local token = os.getenv("BENCH_TOKEN")
   reqs = {}
   for _, s in ipairs(common.read_lines(os.getenv("BENCH_SUBJECTS"))) do
      reqs[#reqs + 1] = common.req("GET", "/v3/auth/tokens",
                                   "X-Auth-Token: " .. token .. "\r\nX-Subject-Token: " .. s .. "\r\n")
   end
   n = tid
end

function request()
   n = n + 1
   return reqs[n % #reqs + 1]
end

function response(status, headers, body)
   common.count(status, body)
end
