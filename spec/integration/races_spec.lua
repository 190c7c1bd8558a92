-- Regression specs for the December review's race and crash findings (issue 11): what a
-- frontend sees when failover, polls and agent reports interleave.
local h = require("helpers")
local ffi = require("ffi")
local cluster = require("support.cluster")
local tokens = require("support.tokens")

local FE_SECRET = "races-fe-secret"
local JWT = "races-jwt-secret-0123456789abcdef0123456789"

local function api(d, call, query)
  return h.get(h.api_url(h.frontend_api(d, "fe"), call, query, FE_SECRET))
end

local function row_count(db, mid)
  return tonumber(h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = '" .. mid .. "'"))
end

local function backend_id(db, sim)
  return h.psql(db, "SELECT id FROM backends WHERE host = '" .. sim.url .. "'")
end


describe("agent state reports", function()
  local sims, db, d

  setup(function()
    sims = { h.bbbsim({ name = "r1" }), h.bbbsim({ name = "r2" }) }
    db = h.new_db("races_agent")
    h.migrate(db)
    cluster.register(db, sims, "fe", FE_SECRET)
    h.psql(db, "UPDATE backends SET agent_ref = 'agent-r1' WHERE host = '" .. sims[1].url .. "'")
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT, B3SCALE_POLL_INTERVAL_MS = "600000" } })
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  local function report(xml, fetched_at)
    local q = fetched_at and ("?fetched_at=" .. string.format("%d", fetched_at)) or ""
    return h.post(d.url .. "/api/v1/agent/state" .. q, xml, {
      authorization = "Bearer " .. tokens.hs384(JWT, "agent-r1", "b3scale:node"),
      ["content-type"] = "application/xml" })
  end

  local function node_state(sim)
    local _, body = h.get(h.sim_api(sim, "getMeetings", ""))
    return body
  end

  it("end a stray the report lists on its node instead of crashing (finding 2)", function()
    -- the meeting lives on r2 by the database; r1, back from the dead, still runs a copy
    local st, body = api(d, "create", "name=Moved&meetingID=moved")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    h.psql(db, "UPDATE meetings SET backend_id = '" .. backend_id(db, sims[2])
      .. "', confirmed_at = now() WHERE meeting_id = 'moved'")
    if not cluster.holder({ sims[1] }, "fe", "moved") then
      h.get(h.sim_api(sims[1], "create", "name=Moved&meetingID=fe~moved"))
    end
    assert.truthy(cluster.holder({ sims[1] }, "fe", "moved"))
    st, body = report(node_state(sims[1]))
    assert.equal(200, st, body)
    assert.truthy(h.alive(d.handle), "b3scaled died on the report")
    assert.truthy(h.wait_until(function() return not cluster.holder({ sims[1] }, "fe", "moved") end, 5),
      "the stray copy was not ended on r1")
    assert.equal(1, row_count(db, "moved"), "the database placement must survive")
  end)

  it("keep a meeting confirmed after the snapshot was fetched (finding 4)", function()
    local before = os.time() * 1000 - 3000 -- the agent asked its node 3 s ago
    h.psql(db, "UPDATE backends SET admin_state = 'stopped' WHERE host = '" .. sims[2].url .. "'")
    -- a node with an agent takes meetings only while its heartbeat is fresh
    local st, body = h.post(d.url .. "/api/v1/agent/heartbeat", "{}", {
      authorization = "Bearer " .. tokens.hs384(JWT, "agent-r1", "b3scale:node"),
      ["content-type"] = "application/json" })
    assert.equal(200, st, body)
    st, body = api(d, "create", "name=Fresh&meetingID=fresh")
    h.psql(db, "UPDATE backends SET admin_state = 'ready' WHERE host = '" .. sims[2].url .. "'")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    local holder = cluster.holder(sims, "fe", "fresh")
    assert.equal(sims[1], holder, "the policy put it on r1")
    -- a snapshot of r1 taken before the create: the meeting is not in it
    local empty = "<response><returncode>SUCCESS</returncode><meetings/></response>"
    st, body = report(empty, before)
    assert.equal(200, st, body)
    assert.equal(1, row_count(db, "fresh"), "a row confirmed after the snapshot was deleted")
    st, body = api(d, "getMeetingInfo", "meetingID=fresh")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
  end)
end)


describe("meeting rows across moves and confirms", function()
  local sims, db, d, C
  local DB_SIZE = 4096

  pcall(ffi.cdef, [[
int db_open_timeout(void *db, const char *url, long timeout_ms, char *err, size_t errlen);
void db_close(void *db);
int db_meetings_move(void *db, long long id, const char *from, const char *to, long long version, char *err,
                     size_t errlen);
int db_poll_meetings(void *db, const char *backend_id, const void *m, size_t n,
                     long long since_epoch_ms, char *err, size_t errlen);
int log_setup(const char *level, const char *format);
]])

  setup(function()
    sims = { h.bbbsim({ name = "m1" }), h.bbbsim({ name = "m2" }) }
    db = h.new_db("races_rows")
    h.migrate(db)
    cluster.register(db, sims, "fe", FE_SECRET)
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "600000" } })
    C = ffi.load(h.BUILD .. "/libb3scale.so")
    C.log_setup("error", "text")
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  local function with_db(fn)
    local conn, err = ffi.new("char[?]", DB_SIZE), ffi.new("char[512]")
    assert.equal(0, C.db_open_timeout(conn, db, 5000, err, 512), ffi.string(err))
    local ok, res = pcall(fn, conn, err)
    C.db_close(conn)
    assert(ok, res)
    return res
  end

  it("a moved meeting is not lost to a poll of its new node while the create is in flight (finding 3)", function()
    local _, body = api(d, "create", "name=Move&meetingID=mv")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    local from = h.psql(db, "SELECT backend_id FROM meetings WHERE meeting_id = 'mv'")
    local to = from == backend_id(db, sims[1]) and backend_id(db, sims[2]) or backend_id(db, sims[1])
    local id = tonumber(h.psql(db, "SELECT id FROM meetings WHERE meeting_id = 'mv'"))
    with_db(function(conn, err)
      assert.equal(0, C.db_meetings_move(conn, id, from, to, -1, err, 512), ffi.string(err))
      -- the new node's poll: the create has not reached it yet, so it lists nothing
      assert.equal(0, C.db_poll_meetings(conn, to, nil, 0, os.time() * 1000 + 1000, err, 512),
        ffi.string(err))
    end)
    assert.equal(1, row_count(db, "mv"), "the poll deleted the row of a meeting being moved")
  end)

  it("a repeated create keeps the parameters the meeting was created with (review §4)", function()
    local _, body = api(d, "create", "name=First+Name&meetingID=rep")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    _, body = api(d, "create", "name=Second+Name&meetingID=rep")
    assert.equal("duplicateWarning", h.xml_text(body, "messageKey"), body)
    local q = h.psql(db, "SELECT create_query FROM meetings WHERE meeting_id = 'rep'")
    assert.truthy(q:find("name=First", 1, true), q)
  end)

  it("a confirm that finds its row gone writes the placement again (finding 5)", function()
    -- the row disappears while the node creates the meeting: a slow create, a delete meanwhile
    local holder_sim
    for _, s in ipairs(sims) do h.sim_req(s, "POST", "/sim/mode?delay_ms=1500") end
    local curl = h.spawn({ "curl", "-s", "-o", h.tmpdir() .. "/slow-create.xml",
      h.api_url(h.frontend_api(d, "fe"), "create", "name=Slow&meetingID=slow", FE_SECRET) })
    assert.truthy(h.wait_until(function() return row_count(db, "slow") == 1 end, 3))
    h.psql(db, "DELETE FROM meetings WHERE meeting_id = 'slow'")
    assert.equal(0, h.wait_exit(curl, 10))
    for _, s in ipairs(sims) do h.sim_req(s, "POST", "/sim/mode?fail=none") end
    local body = h.read_file(h.tmpdir() .. "/slow-create.xml")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    holder_sim = cluster.holder(sims, "fe", "slow")
    assert.truthy(holder_sim)
    assert.equal(1, row_count(db, "slow"), "the node runs the meeting but its row is lost")
    local _, info = api(d, "getMeetingInfo", "meetingID=slow")
    assert.equal("SUCCESS", h.xml_text(info, "returncode"), info)
  end)

  it("refuses a request with thousands of parameters at once (finding 14)", function()
    local parts = {}
    for i = 1, 5000 do parts[i] = "p=" .. i end -- 30 kB, under B3SCALE_MAX_QUERY
    parts[#parts + 1] = "meetingID=x"
    -- as a form POST: libmicrohttpd itself refuses that many URL arguments (431)
    local t0 = h.now()
    local _, body = h.post(h.frontend_api(d, "fe") .. "getMeetingInfo",
      h.sign("getMeetingInfo", table.concat(parts, "&"), FE_SECRET),
      { ["content-type"] = "application/x-www-form-urlencoded" })
    assert.equal("validationError", h.xml_text(body, "messageKey"), body)
    assert.is_true(h.now() - t0 < 2)
  end)
end)
