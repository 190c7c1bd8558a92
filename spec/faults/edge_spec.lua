-- The edge of the HTTP server: connection budgets, the whole-request deadline (slowloris),
-- per-route body limits before buffering, IPv6 and port sharing, and the client address
-- behind trusted proxies. Every test talks raw TCP so it controls exactly what is sent.
local h = require("helpers")
local cluster = require("support.cluster")
local socket = require("socket")

local FE_SECRET = "edge-fe-secret"

-- One request on a fresh connection (from `o.src` when given); reads until the server
-- closes or o.timeout passes. Returns status (nil without an HTTP answer), raw answer,
-- seconds taken, and the receive error ("closed", "timeout", ...).
local function raw(o)
  local s = o.v6 and socket.tcp6() or socket.tcp()
  s:settimeout(o.timeout or 5)
  if o.src then assert(s:bind(o.src, 0)) end
  local t0 = h.now()
  local ok, err = s:connect(o.host or "127.0.0.1", o.port)
  if not ok then s:close() return nil, "", h.now() - t0, err end
  s:send(o.request)
  local data, rerr, partial = s:receive("*a")
  s:close()
  data = data or partial or ""
  return tonumber(data:match("^HTTP/1%.%d (%d%d%d)")), data, h.now() - t0, rerr
end

-- a request text; headers is a list of "Name: value" lines
local function request(method, path, headers, body)
  local lines = { method .. " " .. path .. " HTTP/1.1", "Host: b3scale.test", "Connection: close" }
  for _, l in ipairs(headers or {}) do lines[#lines + 1] = l end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

local function signed(call, query)
  return "/bbb/fe/api/" .. call .. "?" .. h.sign(call, query or "", FE_SECRET)
end

-- sockets the daemon process holds right now
local function sockets_of(d)
  local p = io.popen("find /proc/" .. d.handle.pid .. "/fd -lname 'socket:*' 2>/dev/null | wc -l")
  local n = tonumber(p:read("*a"))
  p:close()
  return n or 0
end

-- n connections from 127.0.0.1 that send nothing; caller closes them
local function idle_connections(port, n)
  local held = {}
  for i = 1, n do
    local s = socket.tcp()
    s:settimeout(5)
    assert(s:connect("127.0.0.1", port), "idle connection " .. i)
    held[#held + 1] = s
  end
  return held
end

local function close_all(list)
  for _, s in ipairs(list or {}) do s:close() end
end

local function log_has(d, needle)
  return (h.read_file(d.log) or ""):find(needle, 1, true) ~= nil
end


describe("b3scaled at the edge", function()
  local db, sim

  setup(function()
    sim = h.bbbsim({ name = "edge-node" })
    db = h.new_db("edge")
    h.migrate(db)
    cluster.register(db, { sim }, "fe", FE_SECRET)
  end)

  teardown(function()
    h.cleanup()
  end)

  describe("with 1,500 idle connections", function()
    local d, held

    setup(function()
      d = h.daemon({ db = db, env = { B3SCALE_MAX_CONNECTIONS_PER_IP = "0",
        B3SCALE_IDLE_TIMEOUT_MS = "120000", B3SCALE_POLL_INTERVAL_MS = "600000" } })
    end)

    teardown(function()
      close_all(held)
      h.stop(d)
    end)

    it("still answers another client at once", function()
      local ok, rl = pcall(require, "posix.sys.resource")
      if ok then
        local lim = rl.getrlimit(rl.RLIMIT_NOFILE)
        if lim.rlim_cur < 2000 and (lim.rlim_max < 0 or lim.rlim_max >= 2000) then
          rl.setrlimit(rl.RLIMIT_NOFILE, { rlim_cur = 2000, rlim_max = lim.rlim_max })
        end
        lim = rl.getrlimit(rl.RLIMIT_NOFILE)
        if lim.rlim_cur >= 0 and lim.rlim_cur < 1600 then
          return pending("the spec process may open only " .. lim.rlim_cur .. " files")
        end
      end
      held = idle_connections(d.port, 1500)
      -- accepted by the daemon, not waiting in the kernel's backlog (MHD's old cap: ~1020)
      assert.truthy(h.wait_until(function() return sockets_of(d) >= 1500 end, 15),
        "daemon holds only " .. sockets_of(d) .. " sockets")
      local st, _, secs = raw({ port = d.port, src = "127.0.0.2", request = request("GET", "/healthz") })
      assert.equal(200, st)
      assert.is_true(secs < 2, "healthz took " .. secs .. " s")
      local st2, body, secs2 = raw({ port = d.port, src = "127.0.0.2",
        request = request("GET", signed("getMeetings")) })
      assert.equal(200, st2)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
      assert.is_true(secs2 < 2, "getMeetings took " .. secs2 .. " s")
      print(string.format("# 1500 idle connections: healthz from 127.0.0.2 in %.1f ms, getMeetings in %.1f ms",
        secs * 1000, secs2 * 1000))
      -- and the idle ones are served, too
      held[1500]:send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
      assert.matches("^HTTP/1%.1 200", held[1500]:receive("*l"))
    end)
  end)

  describe("with budgets", function()
    local d

    setup(function()
      d = h.daemon({ db = db, env = { B3SCALE_MAX_CONNECTIONS_PER_IP = "100",
        B3SCALE_REQUEST_TIMEOUT_MS = "2000", B3SCALE_TRUSTED_PROXIES = "127.0.0.1",
        B3SCALE_POLL_INTERVAL_MS = "600000" } })
    end)

    teardown(function()
      h.stop(d)
    end)

    it("refuses the 101st connection from one address, not another address", function()
      local held = idle_connections(d.port, 100)
      assert.truthy(h.wait_until(function() return sockets_of(d) >= 100 end, 10))
      local st, data, secs, err = raw({ port = d.port, request = request("GET", "/healthz"), timeout = 3 })
      assert.is_nil(st, "the 101st connection was answered: " .. data)
      assert.is_true(secs < 2 and err ~= "timeout", "refused after " .. secs .. " s (" .. tostring(err) .. ")")
      local st2 = raw({ port = d.port, src = "127.0.0.2", request = request("GET", "/healthz") })
      assert.equal(200, st2)
      assert.truthy(h.wait_until(function() return log_has(d, "event=connection_refused") end, 2))
      close_all(held)
      -- the slots come back
      assert.truthy(h.wait_until(function()
        return raw({ port = d.port, request = request("GET", "/healthz"), timeout = 1 }) == 200
      end, 5))
    end)

    it("disconnects a client that trickles its headers, and serves others meanwhile", function()
      local s = socket.tcp()
      s:settimeout(5)
      assert(s:connect("127.0.0.1", d.port))
      local head = "GET /healthz HTTP/1.1\r\nHost: b3scale.test\r\nX-Slow: "
      local t0, cut, i = h.now(), nil, 0
      local served = 0
      while h.now() - t0 < 8 do
        i = i + 1
        s:send(i <= #head and head:sub(i, i) or "a")
        s:settimeout(0.2)
        local _, err = s:receive(1)
        if err == "closed" then cut = h.now() - t0 break end
        if i % 5 == 0 then
          assert.equal(200, raw({ port = d.port, request = request("GET", "/healthz"), timeout = 2 }))
          served = served + 1
        end
      end
      s:close()
      assert.truthy(cut, "the slow client was never disconnected")
      assert.is_true(cut >= 1.5 and cut <= 5, "disconnected after " .. cut .. " s")
      assert.is_true(served >= 2)
      -- logged just after the cut: the client may see the close first
      assert.truthy(h.wait_until(function() return log_has(d, "event=requests_cut") end, 2))
      print(string.format("# slowloris (1 byte / 200 ms, deadline 2000 ms): cut after %.2f s", cut))
    end)

    it("refuses a large body on a small route before it is sent", function()
      local st, body, secs = raw({ port = d.port, timeout = 3,
        request = request("GET", signed("getMeetings"), { "Content-Length: 10000000" }) })
      assert.equal(200, st)
      assert.equal("FAILED", h.xml_text(body, "returncode"))
      assert.equal("validationError", h.xml_text(body, "messageKey"))
      assert.equal("The request body is too large.", h.xml_text(body, "message"))
      assert.is_true(secs < 1, "answered after " .. secs .. " s")
      local st2, body2, secs2 = raw({ port = d.port, timeout = 3,
        request = request("POST", "/healthz", { "Content-Length: 10000000" }) })
      assert.equal(413, st2)
      assert.is_true(secs2 < 1)
      assert.matches("too large", body2)
      local st3, body3 = raw({ port = d.port, timeout = 3,
        request = request("POST", "/api/v1/frontends", { "Content-Length: 10000000" }) })
      assert.equal(413, st3)
      assert.matches('"error":"too_large"', body3, 1, true)
      -- a client that sends the whole body before it reads still gets the answer
      local big = string.rep("x", 3 * 1000 * 1000)
      local st4, _, secs4 = raw({ port = d.port, timeout = 10, request = request("POST", "/healthz", nil, big) })
      assert.equal(413, st4)
      assert.is_true(secs4 < 5)
    end)

    it("cuts a chunked body at the same limit", function()
      local chunk = string.rep("x", 16384)
      local parts = { "POST /healthz HTTP/1.1\r\nHost: b3scale.test\r\nConnection: close\r\n" ..
        "Transfer-Encoding: chunked\r\n\r\n" }
      for _ = 1, 8 do parts[#parts + 1] = string.format("%x\r\n%s\r\n", #chunk, chunk) end
      parts[#parts + 1] = "0\r\n\r\n"
      local st = raw({ port = d.port, request = table.concat(parts), timeout = 3 })
      assert.equal(413, st)
    end)

    it("accepts a 100 kB create body and passes it to the node", function()
      local docs = {}
      for i = 1, 1500 do
        docs[#docs + 1] = string.format('<document url="https://example.org/slides/%05d.pdf" filename="%05d.pdf"/>', i, i)
      end
      local xml = '<modules><module name="presentation">' .. table.concat(docs) .. '</module></modules>'
      assert.is_true(#xml > 100000)
      local st, body = raw({ port = d.port, timeout = 10,
        request = request("POST", signed("create", "name=Big&meetingID=big-slides"),
          { "Content-Type: application/xml" }, xml) })
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
      local found
      for _, m in ipairs(h.sim_get(sim, "/sim/meetings")) do
        if m.meetingID == "fe~big-slides" then found = m end
      end
      assert.truthy(found, "the node has no such meeting")
      assert.is_true(found.has_body)
    end)

    it("logs the forwarded client when the peer is a trusted proxy", function()
      local st = raw({ port = d.port, request = request("GET", signed("getMeetings"),
        { "X-Forwarded-For: 198.51.100.23, 203.0.113.9" }) })
      assert.equal(200, st)
      assert.truthy(h.wait_until(function() return log_has(d, "client=203.0.113.9") end, 2))
      -- a proxy chain of trusted hops is walked from the right
      raw({ port = d.port, request = request("GET", "/api/v1/backends",
        { "X-Forwarded-For: 192.0.2.44, 127.0.0.1" }) })
      assert.truthy(h.wait_until(function() return log_has(d, "client=192.0.2.44") end, 2))
      -- 127.0.0.2 is not trusted: what it forwards is ignored
      raw({ port = d.port, src = "127.0.0.2", request = request("GET", signed("getMeetings"),
        { "X-Forwarded-For: 192.0.2.99" }) })
      assert.truthy(h.wait_until(function() return log_has(d, "client=127.0.0.2") end, 2))
      assert.is_false(log_has(d, "192.0.2.99"))
    end)
  end)

  it("ignores X-Forwarded-For without trusted proxies", function()
    local d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "600000" } })
    local st = raw({ port = d.port, request = request("GET", signed("getMeetings"),
      { "X-Forwarded-For: 203.0.113.9" }) })
    assert.equal(200, st)
    assert.truthy(h.wait_until(function()
      return log_has(d, "call=getMeetings") and log_has(d, "client=127.0.0.1")
    end, 2))
    assert.is_false(log_has(d, "203.0.113.9"))
    h.stop(d)
  end)

  it("listens on [::1]", function()
    local probe = socket.tcp6()
    local can = probe and probe:bind("::1", 0)
    if probe then probe:close() end
    if not can then return pending("this machine has no ::1") end
    local port = h.free_port()
    local hd = h.spawn({ h.BUILD .. "/b3scaled" }, { B3SCALE_DB_URL = db,
      B3SCALE_LISTEN_HTTP = "[::1]:" .. port, B3SCALE_POLL_INTERVAL_MS = "600000" })
    local st = h.wait_until(function()
      assert.truthy(h.alive(hd), "b3scaled exited: " .. (h.read_file(hd.log) or ""))
      return raw({ host = "::1", v6 = true, port = port, request = request("GET", "/healthz"), timeout = 1 }) == 200
    end, 10)
    assert.truthy(st, h.read_file(hd.log))
    assert.equal(0, h.stop(hd))
  end)

  it("fails clearly when the port is taken, and shares it only when both opt in", function()
    local d = h.daemon({ db = db })
    local code, out = h.run({ h.BUILD .. "/b3scaled" }, { B3SCALE_DB_URL = db,
      B3SCALE_LISTEN_HTTP = "127.0.0.1:" .. d.port }, 20)
    assert.are_not.equal(0, code)
    assert.matches("cannot listen on 127.0.0.1:" .. d.port .. ": Address already in use", out, 1, true)
    assert.equal(0, h.stop(d))

    local env = { B3SCALE_LISTEN_REUSEPORT = "1", B3SCALE_POLL_INTERVAL_MS = "600000" }
    local a = h.daemon({ db = db, env = env })
    -- its own log: the default one is named after the port, which a already writes
    local b = h.daemon({ db = db, port = a.port, env = env, log = h.tmpdir() .. "/b3scaled-reuseport-b.log" })
    assert.truthy(h.wait_until(function() return log_has(b, "event=started") end, 5), h.read_file(b.log))
    assert.is_true(h.alive(a) and h.alive(b))
    assert.equal(0, h.stop(a))
    -- the port is b's alone now
    assert.equal(200, (h.http("GET", b.url .. "/healthz", nil, nil, 2)))
    assert.equal(0, h.stop(b))
  end)
end)
