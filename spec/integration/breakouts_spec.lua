-- Breakout rooms: BBB opens them itself under IDs of its own (outside every frontend's
-- namespace). They reach the frontend whose meeting they were opened in, and only that one:
-- in getMeetings, in getMeetingInfo and isMeetingRunning under BBB's IDs, and in the node's load.
local h = require("helpers")
local cluster = require("support.cluster")

local FE_SECRET = "breakout-fe-secret"

describe("breakout rooms", function()
  local sim, db, d, rooms, parent

  local function api(key, secret, call, query)
    local st, body = h.get(h.api_url(h.frontend_api(d, key), call, query, secret))
    assert.equal(200, st)
    return body
  end

  setup(function()
    sim = h.bbbsim({ name = "breakouts" })
    db = h.new_db("breakouts")
    h.migrate(db)
    cluster.register(db, { sim }, "fe", FE_SECRET)
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('other', 'other-secret')")
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_POLL_WORKERS = "1" } })
    local body = api("fe", FE_SECRET, "create", "name=Lecture&meetingID=lecture")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    parent = h.xml_text(body, "internalMeetingID")
    rooms = {}
    for i = 1, 2 do
      local r, st = h.sim_req(sim, "POST", "/sim/breakout?meetingID=" .. h.urlencode("fe~lecture") .. "&sequence=" .. i)
      assert.equal(200, st)
      rooms[i] = r
    end
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM node_meetings WHERE parent_id = '" .. parent .. "'") == "2"
    end, 5, 0.1)
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("are listed by getMeetings for the frontend of their parent, and for no other", function()
    local body = api("fe", FE_SECRET, "getMeetings", "")
    assert.equal(3, select(2, body:gsub("<meeting>", "")))
    for _, r in ipairs(rooms) do
      local b
      for m in body:gmatch("<meeting>(.-)</meeting>") do
        if h.xml_text(m, "meetingID") == r.meetingID then b = m end
      end
      assert.truthy(b, body)
      assert.equal("true", h.xml_text(b, "isBreakout"))
      assert.equal(parent, h.xml_text(b, "parentMeetingID"))
    end
    body = api("other", "other-secret", "getMeetings", "")
    assert.equal("noMeetings", h.xml_text(body, "messageKey"))
  end)

  it("answer getMeetingInfo and isMeetingRunning from their node under BBB's IDs", function()
    local body = api("fe", FE_SECRET, "getMeetingInfo", "meetingID=" .. h.urlencode(rooms[1].meetingID))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(rooms[1].meetingID, h.xml_text(body, "meetingID"))
    assert.equal("true", h.xml_text(body, "isBreakout"))
    assert.equal("1", h.xml_text(body, "sequence"))
    body = api("fe", FE_SECRET, "isMeetingRunning", "meetingID=" .. h.urlencode(rooms[2].meetingID))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    -- the parent shows its rooms, as BBB does
    body = api("fe", FE_SECRET, "getMeetingInfo", "meetingID=lecture")
    for _, r in ipairs(rooms) do
      assert.truthy(body:find("<breakout>" .. r.internalMeetingID .. "</breakout>", 1, true), body)
    end
    -- another frontend learns nothing about them
    body = api("other", "other-secret", "getMeetingInfo", "meetingID=" .. h.urlencode(rooms[1].meetingID))
    assert.equal("notFound", h.xml_text(body, "messageKey"))
  end)

  it("count toward their node's load like any meeting", function()
    assert.equal("3", h.psql(db, "SELECT meetings_count FROM backends"))
  end)
end)
