-- Token issue: POST /v3/auth/tokens with the admin's password (PBKDF2-HMAC-SHA256 at the default 600000 iterations
-- on every request). BENCH_BODY: the JSON body.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local req

function init(args)
   req = common.req("POST", "/v3/auth/tokens", "Content-Type: application/json\r\n", os.getenv("BENCH_BODY"))
end

function request()
   return req
end

function response(status, headers, body)
   common.count(status, body)
end
