-- One live view per node: while the node's agent beats (B3SCALE_AGENT_MAX_AGE_MS) its reports
-- are what the node runs, and polls (which still judge health) do not overwrite them; without
-- a fresh agent polls are the source again. A snapshot never overwrites a row that changed
-- after it was taken, and attendees are keyed by BBB's internal user id both ways.
local h = require("helpers")
local jwt = require("b3scalectl.jwt")

local JWT_SECRET = "live-view-jwt-secret"

local function msg(name, header, body)
  return h.cjson.encode({ envelope = { name = name }, core = { header = header, body = body } })
end

local function created(int, ext)
  return msg("MeetingCreatedEvtMsg", { name = "MeetingCreatedEvtMsg" },
    { props = { meetingProp = { name = "Live", extId = ext, intId = int, isBreakout = false } } })
end

local function joined(int, user)
  return msg("UserJoinedMeetingEvtMsg", { meetingId = int, userId = user }, { intId = user, role = "VIEWER" })
end

local function left(int, user)
  return msg("UserLeftMeetingEvtMsg", { meetingId = int, userId = user }, { intId = user })
end

describe("the live view of a node", function()
  local db, d, sim, token

  local function post(path, body, ctype)
    local st, b = h.http("POST", d.url .. path, body, { ["content-type"] = ctype,
      authorization = "Bearer " .. token })
    assert.equal(200, st, b)
  end

  local function beat() post("/api/v1/agent/heartbeat", "{}", "application/json") end
  local function events(list) post("/api/v1/agent/events", table.concat(list, "\n"), "application/x-ndjson") end

  local function counts()
    return h.psql(db, "SELECT meetings_count || '/' || attendees_count FROM backends WHERE agent_ref = 'live-node'")
  end

  local function polls()
    local n = 0
    for _, r in ipairs(h.sim_get(sim, "/sim/requests")) do
      if r.call == "getMeetings" then n = n + 1 end
    end
    return n
  end

  setup(function()
    db = h.new_db("liveview")
    h.migrate(db)
    sim = h.bbbsim({ name = "livenode" })
    h.psql(db, string.format("INSERT INTO backends (host, secret, agent_ref) VALUES ('%s', '%s', 'live-node')",
      sim.url, sim.secret))
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT_SECRET, B3SCALE_POLL_INTERVAL_MS = "250",
      B3SCALE_POLL_WORKERS = "1", B3SCALE_AGENT_MAX_AGE_MS = "1500" } })
    token = jwt.mint(JWT_SECRET, "live-node", { "b3scale:node" }, 600)
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("keeps the agent's numbers while it beats, and the polls' once it stops", function()
    beat()
    -- the agent saw a meeting start and a user join that the node's API does not show yet
    events({ created("int-live-1", "direct-live-1"), joined("int-live-1", "w_live1") })
    assert.equal("1/1", counts())
    local p0 = polls()
    for _ = 1, 8 do -- 2 s: several polls answer "no meetings" meanwhile
      h.sleep(0.25)
      beat()
      assert.equal("1/1", counts())
    end
    assert.is_true(polls() - p0 >= 4, "polls went on: " .. (polls() - p0))
    assert.equal("ready", h.psql(db, "SELECT node_state FROM backends WHERE agent_ref = 'live-node'"))
    -- the agent goes quiet: after its heartbeat is older than 1.5 s the next poll is the source
    h.wait_until(function() return counts() == "0/0" end, 4, 0.1)
    assert.equal("0/0", counts())
  end)

  it("never lets a snapshot taken before an event overwrite it", function()
    -- no fresh agent (the polls are the source), and a slow node: a poll asks, an event
    -- arrives, then the poll's older answer lands
    h.sleep(1.6)
    h.sim_req(sim, "POST", "/sim/mode?delay_ms=800")
    h.sim_req(sim, "DELETE", "/sim/requests")
    h.wait_until(function() return polls() > 0 end, 3, 0.02)
    local asked = h.psql(db, "SELECT extract(epoch FROM now())")
    events({ created("int-live-2", "direct-live-2"), joined("int-live-2", "w_live2") })
    h.wait_until(function()
      return tonumber(h.psql(db, "SELECT extract(epoch FROM polled_at) FROM backends WHERE agent_ref = 'live-node'"))
        > tonumber(asked)
    end, 3, 0.02)
    h.sim_req(sim, "POST", "/sim/mode?fail=none")
    -- the poll that began before the event left it alone
    assert.equal("1", h.psql(db, "SELECT count(*) FROM node_meetings WHERE internal_id = 'int-live-2'"))
    -- a poll that began after it is newer news: the node has no such meeting
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM node_meetings WHERE internal_id = 'int-live-2'") == "0"
    end, 3, 0.05)
  end)

  it("keys a snapshot's attendees by BBB's internal user id, so a later leave finds them", function()
    beat()
    local q = h.sign("create", "name=Keyed&meetingID=keyed", sim.secret)
    h.get(sim.url .. "create?" .. q)
    local st, body = h.get(h.sim_api(sim, "join", "fullName=Ann&meetingID=keyed&role=VIEWER&userID=ext-ann&redirect=false"))
    assert.equal(200, st)
    local user = h.xml_text(body, "user_id")
    assert.truthy(user and user:match("^w_"), body)
    local _, xml = h.get(h.sim_api(sim, "getMeetings", ""))
    post("/api/v1/agent/state?fetched_at=" .. string.format("%d", h.now() * 1000), xml, "application/xml")
    local int = h.xml_text(xml, "internalMeetingID")
    assert.equal("1/1", counts())
    events({ left(int, user) })
    assert.equal("1/0", counts())
  end)
end)
