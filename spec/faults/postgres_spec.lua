-- Postgres going away under a running b3scaled, stopped or black-holed (a proxy in between
-- that stops passing bytes but keeps the connections open): every request still answers
-- within a bounded time, /healthz is untouched, cached joins keep working, and everything
-- recovers by itself without a restart and without losing a meeting.
local h = require("helpers")
local tar = require("support.tar")
local cluster = require("support.cluster")
local tcpproxy = require("support.tcpproxy")
local tokens = require("support.tokens")
local ffi = require("ffi")

local FE_SECRET = "pgfault-fe-secret"
local JWT_SECRET = "pgfault-jwt-secret"
local LIMIT = 3 -- seconds: an answer later than this counts as a hang

local function note(fmt, ...)
  io.stdout:write("# ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local function timed(fn, ...)
  local t0 = h.now()
  local a, b, c = fn(...)
  return h.now() - t0, a, b, c
end

local function api(d, call, query)
  return h.http("GET", h.api_url(h.frontend_api(d, "fe"), call, query, FE_SECRET), nil, nil, 10)
end

local function rc(body) return h.xml_text(body, "returncode") end
local function mkey(body) return h.xml_text(body, "messageKey") end

--------------------------------------------------------------------------------------------
-- The connection defaults and the URL's say over them, through db.c in libb3scale.so.

pcall(ffi.cdef, [[
int db_open_timeout(void *db, const char *url, long timeout_ms, char *err, size_t errlen);
int db_exec_simple(void *db, const char *sql, char *err, size_t errlen);
void db_close(void *db);
int log_setup(const char *level, const char *format);
]])

describe("database connection defaults", function()
  local C, base
  -- struct db is opaque here: a buffer larger than it (a pointer, a 1 KiB URL, flags)
  local DB_SIZE = 4096
  -- raises the current statement_timeout as an error, so db_exec_simple can show it
  local SHOW = "DO $$ BEGIN RAISE EXCEPTION 'st=%', current_setting('statement_timeout'); END $$"

  setup(function()
    C = ffi.load(h.BUILD .. "/libb3scale.so")
    C.log_setup("error", "text") -- the timeouts below are expected: no warnings on stderr
    base = h.new_db("pgdefaults")
  end)

  -- opens url with timeout_ms, runs each sql in turn; returns { {rc, err, seconds}, ... }
  local function run(url, timeout_ms, ...)
    local db = ffi.new("char[?]", DB_SIZE)
    local err = ffi.new("char[512]")
    local out = {}
    local orc = C.db_open_timeout(db, url, timeout_ms, err, 512)
    assert.equal(0, orc, ffi.string(err))
    for i, sql in ipairs({ ... }) do
      local t0 = h.now()
      local r = C.db_exec_simple(db, sql, err, 512)
      out[i] = { r, r ~= 0 and ffi.string(err) or "", h.now() - t0 }
    end
    C.db_close(db)
    return out
  end

  it("sets statement_timeout to the deadline, and none for migrations", function()
    assert.matches("st=800ms", run(base, 800, SHOW)[1][2], 1, true)
    assert.matches("st=0", run(base, 0, SHOW)[1][2], 1, true)
  end)

  it("lets the URL override the defaults", function()
    local r = run(base .. "?options=-c%20statement_timeout%3D100", 1500, SHOW,
      "SELECT pg_sleep(0.5)")
    assert.matches("st=100ms", r[1][2], 1, true)
    assert.is_true(r[2][1] < 0)
    assert.matches("statement timeout", r[2][2], 1, true)
    assert.is_true(r[2][3] < 0.45, "the server cancelled after " .. r[2][3] .. " s")
    r = run(base .. "?connect_timeout=5", 1500, "SELECT 1")
    assert.equal(0, r[1][1], r[1][2])
  end)

  it("gives up on a statement at the client-side deadline and reconnects for the next", function()
    -- statement_timeout off, so only the client's own deadline can end the wait
    local r = run(base .. "?options=-c%20statement_timeout%3D0", 600, "SELECT pg_sleep(3)",
      "SELECT 1")
    note("pg_sleep(3) with a 600 ms deadline: failed after %.3f s: %s", r[1][3], r[1][2])
    assert.is_true(r[1][1] < 0)
    assert.equal("database: SELECT: timed out after 600 ms", r[1][2])
    assert.is_true(r[1][3] >= 0.55 and r[1][3] < 1.5, "took " .. r[1][3] .. " s")
    assert.equal(0, r[2][1], r[2][2])
    -- without a deadline (migrations) the same statement runs to its end
    r = run(base, 0, "SELECT pg_sleep(1)")
    assert.equal(0, r[1][1], r[1][2])
  end)

  it("never puts the password in an error", function()
    local db = ffi.new("char[?]", DB_SIZE)
    local err = ffi.new("char[512]")
    for _, url in ipairs({
      "postgresql://u:hunter%zz2@127.0.0.1:1/x",   -- libpq echoes the bad token
      "postgresql://u:hunter2@127.0.0.1:1/x?port=nope",
      "host=127.0.0.1 port=1 password=hunter2 nonsense",
    }) do
      local r = C.db_open_timeout(db, url, 500, err, 512)
      assert.is_true(r < 0)
      local msg = ffi.string(err)
      assert.is_nil(msg:find("hunter", 1, true), msg)
      C.db_close(db)
      h.sleep(0.55) -- past the reconnect gate a failed connect arms
    end
  end)
end)

--------------------------------------------------------------------------------------------
-- The daemon behind a proxy to a private Postgres.

describe("Postgres away under a running b3scaled", function()
  local pg, proxy, d, s1, recordings
  local admin = { authorization = "Bearer " .. tokens.hs384(JWT_SECRET, "ops", "b3scale:admin") }

  -- an admin's import of one recording of frontend fe: status, decoded answer
  local function import()
    local st, body = h.post(d.url .. "/api/v1/recordings/import",
      tar.build(tar.tree(tar.record_id(), "fe~recorded")),
      { ["content-type"] = "application/x-tar", authorization = admin.authorization })
    local ok, json = pcall(h.cjson.decode, body or "")
    return st, ok and json or body
  end

  setup(function()
    pg = cluster.private_pg("pgfault")
    proxy = tcpproxy.start("127.0.0.1", pg.port)
    s1 = h.bbbsim({ name = "pgf1" })
    cluster.register(pg.db, { s1 }, "fe", FE_SECRET)
    d = h.daemon({
      db = pg.db:gsub(":" .. pg.port .. "/", ":" .. proxy.port .. "/", 1),
      env = {
        B3SCALE_API_JWT_SECRET = JWT_SECRET,
        -- two workers so warming their route caches is certain; routes live a minute
        B3SCALE_WORKERS = "2",
        B3SCALE_ROUTE_CACHE_MS = "60000",
        B3SCALE_RECORDINGS_DIR = h.tmpdir() .. "/pgfault-recordings",
      },
    })
    recordings = h.tmpdir() .. "/pgfault-recordings"
    local _, body = api(d, "create", "name=Kept&meetingID=kept")
    assert.equal("SUCCESS", rc(body), body)
  end)

  teardown(function()
    if d then h.stop(d) end
    if proxy then proxy:stop() end
    if pg then pg:remove() end
    h.cleanup()
  end)

  -- what every request sees while the database is away; returns the slowest answer
  local function check_unavailable(what, mid)
    local worst = 0
    for i = 1, 3 do
      -- a meeting whose route no worker has cached (a cached one is still answered by its
      -- node, as cached joins are)
      local t, st, body = timed(api, d, "getMeetingInfo", "meetingID=uncached-" .. i)
      assert.equal(200, st, tostring(body))
      assert.equal("FAILED", rc(body), body)
      assert.equal("internalError", mkey(body), body)
      assert.is_true(t < LIMIT, what .. ": getMeetingInfo took " .. t .. " s")
      note("%s: getMeetingInfo #%d answered internalError after %.3f s", what, i, t)
      worst = math.max(worst, t)
    end
    local t, st, body = timed(api, d, "create", "name=During&meetingID=" .. mid)
    assert.equal(200, st, tostring(body))
    assert.equal("FAILED", rc(body), body)
    assert.equal("internalError", mkey(body), body)
    assert.is_true(t < LIMIT, what .. ": create took " .. t .. " s")
    note("%s: create answered internalError after %.3f s", what, t)
    worst = math.max(worst, t)
    t, st, body = timed(api, d, "getRecordings", "meetingID=kept")
    assert.equal(200, st, tostring(body))
    assert.equal("internalError", mkey(body), body)
    assert.is_true(t < LIMIT, what .. ": getRecordings took " .. t .. " s")
    worst = math.max(worst, t)
    local ht, hst = timed(h.http, "GET", d.url .. "/healthz", nil, nil, 5)
    assert.equal(200, hst)
    assert.is_true(ht < 1, what .. ": /healthz took " .. ht .. " s")
    local at, ast, abody = timed(h.http, "GET", d.url .. "/api/v1/backends", nil, admin, 10)
    assert.equal(503, ast, tostring(abody))
    assert.equal("unavailable", h.cjson.decode(abody).error)
    assert.is_true(at < LIMIT, what .. ": the admin API took " .. at .. " s")
    note("%s: /healthz 200 after %.3f s, admin API 503 after %.3f s", what, ht, at)
    -- a recording upload fails as a whole (the agent sends it again) and leaves nothing
    local it, ist, ibody = timed(import)
    assert.equal(500, ist, h.cjson.encode(ibody))
    assert.is_true(it < 2 * LIMIT, what .. ": the import took " .. it .. " s")
    assert.truthy(h.wait_until(function()
      for _, area in ipairs({ "/.spool", "/.staging" }) do
        if io.popen("ls -A '" .. recordings .. area .. "'"):read("*a") ~= "" then return false end
      end
      return true
    end, 5), "an import left files behind")
    return math.max(worst, at)
  end

  -- waits until creates succeed again; returns how long that took
  local function recovery(what, mid)
    local t0 = h.now()
    local ok = h.wait_until(function()
      local _, body = api(d, "create", "name=After&meetingID=" .. mid)
      return rc(body) == "SUCCESS"
    end, 15, 0.1)
    local took = h.now() - t0
    assert.is_truthy(ok, what .. ": creates did not recover")
    note("%s: creates succeed again %.3f s after the database came back", what, took)
    local _, body = api(d, "getMeetingInfo", "meetingID=kept")
    assert.equal("SUCCESS", rc(body), body) -- nothing was lost
    assert.equal(302, (api(d, "join", "fullName=Back&meetingID=kept&role=VIEWER")))
    _, body = api(d, "getRecordings", "meetingID=kept")
    assert.equal("noRecordings", mkey(body), body)
    assert.equal(200, (h.http("GET", d.url .. "/api/v1/backends", nil, admin, 10)))
    local ist, ibody = import()
    assert.equal(200, ist, h.cjson.encode(ibody))
    assert.is_true(h.alive(d))
    return took
  end

  it("keeps serving cached joins and answers at once while Postgres is black-holed", function()
    -- every worker routes this join from its cache (far more requests than workers)
    for _ = 1, 40 do
      assert.equal(302, (api(d, "join", "fullName=Warm&meetingID=kept&role=VIEWER")))
    end
    proxy:blackhole()
    for i = 1, 10 do
      local t, st, body = timed(api, d, "join", "fullName=Hole&meetingID=kept&role=VIEWER")
      assert.equal(302, st, "join #" .. i .. " during the black hole: " .. tostring(body))
      assert.is_true(t < 0.5, "a cached join took " .. t .. " s")
    end
    note("black hole: 10 cached joins redirected")
    check_unavailable("black hole", "hole")
    assert.is_true(proxy:connections() > 0, "the proxy should be holding connections open")
    proxy:forward()
    recovery("black hole", "after-hole")
  end)

  it("answers at once while Postgres is stopped and recovers when it is back", function()
    assert.equal(0, (pg:stop()))
    check_unavailable("stopped", "during")
    local code, out = pg:start()
    assert.equal(0, code, out)
    recovery("stopped", "after-stop")
  end)

  it("recovers from every connection being reset", function()
    proxy:reset()
    local t, st, body = timed(api, d, "getMeetingInfo", "meetingID=kept")
    note("reset: getMeetingInfo answered %s after %.3f s", tostring(rc(body)), t)
    assert.equal(200, st)
    assert.is_true(t < LIMIT)
    recovery("reset", "after-reset")
  end)
end)
