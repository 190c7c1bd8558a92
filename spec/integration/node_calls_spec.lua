-- Calls to nodes reuse kept-alive connections from the node loop's pool: no new TCP (or TLS)
-- handshake per call, for proxied calls, the getMeetings fan-out and the poller alike.
local h = require("helpers")
local cluster = require("support.cluster")

local FE_SECRET = "keepalive-fe-secret"

local function connections(sim)
  return h.sim_get(sim, "/sim/stats").connections
end

describe("calls to nodes", function()
  local sims, d

  setup(function()
    sims = { h.bbbsim({ name = "ka1" }), h.bbbsim({ name = "ka2" }) }
    local db = h.new_db("keepalive")
    h.migrate(db)
    cluster.register(db, sims, "fe", FE_SECRET)
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_POLL_WORKERS = "1" } })
    for i = 1, 4 do
      local st, body = h.get(h.api_url(h.frontend_api(d, "fe"), "create",
        "name=Room&meetingID=ka-" .. i, FE_SECRET))
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("reuse pooled keep-alive connections", function()
    local before = { connections(sims[1]), connections(sims[2]) }
    local api = h.frontend_api(d, "fe")
    for i = 1, 40 do
      local st, body = h.get(h.api_url(api, "getMeetingInfo", "meetingID=ka-" .. (i % 4 + 1), FE_SECRET))
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
      st, body = h.get(h.api_url(api, "getMeetings", "", FE_SECRET))
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    h.sleep(1) -- several polls of each node meanwhile
    for i, s in ipairs(sims) do
      local opened = connections(s) - before[i]
      print(string.format("# %s: %d new connections", s.name, opened))
      -- 40 getMeetings, ~20 getMeetingInfo and ~5 polls per node over a handful of connections
      assert.is_true(opened <= 4, s.name .. " saw " .. opened .. " new connections for ~65 calls")
    end
  end)
end)
