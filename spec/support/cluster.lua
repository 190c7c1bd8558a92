-- Cluster setup shared by the integration specs: nodes registered straight in the database,
-- and a private PostgreSQL that a spec can stop and start again under a running daemon.
local h = require("helpers")
local assert = require("luassert")

local _M = {}


-- Inserts sims as backends, created a second apart in list order (ties go to the first),
-- and the frontend key/secret, with settings (JSON text) when given.
function _M.register(db, sims, key, secret, settings)
  for i, s in ipairs(sims) do
    h.psql(db, string.format("INSERT INTO backends (host, secret, created_at) VALUES ('%s', '%s', now() - interval '%d seconds')",
      s.url, s.secret, 100 - i))
  end
  if settings then
    h.psql(db, string.format("INSERT INTO frontends (key, secret, settings) VALUES ('%s', '%s', '%s')",
      key, secret, settings))
  else
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('" .. key .. "', '" .. secret .. "')")
  end
end


-- Waits until daemon d has polled every backend out of 'init' and has read its placement
-- snapshot since: a create sent before may be placed twice over (its claim finds the
-- snapshot older than the backends and it picks again), which specs counting policy calls
-- must not see.
function _M.settled(d, db)
  assert.truthy(h.wait_until(function()
    return h.psql(db, "SELECT count(*) FROM backends WHERE node_state = 'init'") == "0"
  end, 10, 0.05), "backends still in init")
  local function refreshes()
    local st, body = h.get(d.url .. "/metrics")
    assert.equal(200, st)
    return tonumber(body:match('\nb3scale_placement_reads_total{kind="refresher"} (%d+)'))
  end
  local n = refreshes()
  assert.truthy(h.wait_until(function() return refreshes() > n end, 5, 0.05),
    "no placement snapshot read")
end


-- The sim holding a meeting of frontend `key` (by the backend-side ID `key~mid`), or nil.
function _M.holder(sims, key, mid)
  for _, s in ipairs(sims) do
    for _, m in ipairs(h.sim_get(s, "/sim/meetings")) do
      if m.meetingID == key .. "~" .. mid then
        return s
      end
    end
  end
end


-- Creates meetings room-1, room-2, ... through the daemon (create_url(mid) -> signed URL)
-- until one sits on each of the first two sims; returns { [sim.name] = meeting ID }.
function _M.one_meeting_each(sims, key, create_url)
  local on = {}
  for i = 1, 8 do
    local mid = "room-" .. i
    local st, body = h.get(create_url(mid))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    local s = _M.holder(sims, key, mid)
    if s and not on[s.name] then on[s.name] = mid end
    if on[sims[1].name] and on[sims[2].name] then return on end
  end
  error("the policy never used both nodes")
end


local PG = {}
PG.__index = PG


-- Starts its own PostgreSQL with a migrated database `name`: pg.db is its URL; pg:stop(),
-- pg:start() (h.run's code and output) and pg:remove() at teardown.
function _M.private_pg(name)
  -- under /tmp itself: the postgres user must be able to reach it when we are root
  local pg = setmetatable({ dir = "/tmp/b3s-" .. name .. "-" .. h.random_hex(4),
    port = h.free_port() }, PG)
  local code, out = pg:start()
  assert.equal(0, code, out)
  local base = h.trim(out):match("(postgresql://%S+)")
  h.psql(base, "CREATE DATABASE " .. name)
  pg.db = base:gsub("/postgres$", "/" .. name)
  h.migrate(pg.db)
  return pg
end


function PG:start()
  return h.run({ "sh", "spec/support/pg.sh", "start", self.dir }, { PG_PORT = tostring(self.port) }, 60)
end


function PG:stop()
  return h.run({ "sh", "spec/support/pg.sh", "stop", self.dir }, nil, 60)
end


function PG:remove()
  self:stop()
  os.execute("rm -rf " .. self.dir)
end


return _M
