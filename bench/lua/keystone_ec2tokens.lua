-- Keystone's signature check: POST /v3/ec2tokens, as an EC2/S3-compatible API in front of Keystone sends it (the
-- keystonemiddleware ec2_token shape): {"credentials": {"access", "signature", "host", "verb", "path", "params",
-- "headers", "body_hash"}} for a request signed with AWS Signature V4 by botocore. Keystone recomputes the
-- signature with the credential's secret, checks the user, project and roles, and answers 200 with a new token.
-- The call needs an admin (or service) X-Auth-Token. BENCH_REQUESTS: one JSON body per line, each a distinct signed
-- request, made by bench/keystone/peer.py just before the run; the threads take turns over them (Keystone does not
-- refuse a signature it has seen, and the file holds about 1.5 times what the run needs).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local reqs, n

function init(args)
   local hdr = "Content-Type: application/json\r\nX-Auth-Token: " .. os.getenv("BENCH_TOKEN") .. "\r\n"
   reqs = {}
   local all = common.read_lines(os.getenv("BENCH_REQUESTS"))
   for j = tid + 1, #all, nthreads do
      reqs[#reqs + 1] = common.req("POST", "/v3/ec2tokens", hdr, all[j])
   end
   n = 0
end

function request()
   n = n + 1
   return reqs[(n - 1) % #reqs + 1]
end

function response(status, headers, body)
   common.count(status, body)
end
