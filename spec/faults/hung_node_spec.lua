-- A hung node must never stall anyone else: calls to nodes run on the node loop, not on the
-- HTTP workers; a node's bulkhead caps its calls in flight; its circuit opens after
-- consecutive timeouts and closes again after a successful probe.
local h = require("helpers")
local cluster = require("support.cluster")

local FE_SECRET = "hung-fe-secret"

local function api_url(d, call, query)
  return h.api_url(h.frontend_api(d, "fe"), call, query, FE_SECRET)
end

local function holder(sims, mid)
  return cluster.holder(sims, "fe", mid)
end


-- A background load: `rate` requests per second to url, each allowed `max_s` seconds.
local function load(url, rate, max_s)
  local script = string.format(
    "while :; do curl -s -o /dev/null -m %d '%s' & sleep %.3f; done", max_s, url, 1 / rate)
  return h.spawn({ "sh", "-c", script }, nil, h.tmpdir() .. "/load-" .. h.random_hex(3) .. ".log")
end

local function timed_get(url)
  local t0 = h.now()
  local st, body, hd = h.http("GET", url, nil, nil, 5)
  return h.now() - t0, st, body, hd
end

local function metric(d, pattern)
  local _, body = h.get(d.url .. "/metrics")
  return tonumber(body:match(pattern))
end

-- after each describe: the hung sim recovers, the daemon stops
local function teardown_cluster(sims, d, bg)
  if bg then h.stop(bg) end
  if sims then h.sim_req(sims[2], "POST", "/sim/mode?fail=none") end
  if d then h.stop(d) end
  h.cleanup()
end

local function setup_cluster(name, env)
  local sims = { h.bbbsim({ name = name .. "-ok" }), h.bbbsim({ name = name .. "-hung" }) }
  local db = h.new_db(name)
  h.migrate(db)
  cluster.register(db, sims, "fe", FE_SECRET)
  local base = { B3SCALE_WORKERS = "2", B3SCALE_POLL_INTERVAL_MS = "600000" }
  for k, v in pairs(env) do base[k] = v end
  local d = h.daemon({ db = db, env = base })
  return sims, d, cluster.one_meeting_each(sims, "fe", function(mid)
    return api_url(d, "create", "name=Room&meetingID=" .. mid)
  end)
end

-- The same, then the second node hangs under `call` for its meeting at 10 requests/s
-- (`extra`: more parameters of the call).
local function setup_hung(name, env, call, settle_s, extra)
  local sims, d, on = setup_cluster(name, env)
  h.sim_req(sims[2], "POST", "/sim/mode?fail=hang")
  local bg = load(api_url(d, call, "meetingID=" .. on[sims[2].name] .. (extra or "")), 10, 6)
  h.sleep(settle_s) -- calls to the hung node pile up
  return sims, d, on, bg
end


describe("a hung node under getMeetingInfo load", function()
  local sims, d, on, bg

  setup(function()
    -- no circuit breaker here: the node loop alone must keep the workers free
    sims, d, on, bg = setup_hung("hung", { B3SCALE_BACKEND_TIMEOUT_MS = "4000",
      B3SCALE_NODE_BREAKER_FAILURES = "1000", B3SCALE_NODE_MAX_INFLIGHT = "1000" },
      "getMeetingInfo", 1.5)
  end)

  teardown(function() teardown_cluster(sims, d, bg) end)

  it("keeps answering joins and getMeetingInfo for meetings on the healthy node", function()
    local healthy = on[sims[1].name]
    local join = api_url(d, "join", "fullName=U&role=VIEWER&meetingID=" .. healthy)
    local info = api_url(d, "getMeetingInfo", "meetingID=" .. healthy)
    local worst, slow = 0, 0
    for i = 1, 200 do
      local dt, st, body, hd
      if i % 2 == 0 then
        dt, st, body, hd = timed_get(join)
        assert.equal(302, st, body)
        assert.truthy(hd.location:find(sims[1].base, 1, true))
      else
        dt, st, body = timed_get(info)
        assert.equal(200, st)
        assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
      end
      worst = math.max(worst, dt)
      if dt >= 0.5 then slow = slow + 1 end
    end
    print(string.format("# healthy-node requests while a node hangs: worst %.1f ms", worst * 1000))
    assert.equal(0, slow, "requests for the healthy node took 0.5 s or more")
    -- the hung node's calls really were waiting meanwhile, parked
    assert.is_true(metric(d, "\nb3scale_http_parked_requests (%d+)") > 0)
  end)

  it("answers the hung node's getMeetingInfo as BBB does for an absent meeting", function()
    local dt, st, body = timed_get(api_url(d, "getMeetingInfo", "meetingID=" .. on[sims[2].name]))
    assert.equal(200, st)
    assert.equal("notFound", h.xml_text(body, "messageKey"), body)
    assert.is_true(dt < 4.9, "waited longer than the backend timeout")
  end)
end)


describe("a node's bulkhead", function()
  local sims, d, on, bg

  setup(function()
    -- a call each request makes anew: identical isMeetingRunning calls would share one
    -- (shared_calls_spec) and never fill the bulkhead
    sims, d, on, bg = setup_hung("bulkhead", { B3SCALE_BACKEND_TIMEOUT_MS = "5000",
      B3SCALE_NODE_BREAKER_FAILURES = "1000", B3SCALE_NODE_MAX_INFLIGHT = "3" },
      "sendChatMessage", 1, "&message=hello")
  end)

  teardown(function() teardown_cluster(sims, d, bg) end)

  it("fails calls beyond the cap fast, with the answer a frontend expects", function()
    local dt, st, body = timed_get(api_url(d, "isMeetingRunning", "meetingID=" .. on[sims[2].name]))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"))
    assert.equal("false", h.xml_text(body, "running"))
    assert.is_true(dt < 1, string.format("took %.2f s", dt))
    local host = sims[2].url:gsub("%p", "%%%0")
    assert.equal(3, metric(d, 'b3scale_backend_inflight{backend="' .. host .. '"} (%d+)'))
    assert.is_true(metric(d, 'b3scale_backend_rejected_total{backend="' .. host
      .. '",reason="bulkhead"} (%d+)') > 0)
  end)
end)


describe("a node's circuit breaker", function()
  local sims, d, on
  local tokens = require("support.tokens")
  local SECRET = "circuit-jwt-secret-0123456789abcdef"

  setup(function()
    sims, d, on = setup_cluster("circuit", { B3SCALE_BACKEND_TIMEOUT_MS = "500",
      B3SCALE_NODE_BREAKER_FAILURES = "3", B3SCALE_NODE_BREAKER_OPEN_MS = "1500",
      B3SCALE_API_JWT_SECRET = SECRET })
  end)

  teardown(function() teardown_cluster(sims, d) end)

  local function backend_view(sim)
    local st, body = h.get(d.url .. "/api/v1/backends",
      { authorization = "Bearer " .. tokens.hs384(SECRET, "spec", "b3scale:admin") })
    assert.equal(200, st, body)
    for _, b in ipairs(h.cjson.decode(body)) do
      if b.bbb.host == sim.url then return b end
    end
  end

  it("opens after consecutive timeouts, fails fast, shows it, and closes after a probe", function()
    local hung = on[sims[2].name]
    local info = api_url(d, "getMeetingInfo", "meetingID=" .. hung)
    h.sim_req(sims[2], "POST", "/sim/mode?fail=hang")
    for _ = 1, 3 do
      local dt, st, body = timed_get(info)
      assert.equal("notFound", h.xml_text(body, "messageKey"), body)
      assert.is_true(dt >= 0.4, "the first calls wait for the timeout")
      assert.equal(200, st)
    end
    -- open: no wait for the timeout any more
    local dt, _, body = timed_get(info)
    assert.equal("notFound", h.xml_text(body, "messageKey"))
    assert.is_true(dt < 0.3, string.format("an open circuit still waited %.2f s", dt))
    local host = sims[2].url:gsub("%p", "%%%0")
    assert.equal(1, metric(d, 'b3scale_backend_circuit_state{backend="' .. host .. '",state="open"} (%d)'))
    assert.is_true(metric(d, 'b3scale_backend_rejected_total{backend="' .. host
      .. '",reason="circuit_open"} (%d+)') >= 1)
    assert.equal("open", backend_view(sims[2]).circuit.state)
    local code, out = h.run({ h.ROOT .. "/bin/b3scalectl", "--api", d.url, "show", "backends" },
      { B3SCALE_API_JWT_SECRET = SECRET })
    assert.equal(0, code, out)
    assert.truthy(out:find("circuit open", 1, true), out)
    -- a new meeting goes to the healthy node even when the policy would pick the open one
    for i = 1, 3 do
      local st, b = h.get(api_url(d, "create", "name=New&meetingID=while-open-" .. i))
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(b, "returncode"), b)
      assert.equal(sims[1], holder(sims, "while-open-" .. i))
    end
    -- the node recovers: after the open period one call probes it and closes the circuit
    h.sim_req(sims[2], "POST", "/sim/mode?fail=none")
    h.sleep(1.6)
    local st
    st, body = h.get(info)
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal("closed", backend_view(sims[2]).circuit.state)
    assert.equal(1, metric(d, 'b3scale_backend_circuit_opened_total{backend="' .. host .. '"} (%d+)'))
  end)
end)
