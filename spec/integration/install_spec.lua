-- make install as an operator uses it: PREFIX and SYSCONFDIR into a scratch tree, then the
-- installed b3scaled started from another directory with no path variable at all (it must
-- find its Lua runtime, migrations, OpenAPI document, status page and shipped policies
-- under PREFIX/share/b3scale by itself), an operator policy in SYSCONFDIR/b3scale/policies
-- that shadows a shipped one, the installed b3scalectl on PATH, DESTDIR staging and
-- uninstall.
local h = require("helpers")
local cluster = require("support.cluster")
local fixtures = require("support.policy_fixtures")
local cjson = require("cjson")

local JWT_SECRET = "install-spec-jwt-secret-51c2"
local FE_SECRET = "install-spec-frontend-secret-0d7e"

-- make in the checkout with the build of this run (plain or sanitizer), outside the
-- jobserver of a surrounding `make test`; returns exit code and output
local function make(args)
  local argv = { "make", "-C", h.checkout(), "--no-print-directory",
                 "BUILD=" .. h.BUILD, "SANITIZE=" .. (os.getenv("B3SCALE_SANITIZE") or "") }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return h.run(argv, { MAKEFLAGS = false, MFLAGS = false, MAKELEVEL = false }, 300)
end

-- runs argv from directory dir (never the checkout) with env over the current environment
local function run_in(dir, argv, env, timeout)
  local a = { "sh", "-c", 'cd "$0" && exec "$@"', dir }
  for _, x in ipairs(argv) do a[#a + 1] = x end
  return h.run(a, env, timeout or 60)
end

local PATH_VARS = { B3SCALE_LUA_DIR = false, B3SCALE_SQL_DIR = false, B3SCALE_POLICY_DIR = false,
                    B3SCALE_OPENAPI_FILE = false, B3SCALE_STATUS_PAGE = false }

local function env_with(t)
  local e = {}
  for k, v in pairs(PATH_VARS) do e[k] = v end
  for k, v in pairs(t) do e[k] = v end
  return e
end

describe("make install", function()
  local tmp, prefix, etc, db, sims, d

  setup(function()
    tmp = h.tmpdir() .. "/install-" .. h.random_hex(4)
    prefix, etc = tmp .. "/usr", tmp .. "/etc"
    local code, out = make({ "install", "PREFIX=" .. prefix, "SYSCONFDIR=" .. etc })
    assert.equal(0, code, out)
    db = h.new_db("install")
    sims = { h.bbbsim({ name = "one" }), h.bbbsim({ name = "two" }) }
  end)

  teardown(function()
    if d then h.stop(d) end
    for _, s in ipairs(sims or {}) do h.stop(s) end
  end)

  it("puts the binaries on BINDIR, b3scalectl as a relative link, and the data under DATADIR", function()
    for _, f in ipairs({ "/bin/b3scaled", "/bin/b3scaleagent", "/share/b3scale/sql/0001_init.sql",
                         "/share/b3scale/lua/b3scale/policy.lua", "/share/b3scale/policies/least_load.lua",
                         "/share/b3scale/docs/openapi.json", "/share/b3scale/docs/status.html",
                         "/share/b3scale/bin/b3scalectl",
                         "/lib/systemd/system/b3scaled.service" }) do
      assert.is_true(h.exists(prefix .. f), f .. " is not installed")
    end
    assert.is_true(h.exists(etc .. "/b3scale/policies"))
    local p = assert(io.popen("readlink " .. prefix .. "/bin/b3scalectl"))
    assert.equal("../share/b3scale/bin/b3scalectl", p:read("*l"))
    p:close()
    -- the unit points at the installed binary
    local unit = h.read_file(prefix .. "/lib/systemd/system/b3scaled.service")
    assert.truthy(unit:find("ExecStart=" .. prefix .. "/bin/b3scaled\n", 1, true))
    assert.truthy(unit:find("ExecReload=" .. prefix .. "/bin/b3scaled --check\n", 1, true))
  end)

  it("migrates and checks its policies with no path variable, from another directory", function()
    local code, out = run_in(tmp, { prefix .. "/bin/b3scaled", "migrate" },
      env_with({ B3SCALE_DB_URL = db }))
    assert.equal(0, code, out)
    code, out = run_in(tmp, { prefix .. "/bin/b3scaled", "--check" }, env_with({}))
    assert.equal(0, code, out)
    assert.truthy(out:find("policies OK (" .. etc .. "/b3scale/policies:" .. prefix ..
      "/share/b3scale/policies)", 1, true), out)
  end)

  it("refuses a broken operator policy at --check, naming its file", function()
    h.write_file(etc .. "/b3scale/policies/broken.lua", "return {")
    local code, out = run_in(tmp, { prefix .. "/bin/b3scaled", "--check" }, env_with({}))
    os.remove(etc .. "/b3scale/policies/broken.lua")
    assert.is_not.equal(0, code)
    -- Lua shortens long chunk names from the left; the file's own name and directory stay
    assert.truthy(out:find("/etc/b3scale/policies/broken.lua:1:", 1, true), out)
  end)

  it("serves with the operator's policy shadowing the shipped one of the same name", function()
    -- least_load, the default, replaced by one that always picks the second node
    h.write_file(etc .. "/b3scale/policies/least_load.lua",
      (fixtures.steer_source("least_load", sims[2].port)))
    cluster.register(db, sims, "acme", FE_SECRET)
    local port = h.free_port()
    local log = h.tmpdir() .. "/installed-b3scaled-" .. port .. ".log"
    local handle = h.spawn({ "sh", "-c", 'cd "$0" && exec "$1"', tmp, prefix .. "/bin/b3scaled" },
      env_with({ B3SCALE_DB_URL = db, B3SCALE_LISTEN_HTTP = "127.0.0.1:" .. port,
                 B3SCALE_API_JWT_SECRET = JWT_SECRET, B3SCALE_POLL_INTERVAL_MS = "200",
                 B3SCALE_LOG_LEVEL = "debug" }), log)
    d = { url = "http://127.0.0.1:" .. port, port = port, handle = handle, log = log }
    h.wait_http(d.url .. "/healthz", 10, handle, 200)
    cluster.settled(d, db)

    for i = 1, 3 do
      local st, body = h.get(h.api_url(h.frontend_api(d, "acme"), "create",
        "meetingID=room-" .. i .. "&name=Room", FE_SECRET))
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    local _, list = h.get(h.sim_api(sims[2], "getMeetings", ""))
    for i = 1, 3 do
      assert.truthy(list:find("acme~room-" .. i, 1, true), "room-" .. i .. " is not on node two")
    end

    -- the documents come from DATADIR
    local st, raw = h.get(d.url .. "/api/v1/openapi.json")
    assert.equal(200, st)
    assert.equal("3", cjson.decode(raw).openapi:sub(1, 1))
    st = h.get(d.url .. "/status")
    assert.equal(200, st)
  end)

  it("has b3scalectl on PATH, finding its own modules", function()
    local code, out = run_in(tmp, { "b3scalectl", "--json", "show", "frontends" },
      { PATH = prefix .. "/bin:/usr/bin:/bin", B3SCALE_API_URL = d.url,
        B3SCALE_API_JWT_SECRET = JWT_SECRET })
    assert.equal(0, code, out)
    assert.truthy(out:find('"acme"', 1, true), out)
  end)

  it("migrates a database with b3scalectl db migrate, through the installed b3scaled", function()
    local fresh = h.new_db("install_ctl")
    local code, out = run_in(tmp, { "b3scalectl", "db", "migrate" },
      env_with({ PATH = prefix .. "/bin:/usr/bin:/bin", B3SCALE_DB_URL = fresh }))
    assert.equal(0, code, out)
    assert.equal("1", h.psql(fresh, "SELECT count(*) FROM pg_tables WHERE tablename = 'meeting_usage'"))
  end)

  it("stages under DESTDIR with the final paths inside, and uninstalls", function()
    local stage = tmp .. "/stage"
    local code, out = make({ "install", "DESTDIR=" .. stage, "PREFIX=/usr", "SYSCONFDIR=/etc" })
    assert.equal(0, code, out)
    assert.is_true(h.exists(stage .. "/usr/bin/b3scaled"))
    assert.is_true(h.exists(stage .. "/usr/share/b3scale/sql/0001_init.sql"))
    assert.is_true(h.exists(stage .. "/etc/b3scale/policies"))
    -- the binary knows where it will live, not where it was staged
    _, out = run_in(tmp, { stage .. "/usr/bin/b3scaled", "--check" }, env_with({}))
    assert.truthy(out:find(" /usr/share/b3scale/", 1, true), out)
    code, out = make({ "uninstall", "DESTDIR=" .. stage, "PREFIX=/usr", "SYSCONFDIR=/etc" })
    assert.equal(0, code, out)
    for _, f in ipairs({ "/usr/bin/b3scaled", "/usr/bin/b3scalectl", "/usr/share/b3scale",
                         "/etc/b3scale" }) do
      assert.is_false(h.exists(stage .. f), f .. " is still there")
    end
  end)
end)
