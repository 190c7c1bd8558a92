-- Backend lifecycle with the real daemon: polling, health, drain, decommission, failover of
-- meetings, several instances on one database, and Postgres going away.
local h = require("helpers")
local cluster = require("support.cluster")

local SECRET = "life-secret"
local FAST = {
  B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_POLL_TIMEOUT_MS = "500",
  B3SCALE_UNAVAILABLE_AFTER = "2", B3SCALE_AVAILABLE_AFTER = "2",
  B3SCALE_BACKEND_CONNECT_TIMEOUT_MS = "300", B3SCALE_BACKEND_TIMEOUT_MS = "2000",
}

local function api(d, call, query)
  return h.get(h.api_url(h.frontend_api(d, "fe"), call, query, SECRET))
end

local function rc(body) return h.xml_text(body, "returncode") end

local function backend_row(db, sim, cols)
  return h.psql(db, "SELECT " .. cols .. " FROM backends WHERE host = '" .. sim.url .. "'")
end

local function holds(sim, nsid)
  for _, m in ipairs(h.sim_get(sim, "/sim/meetings")) do
    if m.meetingID == nsid then return m end
  end
end

local function register(db, sims)
  cluster.register(db, sims, "fe", SECRET)
end

local function env(extra)
  local e = {}
  for k, v in pairs(FAST) do e[k] = v end
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- a database `name` with the nodes a and b registered, and a daemon over them
local function two_nodes(name, a, b)
  local db = h.new_db(name)
  h.migrate(db)
  local s1, s2 = h.bbbsim({ name = a }), h.bbbsim({ name = b })
  register(db, { s1, s2 })
  return db, h.daemon({ db = db, env = env() }), s1, s2
end

local function stop_all(d)
  if d then assert.equal(0, h.stop(d)) end
  h.cleanup()
end


describe("polling and health", function()
  local db, d, s1, s2

  setup(function()
    db, d, s1, s2 = two_nodes("life", "l1", "l2")
  end)

  teardown(function()
    stop_all(d)
  end)

  it("marks polled nodes ready and keeps their counters with the node's attendees", function()
    h.wait_until(function()
      return backend_row(db, s1, "node_state") == "ready" and backend_row(db, s2, "node_state") == "ready"
    end, 5)
    local _, b = api(d, "create", "name=Counted&meetingID=counted")
    assert.equal("SUCCESS", rc(b))
    local node = holds(s1, "fe~counted") and s1 or s2
    h.sim_req(node, "POST", "/sim/attendees?meetingID=fe~counted&count=7")
    h.wait_until(function()
      return backend_row(db, node, "meetings_count || '/' || attendees_count") == "1/7"
    end, 5)
    h.wait_until(function()
      return h.psql(db, "SELECT participants FROM meetings WHERE meeting_id = 'counted'") == "7"
    end, 5)
    assert.is_not_nil(tonumber(backend_row(db, node, "latency_ms")))
  end)

  it("removes meetings the node no longer has", function()
    api(d, "create", "name=Gone+Soon&meetingID=gone-soon")
    local node = holds(s1, "fe~gone-soon") and s1 or s2
    -- ended behind the balancer's back, directly on the node
    h.get(h.sim_api(node, "end", "meetingID=" .. h.urlencode("fe~gone-soon")))
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'gone-soon'") == "0"
    end, 5)
  end)

  it("marks a killed node unavailable within unavailable_after polls and places new meetings elsewhere", function()
    local t0 = h.now()
    h.stop(s1)
    h.wait_until(function() return backend_row(db, s1, "node_state") == "unavailable" end, 5)
    -- documented bound: UNAVAILABLE_AFTER x (interval + connect timeout)
    assert.is_true(h.now() - t0 < 2 * (0.2 + 0.5) + 1)
    assert.is_not_nil(backend_row(db, s1, "last_error"):find("onnect", 1, true))
    for i = 1, 4 do
      local _, b = api(d, "create", "name=Avoid&meetingID=avoid-" .. i)
      assert.equal("SUCCESS", rc(b))
      assert.is_not_nil(holds(s2, "fe~avoid-" .. i))
    end
  end)

  it("brings a restarted node back after available_after good polls", function()
    s1 = h.bbbsim({ name = "l1", port = s1.port, secret = s1.secret })
    h.wait_until(function() return backend_row(db, s1, "node_state") == "ready" end, 5)
  end)
end)


describe("failover of meetings", function()
  local db, d, s1, s2

  setup(function()
    db, d, s1, s2 = two_nodes("fail", "f1", "f2")
  end)

  teardown(function()
    stop_all(d)
  end)

  it("re-creates a meeting of a dead node on a healthy one at join and sends the user there", function()
    local _, b = api(d, "create", "name=Lecture+7&meetingID=lecture&meta_course=algebra&moderatorPW=mp")
    assert.equal("SUCCESS", rc(b))
    assert.is_not_nil(holds(s1, "fe~lecture"))
    h.stop(s1)
    h.wait_until(function() return backend_row(db, s1, "node_state") == "unavailable" end, 5)
    local _, running = api(d, "isMeetingRunning", "meetingID=lecture")
    assert.equal("false", h.xml_text(running, "running"))
    local st, _, hd = api(d, "join", "fullName=Stu&meetingID=lecture&role=VIEWER")
    assert.equal(302, st)
    assert.equal(s2.url .. "join?", hd.location:sub(1, #s2.url + 5))
    local m = holds(s2, "fe~lecture")
    assert.is_not_nil(m)
    assert.equal("Lecture 7", m.name)
    assert.equal("algebra", m.meta.course)
    assert.equal("mp", m.moderatorPW)
    local nst = h.get(hd.location)
    assert.equal(302, nst)
  end)

  it("converges on one meeting when the old node comes back still running it", function()
    local _, b = api(d, "create", "name=Seminar&meetingID=seminar")
    assert.equal("SUCCESS", rc(b))
    local old, new = s2, nil
    if not holds(s2, "fe~seminar") then
      return pending("placed on the node that was stopped before")
    end
    -- the node answers errors for a while (as if unreachable) but keeps its meeting
    h.sim_req(old, "POST", "/sim/mode?fail=error")
    h.wait_until(function() return backend_row(db, old, "node_state") == "unavailable" end, 5)
    s1 = h.bbbsim({ name = "f1", port = s1.port, secret = s1.secret })
    new = s1
    h.wait_until(function() return backend_row(db, new, "node_state") == "ready" end, 5)
    local st, _, hd = api(d, "join", "fullName=Late&meetingID=seminar&role=VIEWER")
    assert.equal(302, st)
    assert.equal(new.url, hd.location:sub(1, #new.url))
    assert.is_not_nil(holds(new, "fe~seminar"))
    h.sim_req(old, "POST", "/sim/mode?fail=none")
    -- the poll finds the old copy and ends it there; the database placement wins
    h.wait_until(function() return holds(old, "fe~seminar") == nil end, 5)
    assert.is_not_nil(holds(new, "fe~seminar"))
    assert.equal("1", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'seminar'"))
  end)
end)


describe("meetings found on a node without a row", function()
  local db, d, s1, s2

  setup(function()
    db, d, s1, s2 = two_nodes("adopt", "a1", "a2")
  end)

  teardown(function()
    stop_all(d)
  end)

  it("are adopted for their frontend, and re-created elsewhere when their node dies", function()
    -- created on the node directly, in the frontend's namespace: e.g. the row was lost
    local q = "name=" .. h.urlencode("Lost & Found") .. "&meetingID=" .. h.urlencode("fe~lost room")
    local _, b = h.get(h.sim_api(s1, "create", q))
    assert.equal("SUCCESS", rc(b))
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'lost room'") == "1"
    end, 5)
    local _, info = api(d, "getMeetingInfo", "meetingID=" .. h.urlencode("lost room"))
    assert.equal("SUCCESS", rc(info))
    assert.equal("lost room", h.xml_text(info, "meetingID"))
    -- a meeting outside every frontend's namespace is counted but not adopted
    h.get(h.sim_api(s1, "create", "name=Outside&meetingID=outside"))
    h.wait_until(function() return backend_row(db, s1, "meetings_count") == "2" end, 5)
    assert.equal("0", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id LIKE '%outside%'"))
    h.stop(s1)
    h.wait_until(function() return backend_row(db, s1, "node_state") == "unavailable" end, 5)
    local st, _, hd = api(d, "join", "fullName=Finder&meetingID=" .. h.urlencode("lost room") .. "&role=MODERATOR")
    assert.equal(302, st)
    assert.equal(s2.url, hd.location:sub(1, #s2.url))
    local m = holds(s2, "fe~lost room")
    assert.is_not_nil(m)
    assert.equal("Lost & Found", m.name)
  end)
end)


describe("drain and decommission", function()
  local db, d, s1, s2

  setup(function()
    db, d, s1, s2 = two_nodes("drain", "d1", "d2")
  end)

  teardown(function()
    stop_all(d)
  end)

  it("keeps a stopped node's meetings joinable and sends new ones elsewhere", function()
    api(d, "create", "name=Running&meetingID=running")
    assert.is_not_nil(holds(s1, "fe~running"))
    h.psql(db, "UPDATE backends SET admin_state = 'stopped' WHERE host = '" .. s1.url .. "'")
    local st, _, hd = api(d, "join", "fullName=A&meetingID=running&role=VIEWER")
    assert.equal(302, st)
    assert.equal(s1.url, hd.location:sub(1, #s1.url))
    for i = 1, 3 do
      api(d, "create", "name=New&meetingID=new-" .. i)
      assert.is_not_nil(holds(s2, "fe~new-" .. i))
    end
  end)

  it("removes a decommissioned node once its meetings are gone", function()
    h.psql(db, "UPDATE backends SET admin_state = 'decommissioned' WHERE host = '" .. s1.url .. "'")
    h.sleep(0.8)
    assert.equal("1", backend_row(db, s1, "count(*)"))
    local _, e = api(d, "end", "meetingID=running")
    assert.equal("SUCCESS", rc(e))
    h.wait_until(function() return backend_row(db, s1, "count(*)") == "0" end, 5)
  end)
end)


describe("three instances on one database", function()
  local db, ds, sims

  setup(function()
    db = h.new_db("multi")
    h.migrate(db)
    sims = { h.bbbsim({ name = "m1" }), h.bbbsim({ name = "m2" }), h.bbbsim({ name = "m3" }) }
    register(db, sims)
    ds = {}
    for i = 1, 3 do
      ds[i] = h.daemon({ db = db, env = env({ B3SCALE_POLL_INTERVAL_MS = "500" }) })
    end
  end)

  teardown(function()
    for _, d in ipairs(ds or {}) do h.stop(d) end
    h.cleanup()
  end)

  it("turns 50 concurrent creates of one meeting over three instances into one meeting", function()
    local dir = h.tmpdir() .. "/multi-" .. h.random_hex(3)
    assert(os.execute("mkdir -p " .. dir) == 0)
    local lines = { "cd " .. dir }
    for i = 1, 50 do
      local d = ds[(i % 3) + 1]
      lines[#lines + 1] = string.format("curl -s -o out.%d %s &", i,
        h.shell_quote(h.api_url(h.frontend_api(d, "fe"), "create", "name=Same&meetingID=same", SECRET)))
    end
    lines[#lines + 1] = "wait"
    h.write_file(dir .. "/go.sh", table.concat(lines, "\n") .. "\n")
    assert.is_not_nil(h.wait_exit(h.spawn({ "sh", dir .. "/go.sh" }), 60))
    local internal = {}
    for i = 1, 50 do
      local body = h.read_file(dir .. "/out." .. i)
      assert.equal("SUCCESS", rc(body), body)
      internal[h.xml_text(body, "internalMeetingID")] = true
    end
    local n = 0
    for _ in pairs(internal) do n = n + 1 end
    assert.equal(1, n)
    local holders = 0
    for _, s in ipairs(sims) do
      if holds(s, "fe~same") then holders = holders + 1 end
    end
    assert.equal(1, holders)
  end)

  it("polls every backend once per interval however many instances run", function()
    for _, s in ipairs(sims) do h.sim_req(s, "DELETE", "/sim/requests") end
    h.sleep(3)
    for _, s in ipairs(sims) do
      local polls = 0
      for _, r in ipairs(h.sim_get(s, "/sim/requests")) do
        if r.call == "getMeetings" then polls = polls + 1 end
      end
      -- 3 s at one poll per 500 ms is about 6; three instances each polling would be ~18
      assert.is_true(polls >= 4 and polls <= 8, s.name .. " was polled " .. polls .. " times")
    end
  end)

  it("loses nothing when one instance is killed", function()
    h.stop(ds[1], "SIGKILL")
    for _, s in ipairs(sims) do h.sim_req(s, "DELETE", "/sim/requests") end
    -- a node the killed instance was polling at that moment stays leased until the lease
    -- (2 x poll timeout + 5 s) runs out; after that the survivors poll it again
    for _, s in ipairs(sims) do
      local polls = 0
      h.wait_until(function()
        polls = 0
        for _, r in ipairs(h.sim_get(s, "/sim/requests")) do
          if r.call == "getMeetings" then polls = polls + 1 end
        end
        return polls >= 2
      end, 9, 0.2)
      assert.is_true(polls >= 2, s.name .. " stopped being polled")
    end
    local st = api(ds[2], "join", "fullName=X&meetingID=same&role=VIEWER")
    assert.equal(302, st)
    local _, info = api(ds[3], "getMeetingInfo", "meetingID=same")
    assert.equal("SUCCESS", rc(info))
  end)
end)


describe("Postgres going away", function()
  local pg, db, d, s1

  setup(function()
    pg = cluster.private_pg("pgaway")
    db = pg.db
    s1 = h.bbbsim({ name = "pg1" })
    register(db, { s1 })
    d = h.daemon({ db = db, env = env({ B3SCALE_API_JWT_SECRET = "pgaway-jwt" }) })
  end)

  teardown(function()
    if d then h.stop(d) end
    if pg then pg:remove() end
    h.cleanup()
  end)

  it("answers BBB errors while the database is down and recovers by itself without losing a meeting", function()
    local _, b = api(d, "create", "name=Kept&meetingID=kept")
    assert.equal("SUCCESS", rc(b))
    assert.equal(0, (pg:stop()))
    local t0 = h.now()
    local st, body = api(d, "getMeetingInfo", "meetingID=kept")
    assert.equal(200, st)
    assert.equal("FAILED", rc(body))
    assert.is_true(h.now() - t0 < 5, "an unreachable database must not hang requests")
    _, body = api(d, "create", "name=During&meetingID=during")
    assert.equal("FAILED", rc(body))
    local admin = { authorization = "Bearer " .. require("support.tokens").hs384("pgaway-jwt", "ops", "b3scale:admin") }
    local ast, abody = h.get(d.url .. "/api/v1/backends", admin)
    assert.equal(503, ast, abody)
    assert.equal("unavailable", h.cjson.decode(abody).error)
    local code, out = pg:start()
    assert.equal(0, code, out)
    h.wait_until(function()
      local _, i = api(d, "getMeetingInfo", "meetingID=kept")
      return rc(i) == "SUCCESS"
    end, 10)
    local jst = api(d, "join", "fullName=Back&meetingID=kept&role=VIEWER")
    assert.equal(302, jst)
    _, body = api(d, "create", "name=After&meetingID=after")
    assert.equal("SUCCESS", rc(body))
    assert.equal(200, (h.get(d.url .. "/api/v1/backends", admin)))
    assert.is_true(h.alive(d))
  end)
end)
