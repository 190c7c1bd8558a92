-- Security rules of the real b3scaled (review 2026-12, findings 9 and 10 and 3.1): what a
-- node agent's token may do, that frontend keys cannot be probed through the API index or
-- the checksum errors, /metrics behind B3SCALE_METRICS_TOKEN, and that every admin token
-- carries an integer exp unless it says it never expires (b3scalectl --expires 0).
local h = require("helpers")
local jwt = require("b3scalectl.jwt")
local tokens = require("support.tokens")
local cjson = require("cjson")

local SECRET = "security-spec-jwt-" .. h.random_hex(8)
local METRICS_TOKEN = "metrics-" .. h.random_hex(16)
local FE_SECRET = "security-fe-secret"

local function token(sub, scope, extra)
  return tokens.hs384(SECRET, sub, scope, extra)
end

local ADMIN = token("root", "b3scale:admin")

-- method, path, token (or false), body (table -> JSON, string as is), daemon
local function api(d, method, path, tok, body)
  return tokens.request(d.url, method, path, tok, body)
end

local must = tokens.must

local function count(db, where)
  return tonumber(h.psql(db, "SELECT count(*) FROM backends WHERE " .. where))
end


describe("security", function()
  local db, d, open_d, sim, sim2

  setup(function()
    assert(jwt.libcrypto(), "libcrypto not found")
    db = h.new_db("security")
    h.migrate(db)
    sim = h.bbbsim({ name = "sec1" })
    sim2 = h.bbbsim({ name = "sec2" })
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('fe', '" .. FE_SECRET .. "')")
    h.psql(db, "INSERT INTO frontends (key, secret, active) VALUES ('off', 'off-secret', false)")
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = SECRET,
      B3SCALE_METRICS_TOKEN = METRICS_TOKEN, B3SCALE_POLL_WORKERS = "0" } })
    open_d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = SECRET, B3SCALE_POLL_WORKERS = "0" } })
  end)

  teardown(function()
    if d then assert.equal(0, h.stop(d)) end
    if open_d then assert.equal(0, h.stop(open_d)) end
    h.cleanup()
  end)

  ------------------------------------------------------------------------------------------
  describe("node tokens (b3scale:node)", function()
    local NODE = token("sec-agent-1", "b3scale:node")
    local mine

    it("register one backend for their own agent_ref, always disabled (init)", function()
      mine = must(201, api(d, "POST", "/api/v1/backends", NODE,
        { bbb = { host = sim.url, secret = sim.secret }, admin_state = "ready", load_factor = 0.5 }))
      assert.equal("sec-agent-1", mine.agent_ref)
      assert.equal("init", mine.admin_state)
      assert.equal(0.5, mine.load_factor)
      assert.is_nil(mine.bbb.secret)
      assert.equal("init", h.psql(db, "SELECT admin_state FROM backends WHERE id = '" .. mine.id .. "'"))
      -- a second registration of the same agent: 409, with the same or another host
      for _, host in ipairs({ sim.url, "https://elsewhere.example.org/bigbluebutton/api/" }) do
        local b = must(409, api(d, "POST", "/api/v1/backends", NODE,
          { bbb = { host = host, secret = sim.secret } }))
        assert.equal("conflict", b.error)
        assert.matches("already has a backend", b.message)
      end
      assert.equal(1, count(db, "agent_ref = 'sec-agent-1'"))
      -- another agent_ref than its own stays admin-only
      local b = must(403, api(d, "POST", "/api/v1/backends", token("sec-agent-9", "b3scale:node"),
        { bbb = { host = "https://x.example.org/", secret = "s" }, agent_ref = "sec-agent-1" }))
      assert.equal("forbidden", b.error)
    end)

    it("serialise concurrent registrations of one agent: exactly one is created", function()
      local tok = token("sec-agent-race", "b3scale:node")
      local procs = {}
      for i = 1, 4 do
        local out = h.tmpdir() .. "/race-" .. i .. ".status"
        procs[i] = { out = out, handle = h.spawn({ "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
          "-X", "POST", "-H", "Authorization: Bearer " .. tok, "-H", "Content-Type: application/json",
          "--data", cjson.encode({ bbb = { host = "https://race" .. i .. ".example.org/", secret = "s" } }),
          d.url .. "/api/v1/backends" }, nil, out) }
      end
      local codes = {}
      for _, p in ipairs(procs) do
        assert.equal(0, h.wait_exit(p.handle, 30))
        local c = h.read_file(p.out) or ""
        codes[c] = (codes[c] or 0) + 1
      end
      assert.same({ ["201"] = 1, ["409"] = 3 }, codes)
      assert.equal(1, count(db, "agent_ref = 'sec-agent-race'"))
    end)

    it("may not change, enable or delete any backend: 403 naming b3scale:admin", function()
      local path = "/api/v1/backends/" .. mine.id
      local patches = {
        { bbb = { host = "https://evil.example.org/bigbluebutton/api/" } },
        { bbb = { secret = "stolen" } },
        { load_factor = 0 },
        { admin_state = "ready" },
        { settings = { tags = { "sip" } } },
        {},
      }
      for _, p in ipairs(patches) do
        local b = must(403, api(d, "PATCH", path, NODE, p))
        assert.same({ error = "forbidden", message = "scope b3scale:admin required" }, b)
      end
      local b = must(403, api(d, "DELETE", path, NODE))
      assert.equal("scope b3scale:admin required", b.message)
      -- someone else's backend: the same 403
      local other = must(201, api(d, "POST", "/api/v1/backends", ADMIN,
        { bbb = { host = sim2.url, secret = sim2.secret }, admin_state = "stopped" }))
      must(403, api(d, "PATCH", "/api/v1/backends/" .. other.id, NODE, { admin_state = "ready" }))
      must(403, api(d, "DELETE", "/api/v1/backends/" .. other.id .. "?force=true", NODE))
      -- nothing changed
      local now = must(200, api(d, "GET", path, ADMIN))
      assert.equal(sim.url, now.bbb.host)
      assert.equal(sim.secret, now.bbb.secret)
      assert.equal(0.5, now.load_factor)
      assert.equal("init", now.admin_state)
      assert.same({}, now.settings.tags)
      assert.equal("stopped", must(200, api(d, "GET", "/api/v1/backends/" .. other.id, ADMIN)).admin_state)
    end)

    it("still reads its own backend and reports its state", function()
      local list = must(200, api(d, "GET", "/api/v1/backends", NODE))
      assert.equal(1, #list)
      assert.equal(mine.id, list[1].id)
      must(200, api(d, "GET", "/api/v1/backends/" .. mine.id, NODE))
      must(200, api(d, "GET", "/api/v1/agent/backend", NODE))
      local hb = must(200, api(d, "POST", "/api/v1/agent/heartbeat", NODE, '{"cpu":0.1,"mem":0.2}'))
      assert.equal(mine.id, hb.backend_id)
      local _, xml = h.get(h.sim_api(sim, "getMeetings", ""))
      local st, raw = h.http("POST", d.url .. "/api/v1/agent/state", xml,
        { authorization = "Bearer " .. NODE, ["content-type"] = "application/xml" })
      assert.equal(200, st, raw)
      must(200, api(d, "POST", "/api/v1/agent/events", NODE, ""))
      -- an admin enables it
      assert.equal("ready", must(200, api(d, "PATCH", "/api/v1/backends/" .. mine.id, ADMIN,
        { admin_state = "ready" })).admin_state)
    end)

    it("b3scaleagent --register registers (disabled) and reports; --register-ready too", function()
      local function agent(ref, mode)
        local tok = jwt.mint(SECRET, ref, { "b3scale:node" }, 600)
        return h.run({ h.BUILD .. "/b3scaleagent", mode, "--once" }, {
          BBB_CONFIG = "/nonexistent/bbb-web.properties", B3SCALE_API_URL = d.url,
          B3SCALE_API_ACCESS_TOKEN = tok, B3SCALE_AGENT_BBB_API = sim2.url,
          B3SCALE_AGENT_BBB_SECRET = sim2.secret, B3SCALE_LOG_LEVEL = "debug",
        }, 30)
      end
      -- sim2's host belongs to the admin's backend above: give the agent its own
      h.psql(db, "DELETE FROM backends WHERE host = '" .. sim2.url .. "'")
      local code, log = agent("sec-agent-cli", "--register")
      assert.equal(0, code, log)
      assert.matches("event=backend_registered", log)
      assert.matches("event=state_sent", log)
      assert.equal("init", h.psql(db, "SELECT admin_state FROM backends WHERE agent_ref = 'sec-agent-cli'"))
      -- run again: the backend is found, nothing is registered twice
      code, log = agent("sec-agent-cli", "--register")
      assert.equal(0, code, log)
      assert.matches("event=backend_found", log)
      assert.equal(1, count(db, "agent_ref = 'sec-agent-cli'"))
      -- --register-ready asks for "ready"; the server registers it disabled all the same
      h.psql(db, "DELETE FROM backends WHERE agent_ref = 'sec-agent-cli'")
      code, log = agent("sec-agent-ready", "--register-ready")
      assert.equal(0, code, log)
      assert.equal("init", h.psql(db, "SELECT admin_state FROM backends WHERE agent_ref = 'sec-agent-ready'"))
    end)
  end)

  ------------------------------------------------------------------------------------------
  describe("frontend keys cannot be probed", function()
    local function call(key, query)
      local st, body, hd = h.get(d.url .. "/bbb/" .. key .. "/bigbluebutton/api/" .. query)
      assert.equal(200, st)
      return body, hd["content-type"]
    end

    it("the API index is the same document for known, unknown and disabled keys", function()
      for _, form in ipairs({ "/bbb/%s/api", "/bbb/%s/api/", "/bbb/%s/bigbluebutton/api" }) do
        local answers = {}
        for _, key in ipairs({ "fe", "no-such-key", "off" }) do
          local st, body, hd = h.get(d.url .. form:format(key))
          answers[#answers + 1] = { st, body, hd["content-type"] }
        end
        assert.equal(200, answers[1][1])
        assert.equal("SUCCESS", h.xml_text(answers[1][2], "returncode"))
        assert.same(answers[1], answers[2])
        assert.same(answers[1], answers[3])
      end
    end)

    it("real calls of unknown and disabled keys fail exactly like a bad checksum", function()
      -- no checksum: the same "You must provide the checksum" for every key
      local want = call("fe", "getMeetings")
      assert.equal("checksumError", h.xml_text(want, "messageKey"))
      assert.equal(want, (call("no-such-key", "getMeetings")))
      assert.equal(want, (call("off", "getMeetings")))
      -- a wrong checksum
      local bad = "getMeetings?checksum=" .. ("0"):rep(64)
      want = call("fe", bad)
      assert.equal("Checksums do not match", h.xml_text(want, "message"))
      assert.equal(want, (call("no-such-key", bad)))
      assert.equal(want, (call("off", bad)))
      -- a checksum made with an empty secret gets an unknown key nowhere
      local body = call("no-such-key", "getMeetings?" .. h.sign("getMeetings", "", ""))
      assert.equal("checksumError", h.xml_text(body, "messageKey"))
      -- and the right secret still works
      local _, ok = h.get(h.api_url(h.frontend_api(d, "fe"), "getMeetings", "", FE_SECRET))
      assert.equal("SUCCESS", h.xml_text(ok, "returncode"))
    end)
  end)

  ------------------------------------------------------------------------------------------
  describe("/metrics", function()
    it("needs the bearer token when B3SCALE_METRICS_TOKEN is set", function()
      local wrong_same_len = METRICS_TOKEN:sub(1, -2) .. (METRICS_TOKEN:sub(-1) == "0" and "1" or "0")
      for _, auth in ipairs({ false, "Bearer " .. wrong_same_len, "Bearer " .. METRICS_TOKEN .. "x",
          "Bearer " .. METRICS_TOKEN:sub(1, 8), "Bearer ", "Basic " .. METRICS_TOKEN, METRICS_TOKEN }) do
        local st, body, hd = h.get(d.url .. "/metrics", { authorization = auth or nil })
        assert.equal(401, st, tostring(auth))
        assert.equal("Bearer", hd["www-authenticate"])
        assert.is_nil(body:find("frontend=", 1, true))
      end
      for _, scheme in ipairs({ "Bearer ", "bearer " }) do
        local st, body = h.get(d.url .. "/metrics", { authorization = scheme .. METRICS_TOKEN })
        assert.equal(200, st)
        assert.matches('frontend="fe"', body)
      end
      -- the rest of the daemon does not need it
      assert.equal(200, (h.get(d.url .. "/healthz")))
    end)

    it("stays open without B3SCALE_METRICS_TOKEN", function()
      local st, body = h.get(open_d.url .. "/metrics")
      assert.equal(200, st)
      assert.matches("b3scale_", body)
    end)
  end)

  ------------------------------------------------------------------------------------------
  describe("JWT exp", function()
    local function status(tok)
      local st, b = api(d, "GET", "/api/v1/frontends", tok)
      return st, type(b) == "table" and b.message or b
    end
    local function raw(payload)
      return jwt.encode(payload, SECRET)
    end
    local later = os.time() + 3600

    it("is required: a token without exp is refused", function()
      assert.same({ 401, "invalid token" }, { status(raw({ sub = "root", scope = "b3scale:admin" })) })
      assert.same({ 401, "invalid token" }, { status(raw({ sub = "root", scope = "b3scale:admin",
        iat = os.time() })) })
    end)

    it("must be an integer NumericDate: strings, fractions, negatives, huge values are refused", function()
      local bad = {
        '"' .. later .. '"', later .. ".5", later .. ".0", "1e10", "-1", "-" .. later,
        "253402300800", "99999999999999", "9223372036854775807", "null", "true", "{}", "[]",
      }
      for _, v in ipairs(bad) do
        local tok = raw('{"exp":' .. v .. ',"scope":"b3scale:admin","sub":"root"}')
        assert.same({ 401, "invalid token" }, { status(tok) }, "exp " .. v)
      end
      -- nbf likewise
      local tok = raw('{"exp":' .. later .. ',"nbf":"0","scope":"b3scale:admin","sub":"root"}')
      assert.same({ 401, "invalid token" }, { status(tok) })
      -- the good ones
      assert.equal(200, (status(raw('{"exp":' .. later .. ',"scope":"b3scale:admin","sub":"root"}'))))
      assert.same({ 401, "token expired" }, { status(raw('{"exp":0,"scope":"b3scale:admin","sub":"root"}')) })
      assert.same({ 401, "token expired" }, { status(token("root", "b3scale:admin", { exp = os.time() - 600 })) })
    end)

    it("may be left out only with b3s_noexp: true, which b3scalectl --expires 0 writes", function()
      assert.equal(200, (status(raw({ sub = "root", scope = "b3scale:admin", b3s_noexp = true }))))
      for _, extra in ipairs({
        { b3s_noexp = true, exp = later },   -- both: contradictory
        { b3s_noexp = false },
        { b3s_noexp = "true" },
        { b3s_noexp = 1 },
      }) do
        local c = { sub = "root", scope = "b3scale:admin" }
        for k, v in pairs(extra) do c[k] = v end
        assert.same({ 401, "invalid token" }, { status(raw(c)) }, cjson.encode(extra))
      end
      local code, out = h.run({ "bin/b3scalectl", "auth", "create_access_token", "--sub", "ops",
        "--scopes", "b3scale:admin", "--expires", "0" }, { B3SCALE_API_JWT_SECRET = SECRET })
      assert.equal(0, code, out)
      local tok = out:match("^(%S+)\n$")
      local _, claims = jwt.decode_unverified(tok)
      assert.is_nil(claims.exp)
      assert.is_true(claims.b3s_noexp)
      assert.equal(200, (status(tok)))
      code, out = h.run({ "bin/b3scalectl", "auth", "authorize_node_agent", "--ref", "sec-forever",
        "--expires", "0" }, { B3SCALE_API_JWT_SECRET = SECRET })
      assert.equal(0, code, out)
      tok = out:match("token:%s+(%S+)")
      -- a valid node token without a backend yet: 404, not 401
      must(404, api(d, "GET", "/api/v1/agent/backend", tok))
      -- and a default (24 h) token has exp and no marker
      code, out = h.run({ "bin/b3scalectl", "auth", "create_access_token", "--sub", "ops",
        "--scopes", "b3scale:admin" }, { B3SCALE_API_JWT_SECRET = SECRET })
      _, claims = jwt.decode_unverified(out:match("^(%S+)\n$"))
      assert.is_number(claims.exp)
      assert.is_nil(claims.b3s_noexp)
    end)
  end)
end)
