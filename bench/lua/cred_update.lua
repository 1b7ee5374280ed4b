-- Status update: PUT /v3.0/OS-CREDENTIAL/credentials/{ak} with {"credential":{"status":...,"description":"bench"}},
-- alternating active/inactive, over random keys from BENCH_KEYS_FILE (each fixture user's second key: the first
-- one signs the AWS and SDK-HMAC scenarios and stays active). Admin X-Auth-Token.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local items, hdr, flip
local bodies = {'{"credential":{"status":"inactive","description":"bench"}}',
                '{"credential":{"status":"active","description":"bench"}}'}

function init(args)
   hdr = "Content-Type: application/json\r\nX-Auth-Token: " .. os.getenv("BENCH_TOKEN") .. "\r\n"
   math.randomseed(os.time() * 1000 + tid)
   items = {}
   for _, l in ipairs(common.read_lines(os.getenv("BENCH_KEYS_FILE"))) do
      items[#items + 1] = common.split(l)[1]
   end
   flip = 0
end

function request()
   flip = 1 - flip
   return common.req("PUT", "/v3.0/OS-CREDENTIAL/credentials/" .. items[math.random(#items)], hdr,
                     bodies[flip + 1])
end

function response(status, headers, body)
   common.count(status, body)
end
