-- Placement reads the eligible backends from a snapshot each instance keeps in memory
-- (c/backend_view.c) and re-reads every B3SCALE_PLACEMENT_REFRESH_MS: creates make no read
-- of their own, a burst through one instance still spreads (its own placements count at
-- once), and whatever decides eligibility reaches the next create at once, whether an
-- operator changed it through this instance, another instance or plain SQL: the claim of
-- the meeting row compares the placement version its snapshot was read at (sql/0013).
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")

local FE_SECRET = "view-fe-secret"
local JWT = "view-jwt-secret"

local function metric(d, series)
  local st, body = h.get(d.url .. "/metrics")
  assert.equal(200, st)
  return tonumber(body:match("\n" .. series:gsub("[%p]", "%%%0") .. " (%d+)"))
end

local CREATE_READS = 'b3scale_placement_reads_total{kind="create"}'
local REFRESHES = 'b3scale_placement_reads_total{kind="refresher"}'

describe("the placement view", function()
  local sims, db, d, d2

  local function create(daemon, mid)
    local api = h.frontend_api(daemon, "fe")
    local st, body = h.get(h.api_url(api, "create", "name=Room&meetingID=" .. mid, FE_SECRET))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    return cluster.holder(sims, "fe", mid)
  end

  local function backend_id(sim)
    return h.psql(db, "SELECT id FROM backends WHERE host = '" .. sim.url .. "'")
  end

  setup(function()
    sims = { h.bbbsim({ name = "view1" }), h.bbbsim({ name = "view2" }), h.bbbsim({ name = "view3" }) }
    db = h.new_db("view")
    h.migrate(db)
    cluster.register(db, sims, "fe", FE_SECRET)
    local env = { B3SCALE_POLL_INTERVAL_MS = "60000", B3SCALE_API_JWT_SECRET = JWT }
    d = h.daemon({ db = db, env = env })
    d2 = h.daemon({ db = db, env = env })
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM backends WHERE node_state = 'ready'") == "3"
    end, 10, 0.1)
    -- both have read the nodes as ready
    h.wait_until(function() return metric(d, REFRESHES) >= 2 and metric(d2, REFRESHES) >= 2 end, 5)
  end)

  teardown(function()
    h.stop(d)
    h.stop(d2)
    h.cleanup()
  end)

  it("places 30 creates without reading the backends, spread as before", function()
    local before = metric(d, CREATE_READS)
    local on = {}
    for i = 1, 30 do
      local s = create(d, "quiet-" .. i)
      on[s.name] = (on[s.name] or 0) + 1
    end
    assert.equal(before, metric(d, CREATE_READS))
    -- least_load counted each placement at once, so the burst went round the three nodes
    -- (a refresh landing mid-burst may shift one; without the counting they would pile up)
    for _, s in ipairs(sims) do
      assert.is_true(on[s.name] ~= nil and on[s.name] >= 9 and on[s.name] <= 11,
        s.name .. " got " .. tostring(on[s.name]))
    end
  end)

  it("sends no create to a node stopped through another instance, from the next create on", function()
    local path = "/api/v1/backends/" .. backend_id(sims[1])
    tokens.must(200, tokens.request(d2.url, "PATCH", path, tokens.hs384(JWT, "root", "b3scale:admin"),
      { admin_state = "stopped" }))
    for i = 1, 6 do
      assert.are_not.equal(sims[1], create(d, "after-api-" .. i))
    end
    tokens.must(200, tokens.request(d2.url, "PATCH", path, tokens.hs384(JWT, "root", "b3scale:admin"),
      { admin_state = "ready" }))
  end)

  it("sends no create to a stopped node even when no notification reaches the instance", function()
    -- an instance that would not re-read for a minute, and a change whose notification is
    -- suppressed: only the placement version the claim compares (sql/0013) tells it that
    -- its snapshot is old
    local slow = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "60000",
      B3SCALE_PLACEMENT_REFRESH_MS = "60000" } })
    -- its one read of the minute is done before the change
    assert.truthy(h.wait_until(function() return metric(slow, REFRESHES) >= 1 end, 5))
    create(slow, "slow-warm")
    h.psql(db, "BEGIN; ALTER TABLE backends DISABLE TRIGGER backends_routes_update;"
      .. " UPDATE backends SET admin_state = 'stopped' WHERE host = '" .. sims[1].url .. "';"
      .. " ALTER TABLE backends ENABLE TRIGGER backends_routes_update; COMMIT;")
    -- a read, by the create or by the refresher it wakes, and only because the claim said so
    local function reads() return metric(slow, CREATE_READS) + metric(slow, REFRESHES) end
    local before = reads()
    for i = 1, 6 do
      assert.are_not.equal(sims[1], create(slow, "silent-" .. i))
    end
    assert.is_true(reads() > before)
    h.psql(db, "UPDATE backends SET admin_state = 'ready' WHERE host = '" .. sims[1].url .. "'")
    h.stop(slow)
  end)

  it("sends no create to a node an operator stopped with plain SQL, nor after raising its load factor", function()
    h.psql(db, "UPDATE backends SET admin_state = 'stopped' WHERE host = '" .. sims[2].url .. "'")
    for i = 1, 6 do
      assert.are_not.equal(sims[2], create(d, "after-sql-" .. i))
    end
    h.psql(db, "UPDATE backends SET admin_state = 'ready' WHERE host = '" .. sims[2].url .. "'")
    -- a load factor of 0 makes a node the least loaded whatever it holds
    h.psql(db, "UPDATE backends SET load_factor = 0 WHERE host = '" .. sims[3].url .. "'")
    for i = 1, 4 do
      assert.equal(sims[3], create(d, "cheap-" .. i))
    end
  end)

  it("reads for every create with B3SCALE_PLACEMENT_REFRESH_MS=0", function()
    local d3 = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "60000",
      B3SCALE_PLACEMENT_REFRESH_MS = "0" } })
    for i = 1, 5 do create(d3, "off-" .. i) end
    assert.equal(5, metric(d3, CREATE_READS))
    assert.equal(0, metric(d3, REFRESHES))
    h.stop(d3)
  end)

  it("refuses a refresh interval that would hammer the database", function()
    local code, out = h.run({ h.BUILD .. "/b3scaled", "--check" }, { B3SCALE_PLACEMENT_REFRESH_MS = "10" }, 10)
    assert.are_not.equal(0, code)
    assert.matches("B3SCALE_PLACEMENT_REFRESH_MS must be 0 %(off%) or at least 50", out)
  end)
end)
