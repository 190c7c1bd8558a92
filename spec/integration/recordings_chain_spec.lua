-- The whole recording chain with real parts: a meeting created with record=true through
-- b3scaled on a simulated node that publishes its recording when the meeting ends, the real
-- b3scaleagent uploading it from the node's published directory, b3scaled importing it, and
-- the frontend driving it with the BBB API (docs/recordings.md, docs/agent.md).
local h = require("helpers")
local agents = require("support.agent")
local tar = require("support.tar")
local R = require("support.redis")
local jwt = require("b3scalectl.jwt")

local JWT = "chain-jwt-secret"
local SECRET = "chain-fe-secret"
local PLAYBACK = "https://rec.example.org"

describe("the recording chain", function()
  local db, d, sim, redis, agent, root, published, spool

  local function ctl(...)
    local code, out = h.run({ "bin/b3scalectl", "--api", d.url, ... },
      { B3SCALE_API_JWT_SECRET = JWT, B3SCALE_API_TOKEN = false }, 30)
    assert.equal(0, code, out)
    return out
  end

  local function api(call, query)
    local st, body = h.get(h.api_url(h.frontend_api(d, "fe"), call, query, SECRET))
    assert.equal(200, st)
    return body
  end

  setup(function()
    local tmp = h.tmpdir()
    root, published, spool = tmp .. "/storage", tmp .. "/node-published", tmp .. "/spool"
    db = h.new_db("chain")
    h.migrate(db)
    sim = h.bbbsim({ name = "chainnode", args = { "--recordings", published } })
    redis = R.start()
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT, B3SCALE_RECORDINGS_DIR = root,
      B3SCALE_RECORDINGS_PLAYBACK_URL = PLAYBACK, B3SCALE_RECORDINGS_SWEEP_MS = "1000",
      B3SCALE_POLL_INTERVAL_MS = "500" } })
    ctl("set", "frontend", "fe", "--secret", SECRET)
    agent = agents.start({ d = d, sim = sim, redis = redis,
      token = jwt.mint(JWT, "chain-node", { "b3scale:node" }, 3600),
      env = { B3SCALE_AGENT_RECORDINGS_DIR = published, B3SCALE_AGENT_SPOOL_DIR = spool,
        B3SCALE_AGENT_RECORDINGS_SCAN_MS = "200" } })
    ctl("enable", "backend", sim.url)
  end)

  teardown(function()
    if agent then h.stop(agent) end
    if d then h.stop(d) end
    R.stop(redis)
    h.cleanup()
  end)

  it("takes a recorded meeting from the node to getRecordings, then publish, update and delete", function()
    local body = api("create", "name=Lecture&meetingID=lecture-1&record=true")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    local internal = h.xml_text(body, "internalMeetingID")
    body = api("end", "meetingID=lecture-1")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    -- the node publishes, the agent uploads, b3scaled imports
    assert.truthy(h.wait_until(function()
      return h.xml_text(api("getRecordings", "meetingID=lecture-1"), "recordID") == internal
    end, 20), "not imported; agent log: " .. (h.read_file(agent.log) or ""))
    body = api("getRecordings", "meetingID=lecture-1")
    assert.equal("lecture-1", h.xml_text(body, "meetingID"))
    assert.equal("Lecture", h.xml_text(body, "name"))
    assert.equal(PLAYBACK .. "/playback/presentation/2.3/" .. internal, h.xml_text(body, "url"))
    assert.truthy(h.exists(root .. "/published/presentation/" .. internal .. "/metadata.xml"))
    assert.truthy(h.exists(spool .. "/done/presentation--" .. internal))
    assert.equal(internal, (ctl("--json", "show", "recordings", "--frontend", "fe"):match('"record_id":"([^"]+)"')))

    body = api("publishRecordings", "publish=false&recordID=" .. internal)
    assert.equal("false", h.xml_text(body, "published"), body)
    assert.truthy(h.wait_until(function()
      return h.exists(root .. "/unpublished/presentation/" .. internal .. "/metadata.xml")
    end, 5))
    body = api("updateRecordings", "recordID=" .. internal .. "&meta_course=physics")
    assert.equal("true", h.xml_text(body, "updated"), body)
    body = api("getRecordings", "recordID=" .. internal)
    assert.equal("unpublished", h.xml_text(body, "state"))
    assert.equal("physics", h.xml_text(body, "course"))

    body = api("deleteRecordings", "recordID=" .. internal)
    assert.equal("true", h.xml_text(body, "deleted"), body)
    assert.truthy(h.wait_until(function()
      return not h.exists(root .. "/unpublished/presentation/" .. internal)
        and h.psql(db, "SELECT count(*) FROM recordings") == "0"
    end, 5))
    assert.equal("noRecordings", h.xml_text(api("getRecordings", "recordID=" .. internal), "messageKey"))
    -- uploaded once: a restart of the scan does not bring it back
    h.sleep(0.5)
    assert.equal("0", h.psql(db, "SELECT count(*) FROM recordings"))
  end)
end)
