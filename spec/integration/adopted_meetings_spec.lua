-- A meeting adopted through POST /api/v1/meetings keeps the ID it runs under on its node
-- (b3scale's base64url of [key, id, "b3scl"]), outside the "<key>~" namespace. The frontend
-- must not notice: a repeated create reaches the running meeting, answers carry the
-- frontend's own ID, getMeetings lists it and tenant webhooks report it (docs/switching.md).
local h = require("helpers")
local cluster = require("support.cluster")
local receiver = require("support.receiver")
local tokens = require("support.tokens")
local jwt = require("b3scalectl.jwt")
local cjson = h.cjson

local SECRET = "adopt-fe-secret-" .. h.random_hex(4)
local JWT_SECRET = "adopt-jwt-" .. h.random_hex(8)
local HOOK_SECRET = "adopt-hook-secret"

local function has(s, needle) return s:find(needle, 1, true) ~= nil end

-- b3scale's node ID for a frontend's meeting: base64url, padded, of [key, id, "b3scl"]
local function b3s_id(key, id)
  local b = jwt.b64url(cjson.encode({ key, id, "b3scl" }))
  return b .. string.rep("=", (4 - #b % 4) % 4)
end

-- the <meeting> element of one meeting ID in a getMeetings answer
local function block(body, id)
  for b in body:gmatch("<meeting>(.-)</meeting>") do
    if h.xml_text(b, "meetingID") == id then return b end
  end
end

describe("a meeting adopted under a node ID of its own", function()
  local sim, db, d, rcv
  local node_id = b3s_id("acme", "room-1")
  local internal

  local function api(call, query)
    return h.get(h.api_url(h.frontend_api(d, "acme"), call, query, SECRET))
  end

  local function node_meetings()
    return h.sim_get(sim, "/sim/meetings") or {}
  end

  -- the webhook deliveries so far, checked for their signature
  local function events()
    local out = {}
    for _, r in ipairs(receiver.requests(rcv, "/hook")) do
      assert.equal("sha256=" .. tokens.hmac_hex("HS256", HOOK_SECRET, r.body),
        r.headers["x-b3scale-signature"])
      out[#out + 1] = cjson.decode(r.body)
    end
    return out
  end

  local function named(list, name)
    local out = {}
    for _, e in ipairs(list) do
      if e.event == name then out[#out + 1] = e end
    end
    return out
  end

  setup(function()
    rcv = receiver.start()
    sim = h.bbbsim({ name = "ad1" })
    db = h.new_db("adopted")
    h.migrate(db)
    cluster.register(db, { sim }, "acme", SECRET, cjson.encode({ webhooks = {
      { url = rcv.url .. "/hook", secret = HOOK_SECRET,
        events = { "meeting-created", "meeting-started", "meeting-ended", "user-joined",
          "user-left" } } } }))
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT_SECRET,
      B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_CALLBACK_ALLOWED_NETWORKS = "127.0.0.0/8" } })
    cluster.settled(d, db)

    -- running on the node as b3scale created it there
    local st, body = h.get(h.sim_api(sim, "create", "name=Room+One&meetingID="
      .. h.urlencode(node_id) .. "&attendeePW=ap&moderatorPW=mp"))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    internal = h.xml_text(body, "internalMeetingID")

    -- and adopted, as b3scalectl import b3scale does
    local token = jwt.mint(JWT_SECRET, "root", { "b3scale:admin" }, 300)
    local raw
    st, raw = h.http("POST", d.url .. "/api/v1/meetings", cjson.encode({
      frontend = "acme", meeting_id = "room-1", backend = sim.url, backend_meeting_id = node_id,
      name = "Room One", attendee_pw = "ap", moderator_pw = "mp", internal_id = internal }),
      { authorization = "Bearer " .. token, ["content-type"] = "application/json" })
    assert.equal(201, st, raw)
  end)

  teardown(function()
    if d then h.stop(d) end
    if rcv then receiver.stop(rcv) end
    h.cleanup()
  end)

  it("answers a repeated create with the running meeting, not a second one", function()
    -- Greenlight and Moodle create before every join, with the meeting's own parameters
    local st, body = api("create", "name=Room+One&meetingID=room-1&attendeePW=ap&moderatorPW=mp")
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal("duplicateWarning", h.xml_text(body, "messageKey"), body)
    assert.equal(internal, h.xml_text(body, "internalMeetingID"))
    local ms = node_meetings()
    assert.equal(1, #ms, cjson.encode(ms))
    assert.equal(node_id, ms[1].meetingID)
    -- the row still names the adopted meeting, and joins reach it
    assert.equal(node_id .. "|" .. internal, h.psql(db,
      "SELECT backend_meeting_id || '|' || internal_id FROM meetings WHERE meeting_id = 'room-1'"))
    local _, _, hd = api("join", "fullName=Ann&meetingID=room-1&role=MODERATOR")
    assert.truthy(has(hd.location or "", "meetingID=" .. h.urlencode(node_id)), hd.location)
  end)

  it("shows the frontend its own meeting ID in getMeetingInfo and create answers", function()
    local st, body = api("getMeetingInfo", "meetingID=room-1")
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal("room-1", h.xml_text(body, "meetingID"), body)
    assert.equal(internal, h.xml_text(body, "internalMeetingID"))
    assert.falsy(has(body, node_id), body)
    st, body = api("create", "name=Room+One&meetingID=room-1")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal("room-1", h.xml_text(body, "meetingID"), body)
    assert.falsy(has(body, node_id), body)
  end)

  it("lists it in getMeetings under the frontend's ID, with its attendees and breakouts", function()
    local _, st = h.sim_req(sim, "POST", "/sim/attendees?meetingID=" .. h.urlencode(node_id)
      .. "&count=2")
    assert.equal(200, st)
    _, st = h.sim_req(sim, "POST", "/sim/breakout?meetingID=" .. h.urlencode(node_id)
      .. "&sequence=1")
    assert.equal(200, st)
    local body, b
    assert.truthy(h.wait_until(function()
      local code
      code, body = api("getMeetings", "")
      assert.equal(200, code)
      b = block(body, "room-1")
      return b and h.xml_text(b, "participantCount") == "2" and has(body, "<parentMeetingID>")
    end, 10, 0.1), "not listed with its attendees: " .. tostring(body))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(internal, h.xml_text(b, "internalMeetingID"))
    assert.equal(2, select(2, b:gsub("<attendee>", "")))
    -- and the breakout room opened in it (BBB names the parent by its internal ID)
    assert.equal(2, select(2, body:gsub("<meeting>", "")), body)
    assert.equal(internal, h.xml_text(body, "parentMeetingID"), body)
    assert.falsy(has(body, node_id), body)
    local br
    for m in body:gmatch("<meeting>(.-)</meeting>") do
      if h.xml_text(m, "isBreakout") == "true" then br = h.xml_text(m, "meetingID") end
    end
    local code, info = api("getMeetingInfo", "meetingID=" .. h.urlencode(br))
    assert.equal(200, code)
    assert.equal("SUCCESS", h.xml_text(info, "returncode"), info)
  end)

  it("sends the tenant's webhooks for it, meeting-ended included", function()
    local st, body = api("end", "meetingID=room-1")
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    local list
    assert.truthy(h.wait_until(function()
      list = events()
      return #named(list, "meeting-ended") >= 1
    end, 10, 0.1), "no meeting-ended: " .. cjson.encode(list or {}))
    local ended = named(list, "meeting-ended")
    assert.equal(1, #ended)
    assert.equal("room-1", ended[1].meeting_id)
    assert.equal(internal, ended[1].data.internal_meeting_id)
    assert.truthy(#named(list, "user-joined") >= 2, cjson.encode(list))
    for _, e in ipairs(list) do
      assert.equal("room-1", e.meeting_id)
      assert.falsy(has(cjson.encode(e), node_id), cjson.encode(e))
    end
  end)
end)
