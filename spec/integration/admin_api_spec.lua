-- The admin REST API (docs/admin-api.md) against the real b3scaled, a real Postgres and
-- simulated BBB nodes: tokens, scopes, tenant isolation, validation, merge patches, the
-- backend lifecycle with live meetings, and a second daemon on the same database.
local h = require("helpers")
local jwt = require("b3scalectl.jwt")
local tokens = require("support.tokens")
local cjson = require("cjson")

local SECRET = "admin-api-spec-secret"
local ACME_SECRET = "acme-bbb-secret"

-- HS384 tokens under the daemon's secret; claims override iat/exp (an hour from now)
local function token(sub, scope, extra)
  return tokens.hs384(SECRET, sub, scope, extra)
end

--------------------------------------------------------------------------------------------

local db, d, d2, sims
local ADMIN = token("root", "b3scale:admin")
local ACME = token("acme", "b3scale")
local OTHER = token("other", "b3scale")
local NODE = token("agent-1", "b3scale:node")


-- method, path, token (or false), body (table -> JSON; string as is), daemon
local function api(method, path, tok, body, daemon)
  return tokens.request((daemon or d).url, method, path, tok, body)
end


local must = tokens.must


local function bbb(key, secret, call, query)
  return h.get(h.api_url(h.frontend_api(d, key), call, query, secret))
end


local function holder(nsid)
  for _, s in ipairs(sims) do
    for _, m in ipairs(h.sim_get(s, "/sim/meetings")) do
      if m.meetingID == nsid then
        return s
      end
    end
  end
end


local function create_meeting(id)
  local st, body = bbb("acme-fe", ACME_SECRET, "create", "name=" .. id .. "&meetingID=" .. id)
  assert.equal(200, st)
  assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
  return holder("acme-fe~" .. id)
end


local function meeting_record(meeting_id)
  local _, list = api("GET", "/api/v1/meetings?frontend_key=acme-fe", ADMIN)
  for _, m in ipairs(list) do
    if m.meeting_id == meeting_id then
      return m
    end
  end
end


describe("admin REST API", function()
  local fe = {}        -- key -> Frontend as created
  local be = {}        -- sim name -> Backend as created

  setup(function()
    assert(jwt.libcrypto(), "libcrypto not found")
    db = h.new_db("admin")
    h.migrate(db)
    sims = { h.bbbsim({ name = "a1" }), h.bbbsim({ name = "a2" }) }
    local env = { B3SCALE_API_JWT_SECRET = SECRET }
    d = h.daemon({ db = db, env = env })
    d2 = h.daemon({ db = db, env = env })
  end)

  teardown(function()
    h.cleanup()
  end)

  describe("authentication", function()
    local function unauthorized(tok, message, header)
      local headers = { authorization = header or (tok and ("Bearer " .. tok)) }
      local st, raw = h.http("GET", d.url .. "/api/v1/frontends", nil, headers)
      assert.equal(401, st, raw)
      assert.same({ error = "unauthorized", message = message }, cjson.decode(raw))
    end

    it("refuses missing and malformed tokens", function()
      unauthorized(nil, "missing or malformed token")
      unauthorized(nil, "missing or malformed token", "Basic cm9vdDpyb290")
      unauthorized(nil, "missing or malformed token", "Bearer ")
    end)

    it("refuses other algorithms, other secrets and garbage", function()
      local claims = { sub = "root", scope = "b3scale:admin", exp = os.time() + 3600 }
      unauthorized(tokens.other_alg("HS256", claims, SECRET), "invalid token")
      unauthorized(tokens.other_alg("none", claims), "invalid token")
      unauthorized(jwt.encode(claims, "not-the-secret"), "invalid token")
      unauthorized("abc.def.ghi", "invalid token")
      local parts = {}
      for p in ADMIN:gmatch("[^.]+") do
        parts[#parts + 1] = p
      end
      parts[2] = jwt.b64url(cjson.encode({ sub = "root", scope = "b3scale:admin b3scale" }))
      unauthorized(table.concat(parts, "."), "invalid token")
    end)

    it("refuses expired and not-yet-valid tokens", function()
      unauthorized(token("root", "b3scale:admin", { exp = os.time() - 3600 }), "token expired")
      unauthorized(token("root", "b3scale:admin", { nbf = os.time() + 3600 }), "token expired")
    end)

    it("needs exp unless the token says b3s_noexp, and serves the OpenAPI document without one", function()
      unauthorized(jwt.encode({ sub = "root", scope = "b3scale:admin" }, SECRET), "invalid token")
      unauthorized(jwt.encode({ sub = "root", scope = "b3scale:admin", exp = tostring(os.time() + 60) },
        SECRET), "invalid token")
      local tok = jwt.encode({ sub = "root", scope = "b3scale:admin", b3s_noexp = true }, SECRET)
      must(200, api("GET", "/api/v1/frontends", tok))
      local doc = must(200, api("GET", "/api/v1/openapi.json", false))
      assert.equal("3.0.3", doc.openapi)
      assert.is_table(doc.paths["/api/v1/backends/{id}"].patch)
    end)

    it("answers 403 for a token without a usable scope", function()
      local tok = token("root", "b3scale:recordings")
      local b = must(403, api("GET", "/api/v1/frontends", tok))
      assert.equal("forbidden", b.error)
      assert.matches("scope b3scale:admin", b.message)
      must(200, api("GET", "/api/v1/status", tok))
    end)
  end)

  describe("status", function()
    it("describes the server and the token", function()
      local b = must(200, api("GET", "/api/v1", ADMIN))
      assert.equal("v1", b.api)
      assert.equal("root", b.sub)
      assert.is_true(b.is_admin)
      assert.same({ "b3scale:admin" }, b.scopes)
      assert.is_true(b.database.available)
      assert.same({}, b.database.pending_migrations)
      assert.is_number(b.policy.generation)
      assert.equal(cjson.null, b.policy.last_reload_error)
      local t = must(200, api("GET", "/api/v1/status", ACME))
      assert.is_false(t.is_admin)
      assert.equal("acme", t.sub)
    end)
  end)

  describe("frontends", function()
    it("creates frontends (201) with the contract's shape", function()
      local b = must(201, api("POST", "/api/v1/frontends", ADMIN, {
        bbb = { key = "acme-fe", secret = ACME_SECRET }, account_ref = "acme",
        settings = { create_default_params = { record = false } },
      }))
      assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", b.id)
      assert.equal("acme-fe", b.key)
      assert.same({ key = "acme-fe", secret = ACME_SECRET }, b.bbb)
      assert.is_true(b.active)
      assert.equal("acme", b.account_ref)
      assert.same({ create_default_params = { record = false } }, b.settings)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", b.created_at)
      fe["acme-fe"] = b
      b = must(201, api("POST", "/api/v1/frontends", ADMIN,
        '{"key":"other-fe","bbb":{"secret":"other-secret"},"account_ref":"other","active":false}'))
      assert.is_false(b.active)
      fe["other-fe"] = b
      b = must(201, api("POST", "/api/v1/frontends", ADMIN, '{"bbb":{"key":"plain","secret":"s"}}'))
      assert.equal(cjson.null, b.account_ref)
      assert.same({}, b.settings)
      assert.equal("{}", h.psql(db, "SELECT settings::text FROM frontends WHERE key = 'plain'"))
      fe.plain = b
    end)

    it("refuses a duplicate key with 409 and writes nothing", function()
      local b = must(409, api("POST", "/api/v1/frontends", ADMIN,
        { bbb = { key = "acme-fe", secret = "x" } }))
      assert.equal("conflict", b.error)
      assert.equal("1", h.psql(db, "SELECT count(*) FROM frontends WHERE key = 'acme-fe'"))
    end)

    it("validates bodies: unknown fields, types, formats, required fields", function()
      local b = must(400, api("POST", "/api/v1/frontends", ADMIN, {
        bbb = { key = "has space", secret = "s", colour = "red" }, enabled = true,
      }))
      assert.equal("validation_error", b.error)
      assert.same({ "unknown field" }, b.fields.enabled)
      assert.same({ "unknown field" }, b.fields["bbb.colour"])
      assert.is_table(b.fields["bbb.key"])
      b = must(400, api("POST", "/api/v1/frontends", ADMIN,
        { bbb = { key = string.rep("k", 65), secret = 7 }, active = "true", settings = "x" }))
      assert.is_table(b.fields["bbb.key"])
      assert.same({ "must be a string" }, b.fields["bbb.secret"])
      assert.same({ "must be a boolean" }, b.fields.active)
      assert.same({ "must be an object" }, b.fields.settings)
      b = must(400, api("POST", "/api/v1/frontends", ADMIN, { settings = {} }))
      assert.same({ "is required" }, b.fields["bbb.key"])
      assert.same({ "is required" }, b.fields["bbb.secret"])
      b = must(400, api("POST", "/api/v1/frontends", ADMIN, '{"bbb": {"key": "x", '))
      assert.matches("^invalid JSON", b.fields.body[1])
      b = must(400, api("POST", "/api/v1/frontends", ADMIN, '"just a string"'))
      assert.is_table(b.fields.body)
      assert.equal("3", h.psql(db, "SELECT count(*) FROM frontends"))
    end)

    it("refuses bodies over the small-body limit with a JSON 413 (2 MB and 10 MB)", function()
      for _, size in ipairs({ 2 * 1000 * 1000, 10 * 1000 * 1000 }) do
        local body = '{"bbb":{"key":"big","secret":"' .. string.rep("x", size) .. '"}}'
        local st, raw = h.http("POST", d.url .. "/api/v1/frontends", body,
          { authorization = "Bearer " .. ADMIN, ["content-type"] = "application/json" }, 30)
        assert.equal(413, st, size)
        assert.equal("too_large", cjson.decode(raw).error)
      end
      assert.equal("0", h.psql(db, "SELECT count(*) FROM frontends WHERE key = 'big'"))
    end)

    it("lists, filters and shows", function()
      local list = must(200, api("GET", "/api/v1/frontends", ADMIN))
      assert.equal(3, #list)
      assert.equal("acme-fe", list[1].key)
      list = must(200, api("GET", "/api/v1/frontends?key=other-fe", ADMIN))
      assert.equal(1, #list)
      assert.equal(fe["other-fe"].id, list[1].id)
      list = must(200, api("GET", "/api/v1/frontends?account_ref=acme", ADMIN))
      assert.equal(1, #list)
      list = must(200, api("GET", "/api/v1/frontends?key=none", ADMIN))
      assert.same({}, list)
      assert.equal("[]", select(2, h.http("GET", d.url .. "/api/v1/frontends?key=none", nil,
        { authorization = "Bearer " .. ADMIN })):gsub("%s", ""))
      local b = must(200, api("GET", "/api/v1/frontends/" .. fe["acme-fe"].id, ADMIN))
      assert.same(fe["acme-fe"], b)
    end)

    it("answers 404 for unknown and malformed ids, 405 for wrong methods", function()
      for _, id in ipairs({ "00000000-0000-0000-0000-000000000000", "nope", "1", "'; DROP TABLE x" }) do
        local b = must(404, api("GET", "/api/v1/frontends/" .. h.urlencode(id), ADMIN))
        assert.equal("not_found", b.error)
        must(404, api("PATCH", "/api/v1/frontends/" .. h.urlencode(id), ADMIN, { active = true }))
        must(404, api("DELETE", "/api/v1/frontends/" .. h.urlencode(id), ADMIN))
      end
      must(404, api("GET", "/api/v1/nothing", ADMIN))
      assert.equal("method_not_allowed", must(405, api("PUT", "/api/v1/frontends", ADMIN, {})).error)
      must(405, api("POST", "/api/v1/frontends/" .. fe.plain.id, ADMIN, {}))
    end)

    it("merge-patches: settings keys merge, null clears, arrays replace", function()
      local path = "/api/v1/frontends/" .. fe["acme-fe"].id
      local b = must(200, api("PATCH", path, ADMIN, {
        settings = { required_tags = { "a", "b" }, join_default_params = { userdata_x = "1" } },
      }))
      assert.same({ create_default_params = { record = false }, required_tags = { "a", "b" },
        join_default_params = { userdata_x = "1" } }, b.settings)
      b = must(200, api("PATCH", path, ADMIN, '{"settings":{"required_tags":["c"],'
        .. '"create_default_params":{"record":null,"duration":30},"join_default_params":null}}'))
      assert.same({ create_default_params = { duration = 30 }, required_tags = { "c" } }, b.settings)
      b = must(200, api("PATCH", path, ADMIN, '{"settings":{"required_tags":[]}}'))
      assert.equal('{"required_tags": [], "create_default_params": {"duration": 30}}',
        h.psql(db, "SELECT settings::text FROM frontends WHERE key = 'acme-fe'"))
      b = must(200, api("PATCH", path, ADMIN, { bbb = { secret = "rotated" }, active = false }))
      assert.equal("rotated", b.bbb.secret)
      assert.is_false(b.active)
      assert.equal("acme", b.account_ref)
      b = must(200, api("PATCH", path, ADMIN, { bbb = { secret = ACME_SECRET }, active = true }))
      assert.is_true(b.active)
      -- the whole object sent back unchanged is a no-op
      local _, raw = h.http("GET", d.url .. path, nil, { authorization = "Bearer " .. ADMIN })
      assert.matches('"required_tags":[]', raw, 1, true)
      b = must(200, api("PATCH", path, ADMIN, raw))
      assert.same(cjson.decode(raw).settings, b.settings)
      local _, again = h.http("GET", d.url .. path, nil, { authorization = "Bearer " .. ADMIN })
      assert.matches('"required_tags":[]', again, 1, true)
    end)

    it("validates patches and changes nothing on failure", function()
      local path = "/api/v1/frontends/" .. fe.plain.id
      local b = must(400, api("PATCH", path, ADMIN, { active = "no", bogus = 1 }))
      assert.same({ "must be a boolean" }, b.fields.active)
      assert.same({ "unknown field" }, b.fields.bogus)
      b = must(400, api("PATCH", path, ADMIN, { bbb = { secret = cjson.null } }))
      assert.same({ "is required" }, b.fields["bbb.secret"])
      b = must(400, api("PATCH", path, ADMIN, { id = "00000000-0000-0000-0000-000000000000" }))
      assert.same({ "is read-only" }, b.fields.id)
      b = must(409, api("PATCH", path, ADMIN, { bbb = { key = "acme-fe" } }))
      assert.equal("conflict", b.error)
      assert.same(fe.plain, must(200, api("GET", path, ADMIN)))
      b = must(200, api("PATCH", path, ADMIN, { key = "plain2", settings = { x = 1 } }))
      assert.equal("plain2", b.bbb.key)
      b = must(200, api("PATCH", path, ADMIN, { settings = cjson.null }))
      assert.same({}, b.settings)
    end)

    it("keeps tenants to their own frontends", function()
      local list = must(200, api("GET", "/api/v1/frontends", ACME))
      assert.equal(1, #list)
      assert.equal("acme-fe", list[1].key)
      list = must(200, api("GET", "/api/v1/frontends?account_ref=other", ACME))
      assert.equal(1, #list)
      assert.equal("acme-fe", list[1].key)
      local other = "/api/v1/frontends/" .. fe["other-fe"].id
      assert.equal("not_found", must(404, api("GET", other, ACME)).error)
      must(404, api("PATCH", other, ACME, { active = true }))
      must(403, api("DELETE", other, ACME))
      must(403, api("POST", "/api/v1/frontends", ACME, { bbb = { key = "mine", secret = "s" } }))
      assert.equal("f", h.psql(db, "SELECT active FROM frontends WHERE key = 'other-fe'"))
      local own = "/api/v1/frontends/" .. fe["acme-fe"].id
      local b = must(200, api("PATCH", own, ACME, { settings = { attendees_limit = 50 } }))
      assert.equal(50, b.settings.attendees_limit)
      must(403, api("PATCH", own, ACME, { account_ref = "other" }))
      must(403, api("PATCH", own, ACME, { bbb = { key = "renamed" } }))
      must(200, api("PATCH", own, ACME, { account_ref = "acme" }))
      assert.equal("acme", h.psql(db, "SELECT account_ref FROM frontends WHERE key = 'acme-fe'"))
      must(403, api("GET", "/api/v1/frontends", NODE))
    end)

    it("deletes a frontend (admin only) and answers with it", function()
      local path = "/api/v1/frontends/" .. fe.plain.id
      local b = must(200, api("DELETE", path, ADMIN))
      assert.equal(fe.plain.id, b.id)
      assert.is_true(b.deleted)
      must(404, api("GET", path, ADMIN))
      must(404, api("DELETE", path, ADMIN))
    end)
  end)

  describe("backends", function()
    it("registers backends (201), normalising the host", function()
      for _, s in ipairs(sims) do
        local host = s.url:gsub("/$", "")
        local b = must(201, api("POST", "/api/v1/backends", ADMIN, {
          bbb = { host = host, secret = s.secret }, settings = { tags = { "sim" } },
        }))
        assert.equal(s.url, b.bbb.host)
        assert.equal(s.secret, b.bbb.secret)
        assert.same({ "sim" }, b.settings.tags)
        assert.equal("ready", b.admin_state)
        assert.equal("init", b.node_state)
        assert.equal(1, b.load_factor)
        assert.equal(0, b.meetings_count)
        assert.equal(cjson.null, b.agent_ref)
        assert.equal(cjson.null, b.last_error)
        be[s.name] = b
      end
    end)

    it("refuses a duplicate host (with or without the slash) with 409", function()
      local b = must(409, api("POST", "/api/v1/backends", ADMIN,
        { bbb = { host = sims[1].url, secret = "x" } }))
      assert.equal("conflict", b.error)
      must(409, api("PATCH", "/api/v1/backends/" .. be.a2.id, ADMIN,
        { bbb = { host = sims[1].url:gsub("/$", "") } }))
      assert.equal(sims[2].url, h.psql(db, "SELECT host FROM backends WHERE id = '" .. be.a2.id .. "'"))
    end)

    it("validates backend bodies", function()
      local b = must(400, api("POST", "/api/v1/backends", ADMIN, {
        bbb = { host = "bbb.example.org/api", secret = "" }, admin_state = "paused",
        load_factor = -0.5, settings = { tags = { "ok", "not ok" }, weight = 2 }, x = 1,
      }))
      assert.is_table(b.fields["bbb.host"])
      assert.is_table(b.fields["bbb.secret"])
      assert.is_table(b.fields.admin_state)
      assert.is_table(b.fields.load_factor)
      assert.is_table(b.fields["settings.tags[1]"])
      assert.same({ "unknown field" }, b.fields["settings.weight"])
      assert.same({ "unknown field" }, b.fields.x)
      b = must(400, api("POST", "/api/v1/backends", ADMIN, '{"bbb":{"host":1,"secret":[]},"load_factor":"1"}'))
      assert.same({ "must be a string" }, b.fields["bbb.host"])
      assert.same({ "must be a string" }, b.fields["bbb.secret"])
      assert.same({ "must be a number" }, b.fields.load_factor)
      must(400, api("POST", "/api/v1/backends", ADMIN, '{"settings":{"tags":"sim"}}'))
      assert.equal("2", h.psql(db, "SELECT count(*) FROM backends"))
    end)

    it("merge-patches tags, load_factor and admin_state", function()
      local path = "/api/v1/backends/" .. be.a2.id
      local b = must(200, api("PATCH", path, ADMIN, { settings = { tags = { "x", "y" } }, load_factor = 2.5 }))
      assert.same({ "x", "y" }, b.settings.tags)
      assert.equal(2.5, b.load_factor)
      b = must(200, api("PATCH", path, ADMIN, { settings = cjson.null, load_factor = 0 }))
      assert.same({}, b.settings.tags)
      local _, raw = h.http("GET", d.url .. path, nil, { authorization = "Bearer " .. ADMIN })
      assert.matches('"settings":{"tags":[]}', raw, 1, true)
      assert.equal(0, b.load_factor)
      must(400, api("PATCH", path, ADMIN, { admin_state = "gone" }))
      must(400, api("PATCH", path, ADMIN, { meetings_count = 99 }))
      b = must(200, api("PATCH", path, ADMIN, { settings = { tags = { "sim" } }, load_factor = 1 }))
      assert.equal(1, b.load_factor)
    end)

    it("lets a node agent register and see only its own backend, without secrets", function()
      local b = must(201, api("POST", "/api/v1/backends", NODE,
        { bbb = { host = "https://agent.example.org/bigbluebutton/api/", secret = "node-s" },
          admin_state = "ready" }))
      assert.equal("agent-1", b.agent_ref)
      assert.is_nil(b.bbb.secret)
      assert.equal("init", b.admin_state) -- whatever it asks: an admin enables it
      must(409, api("POST", "/api/v1/backends", NODE,
        { bbb = { host = "https://agent2.example.org/bigbluebutton/api/", secret = "node-s" } }))
      local list = must(200, api("GET", "/api/v1/backends", NODE))
      assert.equal(1, #list)
      assert.equal(b.id, list[1].id)
      assert.is_nil(list[1].bbb.secret)
      must(404, api("GET", "/api/v1/backends/" .. be.a1.id, NODE))
      -- changing a backend, its own included, is for admins
      must(403, api("PATCH", "/api/v1/backends/" .. be.a1.id, NODE, { admin_state = "stopped" }))
      local p = must(403, api("PATCH", "/api/v1/backends/" .. b.id, NODE, { admin_state = "stopped" }))
      assert.equal("scope b3scale:admin required", p.message)
      must(403, api("PATCH", "/api/v1/backends/" .. b.id, NODE, { agent_ref = "agent-2" }))
      must(403, api("DELETE", "/api/v1/backends/" .. b.id, NODE))
      must(403, api("POST", "/api/v1/backends", NODE, { bbb = { host = "https://z.example/", secret = "s" },
        agent_ref = "someone" }))
      local other = token("agent-2", "b3scale:node")
      assert.same({}, must(200, api("GET", "/api/v1/backends", other)))
      -- admin sees it, with the secret, and removes it (no meetings: deleted at once)
      local a = must(200, api("GET", "/api/v1/backends/" .. b.id, ADMIN))
      assert.equal("node-s", a.bbb.secret)
      local del = must(200, api("DELETE", "/api/v1/backends/" .. b.id, ADMIN))
      assert.is_true(del.deleted)
      must(404, api("GET", "/api/v1/backends/" .. b.id, ADMIN))
    end)

    it("is invisible to tenants", function()
      for _, m in ipairs({ "GET", "POST" }) do
        local b = must(403, api(m, "/api/v1/backends", ACME, m == "POST" and {} or nil))
        assert.equal("forbidden", b.error)
      end
      must(403, api("GET", "/api/v1/backends/" .. be.a1.id, ACME))
      must(403, api("PATCH", "/api/v1/backends/" .. be.a1.id, ACME, { admin_state = "ready" }))
    end)

    it("lists with a host filter and 404s unknown ids", function()
      local list = must(200, api("GET", "/api/v1/backends?host=" .. h.urlencode(sims[1].url), ADMIN))
      assert.equal(1, #list)
      assert.equal(be.a1.id, list[1].id)
      list = must(200, api("GET", "/api/v1/backends?host=" .. h.urlencode(sims[1].url:gsub("/$", "")), ADMIN))
      assert.equal(1, #list)
      must(404, api("GET", "/api/v1/backends/00000000-0000-0000-0000-000000000000", ADMIN))
      must(404, api("GET", "/api/v1/backends/zzz", ADMIN))
      must(404, api("DELETE", "/api/v1/backends/zzz", ADMIN))
      must(400, api("DELETE", "/api/v1/backends/" .. be.a1.id .. "?force=maybe", ADMIN))
    end)
  end)

  describe("meetings and the backend lifecycle", function()
    local first, second, m1

    it("disables a backend: new meetings avoid it, its running meeting still gets joins", function()
      local node = create_meeting("m1")
      assert.is_table(node)
      first = node
      second = (node == sims[1]) and sims[2] or sims[1]
      must(200, api("PATCH", "/api/v1/backends/" .. be[first.name].id, ADMIN, { admin_state = "stopped" }))
      for i = 2, 4 do
        assert.equal(second, create_meeting("m" .. i))
      end
      local st, _, hd = bbb("acme-fe", ACME_SECRET, "join", "fullName=Ann&meetingID=m1&role=VIEWER")
      assert.equal(302, st)
      assert.equal(first.url .. "join?", hd.location:sub(1, #first.url + 5))
      must(200, api("PATCH", "/api/v1/backends/" .. be[first.name].id, ADMIN, { admin_state = "ready" }))
    end)

    it("lists and shows meetings, by filter and by tenant", function()
      local list = must(200, api("GET", "/api/v1/meetings", ADMIN))
      assert.equal(4, #list)
      m1 = meeting_record("m1")
      assert.equal(fe["acme-fe"].id, m1.frontend_id)
      assert.equal("acme-fe", m1.frontend_key)
      assert.equal(be[first.name].id, m1.backend_id)
      assert.equal(first.url, m1.backend_host)
      assert.is_string(m1.internal_id)
      assert.is_boolean(m1.running)
      assert.is_number(m1.participants)
      assert.matches("^%d+$", m1.id)
      list = must(200, api("GET", "/api/v1/meetings?backend_id=" .. be[second.name].id, ADMIN))
      assert.equal(3, #list)
      list = must(200, api("GET", "/api/v1/meetings?backend_host=" .. h.urlencode(first.url), ADMIN))
      assert.equal(1, #list)
      list = must(200, api("GET", "/api/v1/meetings?frontend_id=" .. fe["other-fe"].id, ADMIN))
      assert.same({}, list)
      must(400, api("GET", "/api/v1/meetings?backend_id=nope", ADMIN))
      assert.equal(4, #must(200, api("GET", "/api/v1/meetings", ACME)))
      assert.same({}, must(200, api("GET", "/api/v1/meetings", OTHER)))
      assert.same({}, must(200, api("GET", "/api/v1/meetings?frontend_key=acme-fe", OTHER)))
      assert.same(m1, must(200, api("GET", "/api/v1/meetings/" .. m1.id, ACME)))
      must(404, api("GET", "/api/v1/meetings/" .. m1.id, OTHER))
      must(404, api("DELETE", "/api/v1/meetings/" .. m1.id, OTHER))
      must(404, api("GET", "/api/v1/meetings/999999", ADMIN))
      must(404, api("GET", "/api/v1/meetings/not-a-number", ADMIN))
      must(403, api("GET", "/api/v1/meetings", NODE))
      assert.is_table(holder("acme-fe~m1"))
    end)

    it("ends one meeting on its node and removes the record", function()
      local b = must(200, api("DELETE", "/api/v1/meetings/" .. m1.id, ACME))
      assert.is_true(b.ended)
      assert.equal(m1.id, b.meeting.id)
      assert.is_nil(holder("acme-fe~m1"))
      for _, m in ipairs(h.sim_get(first, "/sim/meetings")) do
        assert.not_equal("acme-fe~m1", m.meetingID)
      end
      must(404, api("GET", "/api/v1/meetings/" .. m1.id, ADMIN))
      local _, xml = bbb("acme-fe", ACME_SECRET, "getMeetingInfo", "meetingID=m1")
      assert.equal("notFound", h.xml_text(xml, "messageKey"))
    end)

    it("decommissions a backend with meetings; it stays until forced", function()
      local path = "/api/v1/backends/" .. be[second.name].id
      local b = must(200, api("DELETE", path, ADMIN))
      assert.is_false(b.deleted)
      assert.equal("decommissioned", b.admin_state)
      assert.equal("decommissioned", must(200, api("GET", path, ADMIN)).admin_state)
      assert.equal(first, create_meeting("m5"))
      b = must(200, api("DELETE", path .. "?force=true", ADMIN))
      assert.is_true(b.deleted)
      must(404, api("GET", path, ADMIN))
      assert.equal("0", h.psql(db, "SELECT count(*) FROM meetings WHERE backend_id = '"
        .. be[second.name].id .. "'"))
      assert.equal(1, #must(200, api("GET", "/api/v1/meetings", ADMIN)))
    end)

    it("ends all meetings of a backend with a per-meeting report", function()
      create_meeting("m6")
      create_meeting("m7")
      assert.equal(3, #h.sim_get(first, "/sim/meetings"))
      local b = must(200, api("POST", "/api/v1/commands", ADMIN,
        { action = "end_all_meetings", params = { backend_id = be[first.name].id } }))
      assert.equal("end_all_meetings", b.action)
      assert.equal(3, b.result.ended)
      assert.same({}, b.result.failed)
      assert.same({}, h.sim_get(first, "/sim/meetings"))
      assert.same({}, must(200, api("GET", "/api/v1/meetings", ADMIN)))
    end)

    it("validates commands and scopes them to admins", function()
      must(403, api("POST", "/api/v1/commands", ACME, { action = "end_all_meetings", params = {} }))
      must(403, api("POST", "/api/v1/commands", NODE, { action = "end_all_meetings", params = {} }))
      local b = must(400, api("POST", "/api/v1/commands", ADMIN, { action = "restart", params = {} }))
      assert.is_table(b.fields.action)
      must(400, api("POST", "/api/v1/commands", ADMIN, { action = "end_all_meetings" }))
      must(404, api("POST", "/api/v1/commands", ADMIN,
        { action = "end_all_meetings", params = { backend_id = "00000000-0000-0000-0000-000000000000" } }))
    end)

    it("keeps a meeting whose node cannot be reached (502) and reports it in end_all", function()
      local dead = "http://127.0.0.1:" .. h.free_port() .. "/bigbluebutton/api/"
      local b = must(201, api("POST", "/api/v1/backends", ADMIN,
        { bbb = { host = dead, secret = "s" }, admin_state = "stopped" }))
      h.psql(db, "INSERT INTO meetings (frontend_id, meeting_id, backend_meeting_id, backend_id,"
        .. " create_query) VALUES ('" .. fe["acme-fe"].id .. "', 'stuck', 'acme-fe~stuck', '"
        .. b.id .. "', 'meetingID=acme-fe~stuck')")
      local m = meeting_record("stuck")
      local e = must(502, api("DELETE", "/api/v1/meetings/" .. m.id, ADMIN))
      assert.equal("backend_error", e.error)
      must(200, api("GET", "/api/v1/meetings/" .. m.id, ADMIN))
      local r = must(200, api("POST", "/api/v1/commands", ADMIN,
        { action = "end_all_meetings", params = { BackendID = b.id } }))
      assert.equal(0, r.result.ended)
      assert.equal(1, #r.result.failed)
      assert.equal("stuck", r.result.failed[1].meeting_id)
      assert.is_string(r.result.failed[1].error)
      must(200, api("GET", "/api/v1/meetings/" .. m.id, ADMIN))
      assert.is_false(must(200, api("DELETE", "/api/v1/backends/" .. b.id, ADMIN)).deleted)
      assert.is_true(must(200, api("DELETE", "/api/v1/backends/" .. b.id .. "?force=1", ADMIN)).deleted)
      must(404, api("GET", "/api/v1/meetings/" .. m.id, ADMIN))
    end)
  end)

  describe("two daemons on one database", function()
    it("see each other's changes at once", function()
      local path = "/api/v1/frontends/" .. fe["acme-fe"].id
      must(200, api("PATCH", path, ADMIN, { settings = { policy = "least_load" } }, d))
      assert.equal("least_load", must(200, api("GET", path, ADMIN, nil, d2)).settings.policy)
      local b = must(201, api("POST", "/api/v1/frontends", ADMIN, { bbb = { key = "via-d2", secret = "s" } }, d2))
      assert.equal(b.id, must(200, api("GET", "/api/v1/frontends?key=via-d2", ADMIN, nil, d))[1].id)
      must(200, api("DELETE", "/api/v1/frontends/" .. b.id, ADMIN, nil, d))
      must(404, api("GET", "/api/v1/frontends/" .. b.id, ADMIN, nil, d2))
    end)
  end)
end)
