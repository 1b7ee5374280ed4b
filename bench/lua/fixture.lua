-- Fixture creation through oscred's own API (secrets are generated and sealed by oscred, never inserted by SQL).
-- Run with one connection per thread (wrk -tN -cN): each thread is a small state machine that creates its share
-- of users (POST /v3/users, no password) and then each user's keys (POST /v3.0/OS-CREDENTIAL/credentials), one
-- request at a time, and writes "user_id name ak1 sk1 ak2 sk2" lines ("-" for a key not made) to
-- BENCH_OUT.<tid>. When its share is done it writes BENCH_OUT.<tid>.done and stops; bench.py then ends wrk.
--   BENCH_TOKEN (an admin token), BENCH_PREFIX (user name prefix), BENCH_USERS, BENCH_KEYS (total keys: user i
--   gets min(2, KEYS - 2i)), BENCH_OUT.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
done = common.done

local token = os.getenv("BENCH_TOKEN")
local prefix = os.getenv("BENCH_PREFIX")
local users = tonumber(os.getenv("BENCH_USERS"))
local keys = tonumber(os.getenv("BENCH_KEYS"))
local hdr = "Content-Type: application/json\r\nX-Auth-Token: " .. token .. "\r\n"

local i, k, want, finished          -- current user index, keys made for it, keys it gets
local uid, name, made, out

local function start_user()
   if i >= users then
      finished = true
      return
   end
   want = math.max(0, math.min(2, keys - 2 * i))
   k, uid, made = 0, nil, {}
   name = prefix .. i
end

function init(args)
   i = tid
   out = assert(io.open(os.getenv("BENCH_OUT") .. "." .. tid, "w"))
   finished = false
   start_user()
   if finished then
      out:close()
      common.touch(os.getenv("BENCH_OUT") .. "." .. tid .. ".done")
   end
end

function request()
   if finished then
      return common.req("GET", "/healthz")
   end
   if not uid then
      return common.req("POST", "/v3/users", hdr, '{"user":{"name":"' .. name .. '"}}')
   end
   return common.req("POST", "/v3.0/OS-CREDENTIAL/credentials", hdr,
                     '{"credential":{"user_id":"' .. uid .. '","description":"bench"}}')
end

local function next_user()
   local line = uid .. " " .. name
   for j = 1, 2 do
      line = line .. " " .. (made[j] and (made[j][1] .. " " .. made[j][2]) or "- -")
   end
   out:write(line .. "\n")
   i = i + nthreads
   start_user()
   if finished then
      out:close()
      common.touch(os.getenv("BENCH_OUT") .. "." .. tid .. ".done")
      wrk.thread:stop()
   end
end

function response(status, headers, body)
   if finished then
      extra = extra + 1
      return
   end
   common.count(status, body)
   if status ~= 201 then
      -- Nothing to retry safely: bench.py sees the error count and fails the run.
      finished = true
      out:close()
      common.touch(os.getenv("BENCH_OUT") .. "." .. tid .. ".done")
      wrk.thread:stop()
      return
   end
   if not uid then
      uid = string.match(body, '"id"%s*:%s*"(%x+)"')
   else
      local ak = string.match(body, '"access"%s*:%s*"([A-Z0-9]+)"')
      local sk = string.match(body, '"secret"%s*:%s*"([A-Za-z0-9]+)"')
      k = k + 1
      made[k] = {ak, sk}
   end
   if k >= want then
      next_user()
   end
end
