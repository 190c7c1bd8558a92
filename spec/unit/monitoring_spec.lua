-- examples/monitoring: the alerting rules pass promtool (check and their unit tests), the
-- Grafana dashboard is well-formed JSON whose queries parse, and every metric, label and
-- label value either of them uses is one docs/metrics.md documents, so a renamed metric
-- cannot leave an alert that never fires. The live /metrics of b3scaled is checked too.
local h = require("helpers")
local cjson = require("cjson")

local DIR = "examples/monitoring/"
local RULES = DIR .. "b3scale.rules.yml"
local DASHBOARD = DIR .. "grafana-dashboard.json"

-- labels Prometheus adds to every scraped series
local TARGET_LABELS = { instance = true, job = true }
-- PromQL words that are neither metrics nor functions
local KEYWORDS = { ["and"] = true, ["or"] = true, unless = true, bool = true, offset = true,
  by = true, without = true, on = true, ignoring = true, group_left = true, group_right = true,
  inf = true, nan = true }


-- docs/metrics.md's table: name -> { type =, labels = { name -> set of values or false } }
local function documented()
  local doc = assert(h.read_file(h.ROOT .. "/docs/metrics.md"))
  local out = {}
  for row in doc:gmatch("\n(| `b3scale_[^\n]+)") do
    local cells = {}
    for cell in (row:gsub("\\|", "\1") .. "|"):gmatch("|([^|]*)") do cells[#cells + 1] = cell end
    local name = cells[1]:match("`(b3scale_[%w_]+)`")
    local labels, current = {}, nil
    -- a backticked word after "=" or "\|" is a value of the label before it; else a name
    for pos, word in cells[3]:gmatch("()`([%w_]+)`") do
      local before = cells[3]:sub(1, pos - 1):match("(%S)%s*$")
      if before == "=" or before == "\1" then
        labels[current] = labels[current] or {}
        labels[current][word] = true
      else
        current = word
        labels[word] = false
      end
    end
    out[name] = { type = h.trim(cells[2]), labels = labels }
  end
  return out
end


-- The rules of a Prometheus rules file as written here: "- alert:" items with inline or
-- block (| or >) scalars. Returns { { alert =, expr =, ["for"] =, severity =, summary =,
-- description = }, ... }.
local function read_rules(text)
  local rules, rule, block, block_indent = {}, nil, nil, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local indent = #line:match("^( *)")
    if block and (line:match("^%s*$") or indent > block_indent) then
      rule[block] = (rule[block] or "") .. line:gsub("^%s+", "") .. "\n"
    else
      block = nil
      local name = line:match("^%s*%- alert:%s*(%S+)")
      if name then
        rule = { alert = name }
        rules[#rules + 1] = rule
      elseif rule then
        local key, value = line:match("^%s*([%w_]+):%s*(.-)%s*$")
        if key and (value == "|" or value == ">" or value == "|-" or value == ">-") then
          block, block_indent = key, indent
        elseif key and value ~= "" then
          rule[key] = value:match('^"(.*)"$') or value
        end
      end
    end
  end
  for _, r in ipairs(rules) do
    if r.expr then r.expr = h.trim(r.expr) end
  end
  return rules
end


-- What one PromQL expression uses: metric names, and per metric its label matchers
-- ({ label, op, value }), plus the labels of its by/without/on/ignoring/group_* clauses.
local function promql_uses(expr)
  local s = expr:gsub('\\"', "")
  local metrics, matchers, grouping = {}, {}, {}
  -- label matchers belong to the metric name right before them (or to none: {__name__=..})
  for name, body in s:gmatch("([%a_:][%w_:]*)%s*(%b{})") do
    for label, op, value in body:gmatch('([%a_][%w_]*)%s*([=!~]+)%s*"([^"]*)"') do
      matchers[#matchers + 1] = { metric = name, label = label, op = op, value = value }
    end
  end
  for _, kw in ipairs({ "by", "without", "on", "ignoring", "group_left", "group_right" }) do
    for list in s:gmatch("%f[%w_]" .. kw .. "%s*(%b())") do
      for label in list:gmatch("[%a_][%w_]*") do grouping[#grouping + 1] = label end
    end
    s = s:gsub("%f[%w_]" .. kw .. "%s*%b()", " ")
  end
  s = s:gsub('"[^"]*"', " "):gsub("%b{}", " "):gsub("%b[]", " ")
  for pos, word, after in s:gmatch("()([%a_:][%w_:]*)()") do
    local prev = pos > 1 and s:sub(pos - 1, pos - 1) or " "
    local is_number_part = prev:match("[%d%.]") ~= nil
    local is_call = s:match("^%s*%(", after) ~= nil
    if not is_number_part and not is_call and not KEYWORDS[word:lower()] then
      metrics[#metrics + 1] = word
    end
  end
  return metrics, matchers, grouping
end


-- the documented family of a series name (histogram series carry a suffix), or nil
local function family(doc, name)
  if doc[name] then return name, doc[name] end
  local base = name:match("^(.-)_bucket$") or name:match("^(.-)_sum$") or name:match("^(.-)_count$")
  if base and doc[base] and doc[base].type == "histogram" then return base, doc[base] end
end


-- asserts everything expr uses is documented; returns the set of families it uses
local function check_expr(doc, expr, where)
  local metrics, matchers, grouping = promql_uses(expr)
  assert.is_true(#metrics > 0, where .. ": no metric in " .. expr)
  local used, labels = {}, { instance = true, job = true }
  for _, m in ipairs(metrics) do
    local fam, d = family(doc, m)
    assert.truthy(fam, where .. ": " .. m .. " is not a metric docs/metrics.md lists")
    used[fam] = true
    for l in pairs(d.labels) do labels[l] = true end
    if d.type == "histogram" then labels.le = true end
  end
  for _, mt in ipairs(matchers) do
    local fam, d = family(doc, mt.metric)
    assert.truthy(fam, where .. ": matcher on unknown metric " .. mt.metric)
    if not TARGET_LABELS[mt.label] then
      assert.is_not_nil(d.labels[mt.label], where .. ": " .. fam .. " has no label " .. mt.label)
      local values = d.labels[mt.label]
      if values and (mt.op == "=" or mt.op == "!=") then
        assert.truthy(values[mt.value], where .. ": " .. fam .. "{" .. mt.label .. "} never is " .. mt.value)
      end
    end
  end
  for _, l in ipairs(grouping) do
    assert.truthy(labels[l], where .. ": groups by " .. l .. ", which none of its metrics has")
  end
  return used
end


-- Grafana's variables, replaced by what they stand for so that promtool can parse the query
local function grafana_to_promql(expr)
  return (expr:gsub("%$__rate_interval", "5m"):gsub("%$__range", "1h"):gsub("%$__interval", "1m")
    :gsub("%$instance", ".*"))
end


local function dashboard_targets(d)
  local out = {}
  local function walk(panels)
    for _, p in ipairs(panels or {}) do
      if p.type == "row" then
        walk(p.panels)
      else
        out[#out + 1] = p
      end
    end
  end
  walk(d.panels)
  return out
end


describe("monitoring examples", function()
  local doc, rules, dash

  setup(function()
    doc = documented()
    rules = read_rules(assert(h.read_file(RULES)))
    dash = cjson.decode((assert(h.read_file(DASHBOARD))))
  end)

  it("reads docs/metrics.md's families, labels and values", function()
    assert.equal("histogram", doc.b3scale_bbb_request_duration_seconds.type)
    assert.is_true(doc.b3scale_bbb_requests_total.labels.outcome.server_error)
    assert.is_false(doc.b3scale_backend_meetings.labels.backend)
    assert.is_true(doc.b3scale_backend_state.labels.node_state.unavailable)
    local uses = { promql_uses('sum by (call, le) (rate(x_bucket{a="b", c=~"d"}[5m])) / on () y > bool 0.95') }
    assert.same({ "x_bucket", "y" }, uses[1])
    assert.same({ metric = "x_bucket", label = "a", op = "=", value = "b" }, uses[2][1])
    assert.same({ "call", "le" }, uses[3])
  end)

  it("has rules that promtool accepts", function()
    local code, out = h.run({ "promtool", "check", "rules", RULES })
    assert.equal(0, code, out)
    assert.matches("SUCCESS: " .. #rules .. " rules found", out)
  end)

  it("has rules whose unit tests pass (the node-unavailable and database alerts fire)", function()
    local tests = assert(h.read_file(DIR .. "b3scale.rules.test.yml"))
    for _, alert in ipairs({ "B3scaleNodeUnavailable", "B3scaleDatabaseErrors", "B3scaleDatabaseDown" }) do
      assert.truthy(tests:find("alertname: " .. alert .. "\n", 1, true), alert .. " is not tested")
    end
    -- promtool reads rule_files relative to the test file's directory
    local code, out = h.run({ "sh", "-c", "cd " .. DIR .. " && promtool test rules b3scale.rules.test.yml" })
    assert.equal(0, code, out)
    assert.matches("SUCCESS", out)
  end)

  it("gives every alert a for, a severity, a summary and a description", function()
    assert.is_true(#rules >= 8)
    local names = {}
    for _, r in ipairs(rules) do
      assert.is_nil(names[r.alert], "alert twice: " .. r.alert)
      names[r.alert] = true
      assert.truthy(r.expr, r.alert .. ": no expr")
      assert.matches("^%d+[smhd]$", r["for"] or "", r.alert .. ": no for")
      assert.truthy(({ critical = true, warning = true, info = true })[r.severity], r.alert .. ": severity")
      assert.truthy(r.summary and #r.summary > 0, r.alert .. ": no summary")
      assert.truthy(r.description and #r.description > 0, r.alert .. ": no description")
    end
  end)

  it("alerts only on documented metrics, labels and values, and on what the brief asks", function()
    local used = {}
    for _, r in ipairs(rules) do
      for fam in pairs(check_expr(doc, r.expr, r.alert)) do used[fam] = true end
    end
    for _, fam in ipairs({ "b3scale_backend_state", "b3scale_backend_available", "b3scale_policy_fallbacks_total",
      "b3scale_policy_errors_total", "b3scale_policy_reload_failures_total", "b3scale_callbacks_pending",
      "b3scale_db_errors_total", "b3scale_database_up" }) do
      assert.truthy(used[fam], "no alert uses " .. fam)
    end
  end)

  it("has a Grafana dashboard with a datasource input and panels with queries", function()
    assert.is_true(dash.schemaVersion >= 36)
    local input
    for _, i in ipairs(dash.__inputs or {}) do
      if i.name == "DS_PROMETHEUS" then input = i end
    end
    assert.truthy(input, "no DS_PROMETHEUS input")
    assert.equal("prometheus", input.pluginId)
    local panels = dashboard_targets(dash)
    assert.is_true(#panels >= 10)
    local ids = {}
    for _, p in ipairs(panels) do
      assert.is_nil(ids[p.id], "panel id twice: " .. tostring(p.id))
      ids[p.id] = true
      assert.truthy(p.title and p.title ~= "", "a panel without a title")
      assert.equal("${DS_PROMETHEUS}", p.datasource.uid, p.title)
      assert.is_true(p.gridPos.x + p.gridPos.w <= 24, p.title)
      assert.is_true(#(p.targets or {}) > 0, p.title .. ": no target")
      for _, t in ipairs(p.targets) do
        assert.truthy(t.expr and t.expr ~= "", p.title .. ": a target without expr")
        assert.equal("${DS_PROMETHEUS}", t.datasource.uid, p.title)
      end
    end
  end)

  it("queries only documented metrics, labels and values, covering what the brief asks", function()
    local used = {}
    for _, p in ipairs(dashboard_targets(dash)) do
      for _, t in ipairs(p.targets) do
        for fam in pairs(check_expr(doc, t.expr, p.title)) do used[fam] = true end
      end
    end
    for _, fam in ipairs({ "b3scale_bbb_requests_total", "b3scale_bbb_request_duration_seconds",
      "b3scale_backend_state", "b3scale_backend_meetings", "b3scale_backend_participants",
      "b3scale_policy_calls_total", "b3scale_policy_fallbacks_total", "b3scale_callbacks_pending",
      "b3scale_callbacks_total", "b3scale_db_errors_total", "b3scale_policy_generation",
      "b3scale_policy_reload_failures_total" }) do
      assert.truthy(used[fam], "no panel shows " .. fam)
    end
  end)

  it("has dashboard queries that Prometheus parses", function()
    -- every query as a recording rule: promtool parses each one
    local lines = { "groups:", "  - name: dashboard", "    rules:" }
    local n = 0
    for _, p in ipairs(dashboard_targets(dash)) do
      for _, t in ipairs(p.targets) do
        n = n + 1
        lines[#lines + 1] = "      - record: dashboard:query" .. n
        lines[#lines + 1] = "        expr: '" .. grafana_to_promql(t.expr):gsub("'", "''") .. "'"
      end
    end
    local file = h.tmpdir() .. "/dashboard-queries.yml"
    h.write_file(file, table.concat(lines, "\n") .. "\n")
    local code, out = h.run({ "promtool", "check", "rules", file })
    assert.equal(0, code, out)
    assert.matches("SUCCESS: " .. n .. " rules found", out)
  end)
end)


describe("monitoring examples against a live b3scaled", function()
  local d

  setup(function()
    local db = h.new_db("monitoring")
    h.migrate(db)
    local sim = h.bbbsim({ name = "mon1" })
    h.psql(db, "INSERT INTO backends (host, secret) VALUES ('" .. sim.url .. "', '" .. sim.secret .. "')")
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('mon', 'mon-secret')")
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "200" } })
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("exposes every family the rules and the dashboard use, in a scrape promtool accepts", function()
    -- once the node is polled, the per-backend families have series
    local body = h.wait_until(function()
      local st, b = h.get(d.url .. "/metrics")
      return st == 200 and b:find('\nb3scale_backend_available{[^}]*} 1\n') and b
    end, 10)
    assert.truthy(body, "the node never became available")
    local want = {}
    for _, r in ipairs(read_rules(assert(h.read_file(RULES)))) do
      for _, m in ipairs((promql_uses(r.expr))) do want[m] = true end
    end
    for _, p in ipairs(dashboard_targets(cjson.decode((assert(h.read_file(DASHBOARD)))))) do
      for _, t in ipairs(p.targets) do
        for _, m in ipairs((promql_uses(t.expr))) do want[m] = true end
      end
    end
    -- a family is announced (HELP, TYPE) even before its first labelled series
    local doc = documented()
    for m in pairs(want) do
      local fam = family(doc, m) or m
      assert.truthy(body:find("\n# TYPE " .. fam .. " ", 1, true), "b3scaled does not expose " .. fam)
    end
    local scrape = h.tmpdir() .. "/scrape.txt"
    h.write_file(scrape, body)
    local code, out = h.run({ "sh", "-c", "promtool check metrics < " .. h.shell_quote(scrape) })
    assert.equal(0, code, out)
  end)
end)
