-- Signals: SIGHUP reloads the policies however many come and whenever they come (start-up
-- included); SIGTERM drains: no new connections, requests already accepted (parked ones on a
-- hung node too) get complete answers, then the process exits 0.
local h = require("helpers")
local cluster = require("support.cluster")
local psig = require("posix.signal")

local FE_SECRET = "signals-fe-secret"

local function api_url(d, call, query)
  return h.api_url(h.frontend_api(d, "fe"), call, query, FE_SECRET)
end

local function generation(d)
  local _, body = h.get(d.url .. "/readyz")
  return tonumber((body or ""):match('"policy_generation":(%d+)'))
end

local function count(log, needle)
  local n = 0
  for _ in (h.read_file(log) or ""):gmatch(needle) do n = n + 1 end
  return n
end

-- A client in its own process that repeats one request for `secs` seconds and writes
-- "ok N" and one "fail ..." line per failed request to `out`. expect: 302 or SUCCESS.
local CLIENT = [[
local http, ltn12, socket = require("socket.http"), require("ltn12"), require("socket")
local url, expect, out, secs = arg[1], arg[2], arg[3], tonumber(arg[4])
local ok, fails, stop = 0, {}, socket.gettime() + secs
while socket.gettime() < stop do
  local chunks = {}
  local r, code = http.request({ url = url, sink = ltn12.sink.table(chunks), redirect = false,
    create = function() local s = socket.tcp(); s:settimeout(10); return s end })
  local body = table.concat(chunks)
  if r and ((expect == "302" and code == 302) or (expect == "SUCCESS" and code == 200 and
      body:find("<returncode>SUCCESS</returncode>", 1, true))) then
    ok = ok + 1
  else
    fails[#fails + 1] = "fail " .. tostring(code) .. " " .. body:sub(1, 120):gsub("%s", " ")
  end
end
local f = assert(io.open(out, "w"))
f:write("ok ", ok, "\n", table.concat(fails, "\n"), "\n")
f:close()
]]

local client_script
local function client(url, expect, secs)
  local dir = h.tmpdir()
  if not client_script then
    -- written once: rewriting it would truncate it under a client still loading it
    client_script = dir .. "/signals-client.lua"
    h.write_file(client_script, CLIENT)
  end
  local script = client_script
  local out = dir .. "/client-" .. h.random_hex(4) .. ".out"
  return { handle = h.spawn({ "luajit", script, url, expect, out, tostring(secs) }), out = out }
end

local function client_result(c, timeout)
  assert.truthy(h.wait_exit(c.handle, timeout or 30), "client did not finish")
  local text = h.read_file(c.out) or ""
  local fails = {}
  for line in text:gmatch("fail[^\n]*") do fails[#fails + 1] = line end
  return tonumber(text:match("ok (%d+)")) or 0, fails
end

-- one request in a curl process; its answer is checked after the daemon stopped
local function curl(url)
  local out = h.tmpdir() .. "/curl-" .. h.random_hex(4)
  local hd = h.spawn({ "sh", "-c", "curl -s -m 30 -o '" .. out .. ".body' -w '%{http_code}' '" ..
    url .. "' > '" .. out .. ".code'; echo $? > '" .. out .. ".rc'" })
  return { handle = hd, out = out }
end

local function curl_result(c)
  assert.truthy(h.wait_exit(c.handle, 40), "curl did not finish")
  return tonumber(h.read_file(c.out .. ".rc") or ""), tonumber(h.read_file(c.out .. ".code") or ""),
    h.read_file(c.out .. ".body") or ""
end

local function one_meeting_each(d, sims)
  return cluster.one_meeting_each(sims, "fe", function(mid)
    return api_url(d, "create", "name=Room&meetingID=" .. mid)
  end)
end

local function setup_cluster(name, sims, env)
  local db = h.new_db(name)
  h.migrate(db)
  cluster.register(db, sims, "fe", FE_SECRET)
  local base = { B3SCALE_POLL_INTERVAL_MS = "600000", B3SCALE_LOG_LEVEL = "info" }
  for k, v in pairs(env or {}) do base[k] = v end
  return db, h.daemon({ db = db, env = base })
end


describe("SIGHUP", function()
  teardown(function()
    h.cleanup()
  end)

  it("reloads through a storm while requests keep succeeding", function()
    local sim = h.bbbsim({ name = "hup-node" })
    local _, d = setup_cluster("hup", { sim })
    local st, body = h.get(api_url(d, "create", "name=Storm&meetingID=storm"))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), tostring(st) .. " " .. tostring(body))
    local gen0 = generation(d)
    local clients = {
      client(api_url(d, "join", "fullName=Ann&meetingID=storm&role=MODERATOR"), "302", 3),
      client(api_url(d, "join", "fullName=Bob&meetingID=storm&role=VIEWER"), "302", 3),
      client(api_url(d, "getMeetingInfo", "meetingID=storm"), "SUCCESS", 3),
      client(api_url(d, "getMeetingInfo", "meetingID=storm"), "SUCCESS", 3),
    }
    h.sleep(0.5)
    for _ = 1, 50 do
      psig.kill(d.handle.pid, psig.SIGHUP)
      h.sleep(0.005)
    end
    local total = 0
    for _, c in ipairs(clients) do
      local ok, fails = client_result(c)
      assert.same({}, fails)
      assert.is_true(ok > 0, "a client made no request: " .. (h.read_file(c.handle.log) or ""))
      total = total + ok
    end
    assert.is_true(h.alive(d), "b3scaled died: " .. (h.read_file(d.log) or ""))
    assert.truthy(h.wait_until(function() return (generation(d) or 0) > gen0 end, 5))
    local reloads = count(d.log, "event=reloaded")
    assert.is_true(reloads >= 1 and reloads <= 50)
    print(string.format("# 50 SIGHUPs: %d reloads, %d requests, none failed", reloads, total))
    assert.equal(0, h.stop(d))
  end)

  it("sent during start-up is kept and handled once the daemon runs", function()
    local db = h.new_db("hupstart")
    h.migrate(db)
    local port = h.free_port()
    local hd = h.spawn({ h.BUILD .. "/b3scaled" }, { B3SCALE_DB_URL = db,
      B3SCALE_LISTEN_HTTP = "127.0.0.1:" .. port, B3SCALE_LOG_LEVEL = "info" })
    -- as soon as main() has blocked the signals (SigBlk bit 1 = SIGHUP), long before it serves
    local blocked = h.wait_until(function()
      local status = h.read_file("/proc/" .. hd.pid .. "/status") or ""
      local mask = tonumber(status:match("SigBlk:%s*(%x+)") or "0", 16) or 0
      return mask % 2 == 1
    end, 5, 0.001)
    assert.truthy(blocked, "SIGHUP never blocked")
    psig.kill(hd.pid, psig.SIGHUP)
    local early = not (h.read_file(hd.log) or ""):find("event=started", 1, true)
    h.wait_http("http://127.0.0.1:" .. port .. "/healthz", 10, hd, 200)
    assert.truthy(h.wait_until(function()
      return count(hd.log, "event=reloaded") >= 1
    end, 5), h.read_file(hd.log))
    assert.is_true(h.alive(hd))
    print("# SIGHUP sent " .. (early and "before" or "after") .. " event=started")
    assert.equal(0, h.stop(hd))
  end)
end)


describe("SIGTERM", function()
  local sims

  setup(function()
    sims = { h.bbbsim({ name = "term-ok" }), h.bbbsim({ name = "term-hung" }) }
  end)

  teardown(function()
    h.cleanup()
  end)

  before_each(function()
    for _, s in ipairs(sims) do
      h.sim_req(s, "POST", "/sim/mode?fail=none")
      h.sim_req(s, "POST", "/sim/reset")
    end
  end)

  -- a daemon with a meeting on each node, the second node hung; returns it and the meetings
  local function hung_daemon(name, timeout_ms, drain_ms)
    local _, d = setup_cluster(name, sims, { B3SCALE_BACKEND_TIMEOUT_MS = timeout_ms,
      B3SCALE_DRAIN_TIMEOUT_MS = drain_ms, B3SCALE_NODE_BREAKER_FAILURES = "1000" })
    local on = one_meeting_each(d, sims)
    h.sim_req(sims[2], "POST", "/sim/mode?fail=hang")
    return d, on
  end

  it("answers the requests in flight, parked ones included, and exits 0", function()
    local d, on = hung_daemon("term", "2500", "8000")
    local parked, quick = {}, {}
    for i = 1, 4 do parked[i] = curl(api_url(d, "getMeetingInfo", "meetingID=" .. on["term-hung"])) end
    for i = 1, 4 do quick[i] = curl(api_url(d, "getMeetingInfo", "meetingID=" .. on["term-ok"])) end
    h.sleep(0.7) -- the calls to the hung node are parked by now
    local t0 = h.now()
    psig.kill(d.handle.pid, psig.SIGTERM)
    -- no new connections once draining
    h.sleep(0.2)
    local st = h.http("GET", d.url .. "/healthz", nil, nil, 1)
    assert.is_nil(st, "a new connection was served while draining")
    local code = h.wait_exit(d.handle, 8 + 3)
    local secs = h.now() - t0
    assert.equal(0, code)
    for _, c in ipairs(parked) do
      local rc, status, body = curl_result(c)
      assert.equal(0, rc, "curl failed: " .. tostring(rc))
      assert.equal(200, status)
      assert.matches("</response>", body, 1, true)
    end
    for _, c in ipairs(quick) do
      local rc, status, body = curl_result(c)
      assert.equal(0, rc)
      assert.equal(200, status)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    local log = h.read_file(d.log) or ""
    local inflight = tonumber(log:match("event=draining inflight=(%d+)"))
    assert.truthy(inflight and inflight >= 1, log)
    assert.matches("event=stopped", log, 1, true)
    print(string.format("# SIGTERM with %d in flight (parked on a hung node, 2.5 s timeout): exited 0 after %.2f s",
      inflight, secs))
  end)

  it("stops at the drain deadline and still answers what is parked", function()
    local d, on = hung_daemon("termdl", "20000", "1000")
    local parked = curl(api_url(d, "getMeetingInfo", "meetingID=" .. on["term-hung"]))
    h.sleep(0.7)
    local t0 = h.now()
    psig.kill(d.handle.pid, psig.SIGTERM)
    local code = h.wait_exit(d.handle, 1 + 4)
    local secs = h.now() - t0
    assert.equal(0, code)
    assert.is_true(secs < 1 + 3, "took " .. secs .. " s")
    local rc, status, body = curl_result(parked)
    assert.equal(0, rc)
    assert.equal(200, status)
    assert.matches("</response>", body, 1, true)
    assert.matches("event=drain_timeout", h.read_file(d.log) or "", 1, true)
    print(string.format("# SIGTERM past a 1 s drain deadline: exited 0 after %.2f s", secs))
  end)
end)
