-- The HTTP baseline: GET / against bench/baseline204 (answers 204 to everything), responses checked like oscred's.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local req

function init(args)
   req = common.req("GET", "/")
end

function request()
   return req
end

function response(status, headers, body)
   common.count(status, body)
end
