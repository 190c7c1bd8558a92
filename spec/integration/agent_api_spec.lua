-- The agent endpoints of b3scaled, fed the way b3scaleagent feeds them: heartbeats, the
-- node's getMeetings answer, and BBB's Redis messages as NDJSON (from a real node's dump).
local h = require("helpers")
local jwt = require("b3scalectl.jwt")
local R = require("support.redis")

local JWT_SECRET = "agent-api-jwt-secret"
local INTERNAL = "dfd4f52aa82afed916e9d0c0f26d6b0487f60082-1605982450209"

local function dump_messages()
  return R.read_dump(R.DUMP)
end

local function post(d, path, body, ctype, token)
  return h.http("POST", d.url .. path, body, { ["content-type"] = ctype,
    authorization = "Bearer " .. token })
end

-- as b3scaleagent posts it: the state as of the moment it fetched it
local function state_path()
  return "/api/v1/agent/state?fetched_at=" .. string.format("%d", h.now() * 1000)
end

local function row(db, cols)
  return h.psql(db, "SELECT " .. cols .. " FROM backends WHERE agent_ref = 'node-a'")
end


describe("agent endpoints", function()
  local db, d, sim, node_token, other_token

  setup(function()
    db = h.new_db("agentapi")
    h.migrate(db)
    sim = h.bbbsim({ name = "agentnode" })
    h.psql(db, string.format("INSERT INTO backends (host, secret, agent_ref) VALUES ('%s', '%s', 'node-a')",
      sim.url, sim.secret))
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('fe', 'fe-secret')")
    -- polling off: only the agent's reports move the numbers here
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT_SECRET, B3SCALE_POLL_WORKERS = "0",
      B3SCALE_AGENT_MAX_AGE_MS = "1500" } })
    node_token = jwt.mint(JWT_SECRET, "node-a", { "b3scale:node" }, 600)
    other_token = jwt.mint(JWT_SECRET, "node-b", { "b3scale:node" }, 600)
  end)

  teardown(function()
    if d then assert.equal(0, h.stop(d)) end
    h.cleanup()
  end)

  it("shows an agent its own backend only", function()
    local st, body = h.get(d.url .. "/api/v1/agent/backend", { authorization = "Bearer " .. node_token })
    assert.equal(200, st)
    assert.equal(sim.url, h.cjson.decode(body).bbb.host)
    st = h.get(d.url .. "/api/v1/agent/backend", { authorization = "Bearer " .. other_token })
    assert.equal(404, st)
    local tenant = jwt.mint(JWT_SECRET, "node-a", { "b3scale" }, 600)
    st = h.get(d.url .. "/api/v1/agent/backend", { authorization = "Bearer " .. tenant })
    assert.equal(403, st)
  end)

  it("makes a node with a stale heartbeat ineligible and a beating one eligible again", function()
    local function create(id)
      local q = h.sign("create", "name=Beat&meetingID=" .. id, "fe-secret")
      local _, b = h.get(d.url .. "/bbb/fe/api/create?" .. q)
      return h.xml_text(b, "returncode"), h.xml_text(b, "messageKey")
    end
    -- never beaten: a node with an agent is not trusted with new meetings
    assert.equal("FAILED", (create("beat-0")))
    local st, body = post(d, "/api/v1/agent/heartbeat", '{"cpu":0.25,"mem":0.5}', "application/json", node_token)
    assert.equal(200, st, body)
    assert.equal("SUCCESS", (create("beat-1")))
    assert.equal("0.25|0.5", row(db, "agent_cpu || '|' || agent_mem"))
    h.sleep(1.7)
    assert.equal("FAILED", (create("beat-2")))
    post(d, "/api/v1/agent/heartbeat", "", "application/json", node_token)
    assert.equal("SUCCESS", (create("beat-3")))
  end)

  it("applies the node's full state like a poll", function()
    local q = h.sign("create", "name=Polled&meetingID=" .. h.urlencode("fe~direct"), sim.secret)
    h.get(sim.url .. "create?" .. q)
    h.sim_req(sim, "POST", "/sim/attendees?meetingID=fe~direct&count=4")
    local _, xml = h.get(h.sim_api(sim, "getMeetings", ""))
    local st, body = post(d, state_path(), xml, "application/xml", node_token)
    assert.equal(200, st, body)
    -- beat-1 and beat-3 were created through the balancer, "direct" on the node itself
    assert.equal(tostring(#h.sim_get(sim, "/sim/meetings")), row(db, "meetings_count"))
    assert.equal("4", row(db, "attendees_count"))
    st = post(d, "/api/v1/agent/state", "<response>broken", "application/xml", node_token)
    assert.equal(400, st)
  end)

  it("ends with the real node's numbers after replaying its Redis traffic", function()
    -- start from an empty node, as the dump does
    for _, m in ipairs(h.sim_get(sim, "/sim/meetings")) do
      h.get(h.sim_api(sim, "end", "meetingID=" .. h.urlencode(m.meetingID)))
    end
    local _, xml = h.get(h.sim_api(sim, "getMeetings", ""))
    post(d, state_path(), xml, "application/xml", node_token)
    assert.equal("0|0", row(db, "meetings_count || '|' || attendees_count"))
    local lines = {}
    for _, m in ipairs(dump_messages()) do lines[#lines + 1] = m.payload end
    local st, body = post(d, "/api/v1/agent/events", table.concat(lines, "\n"),
      "application/x-ndjson", node_token)
    assert.equal(200, st, body)
    local res = h.cjson.decode(body)
    assert.is_true(res.applied > 0 and res.ignored > res.applied)
    -- the dump: one meeting; kunz joins, joins voice, leaves voice, leaves; joins again,
    -- joins voice, leaves voice: one attendee left, nobody in the voice conference
    assert.equal("1", row(db, "meetings_count"))
    assert.equal("1", row(db, "attendees_count"))
    assert.equal("0", row(db, "voice_count"))
    assert.equal("Home Room", h.psql(db, "SELECT name FROM node_meetings WHERE internal_id = '" .. INTERNAL .. "'"))
  end)

  it("follows joins, leaves, voice, listen-only and webcams by BBB's user id", function()
    local mid = "m-synthetic-1"
    local function msg(name, header, body)
      return h.cjson.encode({ envelope = { name = name }, core = { header = header, body = body } })
    end
    local ev = {
      msg("MeetingCreatedEvtMsg", { name = "MeetingCreatedEvtMsg" },
        { props = { meetingProp = { name = "Synth", extId = "fe~synth", intId = mid, isBreakout = false } } }),
      msg("UserJoinedMeetingEvtMsg", { meetingId = mid, userId = "w_a" }, { intId = "w_a", role = "MODERATOR" }),
      msg("UserJoinedMeetingEvtMsg", { meetingId = mid, userId = "w_b" }, { intId = "w_b", role = "VIEWER" }),
      msg("UserJoinedMeetingEvtMsg", { meetingId = mid, userId = "w_c" }, { intId = "w_c", role = "VIEWER" }),
      msg("UserJoinedVoiceConfToClientEvtMsg", { meetingId = mid, userId = "w_a" }, { intId = "w_a", listenOnly = false }),
      msg("UserJoinedVoiceConfToClientEvtMsg", { meetingId = mid, userId = "w_b" }, { intId = "w_b", listenOnly = true }),
      msg("UserBroadcastCamStartedEvtMsg", { meetingId = mid, userId = "w_a" }, { userId = "w_a" }),
      msg("UserBroadcastCamStartedEvtMsg", { meetingId = mid, userId = "w_c" }, { userId = "w_c" }),
      msg("UserBroadcastCamStoppedEvtMsg", { meetingId = mid, userId = "w_c" }, { userId = "w_c" }),
      msg("UserLeftMeetingEvtMsg", { meetingId = mid, userId = "w_c" }, { intId = "w_c" }),
      msg("UserLeftMeetingEvtMsg", { meetingId = mid, userId = "w_c" }, { intId = "w_c" }),
      "not json at all",
      msg("SendCursorPositionPubMsg", { meetingId = mid }, {}),
    }
    local st, body = post(d, "/api/v1/agent/events", table.concat(ev, "\n"), "application/x-ndjson", node_token)
    assert.equal(200, st, body)
    local n = "SELECT %s FROM node_meetings WHERE internal_id = '" .. mid .. "'"
    assert.equal("2", h.psql(db, n:format("(SELECT count(*) FROM jsonb_object_keys(attendees))")))
    -- meetings: the dump's and this one; attendees 1 + 2; voice: w_a; listen-only: w_b;
    -- webcams: w_a (w_c's stopped, and w_c left twice without going negative)
    assert.equal("2|3|1|1|1", row(db,
      "meetings_count || '|' || attendees_count || '|' || voice_count || '|' || listener_count || '|' || video_count"))
    ev = {
      msg("UserLeftVoiceConfToClientEvtMsg", { meetingId = mid, userId = "w_a" }, { intId = "w_a" }),
      msg("MeetingEndedEvtMsg", { name = "MeetingEndedEvtMsg" }, { meetingId = INTERNAL }),
    }
    st = post(d, "/api/v1/agent/events", table.concat(ev, "\n"), "application/x-ndjson", node_token)
    assert.equal(200, st)
    assert.equal("1|2|0|1", row(db, "meetings_count || '|' || attendees_count || '|' || voice_count || '|' || listener_count"))
  end)

  it("records a meeting's internal id from its MeetingCreated event before the create answer is stored", function()
    h.psql(db, "INSERT INTO meetings (frontend_id, meeting_id, backend_meeting_id, backend_id, create_query)"
      .. " SELECT f.id, 'early', 'fe~early', b.id, 'meetingID=fe~early&name=Early' FROM frontends f, backends b"
      .. " WHERE f.key = 'fe' AND b.agent_ref = 'node-a'")
    local ev = h.cjson.encode({ envelope = { name = "MeetingCreatedEvtMsg" }, core = { header = {},
      body = { props = { meetingProp = { name = "Early", extId = "fe~early", intId = "int-early" } } } } })
    local st = post(d, "/api/v1/agent/events", ev, "application/x-ndjson", node_token)
    assert.equal(200, st)
    assert.equal("int-early", h.psql(db, "SELECT internal_id FROM meetings WHERE meeting_id = 'early'"))
  end)

  it("refuses other scopes and other nodes' reports", function()
    local tenant = jwt.mint(JWT_SECRET, "node-a", { "b3scale" }, 600)
    assert.equal(403, (post(d, "/api/v1/agent/events", "", "application/x-ndjson", tenant)))
    assert.equal(404, (post(d, "/api/v1/agent/heartbeat", "", "application/json", other_token)))
  end)
end)
