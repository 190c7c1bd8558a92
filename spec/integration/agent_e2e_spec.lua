-- b3scaleagent end to end: a real redis-server replaying a real node's traffic, the real
-- agent, the real b3scaled and Postgres; what operators see in b3scalectl and /metrics.
local h = require("helpers")
local R = require("support.redis")
local agents = require("support.agent")
local jwt = require("b3scalectl.jwt")

local JWT_SECRET = "agent-e2e-jwt-secret"

local function ctl(d, ...)
  local code, out = h.run({ "bin/b3scalectl", "--api", d.url, ... },
    { B3SCALE_API_JWT_SECRET = JWT_SECRET, B3SCALE_API_TOKEN = false }, 30)
  return code, out
end

local function backend(d)
  local code, out = ctl(d, "--json", "show", "backends")
  assert.equal(0, code, out)
  return h.cjson.decode(out)[1]
end

local function metric(d, name)
  local _, body = h.get(d.url .. "/metrics")
  return tonumber(body:match("\n" .. name:gsub("[%p]", "%%%0") .. " ([%d%.]+)"))
end


describe("b3scaleagent with b3scaled", function()
  local db, d, sim, redis, agent, token

  local function start_agent()
    agent = agents.start({ d = d, sim = sim, redis = redis, token = token })
  end

  local function create(id)
    local _, b = h.get(h.api_url(h.frontend_api(d, "fe"), "create", "name=Agent+Room&meetingID=" .. id, "fe-secret"))
    return h.xml_text(b, "returncode")
  end

  setup(function()
    db = h.new_db("agente2e")
    h.migrate(db)
    sim = h.bbbsim({ name = "agentnode" })
    redis = R.start()
    -- the agent's numbers only: polling off, a short heartbeat age
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT_SECRET, B3SCALE_POLL_WORKERS = "0",
      B3SCALE_AGENT_MAX_AGE_MS = "1500" } })
    assert.equal(0, (ctl(d, "set", "frontend", "fe", "--secret", "fe-secret")))
    token = jwt.mint(JWT_SECRET, "bbb-e2e", { "b3scale:node" }, 3600)
    start_agent()
    -- a node token registers its backend disabled (admin_state init): an admin enables it
    assert.equal(0, (ctl(d, "enable", "backend", sim.url)))
  end)

  teardown(function()
    if agent then h.stop(agent) end
    if d then h.stop(d) end
    R.stop(redis)
    h.cleanup()
  end)

  it("registers its node, which then takes meetings", function()
    local b = backend(d)
    assert.equal(sim.url, b.bbb.host)
    assert.equal("bbb-e2e", b.agent_ref)
    assert.equal("ready", b.admin_state)
    assert.equal("SUCCESS", create("first"))
  end)

  it("shows a real node's numbers within a second of its Redis traffic", function()
    -- the live view has "first" since its create succeeded (the simulated node does not
    -- publish to Redis itself); the dump adds the real node's meeting and its one user
    local t0 = h.now()
    R.publish(redis, R.read_dump(R.DUMP))
    assert(h.wait_until(function()
      local b = backend(d)
      return b.meetings_count == 2 and b.attendees_count == 1
    end, 5), "numbers did not arrive")
    assert.is_true(h.now() - t0 < 1.5, "b3scalectl took " .. (h.now() - t0) .. " s")
    assert(h.wait_until(function()
      return metric(d, 'b3scale_backend_meetings{backend="' .. sim.url .. '"}') == 2
    end, 5))
    assert.is_true(h.now() - t0 < 1.5, "/metrics took " .. (h.now() - t0) .. " s")
    assert.equal(1, metric(d, 'b3scale_backend_participants{backend="' .. sim.url .. '"}'))
  end)

  it("sends no reports for traffic that does not matter", function()
    local function sent()
      return select(2, (h.read_file(agent.log) or ""):gsub("event=events_sent", ""))
    end
    local before = sent()
    local msgs = {}
    for i = 1, 10000 do
      msgs[i] = { channel = "from-akka-apps-redis-channel",
        payload = '{"envelope":{"name":"SendCursorPositionPubMsg","routing":{}},"core":{"header":{},"body":{"xPercent":'
          .. i .. '}}}' }
    end
    R.publish(redis, msgs)
    h.sleep(0.5)
    assert.equal(before, sent())
    assert.is_true(before > 0)
  end)

  it("makes the node ineligible when heartbeats stop and eligible when they resume", function()
    h.stop(agent)
    h.sleep(1.8)
    assert.equal("FAILED", create("while-silent"))
    start_agent()
    assert(h.wait_until(function() return create("after-resume") == "SUCCESS" end, 5))
  end)

  it("resends the node's state after Redis restarts", function()
    local port = redis.port
    R.stop(redis)
    redis = R.start({ port = port })
    assert(h.wait_until(function()
      local _, n = (h.read_file(agent.log) or ""):gsub("event=redis_subscribed", "")
      return n >= 2
    end, 10), "agent did not resubscribe")
    -- after the resync the numbers are the node's own: its meetings, no dump meeting
    assert(h.wait_until(function()
      return backend(d).meetings_count == #h.sim_get(sim, "/sim/meetings")
    end, 5))
  end)

  it("keeps reporting across a b3scaled restart", function()
    local port = d.port
    h.stop(d)
    h.sleep(0.5)
    local function states()
      return select(2, (h.read_file(agent.log) or ""):gsub("event=state_sent", ""))
    end
    local before = states()
    d = h.daemon({ db = db, port = port, env = { B3SCALE_API_JWT_SECRET = JWT_SECRET,
      B3SCALE_POLL_WORKERS = "0", B3SCALE_AGENT_MAX_AGE_MS = "1500" } })
    -- the agent noticed the outage and resends the whole state once b3scaled is back
    assert(h.wait_until(function() return states() > before end, 10), "no state resent")
    R.publish(redis, R.read_dump(R.DUMP))
    assert(h.wait_until(function()
      return backend(d).meetings_count == #h.sim_get(sim, "/sim/meetings") + 1
    end, 5))
    assert.equal("SUCCESS", create("after-restart"))
  end)
end)
