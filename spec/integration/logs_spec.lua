-- Logs as operators read them: one event per line, JSON when asked, never a secret.
local h = require("helpers")

describe("structured logs", function()
  local db, d, sim

  setup(function()
    db = h.new_db("logs")
    h.migrate(db)
    sim = h.bbbsim({ name = "logsim" })
    h.psql(db, string.format("INSERT INTO backends (host, secret) VALUES ('%s', '%s')", sim.url, sim.secret))
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('fe', 'fe-log-secret')")
    d = h.daemon({ db = db, env = { B3SCALE_LOG_FORMAT = "json", B3SCALE_LOG_LEVEL = "info" } })
  end)

  teardown(function()
    if d then assert.equal(0, h.stop(d)) end
    h.cleanup()
  end)

  it("writes every line as a JSON object with ts, lvl, subsys and the event's fields", function()
    local api = h.frontend_api(d, "fe")
    h.get(h.api_url(api, "create", "name=Logged&meetingID=logged", "fe-log-secret"))
    h.get(h.api_url(api, "create", "name=Bad&meetingID=bad", "wrong-secret"))
    h.get(h.api_url(api, "join", "fullName=A+%22quoted%22&meetingID=logged&role=VIEWER", "fe-log-secret"))
    local lines, access, placed = 0, {}, nil
    for line in h.read_file(d.log):gmatch("[^\n]+") do
      lines = lines + 1
      local ev = h.cjson.decode(line)
      assert.is_table(ev, line)
      assert.is_string(ev.ts)
      assert.is_string(ev.lvl)
      assert.is_string(ev.subsys)
      if ev.subsys == "access" then access[#access + 1] = ev end
      if ev.event == "placed" then placed = ev end
    end
    assert.is_true(lines >= 4)
    assert.equal("create", access[1].call)
    assert.equal("fe", access[1].frontend)
    assert.equal("SUCCESS", access[1].outcome)
    assert.equal("logged", access[1].meeting)
    assert.equal("checksumError", access[2].outcome)
    -- as the request named it, verified or not (escaped like every value)
    assert.equal("bad", access[2].meeting)
    assert.equal("redirect", access[3].outcome)
    assert.equal("logged", access[3].meeting)
    assert.equal(sim.url, placed.backend)
    assert.equal("least_load", placed.policy)
  end)

  it("never logs a secret, a checksum or a signed URL", function()
    local log = h.read_file(d.log)
    assert.is_nil(log:find("fe-log-secret", 1, true))
    assert.is_nil(log:find(sim.secret, 1, true))
    assert.is_nil(log:find("checksum=", 1, true))
  end)
end)
