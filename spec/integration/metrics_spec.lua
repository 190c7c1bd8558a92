-- /metrics, /healthz and /readyz of the real daemon (docs/metrics.md): every scrape is parsed
-- by a strict Prometheus text-format parser, the documented families are exactly the exposed
-- ones, the values move with what happens in the cluster, and no secret is ever exposed.
local h = require("helpers")
local cluster = require("support.cluster")
local cjson = require("cjson")

local FE_SECRET = "metrics-fe-secret-6f1d2c"
local JWT_SECRET = "metrics-jwt-secret-a93e71"
local FAST = {
  B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_POLL_TIMEOUT_MS = "500",
  B3SCALE_UNAVAILABLE_AFTER = "2", B3SCALE_AVAILABLE_AFTER = "2",
  B3SCALE_BACKEND_CONNECT_TIMEOUT_MS = "300", B3SCALE_BACKEND_TIMEOUT_MS = "2000",
  B3SCALE_API_JWT_SECRET = JWT_SECRET,
}

-- Every label name /metrics may use. None identifies a meeting, user or request, so the
-- number of series is bounded by backends x frontends x fixed sets (docs/metrics.md).
local BOUNDED_LABELS = {
  backend = true, frontend = true, call = true, outcome = true, method = true, status = true,
  policy = true, kind = true, type = true, le = true, version = true, admin_state = true,
  node_state = true, state = true, reason = true,
}

--------------------------------------------------------------------------------------------
-- a strict parser for the Prometheus text exposition format 0.0.4, as b3scaled uses it:
-- every line is "# HELP name text", "# TYPE name counter|gauge|histogram" or
-- "name{label="value",...} number" (no timestamps, no other comments, no blank lines); a
-- family's HELP and TYPE come before its samples, which are contiguous; label values are
-- escaped (\\, \", \n only); no series twice; histogram buckets are cumulative, ascending in
-- le, end with le="+Inf" and equal _count; counters are >= 0 and named *_total.

local NAME = "^[a-zA-Z_:][a-zA-Z0-9_:]*$"
local LABEL = "^[a-zA-Z_][a-zA-Z0-9_]*$"
local TYPES = { counter = true, gauge = true, histogram = true }


local function parse_number(s)
  if s == "+Inf" then return math.huge end
  if s == "-Inf" then return -math.huge end
  if s == "NaN" then return 0 / 0 end
  if not (s:find("^[+-]?%d+%.?%d*$") or s:find("^[+-]?%d*%.%d+$")
      or s:find("^[+-]?%d+%.?%d*[eE][+-]?%d+$") or s:find("^[+-]?%d*%.%d+[eE][+-]?%d+$")) then
    return nil
  end
  return tonumber(s)
end


-- labels text between { and } -> ordered list { {name, value}, ... } or nil, error
local function parse_labels(s)
  local out, seen, i = {}, {}, 1
  while i <= #s do
    local name, j = s:match("^([^=]*)=()", i)
    if not name then return nil, "label without '='" end
    if not name:find(LABEL) or name:find("^__") then return nil, "bad label name '" .. name .. "'" end
    if seen[name] then return nil, "label '" .. name .. "' twice" end
    seen[name] = true
    if s:sub(j, j) ~= '"' then return nil, "label value of '" .. name .. "' not quoted" end
    j = j + 1
    local val = {}
    while true do
      local c = s:sub(j, j)
      if c == "" then return nil, "unterminated label value of '" .. name .. "'" end
      if c == '"' then break end
      if c == "\\" then
        local e = s:sub(j + 1, j + 1)
        if e == "\\" or e == '"' then val[#val + 1] = e
        elseif e == "n" then val[#val + 1] = "\n"
        else return nil, "bad escape '\\" .. e .. "' in label '" .. name .. "'" end
        j = j + 2
      else
        val[#val + 1] = c
        j = j + 1
      end
    end
    out[#out + 1] = { name, table.concat(val) }
    i = j + 1
    if i <= #s then
      if s:sub(i, i) ~= "," or i == #s then return nil, "expected ',' between labels (and none trailing)" end
      i = i + 1
    end
  end
  return out
end


local function series_key(name, labels, skip)
  local l = {}
  for _, kv in ipairs(labels) do
    if kv[1] ~= skip then l[#l + 1] = kv[1] .. "=" .. string.format("%q", kv[2]) end
  end
  table.sort(l)
  return name .. "{" .. table.concat(l, ",") .. "}"
end


-- text -> { families = { name = { help=, type=, samples = { {name, labels, value, key} } } },
--           order = { names }, values = { series_key = number } }; errors with the line
local function parse(text)
  assert(type(text) == "string" and text ~= "", "empty exposition")
  assert(text:sub(-1) == "\n", "exposition does not end with a newline")
  local fams, order, values, closed = {}, {}, {}, {}
  local current
  local n = 0
  local function fail(msg, line)
    error(string.format("metrics line %d: %s\n  %s", n, msg, line), 0)
  end
  local function family(name, line)
    local f = fams[name]
    if not f then
      f = { name = name, samples = {} }
      fams[name] = f
      order[#order + 1] = name
    end
    if current ~= name then
      if closed[name] then fail("family " .. name .. " is not contiguous", line) end
      if current then closed[current] = true end
      current = name
    end
    return f
  end
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if line == "" then fail("blank line", line) end
    if line:sub(1, 1) == "#" then
      local kw, name, rest = line:match("^# (%u+) (%S+) (.*)$")
      if kw == "HELP" then
        if not name:find(NAME) then fail("bad metric name", line) end
        if rest == "" then fail("empty HELP", line) end
        if rest:find("\\[^\\n]") then fail("bad escape in HELP", line) end
        local f = family(name, line)
        if f.help then fail("second HELP for " .. name, line) end
        if #f.samples > 0 then fail("HELP after samples of " .. name, line) end
        f.help = rest
      elseif kw == "TYPE" then
        if not name:find(NAME) then fail("bad metric name", line) end
        if not TYPES[rest] then fail("type '" .. rest .. "' is not counter, gauge or histogram", line) end
        local f = family(name, line)
        if f.type then fail("second TYPE for " .. name, line) end
        if #f.samples > 0 then fail("TYPE after samples of " .. name, line) end
        f.type = rest
      else
        fail("comment that is neither HELP nor TYPE", line)
      end
    else
      local name, labels, value = line:match("^([a-zA-Z_:][a-zA-Z0-9_:]*){(.*)} (%S+)$")
      if not name then
        name, value = line:match("^([a-zA-Z_:][a-zA-Z0-9_:]*) (%S+)$")
        labels = ""
      end
      if not name then fail("not a sample line", line) end
      local v = parse_number(value)
      if not v then fail("value '" .. value .. "' is not a number", line) end
      local l, err = parse_labels(labels)
      if not l then fail(err, line) end
      -- the family: the name itself, or a histogram's name_bucket / _sum / _count
      local fname = name
      if not fams[name] or not fams[name].type then
        local base, suffix = name:match("^(.*)_(%a+)$")
        if base and fams[base] and fams[base].type == "histogram"
            and (suffix == "bucket" or suffix == "sum" or suffix == "count") then
          fname = base
        end
      end
      local f = fams[fname]
      if not f or not f.help or not f.type then fail("sample before HELP and TYPE of its family", line) end
      if current ~= fname then fail("sample of " .. fname .. " outside its family's block", line) end
      if f.type == "histogram" and fname == name then fail("histogram sample without _bucket/_sum/_count", line) end
      if f.type == "counter" and (v ~= v or v < 0) then fail("negative or NaN counter", line) end
      local seen_le = false
      for _, kv in ipairs(l) do
        if kv[1] == "le" then seen_le = true end
      end
      if name:sub(-7) == "_bucket" and f.type == "histogram" then
        if not seen_le then fail("bucket without le", line) end
      elseif seen_le then
        fail("le label outside a histogram bucket", line)
      end
      local key = series_key(name, l)
      if values[key] ~= nil then fail("duplicate series " .. key, line) end
      values[key] = v
      f.samples[#f.samples + 1] = { name = name, labels = l, value = v, key = key }
    end
  end
  -- whole-family checks
  for _, fname in ipairs(order) do
    local f = fams[fname]
    if not f.help or not f.type then error("family " .. fname .. " lacks HELP or TYPE", 0) end
    if f.type == "counter" and not fname:find("_total$") then
      error("counter " .. fname .. " is not named *_total", 0)
    end
    if f.type == "histogram" then
      local groups = {}
      for _, s in ipairs(f.samples) do
        local g = series_key(fname, s.labels, "le")
        groups[g] = groups[g] or { buckets = {} }
        if s.name == fname .. "_bucket" then
          local le
          for _, kv in ipairs(s.labels) do if kv[1] == "le" then le = kv[2] end end
          local bound = parse_number(le)
          if not bound then error("histogram " .. g .. ": le '" .. le .. "' is not a number", 0) end
          table.insert(groups[g].buckets, { le = bound, raw = le, value = s.value })
        elseif s.name == fname .. "_count" then
          groups[g].count = s.value
        else
          groups[g].sum = s.value
        end
      end
      for g, grp in pairs(groups) do
        local b = grp.buckets
        if #b == 0 then error("histogram " .. g .. " has no buckets", 0) end
        for i = 2, #b do
          if not (b[i].le > b[i - 1].le) then error("histogram " .. g .. ": le not ascending", 0) end
          if b[i].value < b[i - 1].value then error("histogram " .. g .. ": buckets not cumulative", 0) end
        end
        if b[#b].raw ~= "+Inf" then error("histogram " .. g .. ": last bucket is not le=\"+Inf\"", 0) end
        if grp.count == nil or grp.sum == nil then error("histogram " .. g .. ": _sum or _count missing", 0) end
        if grp.count ~= b[#b].value then error("histogram " .. g .. ": +Inf bucket ~= _count", 0) end
      end
    end
  end
  return { families = fams, order = order, values = values }
end


-- the value of one series, given as it would be written: name{a="x",b="y"} (any label order)
local function value(m, series)
  local name, labels = series:match("^([^{]+){(.*)}$")
  if not name then name, labels = series, "" end
  local l = assert(parse_labels(labels))
  return m.values[series_key(name, l)]
end


-- the sum of a family's series whose labels include all of `match`
local function sum(m, name, match)
  local total = 0
  for _, s in ipairs((m.families[name] or { samples = {} }).samples) do
    local ok = true
    for k, v in pairs(match or {}) do
      local found = false
      for _, kv in ipairs(s.labels) do
        if kv[1] == k and kv[2] == v then found = true end
      end
      ok = ok and found
    end
    if ok and s.name == name then total = total + s.value end
  end
  return total
end

--------------------------------------------------------------------------------------------

local function scrape(d)
  local st, body, hd = h.get(d.url .. "/metrics")
  assert.equal(200, st, tostring(body))
  assert.matches("^text/plain; version=0.0.4", hd["content-type"])
  local ok, m = pcall(parse, body)
  assert(ok, "strict parse failed: " .. tostring(m))
  for _, fname in ipairs(m.order) do
    for _, s in ipairs(m.families[fname].samples) do
      for _, kv in ipairs(s.labels) do
        assert(BOUNDED_LABELS[kv[1]], "unexpected label " .. kv[1] .. " in " .. s.key)
      end
    end
  end
  return m, body
end


-- waits (cluster gauges are cached 2 s, polls every 200 ms) until pred(scrape) holds
local function eventually(d, pred, timeout, what)
  local last
  local ok = h.wait_until(function()
    last = scrape(d)
    return pred(last)
  end, timeout or 10, 0.25)
  assert(ok, "timed out waiting for " .. (what or "a metric"))
  return last
end


local function api(d, call, query)
  return h.get(h.api_url(h.frontend_api(d, "fe"), call, query, FE_SECRET))
end


local function holder(sims, nsid)
  for _, s in ipairs(sims) do
    if s.alive ~= false then
      for _, mt in ipairs(h.sim_get(s, "/sim/meetings")) do
        if mt.meetingID == nsid then return s end
      end
    end
  end
end


-- the families and types docs/metrics.md documents: "| `name` | type | ..." rows
local function documented()
  local doc = assert(h.read_file(h.ROOT .. "/docs/metrics.md"))
  local out = {}
  for name, typ in doc:gmatch("\n| `(b3scale_[%w_]+)` | (%a+) |") do
    out[name] = typ
  end
  return out
end


describe("strict metrics parser", function()
  local GOOD = "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"q\\\"\\\\\\n\"} 3\n"
    .. "# HELP h Histo.\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\nh_count 2\n"

  it("accepts a well-formed exposition and decodes escapes", function()
    local m = parse(GOOD)
    assert.equal(3, value(m, 'x_total{a="q\\"\\\\\\n"}'))
    assert.equal("q\"\\\n", m.families.x_total.samples[1].labels[1][2])
  end)

  for _, case in ipairs({
    { "no HELP", "# TYPE g gauge\ng 1\n", "before HELP and TYPE" },
    { "no TYPE", "# HELP g G.\ng 1\n", "before HELP and TYPE" },
    { "unknown type", "# HELP g G.\n# TYPE g summary\ng 1\n", "is not counter" },
    { "bad escape", "# HELP g G.\n# TYPE g gauge\ng{a=\"\\x\"} 1\n", "bad escape" },
    { "unquoted", "# HELP g G.\n# TYPE g gauge\ng{a=x} 1\n", "not quoted" },
    { "trailing comma", "# HELP g G.\n# TYPE g gauge\ng{a=\"x\",} 1\n", "none trailing" },
    { "not a number", "# HELP g G.\n# TYPE g gauge\ng 1x\n", "is not a number" },
    { "timestamp", "# HELP g G.\n# TYPE g gauge\ng 1 1700000000\n", "not a sample line" },
    { "duplicate", "# HELP g G.\n# TYPE g gauge\ng{a=\"1\",b=\"2\"} 1\ng{b=\"2\",a=\"1\"} 1\n", "duplicate series" },
    { "blank line", "# HELP g G.\n# TYPE g gauge\n\ng 1\n", "blank line" },
    { "other comment", "# HELP g G.\n# TYPE g gauge\n# hello\ng 1\n", "neither HELP nor TYPE" },
    { "split family", "# HELP g G.\n# TYPE g gauge\ng 1\n# HELP k K.\n# TYPE k gauge\nk 1\ng{a=\"2\"} 1\n", "outside its family" },
    { "interleaved families", "# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\na 1\nb 1\n", "outside its family" },
    { "negative counter", "# HELP c_total C.\n# TYPE c_total counter\nc_total -1\n", "negative" },
    { "counter name", "# HELP c C.\n# TYPE c counter\nc 1\n", "_total" },
    { "not cumulative", "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "not cumulative" },
    { "no +Inf", "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "+Inf" },
    { "+Inf != count", "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "~= _count" },
    { "no newline at end", "# HELP g G.\n# TYPE g gauge\ng 1", "newline" },
  }) do
    it("rejects: " .. case[1], function()
      local ok, err = pcall(parse, case[2])
      assert.is_false(ok)
      assert.is_not_nil(tostring(err):find(case[3], 1, true), "rejected for another reason: " .. tostring(err))
    end)
  end
end)


describe("/metrics of a running cluster", function()
  local db, d, d2, s1, s2, sims, backend_secrets

  setup(function()
    db = h.new_db("metrics")
    h.migrate(db)
    s1 = h.bbbsim({ name = "m1", secret = "metrics-node1-secret-0c8e" })
    s2 = h.bbbsim({ name = "m2", secret = "metrics-node2-secret-51aa" })
    sims = { s1, s2 }
    backend_secrets = { s1.secret, s2.secret }
    cluster.register(db, sims, "fe", FE_SECRET)
    d = h.daemon({ db = db, env = FAST })
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM backends WHERE node_state = 'ready'") == "2"
    end, 10)
  end)

  teardown(function()
    if d2 then h.stop(d2) end
    if d then assert.equal(0, h.stop(d), "b3scaled should exit 0 on SIGTERM") end
    h.cleanup()
  end)

  it("answers /healthz and /readyz", function()
    local st, body = h.get(d.url .. "/healthz")
    assert.equal(200, st)
    assert.equal("ok\n", body)
    local hd
    st, body, hd = h.get(d.url .. "/readyz")
    assert.equal(200, st, body)
    assert.matches("^application/json", hd["content-type"])
    local v = cjson.decode(body)
    assert.is_true(v.ready)
    assert.equal(1, v.policy_generation)
  end)

  it("exposes exactly the documented families with their types", function()
    local m = scrape(d)
    local doc = documented()
    assert.is_not_nil(next(doc), "docs/metrics.md lists no metric")
    for _, fname in ipairs(m.order) do
      assert.equal(doc[fname], m.families[fname].type, "exposed but not documented (or other type): " .. fname)
    end
    for fname in pairs(doc) do
      assert.is_not_nil(m.families[fname], "documented but not exposed: " .. fname)
    end
    assert.equal(1, value(m, "b3scale_database_up"))
    assert.equal(1, value(m, "b3scale_policy_generation"))
    for _, s in ipairs(sims) do
      assert.equal(1, value(m, 'b3scale_backend_available{backend="' .. s.url .. '"}'))
      assert.equal(1, value(m, 'b3scale_backend_state{backend="' .. s.url .. '",admin_state="ready",node_state="ready"}'))
    end
    -- one series per backend for each backend gauge: nothing per meeting
    assert.equal(2, #m.families.b3scale_backend_meetings.samples)
  end)

  it("counts creates and shows the new meetings per frontend and per backend", function()
    local before = scrape(d)
    local creates = value(before, 'b3scale_bbb_requests_total{call="create",outcome="success"}')
    local hist = value(before, 'b3scale_bbb_request_duration_seconds_count{call="create"}')
    local fe = value(before, 'b3scale_frontend_meetings{frontend="fe"}')
    local be = sum(before, "b3scale_backend_meetings")
    for i = 1, 3 do
      local _, b = api(d, "create", "name=Metered&meetingID=metered-" .. i)
      assert.equal("SUCCESS", h.xml_text(b, "returncode"), b)
    end
    -- counters are in memory: at once
    local now = scrape(d)
    assert.equal(creates + 3, value(now, 'b3scale_bbb_requests_total{call="create",outcome="success"}'))
    assert.equal(hist + 3, value(now, 'b3scale_bbb_request_duration_seconds_count{call="create"}'))
    -- cluster gauges: once the 2 s cache has expired and the nodes were polled
    eventually(d, function(m)
      return value(m, 'b3scale_frontend_meetings{frontend="fe"}') == fe + 3
        and sum(m, "b3scale_backend_meetings") == be + 3
    end, 10, "frontend and backend meeting gauges")
    local st = api(d, "getMeetings", "")
    assert.equal(200, st)
    now = scrape(d)
    assert.is_true(value(now, 'b3scale_bbb_requests_total{call="getMeetings",outcome="success"}') >= 1)
    assert.is_true(sum(now, "b3scale_polls_total") > 0)
  end)

  it("shows attendees added on a node as backend participants and frontend attendees", function()
    local node = holder(sims, "fe~metered-1")
    assert.is_not_nil(node)
    local _, st = h.sim_req(node, "POST", "/sim/attendees?meetingID=" .. h.urlencode("fe~metered-1") .. "&count=5")
    assert.equal(200, st)
    local m = eventually(d, function(x)
      return value(x, 'b3scale_backend_participants{backend="' .. node.url .. '"}') == 5
        and value(x, 'b3scale_frontend_attendees{frontend="fe"}') == 5
    end, 10, "participants 5")
    assert.equal(5, sum(m, "b3scale_meeting_attendees", { frontend = "fe", backend = node.url }))
    assert.is_true(value(m, 'b3scale_backend_load{backend="' .. node.url .. '"}') >= 5)
  end)

  it("turns a killed node unavailable and counts its failed polls", function()
    local before = scrape(d)
    local failures = value(before, 'b3scale_poll_failures_total{backend="' .. s2.url .. '"}') or 0
    h.stop(s2)
    s2.alive = false
    local m = eventually(d, function(x)
      return value(x, 'b3scale_backend_available{backend="' .. s2.url .. '"}') == 0
    end, 10, "backend_available 0")
    assert.equal(1, value(m, 'b3scale_backend_state{backend="' .. s2.url .. '",admin_state="ready",node_state="unavailable"}'))
    assert.is_nil(value(m, 'b3scale_backend_state{backend="' .. s2.url .. '",admin_state="ready",node_state="ready"}'))
    assert.is_true(value(m, 'b3scale_poll_failures_total{backend="' .. s2.url .. '"}') > failures)
    assert.equal(1, value(m, 'b3scale_backend_available{backend="' .. s1.url .. '"}'))
  end)

  it("counts runtime errors and fallbacks of a failing policy (second daemon)", function()
    local dir = h.tmpdir() .. "/metrics-policies-" .. h.random_hex(3)
    assert(os.execute("mkdir -p " .. dir .. " && cp policies/*.lua " .. dir) == 0)
    -- passes the load-time smoke test, fails at run time for meeting IDs starting with err
    h.write_file(dir .. "/flaky.lua", [[
local P = { name = "flaky", api_version = 1 }
function P.select(req, backends)
  if req.meeting_id:find("^err") then local t = nil; return t.x end
  return #backends
end
return P
]])
    local e = {}
    for k, v in pairs(FAST) do e[k] = v end
    e.B3SCALE_POLICY_DIR = dir
    e.B3SCALE_POLICY = "flaky"
    e.B3SCALE_POLL_WORKERS = "0"
    d2 = h.daemon({ db = db, env = e })
    local _, b = api(d2, "create", "name=Ok&meetingID=fine-1")
    assert.equal("SUCCESS", h.xml_text(b, "returncode"), b)
    _, b = api(d2, "create", "name=Broken&meetingID=err-1")
    assert.equal("SUCCESS", h.xml_text(b, "returncode"), b)
    assert.is_not_nil(holder(sims, "fe~err-1"))
    local m = scrape(d2)
    assert.equal(1, value(m, 'b3scale_policy_errors_total{policy="flaky",kind="runtime"}'))
    assert.equal(0, value(m, 'b3scale_policy_errors_total{policy="flaky",kind="budget"}'))
    assert.equal(1, value(m, 'b3scale_policy_fallbacks_total{policy="flaky"}'))
    assert.equal(2, value(m, 'b3scale_policy_calls_total{policy="flaky"}'))
    assert.equal(0, value(m, 'b3scale_policy_nones_total{policy="flaky"}'))
    -- counters are per instance: the first daemon placed nothing with flaky
    assert.is_nil(value(scrape(d), 'b3scale_policy_calls_total{policy="flaky"}'))
  end)

  it("never shows a secret", function()
    for _, daemon in ipairs({ d, d2 }) do
      local _, body = scrape(daemon)
      for _, secret in ipairs({ FE_SECRET, JWT_SECRET, backend_secrets[1], backend_secrets[2] }) do
        assert.is_nil(body:find(secret, 1, true), "a secret appears in /metrics")
      end
      assert.is_nil(body:lower():find("checksum=", 1, true))
      assert.is_nil(body:find("postgresql://", 1, true))
    end
  end)
end)


describe("/readyz and /metrics without the database", function()
  local pg, db, d

  setup(function()
    pg = cluster.private_pg("metricsaway")      -- a private Postgres that can be stopped
    db = pg.db
    cluster.register(db, {}, "fe", FE_SECRET)
    d = h.daemon({ db = db, env = FAST })
  end)

  teardown(function()
    if d then h.stop(d) end
    if pg then pg:remove() end
    h.cleanup()
  end)

  it("answers readyz 503 while Postgres is down, keeps healthz 200, and recovers", function()
    local st, body = h.get(d.url .. "/readyz")
    assert.equal(200, st, body)
    assert.equal(0, (pg:stop()))
    local t0 = h.now()
    st, body = h.get(d.url .. "/readyz")
    assert.equal(503, st, body)
    assert.is_true(h.now() - t0 < 5, "readyz must not hang on a dead database")
    local v = cjson.decode(body)
    assert.is_false(v.ready)
    assert.equal("database unreachable", v.reason)
    st = h.get(d.url .. "/healthz")
    assert.equal(200, st)
    -- /metrics still answers, parses, and says the database is down (after the 2 s cache)
    eventually(d, function(m) return value(m, "b3scale_database_up") == 0 end, 10, "database_up 0")
    local code, out = pg:start()
    assert.equal(0, code, out)
    assert.is_not_nil(h.wait_until(function() return h.get(d.url .. "/readyz") == 200 end, 20, 0.2),
      "readyz did not recover")
    eventually(d, function(m) return value(m, "b3scale_database_up") == 1 end, 10, "database_up 1")
  end)
end)
