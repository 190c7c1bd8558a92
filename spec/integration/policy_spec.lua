-- The policy engine inside the real daemon: hot reload, containment, retries, presentation.
local h = require("helpers")
local fixtures = require("support.policy_fixtures")
local cluster = require("support.cluster")

local SECRET = "policy-fe-secret"

local function api(d, call, query, key, secret)
  return h.get(h.api_url(h.frontend_api(d, key or "fe"), call, query, secret or SECRET))
end

local function rc(body) return h.xml_text(body, "returncode") end
local function mkey(body) return h.xml_text(body, "messageKey") end

-- a policy directory of its own: the shipped policies plus extra files
local function policy_dir(extra)
  local dir = h.tmpdir() .. "/policies-" .. h.random_hex(4)
  assert(os.execute("mkdir -p " .. dir .. " && cp policies/*.lua " .. dir) == 0)
  for name, src in pairs(extra or {}) do
    h.write_file(dir .. "/" .. name .. ".lua", src)
  end
  return dir
end

-- replaces a file the way operators should: write a temporary file, then rename
local function install(dir, name, src)
  local tmp = dir .. "/." .. name .. ".tmp"
  h.write_file(tmp, src)
  assert(os.rename(tmp, dir .. "/" .. name .. ".lua"))
end

local function steer(port)
  return (fixtures.steer_source("steer", port))
end

local function metric(d, name)
  local _, body = h.get(d.url .. "/metrics")
  return tonumber(body:match("\n" .. name:gsub("[%-%.%+%[%]%(%)%$%^%%%?%*]", "%%%0") .. " (%d+)"))
end

local function hup(d)
  assert(os.execute("kill -HUP " .. d.handle.pid) == 0)
end

-- the sim holding the backend-side meeting ID, or nil
local function holder(sims, nsid)
  for _, s in ipairs(sims) do
    for _, m in ipairs(h.sim_get(s, "/sim/meetings")) do
      if m.meetingID == nsid then return s end
    end
  end
end

-- n simulated nodes, a frontend "fe", a daemon on a private policy directory.
-- extra(sims) returns extra policy files { name = source } (it sees the nodes' ports).
local function setup_cluster(n, env, extra, settings)
  local db = h.new_db("pol")
  h.migrate(db)
  local sims = {}
  for i = 1, n do
    sims[i] = h.bbbsim({ name = "p" .. i })
  end
  cluster.register(db, sims, "fe", SECRET, settings or "{}")
  local dir = policy_dir(extra and extra(sims) or nil)
  local e = { B3SCALE_POLICY_DIR = dir }
  for k, v in pairs(env or {}) do e[k] = v end
  local d = h.daemon({ db = db, env = e })
  cluster.settled(d, db)
  return { db = db, sims = sims, dir = dir, d = d }
end

local function teardown_cluster(c)
  if c then
    assert.equal(0, h.stop(c.d), "b3scaled should exit 0 on SIGTERM")
  end
  h.cleanup()
end


describe("hot reload", function()
  local c

  setup(function()
    c = setup_cluster(2, { B3SCALE_POLICY = "steer" }, function(sims)
      return { steer = steer(sims[1].port) }
    end)
  end)

  teardown(function() teardown_cluster(c) end)

  it("switches placement on SIGHUP and keeps serving the old policies when a file is broken", function()
    local x, y = c.sims[1], c.sims[2]
    assert.equal(1, metric(c.d, "b3scale_policy_generation"))
    local _, b = api(c.d, "create", "name=Before&meetingID=before")
    assert.equal("SUCCESS", rc(b))
    assert.equal(x, holder(c.sims, "fe~before"))

    install(c.dir, "steer", steer(y.port))
    hup(c.d)
    h.wait_until(function() return metric(c.d, "b3scale_policy_generation") == 2 end, 10)
    _, b = api(c.d, "create", "name=After&meetingID=after")
    assert.equal("SUCCESS", rc(b))
    assert.equal(y, holder(c.sims, "fe~after"))

    install(c.dir, "steer", "local P = { name = 'steer', api_version = 1 }\n\nfunction P.select(req, backends)\n  return backends[1].index +\nend\nreturn P\n")
    hup(c.d)
    h.wait_until(function() return metric(c.d, "b3scale_policy_reload_failures_total") == 1 end, 10)
    assert.equal(2, metric(c.d, "b3scale_policy_generation"))
    local log = h.read_file(c.d.log)
    assert.matches("event=reload_failed generation=2 error=\"policies/steer.lua:5:", log, 1, true)
    _, b = api(c.d, "create", "name=Still&meetingID=still")
    assert.equal("SUCCESS", rc(b))
    assert.equal(y, holder(c.sims, "fe~still"))
  end)

  it("refuses a reload that would drop a policy a frontend still names", function()
    h.psql(c.db, "UPDATE frontends SET settings = '{\"policy\": \"gone\"}' WHERE key = 'fe'")
    install(c.dir, "gone", "local P = { name = 'gone', api_version = 1 }\nfunction P.select(req, b) return 1 end\nreturn P\n")
    install(c.dir, "steer", steer(c.sims[2].port))
    hup(c.d)
    h.wait_until(function() return metric(c.d, "b3scale_policy_generation") == 3 end, 10)
    os.remove(c.dir .. "/gone.lua")
    hup(c.d)
    h.wait_until(function() return metric(c.d, "b3scale_policy_reload_failures_total") == 2 end, 10)
    assert.equal(3, metric(c.d, "b3scale_policy_generation"))
    assert.matches("a frontend uses policy 'gone'", h.read_file(c.d.log), 1, true)
    h.psql(c.db, "UPDATE frontends SET settings = '{}' WHERE key = 'fe'")
  end)

  it("answers every request of a 200-request load that runs through reloads", function()
    local url = h.frontend_api(c.d, "fe")
    local dir = h.tmpdir() .. "/load-" .. h.random_hex(3)
    assert(os.execute("mkdir -p " .. dir) == 0)
    local script = dir .. "/load.sh"
    local lines = { "cd " .. dir }
    for i = 1, 200 do
      local call = (i % 2 == 0) and "create" or "getMeetings"
      local q = call == "create" and ("name=Load&meetingID=load-" .. i) or ""
      lines[#lines + 1] = string.format("curl -s -o out.%d %s &", i,
        h.shell_quote(h.api_url(url, call, q, SECRET)))
      if i % 20 == 0 then lines[#lines + 1] = "wait" end
    end
    lines[#lines + 1] = "wait"
    h.write_file(script, table.concat(lines, "\n") .. "\n")
    local before = metric(c.d, "b3scale_policy_generation")
    local loader = h.spawn({ "sh", script })
    for _ = 1, 5 do
      hup(c.d)
      h.sleep(0.05)
    end
    assert.is_not_nil(h.wait_exit(loader, 60))
    local failed = {}
    for i = 1, 200 do
      local body = h.read_file(dir .. "/out." .. i) or ""
      if rc(body) ~= "SUCCESS" then failed[#failed + 1] = i .. ": " .. body:sub(1, 120) end
    end
    assert.same({}, failed)
    h.wait_until(function() return metric(c.d, "b3scale_policy_generation") > before end, 10)
  end)
end)


-- a policy that passes the load-time smoke test but misbehaves on chosen meeting IDs
local FLAKY = [[
local P = { name = "flaky", api_version = 1 }
function P.select(req, backends)
  local id = req.meeting_id
  if id:find("^err") then local t = nil; return t.x end
  if id:find("^loop") then while true do end end
  if id:find("^pcall") then while true do pcall(function() while true do end end) end end
  if id:find("^zero") then return 0 end
  if id:find("^float") then return 1.5 end
  if id:find("^huge") then return 1e300 end
  if id:find("^nan") then return 0 / 0 end
  if id:find("^ninf") then return -1 / 0 end
  if id:find("^table") then return {} end
  if id:find("^two") then return 1, 2 end
  if id:find("^mem") then local t = {} while true do t[#t + 1] = string.rep("x", 1e6) .. #t end end
  if id:find("^io") then return io.open("/etc/passwd") end
  if id:find("^global") then leaked = 1 end
  if id:find("^none") then return nil, "closed for maintenance" end
  return #backends
end
return P
]]


describe("containment", function()
  local c

  setup(function()
    c = setup_cluster(2, { B3SCALE_POLICY = "flaky", B3SCALE_POLICY_MEMORY_MB = "32" },
      function() return { flaky = FLAKY } end)
  end)

  teardown(function() teardown_cluster(c) end)

  local function errors(kind)
    return metric(c.d, 'b3scale_policy_errors_total{policy="flaky",kind="' .. kind .. '"}') or 0
  end

  for _, case in ipairs({
    { "err-1", "runtime" }, { "loop-1", "budget" }, { "pcall-1", "budget" },
    { "zero-1", "badret" }, { "float-1", "badret" }, { "table-1", "badret" },
    { "mem-1", "nomem" }, { "io-1", "runtime" },
    { "global-1", "runtime" }, { "huge-1", "badret" }, { "nan-1", "badret" },
    { "ninf-1", "badret" },
  }) do
    it("places the meeting with the C fallback when the policy fails (" .. case[1] .. ")", function()
      local before = errors(case[2])
      local _, b = api(c.d, "create", "name=Contained&meetingID=" .. case[1])
      assert.equal("SUCCESS", rc(b))
      -- the fallback is least_load: the node with fewer meetings
      assert.is_not_nil(holder(c.sims, "fe~" .. case[1]))
      assert.equal(before + 1, errors(case[2]))
    end)
  end

  it("takes a second value after an index as the pick's explanation, not as a failure", function()
    local before = errors("badret")
    local _, b = api(c.d, "create", "name=Explained&meetingID=two-1")
    assert.equal("SUCCESS", rc(b))
    assert.equal(c.sims[1], holder(c.sims, "fe~two-1"))
    assert.equal(before, errors("badret"))
  end)

  it("keeps working for well-behaved requests after all that", function()
    local _, b = api(c.d, "create", "name=Fine&meetingID=fine-1")
    assert.equal("SUCCESS", rc(b))
    assert.equal(c.sims[2], holder(c.sims, "fe~fine-1"))
  end)

  it("logs a failure with file and line, once per burst", function()
    for i = 2, 4 do api(c.d, "create", "name=Again&meetingID=err-" .. i) end
    local log = h.read_file(c.d.log)
    assert.matches("flaky.lua:4: attempt to index local 't'", log, 1, true)
    local _, n = log:gsub("kind=runtime frontend=fe", "")
    assert.equal(1, n)
  end)

  it("answers nil-with-reason with a BBB error and no fallback", function()
    local _, b = api(c.d, "create", "name=None&meetingID=none-1")
    assert.equal("FAILED", rc(b))
    assert.matches("closed for maintenance", h.xml_text(b, "message"), 1, true)
  end)
end)


describe("B3SCALE_POLICY_ON_ERROR=reject", function()
  local c

  setup(function()
    c = setup_cluster(1, { B3SCALE_POLICY = "flaky", B3SCALE_POLICY_ON_ERROR = "reject" },
      function() return { flaky = FLAKY } end)
  end)

  teardown(function() teardown_cluster(c) end)

  it("refuses the create instead of falling back", function()
    local _, b = api(c.d, "create", "name=Rejected&meetingID=err-r")
    assert.equal("FAILED", rc(b))
    assert.is_nil(holder(c.sims, "fe~err-r"))
    assert.equal("0", h.psql(c.db, "SELECT count(*) FROM meetings WHERE meeting_id = 'err-r'"))
  end)
end)


describe("retries", function()
  local c

  setup(function()
    c = setup_cluster(2, { B3SCALE_POLICY = "probe" }, function()
      return { probe = [[
local host = require("b3scale.host")
local P = { name = "probe", api_version = 1 }
function P.select(req, backends)
  host.log("info", "attempt=" .. req.attempt .. " meeting=" .. req.meeting_id)
  for _, b in ipairs(backends) do
    if not req.excluded[b.id] then return b.index end
  end
  return nil, "every backend failed"
end
return P
]] }
    end)
  end)

  teardown(function() teardown_cluster(c) end)

  it("excludes a node that fails create and asks the policy again with attempt = 2", function()
    h.sim_req(c.sims[1], "POST", "/sim/mode?fail=error")
    local _, b = api(c.d, "create", "name=Retry&meetingID=retry-1")
    h.sim_req(c.sims[1], "POST", "/sim/mode?fail=none")
    assert.equal("SUCCESS", rc(b))
    assert.equal(c.sims[2], holder(c.sims, "fe~retry-1"))
    local log = h.read_file(c.d.log)
    assert.matches('msg="attempt=1 meeting=retry-1"', log, 1, true)
    assert.matches('msg="attempt=2 meeting=retry-1"', log, 1, true)
  end)
end)


describe("join storms", function()
  local c

  setup(function()
    c = setup_cluster(4, nil, nil)
  end)

  teardown(function() teardown_cluster(c) end)

  it("spreads 100 creates in a burst within 20% of even over 4 equal nodes", function()
    local url = h.frontend_api(c.d, "fe")
    local dir = h.tmpdir() .. "/burst-" .. h.random_hex(3)
    assert(os.execute("mkdir -p " .. dir) == 0)
    local lines = { "cd " .. dir }
    for i = 1, 100 do
      lines[#lines + 1] = string.format("curl -s -o out.%d %s &", i,
        h.shell_quote(h.api_url(url, "create", "name=Burst&meetingID=burst-" .. i, SECRET)))
    end
    lines[#lines + 1] = "wait"
    h.write_file(dir .. "/burst.sh", table.concat(lines, "\n") .. "\n")
    assert.is_not_nil(h.wait_exit(h.spawn({ "sh", dir .. "/burst.sh" }), 60))
    local counts = {}
    for _, s in ipairs(c.sims) do
      counts[#counts + 1] = #h.sim_get(s, "/sim/meetings")
    end
    local total = 0
    for _, n in ipairs(counts) do
      total = total + n
      assert.is_true(n >= 20 and n <= 30, "uneven spread: " .. table.concat(counts, ","))
    end
    assert.equal(100, total)
  end)
end)


describe("frontend settings through the default presentation rules", function()
  local c
  local settings = [[{"create_default_params": {"record": "true", "welcome": "Hello"},
    "create_override_params": {"maxParticipants": 50, "disabledFeatures": "chat"},
    "join_override_params": {"userdata-bbb_auto_join_audio": "true"},
    "default_presentation": {"url": "https://files.example.org/deck.pdf", "force": false},
    "attendees_limit": {"limit": 2}}]]

  setup(function()
    c = setup_cluster(1, nil, nil, settings)
  end)

  teardown(function() teardown_cluster(c) end)

  it("shapes create parameters and injects the default presentation, as the node sees them", function()
    local _, b = api(c.d, "create", "name=Shaped&meetingID=shaped&record=false&disabledFeatures=polls&maxParticipants=9")
    assert.equal("SUCCESS", rc(b))
    local reqs = h.sim_get(c.sims[1], "/sim/requests")
    local q = reqs[#reqs].query
    assert.matches("record=false", q, 1, true)       -- the request beats a default
    assert.matches("welcome=Hello", q, 1, true)      -- a default fills a gap
    assert.matches("maxParticipants=50", q, 1, true) -- an override wins
    assert.matches("disabledFeatures=polls%2Cchat", q, 1, true)
    assert.equal("POST", reqs[#reqs].method)
    local m = h.sim_get(c.sims[1], "/sim/meetings")[1]
    assert.is_true(m.has_body)
  end)

  it("shapes join parameters in the redirect the node receives", function()
    local st, _, hd = api(c.d, "join", "fullName=Ann&meetingID=shaped&role=VIEWER")
    assert.equal(302, st)
    assert.matches("userdata-bbb_auto_join_audio=true", hd.location, 1, true)
    local nst = h.get(hd.location)
    assert.equal(302, nst)
  end)

  it("refuses joins beyond the frontend's attendees_limit", function()
    local _, _, hd = api(c.d, "join", "fullName=Bob&meetingID=shaped&role=VIEWER")
    h.get(hd.location)
    -- getMeetingInfo brings the node's participant count home
    local _, info = api(c.d, "getMeetingInfo", "meetingID=shaped")
    assert.equal("2", h.xml_text(info, "participantCount"))
    local st, b = api(c.d, "join", "fullName=Cy&meetingID=shaped&role=VIEWER")
    assert.equal(200, st)
    assert.equal("maxParticipantsReached", mkey(b))
  end)
end)


describe("b3scaled --check", function()
  local function check(dir, policy, env)
    local e = { B3SCALE_POLICY_DIR = dir, B3SCALE_POLICY = policy or "least_load",
      B3SCALE_DB_URL = false }
    for k, v in pairs(env or {}) do e[k] = v end
    return h.run({ h.BUILD .. "/b3scaled", "--check" }, e, 30)
  end

  it("accepts the shipped policies", function()
    local code, out = check("policies")
    assert.equal(0, code, out)
  end)

  for _, case in ipairs({
    { "syntax_error", "syntax_error.lua:4:" },
    { "runtime_error", "runtime_error.lua:8:" },
    { "endless_loop", "policy budget exceeded" },
    { "pcall_loop", "policy budget exceeded" },
    { "memory_hog", "memory" },
    { "bad_return_zero", "select returned" },
    { "bad_return_float", "select returned" },
    { "bad_return_range", "select returned" },
    { "bad_return_table", "select returned" },
    { "writes_global", "assignment to undeclared global" },
    { "reads_global", "undeclared global" },
    { "uses_io", "blocked function" },
    { "uses_os", "blocked function" },
    { "uses_loadstring", "blocked function: loadstring" },
    { "requires_ffi", "blocked function: require 'ffi'" },
    { "wrong_name", "name must be 'wrong_name'" },
    { "no_select", "select must be a function" },
    { "configure_error", "configure" },
  }) do
    it("rejects " .. case[1] .. " and says why", function()
      local dir = policy_dir()
      os.execute("cp spec/fixtures/policies/" .. case[1] .. ".lua " .. dir)
      local code, out = check(dir, case[1], { B3SCALE_POLICY_MEMORY_MB = "16" })
      assert.equal(1, code, out)
      assert.matches(case[2], out, 1, true)
    end)
  end

  it("checks that every policy a frontend names exists when the database is reachable", function()
    local db = h.new_db("chk")
    h.migrate(db)
    h.psql(db, "INSERT INTO frontends (key, secret, settings) VALUES ('x', 's', '{\"policy\": \"nope\"}')")
    local code, out = check("policies", nil, { B3SCALE_DB_URL = db })
    assert.equal(1, code)
    assert.matches("a frontend uses policy 'nope'", out, 1, true)
  end)
end)
