-- Keystone credential show: GET /v3/credentials/{id}, a random stored ec2 credential each time (BENCH_KEYS_FILE: one
-- credential id per line), with an admin X-Auth-Token. The peer of cred_read.lua's show.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local items, hdr

function init(args)
   hdr = "X-Auth-Token: " .. os.getenv("BENCH_TOKEN") .. "\r\n"
   math.randomseed(os.time() * 1000 + tid)
   items = {}
   for _, l in ipairs(common.read_lines(os.getenv("BENCH_KEYS_FILE"))) do
      items[#items + 1] = common.split(l)[1]
   end
end

function request()
   return common.req("GET", "/v3/credentials/" .. items[math.random(#items)], hdr)
end

function response(status, headers, body)
   common.count(status, body)
end
