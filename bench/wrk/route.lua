-- wrk script for the phoneverify benchmark: one route per run, a random user per request.
--
--   wrk ... -s bench/wrk/route.lua URL -- ROUTE USERS_FILE ADMIN_TOKEN_FILE
--
-- ROUTE is one of the keys of `routes` below. USERS_FILE has one "user_id<TAB>token" line per user (the
-- token is that user's own, for the self-service route). At the end, done() prints one line
-- "BENCH_JSON {...}" that bench/lib/loadgen.py reads: throughput, latency percentiles and every status
-- code seen, with the first response body of each non-2xx status so that odd answers can be explained.

local threads = {}

-- Runs in the main script state once per thread before the threads start: give each thread a number
-- (for a distinct random seed) and keep the thread so done() can collect its counters.
function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_number", #threads)
end

-- Per-thread state (each wrk thread has its own Lua state).
local users = {}
-- The route's request for each user, built once in init(): wrk's own advice for a fast server, since building
-- a request in Lua on every call (wrk.format concatenating the path, the token header and the body) cost wrk
-- about 8 us more per request on the routes with a token and a body than on /healthz, CPU that wrk took from
-- the server on the shared cores and that made those routes look slower than they are.
local requests = {}
local admin_headers
-- Globals, not locals: done() reads them through thread:get, which sees only globals.
statuses = {}   -- status code -> count
samples = {}    -- status code -> first body seen with it (non-2xx only)

local function json_headers(token)
   return { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

-- Each entry builds one request for user `u`. The v2 routes act as the admin (user.write on everyone);
-- the auth v1 route acts as the user itself with its own token, as a real self-service client does.
local routes = {
   healthz = function(u)
      return wrk.format("GET", "/healthz")
   end,
   v2_resend_send = function(u)
      return wrk.format("POST", "/v2/users/" .. u.id .. "/phone/resend", admin_headers, '{"sendCode":{}}')
   end,
   v2_resend_return = function(u)
      return wrk.format("POST", "/v2/users/" .. u.id .. "/phone/resend", admin_headers, '{"returnCode":{}}')
   end,
   v1_self_resend = function(u)
      return wrk.format("POST", "/auth/v1/users/me/phone/_resend_verification", u.headers, "{}")
   end,
   v2_get_user = function(u)
      return wrk.format("GET", "/v2/users/" .. u.id, admin_headers)
   end,
}

function init(args)
   local route = routes[args[1]]
   if route == nil then
      error("unknown route " .. tostring(args[1]))
   end
   for line in io.lines(args[2]) do
      local id, token = line:match("^(%S+)\t(%S+)$")
      if id then
         -- Headers are built once per user, not per request, to keep wrk's own cost per request low.
         users[#users + 1] = { id = id, headers = json_headers(token) }
      end
   end
   if #users == 0 then
      error("no users in " .. args[2])
   end
   local f = assert(io.open(args[3]))
   admin_headers = json_headers(f:read("*l"))
   f:close()
   for i, u in ipairs(users) do
      requests[i] = route(u)
   end
   -- os.time() alone would give every thread the same sequence of users.
   math.randomseed(os.time() * 1000 + thread_number)
end

function request()
   return requests[math.random(#requests)]
end

-- Defining response() costs wrk a little per request; it is defined for every route alike, /healthz
-- included, so the ratios to /healthz stay fair, and it is the only way to see which statuses came back.
function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if (status < 200 or status > 299) and samples[status] == nil then
      samples[status] = body
   end
end

local function json_string(s)
   s = tostring(s):sub(1, 400)
   s = s:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end)
   return '"' .. s .. '"'
end

local function json_object(t, value)
   local parts = {}
   for k, v in pairs(t) do
      parts[#parts + 1] = json_string(k) .. ":" .. value(v)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local all_statuses, all_samples = {}, {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         all_statuses[status] = (all_statuses[status] or 0) + n
      end
      for status, body in pairs(thread:get("samples")) do
         all_samples[status] = all_samples[status] or body
      end
   end
   local e = summary.errors
   local fields = {
      string.format('"duration_us":%d', summary.duration),
      string.format('"requests":%d', summary.requests),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
         e.connect, e.read, e.write, e.status, e.timeout),
      string.format('"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}',
         latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean),
      '"statuses":' .. json_object(all_statuses, tostring),
      '"samples":' .. json_object(all_samples, json_string),
   }
   io.write("BENCH_JSON {" .. table.concat(fields, ",") .. "}\n")
end
