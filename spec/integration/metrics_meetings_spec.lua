-- B3SCALE_METRICS_MEETING_LABELS=1: b3scale's per-meeting series, for operators who want them.
local h = require("helpers")
local cluster = require("support.cluster")

describe("per-meeting metrics (opt-in)", function()
  local db, d, sim

  setup(function()
    db = h.new_db("permeeting")
    h.migrate(db)
    sim = h.bbbsim({ name = "pm" })
    cluster.register(db, { sim }, "fe", "pm-secret")
    d = h.daemon({ db = db, env = { B3SCALE_METRICS_MEETING_LABELS = "1", B3SCALE_POLL_INTERVAL_MS = "200" } })
  end)

  teardown(function()
    if d then assert.equal(0, h.stop(d)) end
    h.cleanup()
  end)

  it("labels b3scale_meeting_attendees with the frontend's meeting ID", function()
    h.get(h.api_url(h.frontend_api(d, "fe"), "create", "name=Labelled&meetingID=" .. h.urlencode('a "quoted" room'), "pm-secret"))
    h.sim_req(sim, "POST", "/sim/attendees?meetingID=" .. h.urlencode('fe~a "quoted" room') .. "&count=3")
    local want = 'b3scale_meeting_attendees{frontend="fe",backend="' .. sim.url
      .. '",meeting="a \\"quoted\\" room",type="audio"}'
    assert(h.wait_until(function()
      local _, body = h.get(d.url .. "/metrics")
      local line = body:match("\n(" .. want:gsub("[%p]", "%%%0") .. " %d+)")
      return line and tonumber(line:match(" (%d+)$")) + 0 > 0
    end, 5), "no per-meeting series")
  end)
end)
