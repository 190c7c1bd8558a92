-- A frontend's meetings_limit (docs/frontend-settings.md): a create of a new meeting beyond it
-- is refused BBB's way, exactly N meetings exist whatever the concurrency, a repeated create of
-- a running meeting always goes through, breakout rooms do not count, and the admin API
-- refuses a limit of the wrong shape.
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")

local JWT = "tenant-limits-jwt-" .. h.random_hex(8)
local ADMIN = tokens.hs384(JWT, "root", "b3scale:admin")

describe("meetings_limit", function()
  local sims, db, d

  local function create(key, mid)
    local st, body = h.get(h.api_url(h.frontend_api(d, key), "create",
      "name=Room&meetingID=" .. h.urlencode(mid), key .. "-secret"))
    assert.equal(200, st)
    return body
  end

  local function rows(key)
    return tonumber(h.psql(db, "SELECT count(*) FROM meetings m JOIN frontends f"
      .. " ON f.id = m.frontend_id WHERE f.key = '" .. key .. "'"))
  end

  local function on_nodes(key)
    local n = 0
    for _, s in ipairs(sims) do
      for _, m in ipairs(h.sim_get(s, "/sim/meetings")) do
        if m.meetingID:sub(1, #key + 1) == key .. "~" then n = n + 1 end
      end
    end
    return n
  end

  local function frontend(key, settings)
    h.psql(db, string.format("INSERT INTO frontends (key, secret, settings) VALUES"
      .. " ('%s', '%s-secret', '%s')", key, key, settings))
  end

  local function limit_hits()
    local st, body = h.get(d.url .. "/metrics")
    assert.equal(200, st)
    return tonumber(body:match('\nb3scale_bbb_requests_total{call="create",outcome="limit_reached"} (%d+)'))
  end

  setup(function()
    sims = { h.bbbsim({ name = "lim1" }), h.bbbsim({ name = "lim2" }) }
    db = h.new_db("tenant_limits")
    h.migrate(db)
    cluster.register(db, sims, "free", "free-secret")
    frontend("two", '{"meetings_limit": {"limit": 2}}')
    frontend("storm", '{"meetings_limit": 5}')
    frontend("brk", '{"meetings_limit": 2}')
    frontend("off", '{"meetings_limit": 0}')
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT,
      B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_POLL_WORKERS = "1" } })
    cluster.settled(d, db)
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("refuses a new meeting beyond the limit with maxMeetingsReached, and counts it", function()
    local hits = limit_hits()
    for _, mid in ipairs({ "m-a", "m-b" }) do
      local body = create("two", mid)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    local body = create("two", "m-c")
    assert.equal("FAILED", h.xml_text(body, "returncode"), body)
    assert.equal("maxMeetingsReached", h.xml_text(body, "messageKey"))
    assert.equal("The meeting limit of this frontend has been reached.", h.xml_text(body, "message"))
    assert.equal(2, rows("two"))
    assert.equal(2, on_nodes("two"))
    assert.equal(hits + 1, limit_hits())
    -- a frontend without a limit (absent or 0) is not held back by another one's
    for i = 1, 3 do
      assert.equal("SUCCESS", h.xml_text(create("free", "f" .. i), "returncode"))
      assert.equal("SUCCESS", h.xml_text(create("off", "o" .. i), "returncode"))
    end
  end)

  it("never refuses a repeated create of a meeting the frontend has", function()
    assert.equal(2, rows("two"))
    local body = create("two", "m-a")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(2, rows("two"))
    assert.equal(2, on_nodes("two"))
  end)

  it("makes room again once a meeting has ended", function()
    local st, body = h.get(h.api_url(h.frontend_api(d, "two"), "end", "meetingID=m-b", "two-secret"))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.truthy(h.wait_until(function() return rows("two") == 1 end, 10, 0.05),
      "the ended meeting's row stays")
    body = create("two", "m-c")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal("maxMeetingsReached", h.xml_text(create("two", "m-d"), "messageKey"))
  end)

  it("holds under concurrency: 20 creates at once for a limit of 5 make exactly 5 meetings", function()
    local dir = h.tmpdir() .. "/limit-storm-" .. h.random_hex(4)
    os.execute("mkdir -p " .. dir)
    local cfg = {}
    for i = 1, 20 do
      local url = h.api_url(h.frontend_api(d, "storm"), "create",
        "name=Storm&meetingID=s" .. i, "storm-secret")
      cfg[#cfg + 1] = string.format('url = "%s"\noutput = "%s/%d"', url, dir, i)
    end
    h.write_file(dir .. "/curlrc", table.concat(cfg, "\n") .. "\n")
    local code = h.run({ "curl", "-s", "-m", "20", "--parallel", "--parallel-immediate",
      "--parallel-max", "20", "-K", dir .. "/curlrc" }, {}, 30)
    assert.equal(0, code, "curl failed")
    local won, refused = {}, 0
    for i = 1, 20 do
      local body = h.read_file(dir .. "/" .. i) or ""
      if h.xml_text(body, "returncode") == "SUCCESS" then
        won[#won + 1] = "s" .. i
      else
        assert.equal("maxMeetingsReached", h.xml_text(body, "messageKey"), body)
        refused = refused + 1
      end
    end
    assert.equal(5, #won)
    assert.equal(15, refused)
    assert.equal(5, rows("storm"))
    assert.equal(5, on_nodes("storm"))
    -- and the five winners' creates, repeated at once, all go through
    cfg = {}
    for i, mid in ipairs(won) do
      local url = h.api_url(h.frontend_api(d, "storm"), "create",
        "name=Storm&meetingID=" .. mid, "storm-secret")
      cfg[#cfg + 1] = string.format('url = "%s"\noutput = "%s/again-%d"', url, dir, i)
    end
    h.write_file(dir .. "/curlrc2", table.concat(cfg, "\n") .. "\n")
    code = h.run({ "curl", "-s", "-m", "20", "--parallel", "--parallel-immediate",
      "--parallel-max", "5", "-K", dir .. "/curlrc2" }, {}, 30)
    assert.equal(0, code, "curl failed")
    for i = 1, #won do
      local body = h.read_file(dir .. "/again-" .. i) or ""
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    assert.equal(5, rows("storm"))
  end)

  it("does not count breakout rooms", function()
    local body = create("brk", "lecture")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    local parent = h.xml_text(body, "internalMeetingID")
    local sim = cluster.holder(sims, "brk", "lecture")
    for i = 1, 2 do
      local _, st = h.sim_req(sim, "POST", "/sim/breakout?meetingID=" .. h.urlencode("brk~lecture")
        .. "&sequence=" .. i)
      assert.equal(200, st)
    end
    assert.truthy(h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM node_meetings WHERE parent_id = '" .. parent .. "'") == "2"
    end, 10, 0.05), "the breakout rooms were not seen")
    -- the frontend sees three meetings, and may still open its second one
    local _, list = h.get(h.api_url(h.frontend_api(d, "brk"), "getMeetings", "", "brk-secret"))
    assert.equal(3, select(2, list:gsub("<meeting>", "")))
    assert.equal("SUCCESS", h.xml_text(create("brk", "seminar"), "returncode"))
    assert.equal("maxMeetingsReached", h.xml_text(create("brk", "third"), "messageKey"))
  end)

  it("follows a changed limit at the next create", function()
    h.psql(db, "UPDATE frontends SET settings = '{\"meetings_limit\": {\"limit\": 3}}' WHERE key = 'two'")
    assert.equal("SUCCESS", h.xml_text(create("two", "m-d"), "returncode"))
    assert.equal("maxMeetingsReached", h.xml_text(create("two", "m-e"), "messageKey"))
  end)

  it("is validated by the admin API", function()
    local st, list = tokens.request(d.url, "GET", "/api/v1/frontends?key=free", ADMIN)
    assert.equal(200, st)
    local path = "/api/v1/frontends/" .. list[1].id
    local cases = {
      { -1, "settings.meetings_limit", "must be >= 0" },
      { "5", "settings.meetings_limit", "must be an integer" },
      { 2.5, "settings.meetings_limit", "must be an integer" },
      { { limit = -3 }, "settings.meetings_limit.limit", "must be >= 0" },
      { { limit = 3, max = 4 }, "settings.meetings_limit.max", nil },
      { 2147483648, "settings.meetings_limit", "must be <= 2147483647" },
    }
    for _, c in ipairs(cases) do
      local s, b = tokens.request(d.url, "PATCH", path, ADMIN, { settings = { meetings_limit = c[1] } })
      assert.equal(400, s, h.cjson.encode(b))
      assert.truthy(b.fields and b.fields[c[2]], h.cjson.encode(b))
      if c[3] then assert.same({ c[3] }, b.fields[c[2]]) end
    end
    for _, good in ipairs({ 4, { limit = 4 }, 0 }) do
      local s, b = tokens.request(d.url, "PATCH", path, ADMIN, { settings = { meetings_limit = good } })
      assert.equal(200, s, h.cjson.encode(b))
    end
  end)
end)
