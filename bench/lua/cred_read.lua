-- OS-CREDENTIAL show (BENCH_MODE=show: GET /v3.0/OS-CREDENTIAL/credentials/{ak}, a random stored key each time) or
-- list (BENCH_MODE=list: GET /v3.0/OS-CREDENTIAL/credentials?user_id={id}, a random fixture user each time), with an
-- admin X-Auth-Token. BENCH_KEYS_FILE: "access_key user_id" lines; BENCH_USERS_FILE: user ids. Keystone's show
-- (GET /v3/credentials/{id}) sets BENCH_BASE=/v3/credentials/ (bench/keystone/peer.py).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local items, hdr, base

function init(args)
   hdr = "X-Auth-Token: " .. os.getenv("BENCH_TOKEN") .. "\r\n"
   math.randomseed(os.time() * 1000 + tid)
   items = {}
   if os.getenv("BENCH_MODE") == "list" then
      for _, l in ipairs(common.read_lines(os.getenv("BENCH_USERS_FILE"))) do
         items[#items + 1] = common.split(l)[1]
      end
      base = "/v3.0/OS-CREDENTIAL/credentials?user_id="
   else
      for _, l in ipairs(common.read_lines(os.getenv("BENCH_KEYS_FILE"))) do
         items[#items + 1] = common.split(l)[1]
      end
      base = os.getenv("BENCH_BASE") or "/v3.0/OS-CREDENTIAL/credentials/"
   end
end

function request()
   return common.req("GET", base .. items[math.random(#items)], hdr)
end

function response(status, headers, body)
   common.count(status, body)
end
