-- Keystone credential create+delete, the peer of cred_create.lua: one connection per thread (wrk -t64 -c64), each
-- with its own user from BENCH_USERS_FILE (line tid+1): POST /v3/credentials with a new ec2 credential of that user
-- in project BENCH_PROJECT, then DELETE /v3/credentials/{id} of the credential the response returned, and again.
-- Keystone's ec2 credentials are made by the client (the blob holds access and secret; the id is sha256(access)),
-- so each request carries a new access key: 32 hex digits, unique per thread and request. Admin X-Auth-Token.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local hdr, uid, project, pending, n

function init(args)
   hdr = "Content-Type: application/json\r\nX-Auth-Token: " .. os.getenv("BENCH_TOKEN") .. "\r\n"
   local users = common.read_lines(os.getenv("BENCH_USERS_FILE"))
   uid = common.split(users[tid + 1])[1]
   project = os.getenv("BENCH_PROJECT")
   math.randomseed(os.time() * 1000 + tid)
   pending, n = nil, 0
end

local function hex(k)
   local s = ""
   for _ = 1, k do
      s = s .. string.format("%04x", math.random(0, 65535))
   end
   return s
end

function request()
   if pending then
      return common.req("DELETE", "/v3/credentials/" .. pending, hdr)
   end
   n = n + 1
   local access = string.format("%02x%06x", tid % 256, n % 16777216) .. hex(6)
   local blob = '{\\"access\\": \\"' .. access .. '\\", \\"secret\\": \\"' .. hex(8) .. '\\"}'
   return common.req("POST", "/v3/credentials", hdr,
                     '{"credential":{"type":"ec2","user_id":"' .. uid .. '","project_id":"' .. project ..
                     '","blob":"' .. blob .. '"}}')
end

function response(status, headers, body)
   common.count(status, body)
   if status == 201 then
      pending = string.match(body, '"id"%s*:%s*"(%x+)"')
   else
      pending = nil -- after the delete (or a failure): create next
   end
end
