-- The join route cache: joins are answered from memory, and every change to what they are
-- routed by (a frontend's secret, a meeting's node, a node's health) is honoured at once,
-- whichever instance or tool made it. The bound pinned here: 300 ms.
local h = require("helpers")
local cluster = require("support.cluster")

local BOUND = 0.3

local function join(d, secret, mid)
  return h.get(h.api_url(h.frontend_api(d, "fe"), "join", "fullName=Cache&meetingID=" .. mid
    .. "&role=VIEWER", secret))
end

local function create(d, secret, mid)
  local _, b = h.get(h.api_url(h.frontend_api(d, "fe"), "create", "name=Cached&meetingID=" .. mid, secret))
  return h.xml_text(b, "returncode")
end

-- waits at most BOUND for fn() to hold, and says how long it took
local function within_bound(fn)
  local t0 = h.now()
  local ok = h.wait_until(fn, BOUND, 0.01)
  return ok, h.now() - t0
end


describe("join route cache", function()
  local db, a, b, s1, s2

  setup(function()
    db = h.new_db("routes")
    h.migrate(db)
    s1, s2 = h.bbbsim({ name = "r1" }), h.bbbsim({ name = "r2" })
    cluster.register(db, { s1, s2 }, "fe", "old-secret")
    -- two instances on one database, polling slowly so only the changes below move things
    local env = { B3SCALE_POLL_INTERVAL_MS = "60000", B3SCALE_API_JWT_SECRET = "route-jwt" }
    a = h.daemon({ db = db, env = env })
    b = h.daemon({ db = db, env = env })
    assert.equal("SUCCESS", create(a, "old-secret", "room"))
  end)

  teardown(function()
    for _, d in ipairs({ a, b }) do
      if d then assert.equal(0, h.stop(d)) end
    end
    h.cleanup()
  end)

  it("honours a frontend's new secret on every instance at once", function()
    for _ = 1, 3 do
      assert.equal(302, (join(a, "old-secret", "room")))
      assert.equal(302, (join(b, "old-secret", "room")))
    end
    h.psql(db, "UPDATE frontends SET secret = 'new-secret' WHERE key = 'fe'")
    for _, d in ipairs({ a, b }) do
      local ok, took = within_bound(function() return join(d, "new-secret", "room") == 302 end)
      assert.is_true(ok, "new secret refused after " .. took .. " s")
      local st, body = join(d, "old-secret", "room")
      assert.equal(200, st)
      assert.equal("checksumError", h.xml_text(body, "messageKey"))
    end
  end)

  it("follows a meeting moved to another node at once", function()
    local st, _, hd = join(a, "new-secret", "room")
    assert.equal(302, st)
    local from, to = s1, s2
    if hd.location:sub(1, #s2.url) == s2.url then from, to = s2, s1 end
    h.psql(db, "UPDATE meetings SET backend_id = (SELECT id FROM backends WHERE host = '"
      .. to.url .. "') WHERE meeting_id = 'room'")
    for _, d in ipairs({ a, b }) do
      local ok, took = within_bound(function()
        local _, _, hh = join(d, "new-secret", "room")
        return hh.location and hh.location:sub(1, #to.url) == to.url
      end)
      assert.is_true(ok, "still sent to the old node after " .. took .. " s")
    end
  end)

  it("stops sending users to a node that became unavailable", function()
    local _, _, hd = join(b, "new-secret", "room")
    local node = hd.location:sub(1, #s1.url) == s1.url and s1 or s2
    h.psql(db, "UPDATE backends SET node_state = 'unavailable' WHERE host = '" .. node.url .. "'")
    local ok, took = within_bound(function()
      local _, _, hh = join(b, "new-secret", "room")
      return hh.location and hh.location:sub(1, #node.url) ~= node.url
    end)
    assert.is_true(ok, "still sent to the unavailable node after " .. took .. " s")
  end)

  it("honours a frontend disabled through the other instance's admin API", function()
    local tokens = require("support.tokens")
    local admin = tokens.hs384("route-jwt", "ops", "b3scale:admin")
    local _, body = h.get(a.url .. "/api/v1/frontends?key=fe", { authorization = "Bearer " .. admin })
    local id = h.cjson.decode(body)[1].id
    assert.equal(302, (join(b, "new-secret", "room")))
    local st = h.http("PATCH", a.url .. "/api/v1/frontends/" .. id, '{"active":false}',
      { authorization = "Bearer " .. admin, ["content-type"] = "application/json" })
    assert.equal(200, st)
    for _, d in ipairs({ a, b }) do
      local ok, took = within_bound(function()
        local s2t, bb = join(d, "new-secret", "room")
        return s2t == 200 and h.xml_text(bb, "messageKey") == "checksumError"
      end)
      assert.is_true(ok, "disabled frontend still served after " .. took .. " s")
    end
  end)
end)
