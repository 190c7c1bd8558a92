-- getMeetings is answered from the live view (what polls and agents reported), never by
-- asking the nodes: BBB's whole <meeting> block (metadata, attendees, counts), the
-- frontend's own meetings and IDs only, and nothing to wait for when nodes hang.
local h = require("helpers")
local cluster = require("support.cluster")
local jwt = require("b3scalectl.jwt")

local FE_SECRET = "gm-fe-secret"
local JWT_SECRET = "gm-jwt-secret"

local function node_calls(sims, call)
  local n = 0
  for _, s in ipairs(sims) do
    for _, r in ipairs(h.sim_get(s, "/sim/requests")) do
      if r.call == call then n = n + 1 end
    end
  end
  return n
end

-- the <meeting> element of one meeting ID in a getMeetings answer
local function block(body, id)
  for b in body:gmatch("<meeting>(.-)</meeting>") do
    if h.xml_text(b, "meetingID") == id then return b end
  end
end

local function count(body, tag)
  return select(2, body:gsub("<" .. tag .. ">", ""))
end

describe("getMeetings", function()
  local sims, db, poller, d

  local function api(dd, key, secret, call, query)
    return h.get(h.api_url(h.frontend_api(dd, key), call, query, secret))
  end

  local function list()
    local st, body = api(d, "fe", FE_SECRET, "getMeetings", "")
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    return body
  end

  setup(function()
    sims = { h.bbbsim({ name = "gm1" }), h.bbbsim({ name = "gm2" }), h.bbbsim({ name = "gm3" }) }
    db = h.new_db("getmeetings")
    h.migrate(db)
    cluster.register(db, sims, "fe", FE_SECRET)
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('other', 'other-secret')")
    -- one instance polls; the one the frontends ask does not, so every getMeetings a node
    -- sees while it answers is a poll of the first, stopped before the counting starts
    poller = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_POLL_WORKERS = "1" } })
    d = h.daemon({ db = db, env = { B3SCALE_POLL_WORKERS = "0", B3SCALE_API_JWT_SECRET = JWT_SECRET,
      B3SCALE_AGENT_MAX_AGE_MS = "60000" } })
    for i = 1, 3 do
      local st, body = api(d, "fe", FE_SECRET, "create", "name=Room+" .. i .. "&meetingID=gm-" .. i
        .. "&meta_course=Course+" .. i)
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    api(d, "other", "other-secret", "create", "name=Theirs&meetingID=theirs")
    h.sim_req(cluster.holder(sims, "fe", "gm-1"), "POST", "/sim/attendees?meetingID=fe~gm-1&count=3")
    -- the polls have seen everything: attendees and metadata are in the live view
    assert.truthy(h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM node_meetings WHERE xml LIKE '%Course%'") == "3"
        and h.psql(db, "SELECT sum(participants) FROM meetings") == "3"
    end, 10, 0.1), "the polls did not see every meeting")
    h.stop(poller)
    for _, s in ipairs(sims) do h.sim_req(s, "DELETE", "/sim/requests") end
  end)

  teardown(function()
    for _, s in ipairs(sims) do h.sim_req(s, "POST", "/sim/mode?fail=none") end
    h.stop(d)
    h.cleanup()
  end)

  it("answers BBB's whole meeting block from the live view without asking a node", function()
    -- (the same answer is kept for every caller: B3SCALE_INFO_CACHE_MS, see shared_calls_spec)
    local body
    for _ = 1, 20 do body = list() end
    assert.equal(0, node_calls(sims, "getMeetings"))
    assert.equal(3, count(body, "meeting"))
    for i = 1, 3 do
      assert.truthy(body:find("<meetingID>gm-" .. i .. "</meetingID>", 1, true), body)
      assert.truthy(body:find("<course>Course " .. i .. "</course>", 1, true), body)
    end
    assert.is_nil(body:find("fe~", 1, true))
    assert.is_nil(body:find("theirs", 1, true))
    -- the three simulated users, as the node showed them, with BBB's elements
    assert.equal(3, count(body, "attendee"))
    assert.equal(1, count(body, "participantCount>3</participantCount"))
    for _, tag in ipairs({ "internalMeetingID", "createTime", "attendeePW", "moderatorPW", "voiceBridge",
      "hasUserJoined", "moderatorCount", "videoCount", "isBreakout", "userID", "fullName", "role" }) do
      assert.truthy(body:find("<" .. tag .. ">", 1, true), tag .. " missing")
    end
    -- what the node itself answers for the same meeting, block for block
    local holder = cluster.holder(sims, "fe", "gm-1")
    local _, direct = h.get(h.sim_api(holder, "getMeetingInfo", "meetingID=" .. h.urlencode("fe~gm-1")))
    local b1 = block(body, "gm-1")
    for _, tag in ipairs({ "meetingName", "internalMeetingID", "createTime", "attendeePW", "participantCount",
      "moderatorCount", "running" }) do
      assert.equal(h.xml_text(direct, tag), h.xml_text(b1, tag), tag)
    end
  end)

  it("keeps a frontend's list for its callers and drops it when one of its meetings changes", function()
    local function reused()
      local _, m = h.get(d.url .. "/metrics")
      return tonumber(m:match('b3scale_node_calls_shared_total{kind="reused"} (%d+)'))
    end
    list()
    local before = reused()
    local a, b = list(), list()
    assert.equal(a, b)
    assert.equal(before + 2, reused())
    -- a create here drops it at once; the next caller gets the new meeting
    local st, body = api(d, "fe", FE_SECRET, "create", "name=Kept&meetingID=gm-kept")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.truthy(block(list(), "gm-kept"))
  end)

  it("hands the last list to callers while one rebuilds it, rather than making all wait", function()
    local last = list()
    h.sleep(1.1) -- past B3SCALE_INFO_CACHE_MS: the kept list is due for a rebuild
    -- the live view is locked, so a rebuild waits (and here gives up after the database
    -- deadline); the list meanwhile is the one just served
    local locker = h.spawn({ "psql", "-qX", db, "-c", "BEGIN; LOCK TABLE node_meetings IN "
      .. "ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;" })
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock'"
        .. " AND relation = 'node_meetings'::regclass AND granted") == "1"
    end, 5, 0.05)
    local url = h.api_url(h.frontend_api(d, "fe"), "getMeetings", "", FE_SECRET)
    local rebuilder = h.spawn({ "curl", "-s", "-m", "10", "-o", "/dev/null", url })
    h.sleep(0.3) -- it has asked, and waits on the lock
    local got = {}
    for i = 1, 3 do
      got[i] = select(2, api(d, "fe", FE_SECRET, "getMeetings", ""))
    end
    local locked = h.alive(locker)
    -- the lock goes before anything is asserted, so later specs find the table free
    h.wait_exit(rebuilder, 10)
    h.wait_exit(locker, 10)
    assert.is_true(locked, "the callers were answered only once the lock was released")
    for i = 1, 3 do
      assert.equal(last, got[i])
    end
  end)

  it("lists a new meeting at once, before any poll or agent reported it", function()
    local st, body = api(d, "fe", FE_SECRET, "create", "name=Fresh&meetingID=gm-fresh")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    body = list()
    local b = block(body, "gm-fresh")
    assert.truthy(b, body)
    assert.equal("Fresh", h.xml_text(b, "meetingName"))
    assert.equal("false", h.xml_text(b, "running"))
    assert.equal("0", h.xml_text(b, "participantCount"))
    assert.equal(0, node_calls(sims, "getMeetings"))
  end)

  it("shows an agent's events at once, names escaped", function()
    local holder = cluster.holder(sims, "fe", "gm-2")
    h.psql(db, "UPDATE backends SET agent_ref = 'gm-agent' WHERE host = '" .. holder.url .. "'")
    local token = jwt.mint(JWT_SECRET, "gm-agent", { "b3scale:node" }, 600)
    local int = h.psql(db, "SELECT internal_id FROM node_meetings WHERE meeting_id = 'fe~gm-2'")
    local ev = h.cjson.encode({ envelope = { name = "UserJoinedMeetingEvtMsg" }, core = {
      header = { meetingId = int, userId = "w_zoe" },
      body = { intId = "w_zoe", name = "Zoë <b>&", role = "MODERATOR" } } })
    for _, path in ipairs({ "/api/v1/agent/heartbeat", "/api/v1/agent/events" }) do
      local st, b = h.http("POST", d.url .. path, path:find("events") and ev or "{}",
        { authorization = "Bearer " .. token, ["content-type"] = "application/json" })
      assert.equal(200, st, b)
    end
    -- the list a frontend gets is kept for B3SCALE_INFO_CACHE_MS, dropped when the event's
    -- NOTIFY reaches the listener: within moments, well inside the second the docs promise
    local b
    h.wait_until(function()
      b = block(list(), "gm-2")
      return h.xml_text(b, "participantCount") == "1"
    end, 2, 0.02)
    assert.equal("1", h.xml_text(b, "participantCount"))
    assert.equal("1", h.xml_text(b, "moderatorCount"))
    assert.equal("true", h.xml_text(b, "running"))
    assert.truthy(b:find("<fullName>Zoë &lt;b&gt;&amp;</fullName>", 1, true), b)
    assert.truthy(b:find("<userID>w_zoe</userID>", 1, true), b)
  end)

  it("costs nothing when nodes hang, and leaves out a node found unavailable", function()
    h.sim_req(sims[1], "POST", "/sim/mode?fail=hang")
    h.sim_req(sims[2], "POST", "/sim/mode?fail=hang")
    local t0 = h.now()
    local body = list()
    print(string.format("# getMeetings with two hung nodes: %.1f ms", (h.now() - t0) * 1000))
    assert.equal(5, count(body, "meeting"))
    local gone = cluster.holder(sims, "fe", "gm-3")
    h.psql(db, "UPDATE backends SET node_state = 'unavailable' WHERE host = '" .. gone.url .. "'")
    h.wait_until(function()
      body = list()
      return not body:find("<meetingID>gm-3</meetingID>", 1, true)
    end, 2, 0.02)
    assert.is_nil(body:find("<meetingID>gm-3</meetingID>", 1, true))
    h.psql(db, "UPDATE backends SET node_state = 'ready' WHERE host = '" .. gone.url .. "'")
  end)

  it("sends a large list gzipped to clients that ask for it, the same list", function()
    for _, s in ipairs(sims) do h.sim_req(s, "POST", "/sim/mode?fail=none") end
    for i = 1, 8 do
      local _, body = api(d, "fe", FE_SECRET, "create", "name=Big+list&meetingID=gm-gz-" .. i)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    local plain = list()
    assert.is_true(#plain > 8192, "the list is " .. #plain .. " bytes")
    local url = h.api_url(h.frontend_api(d, "fe"), "getMeetings", "", FE_SECRET)
    -- curl as a client library would: it asks for gzip and decodes what comes
    for _ = 1, 2 do -- built by this call, then kept
      local code, out = h.run({ "curl", "-s", "--compressed", "-D", "-", url }, {}, 10)
      assert.equal(0, code)
      local head, body = out:match("^(.-\r\n\r\n)(.*)$")
      assert.matches("\r\n[Cc]ontent%-[Ee]ncoding: gzip\r\n", head)
      assert.matches("\r\n[Vv]ary: Accept%-Encoding\r\n", head)
      assert.equal(plain, body)
    end
    -- and not to one that refuses it
    local st, body, hd = h.get(url, { ["accept-encoding"] = "gzip;q=0, identity" })
    assert.equal(200, st)
    assert.is_nil(hd["content-encoding"])
    assert.equal(plain, body)
  end)
end)
