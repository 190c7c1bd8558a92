-- A poller records a batch of answers one after another; the last is recorded well after
-- its node answered. Meetings created on that node meanwhile are not in the answer, and must
-- not be taken for gone: every create that answered SUCCESS keeps its row, with the create
-- call it was made with (not an adopted stand-in).
local h = require("helpers")

local FE_SECRET = "pollrace-fe-secret"
local NODES = 120

describe("creates while a batch of polls is recorded", function()
  local sim, db, d

  setup(function()
    sim = h.bbbsim({ name = "many", secret = "many-secret", args = { "--nodes", tostring(NODES), "--quiet" } })
    db = h.new_db("pollrace")
    h.migrate(db)
    h.psql(db, string.format("INSERT INTO backends (host, secret) SELECT '%s/n/' || i || '/bigbluebutton/api/',"
      .. " 'many-secret' FROM generate_series(0, %d) i", sim.base, NODES - 1))
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('fe', '" .. FE_SECRET .. "')")
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "300", B3SCALE_POLL_WORKERS = "1",
      B3SCALE_LOG_LEVEL = "info" } })
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM backends WHERE node_state = 'ready'") == tostring(NODES)
    end, 20, 0.2)
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("loses no meeting row", function()
    local api = h.frontend_api(d, "fe")
    local ok = 0
    local t_end = h.now() + 6
    local i = 0
    while h.now() < t_end do
      i = i + 1
      local st, body = h.get(h.api_url(api, "create", "name=Race&meetingID=race-" .. i .. "&moderatorPW=mod-" .. i, FE_SECRET))
      if st == 200 and h.xml_text(body, "returncode") == "SUCCESS" then ok = ok + 1 end
    end
    h.sleep(1) -- polls of every node, all recorded
    print(string.format("# %d creates answered SUCCESS over %d polled nodes", ok, NODES))
    assert.equal(i, ok)
    assert.equal(tostring(ok), h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id LIKE 'race-%'"))
    -- each row still holds the create call it was made with
    assert.equal("0", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id LIKE 'race-%'"
      .. " AND create_query NOT LIKE '%moderatorPW=mod-%'"))
    assert.is_nil((h.read_file(d.log) or ""):find("event=adopted", 1, true))
  end)
end)
