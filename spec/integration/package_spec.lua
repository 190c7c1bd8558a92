-- make deb as a packager runs it (debhelper, then lintian, which must report no error), and
-- the packages as an operator uses them: dpkg -i, the system user and the settings file's
-- mode, the installed b3scaled run as that user from / with only /etc/default/b3scale's kind
-- of settings (no path variable) against a test Postgres and a simulated node, b3scalectl
-- from /usr/bin, an operator policy in /etc/b3scale/policies, then dpkg --purge leaving
-- nothing behind. Installing needs root (CI runs as root): otherwise that part is pending.
-- Not in the sanitizer run: the package is built from the same sources with Debian's flags,
-- and the plain run covers it.
local h = require("helpers")
local cluster = require("support.cluster")
local fixtures = require("support.policy_fixtures")

local JWT_SECRET = "package-spec-jwt-secret-8e03"
local FE_SECRET = "package-spec-frontend-secret-41aa"


local function sh(cmd, timeout)
  return h.run({ "sh", "-c", cmd }, { MAKEFLAGS = false, MFLAGS = false, MAKELEVEL = false },
    timeout or 60)
end

local function is_root()
  local p = assert(io.popen("id -u"))
  local uid = p:read("*l")
  p:close()
  return uid == "0"
end

local sanitizer = (os.getenv("B3SCALE_SANITIZE") or "") ~= ""

describe("Debian packages", function()
  if sanitizer then
    it("are built and tried in the plain run only", function()
      pending("make deb: covered by the plain run (same sources, Debian's flags)")
    end)
    return
  end

  local root = h.checkout()
  local debs, installed, d, db, sims

  setup(function()
    local code, out = sh("make -C " .. h.shell_quote(root) .. " --no-print-directory deb 2>&1", 600)
    assert.equal(0, code, out)
    debs = {}
    for _, name in ipairs({ "b3scale", "b3scaleagent" }) do
      local p = assert(io.popen("ls " .. h.shell_quote(root) .. "/build/deb/" .. name .. "_*.deb"))
      debs[name] = p:read("*l")
      p:close()
    end
  end)

  teardown(function()
    if d then h.stop(d) end
    for _, s in ipairs(sims or {}) do h.stop(s) end
    if installed then
      sh("rm -f /etc/b3scale/policies/spec_second.lua; dpkg --purge b3scale b3scaleagent")
    end
  end)

  it("are built with debhelper, and lintian reports no error", function()
    -- make deb ran lintian --fail-on error; its output is checked here once more
    assert.truthy(debs.b3scale, "b3scale .deb missing")
    assert.truthy(debs.b3scaleagent, "b3scaleagent .deb missing")
    local code, out = sh("lintian --fail-on error " .. h.shell_quote(debs.b3scale) .. " " ..
      h.shell_quote(debs.b3scaleagent) .. " 2>&1", 300)
    assert.equal(0, code, out)
    assert.is_nil(out:find("\nE: ", 1, true) or (out:sub(1, 3) == "E: " or nil), out)
  end)

  it("hold what each side needs", function()
    local _, list = sh("dpkg-deb -c " .. h.shell_quote(debs.b3scale))
    for _, f in ipairs({ "./usr/bin/b3scaled", "./usr/bin/b3scalectl -> ../share/b3scale/bin/b3scalectl",
                         "./usr/share/b3scale/sql/0001_init.sql", "./usr/share/b3scale/policies/least_load.lua",
                         "./lib/systemd/system/b3scaled.service", "./etc/default/b3scale",
                         "./etc/b3scale/policies/" }) do
      assert.truthy(list:find(f, 1, true), f .. " not in b3scale")
    end
    assert.is_nil(list:find("b3scaleagent", 1, true))
    local _, alist = sh("dpkg-deb -c " .. h.shell_quote(debs.b3scaleagent))
    for _, f in ipairs({ "./usr/bin/b3scaleagent", "./lib/systemd/system/b3scaleagent.service",
                         "./etc/default/b3scaleagent" }) do
      assert.truthy(alist:find(f, 1, true), f .. " not in b3scaleagent")
    end
    local _, unit = sh("dpkg-deb --fsys-tarfile " .. h.shell_quote(debs.b3scale) ..
      " | tar -xOf - ./lib/systemd/system/b3scaled.service")
    -- a reload validates the policies before the daemon sees SIGHUP
    assert.truthy(unit:find("ExecReload=/usr/bin/b3scaled --check\nExecReload=/bin/kill -HUP $MAINPID",
      1, true), unit)
    assert.truthy(unit:find("EnvironmentFile=/etc/default/b3scale\n", 1, true), unit)
  end)

  describe("installed", function()
    if not is_root() then
      it("run as an operator would", function() pending("dpkg -i needs root") end)
      return
    end

    it("create the system user and keep the settings file from other users", function()
      local code, out = sh("dpkg -i " .. h.shell_quote(debs.b3scale) .. " " ..
        h.shell_quote(debs.b3scaleagent) .. " 2>&1", 120)
      installed = true
      assert.equal(0, code, out)
      local _, user = sh("getent passwd b3scale")
      assert.truthy(user:find("^b3scale:"), user)
      local _, mode = sh("stat -c '%a %U %G' /etc/default/b3scale /etc/default/b3scaleagent")
      assert.equal("640 root b3scale\n600 root root\n", mode)
    end)

    it("install units systemd accepts", function()
      local p = io.popen("command -v systemd-analyze")
      local have = p and p:read("*l")
      if p then p:close() end
      if not have then return pending("systemd-analyze is not installed") end
      local code, out = sh("systemd-analyze verify /lib/systemd/system/b3scaled.service " ..
        "/lib/systemd/system/b3scaleagent.service 2>&1")
      assert.equal(0, code, out)
      assert.is_nil(out:find("b3scale", 1, true), out)
    end)

    it("serve as the system user with the compiled-in paths and an operator policy", function()
      db = h.new_db("package")
      sims = { h.bbbsim({ name = "one" }), h.bbbsim({ name = "two" }) }
      local env = { B3SCALE_DB_URL = db, B3SCALE_LUA_DIR = false, B3SCALE_SQL_DIR = false,
                    B3SCALE_POLICY_DIR = false, B3SCALE_OPENAPI_FILE = false,
                    B3SCALE_STATUS_PAGE = false }
      local code, out = h.run({ "sh", "-c", "cd / && exec runuser -u b3scale -- /usr/bin/b3scaled migrate" },
        env, 60)
      assert.equal(0, code, out)

      h.write_file("/etc/b3scale/policies/spec_second.lua",
        (fixtures.steer_source("spec_second", sims[2].port)))
      code, out = h.run({ "sh", "-c", "cd / && exec runuser -u b3scale -- /usr/bin/b3scaled --check" }, env, 60)
      assert.equal(0, code, out)
      assert.truthy(out:find("policies OK (/etc/b3scale/policies:/usr/share/b3scale/policies)", 1, true), out)

      cluster.register(db, sims, "acme", FE_SECRET, '{"policy": "spec_second"}')
      local port = h.free_port()
      env.B3SCALE_LISTEN_HTTP = "127.0.0.1:" .. port
      env.B3SCALE_API_JWT_SECRET = JWT_SECRET
      env.B3SCALE_POLL_INTERVAL_MS = "200"
      local log = h.tmpdir() .. "/packaged-b3scaled-" .. port .. ".log"
      local handle = h.spawn({ "sh", "-c", "cd / && exec runuser -u b3scale -- /usr/bin/b3scaled" },
        env, log)
      d = { url = "http://127.0.0.1:" .. port, port = port, handle = handle, log = log }
      h.wait_http(d.url .. "/healthz", 10, handle, 200)
      cluster.settled(d, db)

      local st, body = h.get(h.api_url(h.frontend_api(d, "acme"), "create",
        "meetingID=pkg-room&name=Room", FE_SECRET))
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
      local _, list = h.get(h.sim_api(sims[2], "getMeetings", ""))
      assert.truthy(list:find("acme~pkg-room", 1, true), "the meeting is not on node two")
      assert.equal(200, (h.get(d.url .. "/api/v1/openapi.json")))
      assert.equal(200, (h.get(d.url .. "/status")))
    end)

    it("have b3scalectl on PATH and the agent runnable", function()
      local code, out = h.run({ "sh", "-c", "cd / && exec b3scalectl --json show frontends" },
        { PATH = "/usr/bin:/bin", B3SCALE_API_URL = d.url, B3SCALE_API_JWT_SECRET = JWT_SECRET }, 30)
      assert.equal(0, code, out)
      assert.truthy(out:find('"acme"', 1, true), out)
      code, out = h.run({ "/usr/bin/b3scaleagent", "--help" }, {}, 30)
      assert.truthy(out:find("b3scaleagent", 1, true), out)
    end)

    it("are purged without a trace but the operator's own files", function()
      h.stop(d)
      d = nil
      os.remove("/etc/b3scale/policies/spec_second.lua")
      local code, out = sh("dpkg --purge b3scale b3scaleagent 2>&1", 120)
      installed = false
      assert.equal(0, code, out)
      for _, f in ipairs({ "/usr/bin/b3scaled", "/usr/bin/b3scalectl", "/usr/bin/b3scaleagent",
                           "/usr/share/b3scale", "/etc/default/b3scale", "/etc/b3scale",
                           "/lib/systemd/system/b3scaled.service" }) do
        assert.is_false(h.exists(f), f .. " is still there")
      end
      local _, user = sh("getent passwd b3scale")
      assert.equal("", user)
    end)
  end)
end)
