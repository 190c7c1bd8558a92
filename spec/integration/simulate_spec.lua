-- b3scaled simulate: a trace replayed against nodes with the real policy runtime, and the
-- policy test cases b3scalectl runs through it (no daemon, no database).
local h = require("helpers")
local cjson = h.cjson

local function has(s, needle) return s:find(needle, 1, true) ~= nil end

-- a policy directory: the shipped policies plus extra files
local function policy_dir(extra)
  local dir = h.tmpdir() .. "/simpol-" .. h.random_hex(4)
  assert(os.execute("mkdir -p " .. dir .. " && cp policies/*.lua " .. dir) == 0)
  for name, src in pairs(extra or {}) do
    h.write_file(dir .. "/" .. name .. ".lua", src)
  end
  return dir
end

local FIRST = [[
local P = { name = "first", api_version = 1 }
function P.select(req, backends) return 1, "always the first" end
return P
]]
local BROKEN = [[
local P = { name = "broken", api_version = 1 }
function P.select(req, backends)
  if req.meeting_id == "smoke-test" then return 1 end
  error("broken on purpose")
end
return P
]]

-- runs b3scaled simulate with args; returns exit code, stdout, stderr
local function simulate(dir, args, env)
  local errf = h.tmpdir() .. "/sim-" .. h.random_hex(4) .. ".err"
  local e = { B3SCALE_POLICY_DIR = dir, B3SCALE_DB_URL = false, SIM_ERR = errf }
  for k, v in pairs(env or {}) do e[k] = v end
  local argv = { "sh", "-c", 'exec "$0" simulate "$@" 2>"$SIM_ERR"', h.BUILD .. "/b3scaled" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local code, out = h.run(argv, e, 120)
  local err = h.read_file(errf) or ""
  os.remove(errf)
  return code, out, err
end

local function nodes_file(list)
  local f = h.tmpdir() .. "/nodes-" .. h.random_hex(4) .. ".json"
  h.write_file(f, cjson.encode(list))
  return f
end

local function node(i, tags, extra)
  local n = { id = string.format("00000000-0000-4000-8000-%012d", i),
    bbb = { host = "https://n" .. i .. ".example/bigbluebutton/api/" },
    admin_state = "ready", load_factor = 1, settings = { tags = tags or {} } }
  for k, v in pairs(extra or {}) do n[k] = v end
  return n
end

local function trace_file(lines)
  local f = h.tmpdir() .. "/trace-" .. h.random_hex(4) .. ".jsonl"
  h.write_file(f, table.concat(lines, "\n") .. "\n")
  return f
end

-- n meetings created at t=0..n-1, each with `size` joins, ended at t=100
local function small_trace(n, size, frontend)
  local l = {}
  for i = 1, n do
    l[#l + 1] = cjson.encode({ t = i - 1, event = "create", frontend = frontend or "fe",
      meeting = "m" .. i, size = size })
  end
  for i = 1, n do
    for _ = 1, size do
      l[#l + 1] = cjson.encode({ t = 50, event = "join", frontend = frontend or "fe", meeting = "m" .. i })
    end
  end
  for i = 1, n do
    l[#l + 1] = cjson.encode({ t = 100, event = "end", frontend = frontend or "fe", meeting = "m" .. i })
  end
  return trace_file(l)
end

describe("b3scaled simulate", function()
  local dir, nodes

  setup(function()
    dir = policy_dir({ first = FIRST, broken = BROKEN })
    nodes = nodes_file({ node(1, {}, { max_meetings = 2 }), node(2), node(3, { "sip" }) })
  end)

  teardown(function() h.cleanup() end)

  it("prints exactly the documented JSON; a policy that always picks node 1 puts every peak there", function()
    local code, out, err = simulate(dir, { "--policy", "first", "--trace", small_trace(4, 3),
      "--nodes", nodes, "--json" })
    assert.equal(0, code, err)
    local r = cjson.decode(out)
    assert.same({ "errors", "nodes", "policy", "refused" }, (function()
      local k = {} for x in pairs(r) do k[#k + 1] = x end table.sort(k) return k end)())
    assert.equal("first", r.policy)
    assert.equal(0, r.refused)
    assert.equal(0, r.errors)
    assert.equal(3, #r.nodes)
    local n1 = r.nodes[1]
    assert.same({ "host", "peak_attendees", "peak_meetings", "seconds_over_cap" }, (function()
      local k = {} for x in pairs(n1) do k[#k + 1] = x end table.sort(k) return k end)())
    assert.equal("https://n1.example/bigbluebutton/api/", n1.host)
    assert.equal(4, n1.peak_meetings)
    assert.equal(12, n1.peak_attendees)
    -- over its cap of 2 meetings from t=2 (3rd create) to t=100 (the ends)
    assert.equal(98, n1.seconds_over_cap)
    for i = 2, 3 do
      assert.equal(0, r.nodes[i].peak_meetings)
      assert.equal(0, r.nodes[i].peak_attendees)
      assert.equal(0, r.nodes[i].seconds_over_cap)
    end
  end)

  it("--compare runs both policies on the same trace, side by side", function()
    local code, out, err = simulate(dir, { "--policy", "first", "--compare", "least_load",
      "--trace", small_trace(6, 2), "--nodes", nodes, "--json", "--report-interval", "0" })
    assert.equal(0, code, err)
    local r = cjson.decode(out)
    assert.equal(2, #r.runs)
    assert.equal("first", r.runs[1].policy)
    assert.equal("least_load", r.runs[2].policy)
    assert.equal(6, r.runs[1].nodes[1].peak_meetings)
    -- least_load with current counters spreads 6 meetings over 3 nodes
    for i = 1, 3 do assert.equal(2, r.runs[2].nodes[i].peak_meetings) end
    -- and the text form shows both
    code, out = simulate(dir, { "--policy", "first", "--compare", "least_load",
      "--trace", small_trace(6, 2), "--nodes", nodes })
    assert.equal(0, code)
    assert.is_true(has(out, "first: 6 placed") and has(out, "least_load: 6 placed"), out)
  end)

  it("models reports: between two reports least_load sees pending placements only", function()
    -- 3 creates at t=0..2 with reports every 1000 s: pending still spreads them
    local code, out = simulate(dir, { "--policy", "least_load", "--trace", small_trace(3, 0),
      "--nodes", nodes, "--json", "--report-interval", "1000" })
    assert.equal(0, code)
    for _, n in ipairs(cjson.decode(out).nodes) do assert.equal(1, n.peak_meetings) end
  end)

  it("counts creates refused because no node has a required tag", function()
    local fes = h.tmpdir() .. "/fes.json"
    h.write_file(fes, cjson.encode({ { bbb = { key = "gpu" }, settings = { required_tags = { "gpu" } } },
      { bbb = { key = "sip" }, settings = { required_tags = { "sip" } } } }))
    local code, out, err = simulate(dir, { "--policy", "least_load", "--trace", small_trace(3, 1, "gpu"),
      "--nodes", nodes, "--frontends", fes, "--json" })
    assert.equal(0, code, err)
    local r = cjson.decode(out)
    assert.equal(3, r.refused)
    assert.equal(0, r.errors)
    -- the tag that exists: every meeting on node 3
    code, out = simulate(dir, { "--policy", "least_load", "--trace", small_trace(3, 1, "sip"),
      "--nodes", nodes, "--frontends", fes, "--json" })
    r = cjson.decode(out)
    assert.equal(0, r.refused)
    assert.equal(3, r.nodes[3].peak_meetings)
  end)

  it("counts policy errors and places by the daemon's fallback (or refuses when told to)", function()
    local code, out, err = simulate(dir, { "--policy", "broken", "--trace", small_trace(3, 0),
      "--nodes", nodes, "--json", "--report-interval", "0" })
    assert.equal(0, code, err)
    local r = cjson.decode(out)
    assert.equal(3, r.errors)
    assert.equal(0, r.refused)
    local placed = 0
    for _, n in ipairs(r.nodes) do placed = placed + n.peak_meetings end
    assert.equal(3, placed)
    code, out = simulate(dir, { "--policy", "broken", "--trace", small_trace(3, 0),
      "--nodes", nodes, "--json" }, { B3SCALE_POLICY_ON_ERROR = "reject" })
    r = cjson.decode(out)
    assert.equal(3, r.errors)
    assert.equal(3, r.refused)
  end)

  it("prints the reasons with --verbose", function()
    local code, out = simulate(dir, { "--policy", "least_load", "--trace", small_trace(1, 0),
      "--nodes", nodes, "--verbose" })
    assert.equal(0, code)
    assert.is_true(has(out, 'by=policy reason="least load 0 of'), out)
    assert.is_true(has(out, '"candidates":['), out)
  end)

  it("names the line of a malformed, overlong or out-of-order trace line and exits non-zero", function()
    local cases = {
      { { '{"t":0,"event":"create","frontend":"fe","meeting":"a"}', '{"t":1,"event":"create"' }, ":2: not a JSON object" },
      { { '', '{"t":0,"event":"explode","frontend":"fe","meeting":"a"}' }, ":2: event must be" },
      { { '{"t":5,"event":"create","frontend":"fe","meeting":"a"}', '{"t":1,"event":"end","frontend":"fe","meeting":"a"}' }, ":2: t goes back" },
      { { '{"t":0,"event":"create","frontend":"fe","meeting":"' .. string.rep("x", 70000) .. '"}' }, ":1: line longer than 64 KiB" },
    }
    for _, c in ipairs(cases) do
      local code, out, err = simulate(dir, { "--policy", "least_load", "--trace", trace_file(c[1]),
        "--nodes", nodes, "--json" })
      assert.equal(1, code, err)
      assert.equal("", out)
      assert.is_true(has(err, c[2]), err)
    end
    local code, _, err = simulate(dir, { "--policy", "nosuch", "--trace", small_trace(1, 0), "--nodes", nodes })
    assert.equal(1, code)
    assert.is_true(has(err, "nosuch"), err)
  end)

  it("runs the sample school-morning trace on the sample nodes", function()
    local code, out, err = simulate("policies", { "--policy", "least_load", "--compare", "first_available",
      "--trace", "examples/traces/school-morning.jsonl", "--nodes", "examples/traces/nodes.json", "--json" })
    assert.equal(0, code, err)
    local r = cjson.decode(out)
    assert.equal(2, #r.runs)
    assert.equal(6, #r.runs[1].nodes)
    local total = 0
    for _, n in ipairs(r.runs[1].nodes) do total = total + n.peak_meetings end
    assert.is_true(total >= 400, out)
    assert.equal(0, r.runs[1].refused)
  end)

  it("runs policy test cases (--cases) with the explanation", function()
    local f = h.tmpdir() .. "/cases.json"
    h.write_file(f, cjson.encode({ policy = "least_load", cases = {
      { name = "c1", request = { frontend = { key = "fe" }, params = { meetingID = "x" } },
        backends = { node(1, {}, { meetings_count = 3 }), node(2) } } } }))
    local code, out, err = simulate(dir, { "--cases", f })
    assert.equal(0, code, err)
    local r = cjson.decode(out).cases[1]
    assert.equal("placed", r.outcome)
    assert.equal("https://n2.example/bigbluebutton/api/", r.host)
    assert.equal(45, r.explanation.candidates[1].score)
  end)
end)
