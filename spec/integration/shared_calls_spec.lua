-- getMeetingInfo and isMeetingRunning, which frontends poll all day, are shared: concurrent
-- requests for one meeting wait for one node call, a fresh answer is reused for
-- B3SCALE_INFO_CACHE_MS, and every change to the meeting (an end, an agent's event, a move to
-- another node, on any instance) drops it. Counted in node calls the simulated nodes saw.
local h = require("helpers")
local cluster = require("support.cluster")

local FE_SECRET = "shared-fe-secret"

local function node_calls(sim, call)
  local n = 0
  for _, r in ipairs(h.sim_get(sim, "/sim/requests")) do
    if r.call == call then n = n + 1 end
  end
  return n
end

local function clear(sims)
  for _, s in ipairs(sims) do h.sim_req(s, "DELETE", "/sim/requests") end
end

-- n requests for url at once (curl --parallel); returns their bodies
local function burst(url, n)
  local dir = h.tmpdir() .. "/burst-" .. h.random_hex(4)
  os.execute("mkdir -p " .. dir)
  local cfg = {}
  for i = 1, n do
    cfg[#cfg + 1] = string.format('url = "%s"\noutput = "%s/%d"', url, dir, i)
  end
  h.write_file(dir .. "/curlrc", table.concat(cfg, "\n") .. "\n")
  local code = h.run({ "curl", "-s", "-m", "20", "--parallel", "--parallel-immediate",
    "--parallel-max", tostring(n), "-K", dir .. "/curlrc" }, {}, 30)
  assert.equal(0, code, "curl failed")
  local bodies = {}
  for i = 1, n do bodies[i] = h.read_file(dir .. "/" .. i) or "" end
  return bodies
end

local function metric(d, series)
  local st, body = h.get(d.url .. "/metrics")
  assert.equal(200, st)
  return tonumber(body:match("\n" .. series:gsub("[%p]", "%%%0") .. " (%d+)"))
end

describe("shared node calls", function()
  local sims, db, d, api

  setup(function()
    sims = { h.bbbsim({ name = "share1" }), h.bbbsim({ name = "share2" }) }
    db = h.new_db("shared")
    h.migrate(db)
    cluster.register(db, sims, "fe", FE_SECRET)
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "60000", B3SCALE_POLL_WORKERS = "1" } })
    api = h.frontend_api(d, "fe")
    -- the first poll marks both nodes ready
    h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM backends WHERE node_state = 'ready'") == "2"
    end, 10, 0.1)
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  local function create(mid)
    local st, body = h.get(h.api_url(api, "create", "name=Room&meetingID=" .. mid, FE_SECRET))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    return cluster.holder(sims, "fe", mid)
  end

  local function info(mid)
    local st, body = h.get(h.api_url(api, "getMeetingInfo", "meetingID=" .. mid, FE_SECRET))
    assert.equal(200, st)
    return body
  end

  it("answer 200 concurrent getMeetingInfo for one meeting with at most 2 node calls", function()
    local node = create("burst")
    h.sim_req(node, "POST", "/sim/mode?delay_ms=300")
    clear(sims)
    local before = metric(d, 'b3scale_node_calls_shared_total{kind="coalesced"}')
    local bodies = burst(h.api_url(api, "getMeetingInfo", "meetingID=burst", FE_SECRET), 200)
    h.sim_req(node, "POST", "/sim/mode?fail=none")
    for i, b in ipairs(bodies) do
      assert.equal("SUCCESS", h.xml_text(b, "returncode"), "answer " .. i .. ": " .. b)
      assert.equal("burst", h.xml_text(b, "meetingID"), "answer " .. i)
    end
    local calls = node_calls(node, "getMeetingInfo")
    print(string.format("# 200 concurrent getMeetingInfo: %d node call(s)", calls))
    assert.is_true(calls >= 1 and calls <= 2, calls .. " node calls")
    local shared = metric(d, 'b3scale_node_calls_shared_total{kind="coalesced"}') - before
      + metric(d, 'b3scale_node_calls_shared_total{kind="reused"}')
    assert.is_true(shared >= 198, "shared answers: " .. shared)
  end)

  it("reuse a fresh answer, and ask the node again once an end reached it", function()
    local node = create("ending")
    clear(sims)
    for _ = 1, 5 do assert.equal("SUCCESS", h.xml_text(info("ending"), "returncode")) end
    assert.equal(1, node_calls(node, "getMeetingInfo"))
    local st, body = h.get(h.api_url(api, "isMeetingRunning", "meetingID=ending", FE_SECRET))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    st, body = h.get(h.api_url(api, "end", "meetingID=ending", FE_SECRET))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    -- at once, not after the reuse window: the end dropped the kept answer
    body = info("ending")
    assert.equal("FAILED", h.xml_text(body, "returncode"), body)
    assert.equal("notFound", h.xml_text(body, "messageKey"), body)
    assert.equal(2, node_calls(node, "getMeetingInfo"))
  end)

  it("drop a kept answer when the meeting's live state changes (an agent's event)", function()
    local node = create("live")
    clear(sims)
    info("live")
    info("live")
    assert.equal(1, node_calls(node, "getMeetingInfo"))
    -- what an agent's UserJoinedMeetingEvtMsg writes; the trigger tells every instance
    h.psql(db, "INSERT INTO node_meetings (backend_id, internal_id, meeting_id, running, attendees)"
      .. " SELECT backend_id, 'int-live', backend_meeting_id, true, '{\"w_1\":{\"role\":\"VIEWER\"}}'"
      .. " FROM meetings WHERE meeting_id = 'live'"
      .. " ON CONFLICT (backend_id, internal_id) DO UPDATE SET attendees = EXCLUDED.attendees")
    h.wait_until(function()
      info("live")
      return node_calls(node, "getMeetingInfo") == 2
    end, 2, 0.05)
    assert.equal(2, node_calls(node, "getMeetingInfo"))
  end)

  it("ask the new node after a failover re-created the meeting there", function()
    local node = create("moving")
    local other = node == sims[1] and sims[2] or sims[1]
    info("moving")
    clear(sims)
    h.psql(db, "UPDATE backends SET node_state = 'unavailable' WHERE host = '" .. node.url .. "'")
    -- a join re-creates the meeting on the healthy node
    h.wait_until(function()
      local st = h.get(h.api_url(api, "join", "fullName=U&role=VIEWER&meetingID=moving", FE_SECRET))
      return st == 302 and cluster.holder({ other }, "fe", "moving") ~= nil
    end, 5, 0.1)
    local body = info("moving")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(1, node_calls(other, "getMeetingInfo"))
    assert.equal(0, node_calls(node, "getMeetingInfo"))
    h.psql(db, "UPDATE backends SET node_state = 'ready' WHERE host = '" .. node.url .. "'")
  end)

  it("ask the node every time with B3SCALE_INFO_CACHE_MS=0", function()
    local d0 = h.daemon({ db = db, env = { B3SCALE_INFO_CACHE_MS = "0", B3SCALE_POLL_WORKERS = "0" } })
    local node = create("nocache")
    clear(sims)
    for _ = 1, 3 do
      local st, body = h.get(h.api_url(h.frontend_api(d0, "fe"), "getMeetingInfo", "meetingID=nocache", FE_SECRET))
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    assert.equal(3, node_calls(node, "getMeetingInfo"))
    h.stop(d0)
  end)
end)
