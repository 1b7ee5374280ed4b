-- Create: one connection per thread (wrk -t64 -c64), each with its own user from BENCH_USERS_FILE (line tid+1):
-- POST /v3.0/OS-CREDENTIAL/credentials for it, then DELETE the access key the response returned, and again. The
-- user holds at most one key at any moment, within the 2-key limit. Admin X-Auth-Token.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local hdr, create_req, pending

function init(args)
   hdr = "Content-Type: application/json\r\nX-Auth-Token: " .. os.getenv("BENCH_TOKEN") .. "\r\n"
   local users = common.read_lines(os.getenv("BENCH_USERS_FILE"))
   local uid = common.split(users[tid + 1])[1]
   create_req = common.req("POST", "/v3.0/OS-CREDENTIAL/credentials", hdr,
                           '{"credential":{"user_id":"' .. uid .. '","description":"bench"}}')
   pending = nil
end

function request()
   if pending then
      return common.req("DELETE", "/v3.0/OS-CREDENTIAL/credentials/" .. pending, hdr)
   end
   return create_req
end

function response(status, headers, body)
   common.count(status, body)
   if status == 201 then
      pending = string.match(body, '"access"%s*:%s*"([A-Z0-9]+)"')
   else
      pending = nil -- after the delete (or a failure): create next
   end
end
