-- 500 nodes that accept connections and never answer: polls run concurrently on the node
-- loop, so all of them are found unavailable within the documented bound
-- (B3SCALE_UNAVAILABLE_AFTER x (B3SCALE_POLL_INTERVAL_MS + B3SCALE_POLL_TIMEOUT_MS) plus a
-- second), not after 500 timeouts in a row. Healthy nodes stay ready meanwhile.
local h = require("helpers")
local socket = require("socket")
local cluster = require("support.cluster")

local N = 500
local INTERVAL, TIMEOUT, AFTER = 1000, 500, 3

describe("the poller with 500 hung nodes", function()
  local sims, d, db, hole

  setup(function()
    -- a listener nobody accepts from: connections hang in its backlog, then SYNs are dropped
    hole = assert(socket.bind("127.0.0.1", 0, 8))
    local _, port = hole:getsockname()
    sims = { h.bbbsim({ name = "scale-ok" }) }
    db = h.new_db("pollscale")
    h.migrate(db)
    cluster.register(db, sims, "fe", "scale-fe-secret")
    h.psql(db, string.format("INSERT INTO backends (host, secret) SELECT "
      .. "'http://127.0.0.1:%d/n' || i || '/bigbluebutton/api/', 's' || i "
      .. "FROM generate_series(1, %d) AS i", port, N))
    h.psql(db, "UPDATE backends SET node_state = 'ready'")
    d = h.daemon({ db = db, env = {
      B3SCALE_POLL_INTERVAL_MS = tostring(INTERVAL), B3SCALE_POLL_TIMEOUT_MS = tostring(TIMEOUT),
      B3SCALE_UNAVAILABLE_AFTER = tostring(AFTER), B3SCALE_LOG_LEVEL = "warn" } })
  end)

  teardown(function()
    h.stop(d)
    if hole then hole:close() end
    h.cleanup()
  end)

  it("marks every hung node unavailable within the bound and keeps the healthy one", function()
    local bound = AFTER * (INTERVAL + TIMEOUT) / 1000 + 1
    local t0 = h.now()
    local left
    h.wait_until(function()
      left = tonumber(h.trim(h.psql(db,
        "SELECT count(*) FROM backends WHERE host LIKE '%/n%' AND node_state <> 'unavailable'")))
      return left == 0
    end, bound + 5, 0.2)
    local took = h.now() - t0
    print(string.format("# %d hung nodes unavailable after %.1f s (bound %.1f s)", N, took, bound))
    assert.equal(0, left)
    assert.is_true(took <= bound + 2, string.format("took %.1f s, bound %.1f s", took, bound))
    assert.equal("ready", h.trim(h.psql(db,
      "SELECT node_state FROM backends WHERE host = '" .. sims[1].url .. "'")))
    -- and the API still answers at once
    local t1 = h.now()
    local st = h.get(h.api_url(h.frontend_api(d, "fe"), "getMeetings", "", "scale-fe-secret"))
    assert.equal(200, st)
    assert.is_true(h.now() - t1 < 0.5)
  end)
end)
