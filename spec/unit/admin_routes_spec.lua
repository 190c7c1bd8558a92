-- lua/b3scale/admin: the route table matches docs/openapi.json exactly, and the router's
-- checks that need no database (scopes, 404/405/413, validation, merge patch), with a fake
-- b3scale.admin_host that records the SQL it is given.
local cjson = require("cjson")
local h = require("helpers")

local ROOT = os.getenv("B3SCALE_ROOT") or "."


describe("admin API route table", function()
  it("is requireable without the C host module", function()
    assert.is_nil(package.loaded["b3scale.admin_host"])
    local admin = require("b3scale.admin")
    assert.is_function(admin.handle)
    for _, m in ipairs({ "frontends", "backends", "meetings", "recordings", "callbacks", "commands",
        "status" }) do
      assert.is_table(require("b3scale.admin." .. m))
    end
    assert.is_nil(package.loaded["b3scale.admin_host"])
  end)

  it("equals the (method, path) pairs of docs/openapi.json in both directions", function()
    local doc = cjson.decode((assert(h.read_file(ROOT .. "/docs/openapi.json"))))
    assert.equal("3.0.3", doc.openapi)
    local in_doc, in_router = {}, {}
    local methods = { get = true, post = true, patch = true, put = true, delete = true,
      head = true, options = true }
    for path, item in pairs(doc.paths) do
      for m in pairs(item) do
        if methods[m] then
          in_doc[m:upper() .. " " .. path] = true
        end
      end
    end
    for _, r in ipairs(require("b3scale.admin").routes()) do
      local k = r[1] .. " " .. r[2]
      assert.is_nil(in_router[k], "duplicate route " .. k)
      in_router[k] = true
    end
    -- served by the C core before the Lua router sees the request (c/rec_upload.c,
    -- c/rec_access.c, c/cb_endpoints.c)
    for _, k in ipairs({ "POST /api/v1/recordings/import", "GET /api/v1/recordings/auth",
        "GET /api/v1/recordings/play/{link}", "GET /api/v1/callbacks/end/{token}",
        "GET /api/v1/callbacks/ended/{token}", "POST /api/v1/callbacks/analytics/{token}",
        "POST /api/v1/callbacks/recording-ready/{token}" }) do
      assert.is_nil(in_router[k], "routed in Lua and in C: " .. k)
      in_router[k] = true
    end
    for k in pairs(in_doc) do
      assert.is_true(in_router[k], "documented but not routed: " .. k)
    end
    for k in pairs(in_router) do
      assert.is_true(in_doc[k], "routed but not documented: " .. k)
    end
  end)

  it("documents the components the contract names", function()
    local doc = cjson.decode((assert(h.read_file(ROOT .. "/docs/openapi.json"))))
    for _, n in ipairs({ "Frontend", "Backend", "Meeting", "Recording", "RecordingsImported", "Error",
        "ValidationError", "Status" }) do
      assert.is_table(doc.components.schemas[n], n)
    end
    assert.equal("bearer", doc.components.securitySchemes.jwt.scheme)
  end)
end)


describe("admin JSON helpers", function()
  local json = require("b3scale.admin.json")

  it("keeps empty arrays and objects apart through decode and encode", function()
    local v = assert(json.decode('{"a":[],"b":{},"c":[[ ],{"d":[]}],"s":"[]"}'))
    assert.equal('{"a":[],"b":{},"c":[[],{"d":[]}],"s":"[]"}', json.encode(v))
  end)

  it("encodes numbers so they read back exactly, integers without a fraction", function()
    assert.equal('[0.1,1234567.123456789,1,-5,9007199254740992,2.5,1e+300]',
      json.encode({ 0.1, 1234567.123456789, 1.0, -5, 2 ^ 53, 2.5, 1e300 }))
  end)

  it("applies RFC 7396 merge patches", function()
    local function mp(t, p)
      return json.encode(json.merge_patch(json.decode(t), json.decode(p)))
    end
    -- the examples of RFC 7396 appendix A
    assert.equal('{"a":"c"}', mp('{"a":"b"}', '{"a":"c"}'))
    assert.equal('{"a":"b","b":"c"}', mp('{"a":"b"}', '{"b":"c"}'))
    assert.equal('{}', mp('{"a":"b"}', '{"a":null}'))
    assert.equal('{"b":"c"}', mp('{"a":"b","b":"c"}', '{"a":null}'))
    assert.equal('{"a":"c"}', mp('{"a":["b"]}', '{"a":"c"}'))
    assert.equal('{"a":["c"]}', mp('{"a":"c"}', '{"a":["c"]}'))
    assert.equal('{"a":{"b":"d"}}', mp('{"a":{"b":"c"}}', '{"a":{"b":"d","c":null}}'))
    assert.equal('{"a":[1]}', mp('{"a":[{"b":"c"}]}', '{"a":[1]}'))
    assert.equal('["c"]', mp('["a","b"]', '["c"]'))
    assert.equal('{"a":"foo","e":null}', mp('{"e":null}', '{"a":"foo"}'))
    assert.equal('{"a":{"bb":{}}}', mp('{}', '{"a":{"bb":{"ccc":null}}}'))
  end)
end)


describe("admin router without a database", function()
  local admin = require("b3scale.admin")
  local queries

  setup(function()
    package.loaded["b3scale.admin_host"] = {
      null = cjson.null,
      query = function(sql, ...)
        queries[#queries + 1] = { sql = sql, args = { ... } }
        return { affected = 0 }
      end,
      status = function()
        return { version = "0.1.0", policy_generation = 3, db_available = true,
          pending_migrations = {} }
      end,
      log = function() end,
    }
  end)

  teardown(function()
    package.loaded["b3scale.admin_host"] = nil
  end)

  before_each(function()
    queries = {}
  end)

  local ADMIN = { sub = "root", scope = "b3scale:admin", scopes = { ["b3scale:admin"] = true } }
  local TENANT = { sub = "acme", scope = "b3scale", scopes = { b3scale = true } }
  local NODE = { sub = "n1", scope = "b3scale:node", scopes = { ["b3scale:node"] = true } }

  local function call(method, path, claims, body, query)
    local st, out, ct = admin.handle({ method = method, path = path, query = query or {},
      body = body, claims = claims, max_body = 1024 })
    assert.equal("application/json", ct)
    return st, cjson.decode(out)
  end

  it("answers status with the token's view", function()
    local st, b = call("GET", "/api/v1", TENANT)
    assert.equal(200, st)
    assert.equal("v1", b.api)
    assert.equal("acme", b.sub)
    assert.same({ "b3scale" }, b.scopes)
    assert.is_false(b.is_admin)
    assert.same({}, b.database.pending_migrations)
    assert.equal(cjson.null, b.policy.last_reload_error)
    local st2 = call("GET", "/api/v1/status/", ADMIN)
    assert.equal(200, st2)
  end)

  it("answers 404 for unknown paths and 405 for wrong methods", function()
    local st, b = call("GET", "/api/v1/nope", ADMIN)
    assert.equal(404, st)
    assert.equal("not_found", b.error)
    st, b = call("PUT", "/api/v1/frontends", ADMIN)
    assert.equal(405, st)
    assert.equal("method_not_allowed", b.error)
    st = call("POST", "/api/v1/meetings/1", ADMIN)
    assert.equal(405, st)
  end)

  it("refuses scopes an endpoint does not take", function()
    local st, b = call("POST", "/api/v1/frontends", TENANT, "{}")
    assert.equal(403, st)
    assert.same({ error = "forbidden", message = "scope b3scale:admin required" }, b)
    st = call("GET", "/api/v1/backends", TENANT)
    assert.equal(403, st)
    st = call("GET", "/api/v1/frontends", NODE)
    assert.equal(403, st)
    st = call("GET", "/api/v1/meetings", NODE)
    assert.equal(403, st)
    st = call("GET", "/api/v1/frontends", { sub = "", scopes = { b3scale = true } })
    assert.equal(403, st)
    assert.equal(0, #queries)
  end)

  it("answers 413 over max_body and 400 for bad JSON, before any query", function()
    local st, b = call("POST", "/api/v1/frontends", ADMIN, string.rep(" ", 1025))
    assert.equal(413, st)
    assert.equal("too_large", b.error)
    st, b = call("POST", "/api/v1/frontends", ADMIN, "{nope")
    assert.equal(400, st)
    assert.equal("validation_error", b.error)
    assert.matches("^invalid JSON", b.fields.body[1])
    st, b = call("POST", "/api/v1/frontends", ADMIN, "[1]")
    assert.equal(400, st)
    st, b = call("POST", "/api/v1/frontends", ADMIN, nil)
    assert.equal(400, st)
    assert.same({ "is required" }, b.fields.body)
    assert.equal(0, #queries)
  end)

  it("validates frontends field by field", function()
    local st, b = call("POST", "/api/v1/frontends", ADMIN, cjson.encode({
      bbb = { key = "bad key", secret = 5, extra = 1 }, active = "yes", colour = "red",
      settings = { required_tags = { "ok", "no way" }, attendees_limit = -1 },
    }))
    assert.equal(400, st)
    local f = b.fields
    assert.same({ "unknown field" }, f.colour)
    assert.same({ "unknown field" }, f["bbb.extra"])
    assert.same({ "must match ^[A-Za-z0-9_-]{1,64}$" }, f["bbb.key"])
    assert.same({ "must be a string" }, f["bbb.secret"])
    assert.same({ "must be a boolean" }, f.active)
    assert.is_table(f["settings.required_tags[1]"])
    assert.same({ "must be >= 0" }, f["settings.attendees_limit"])
    st, b = call("POST", "/api/v1/frontends", ADMIN, '{"settings":[]}')
    assert.equal(400, st)
    assert.same({ "is required" }, b.fields["bbb.key"])
    assert.same({ "is required" }, b.fields["bbb.secret"])
    assert.same({ "must be an object" }, b.fields.settings)
    assert.equal(0, #queries)
  end)

  it("validates backends field by field", function()
    local st, b = call("POST", "/api/v1/backends", ADMIN, cjson.encode({
      bbb = { host = "ftp://x", secret = "" }, admin_state = "on", load_factor = -1,
      settings = { tags = { "a", 1 }, colour = 1 },
    }))
    assert.equal(400, st)
    local f = b.fields
    assert.same({ "must be an http:// or https:// URL" }, f["bbb.host"])
    assert.same({ "must not be empty" }, f["bbb.secret"])
    assert.same({ "must be one of init, ready, stopped, decommissioned" }, f.admin_state)
    assert.same({ "must be >= 0" }, f.load_factor)
    assert.same({ "must be a string" }, f["settings.tags[1]"])
    assert.same({ "unknown field" }, f["settings.colour"])
    st, b = call("POST", "/api/v1/backends", ADMIN, '{"bbb":{"host":"http://x","secret":"s"},'
      .. '"load_factor":"2"}')
    assert.equal(400, st)
    assert.same({ "must be a number" }, b.fields.load_factor)
  end)

  it("normalises backend hosts", function()
    local b = require("b3scale.admin.backends")
    assert.equal("https://a.example/bigbluebutton/api/", b.normalise_host("HTTPS://a.example/bigbluebutton/api"))
    assert.equal("http://127.0.0.1:8080/", b.normalise_host(" http://127.0.0.1:8080 "))
    assert.is_nil(b.normalise_host("https://"))
    assert.is_nil(b.normalise_host("https://a b/"))
    assert.is_nil(b.normalise_host("https://a/?x=1"))
    assert.is_nil(b.normalise_host("a.example/api/"))
  end)

  it("answers 404 for malformed ids without querying", function()
    for _, p in ipairs({ "/api/v1/frontends/nope", "/api/v1/backends/123",
        "/api/v1/meetings/abc", "/api/v1/meetings/99999999999999999999" }) do
      local st, b = call("GET", p, ADMIN)
      assert.equal(404, st, p)
      assert.equal("not_found", b.error)
    end
    assert.equal(0, #queries)
  end)

  it("validates commands", function()
    local st, b = call("POST", "/api/v1/commands", ADMIN, '{"action":"reboot","params":{}}')
    assert.equal(400, st)
    assert.same({ "must be one of end_all_meetings" }, b.fields.action)
    assert.same({ "is required" }, b.fields["params.backend_id"])
    st, b = call("POST", "/api/v1/commands", ADMIN,
      '{"action":"end_all_meetings","params":{"backend_id":"x"},"when":1}')
    assert.equal(400, st)
    assert.same({ "must be a uuid" }, b.fields["params.backend_id"])
    assert.same({ "unknown field" }, b.fields.when)
  end)

  it("validates meeting adoptions (admins only) before any query", function()
    local st, b = call("POST", "/api/v1/meetings", TENANT,
      '{"frontend":"fe","meeting_id":"room","backend":"https://n/"}')
    assert.equal(403, st)
    assert.equal("forbidden", b.error)
    st, b = call("POST", "/api/v1/meetings", ADMIN, cjson.encode({
      meeting_id = "a,b", backend_meeting_id = "x", backend = 5, name = 1, create_time = 1.5,
      colour = "red",
    }))
    assert.equal(400, st)
    local f = b.fields
    assert.same({ "is required" }, f.frontend)
    assert.same({ "must be a string" }, f.backend)
    assert.same({ "must be 2 to 256 bytes without control characters or ','" }, f.meeting_id)
    assert.is_table(f.backend_meeting_id)
    assert.same({ "must be a string" }, f.name)
    assert.same({ "must be an integer" }, f.create_time)
    assert.same({ "unknown field" }, f.colour)
    st, b = call("POST", "/api/v1/meetings", ADMIN, cjson.encode({ frontend = "fe",
      meeting_id = "room\1", backend = "https://n/", backend_meeting_id = string.rep("x", 257) }))
    assert.equal(400, st)
    assert.is_table(b.fields.meeting_id)
    assert.is_table(b.fields.backend_meeting_id)
    assert.equal(0, #queries)
  end)

  it("validates recording queries and visibility before any query", function()
    local st, b = call("GET", "/api/v1/recordings", ADMIN, nil,
      { limit = "0", offset = "x", state = "gone" })
    assert.equal(400, st)
    assert.same({ "must be a whole number from 1 to 1000" }, b.fields.limit)
    assert.same({ "must be a whole number from 0 to 1000000000" }, b.fields.offset)
    assert.same({ "must be one of deleted, processed, processing, published, unpublished" },
      b.fields.state)
    st, b = call("PATCH", "/api/v1/recordings/r1", TENANT, '{"visibility":"secret","x":1}')
    assert.equal(400, st)
    assert.same({ "must be one of protected, public, public_protected, published, unpublished" },
      b.fields.visibility)
    assert.same({ "unknown field" }, b.fields.x)
    st = call("GET", "/api/v1/recordings/" .. string.rep("a", 257), ADMIN)
    assert.equal(404, st)
    st = call("GET", "/api/v1/recordings", NODE)
    assert.equal(403, st)
    assert.equal(0, #queries)
  end)

  it("limits a tenant's recordings to its own frontends", function()
    local st, b = call("GET", "/api/v1/recordings", TENANT, nil, { frontend = "fe", limit = "5" })
    assert.equal(200, st)
    assert.same({}, b)
    local a = queries[1].args
    assert.equal("fe", a[1])
    assert.equal("acme", a[4])
    assert.equal(5, a[5])
    assert.equal(0, a[6])
    st = call("DELETE", "/api/v1/recordings/r1", TENANT)
    assert.equal(404, st)
    assert.same({ "r1", "acme" }, queries[2].args)
    call("GET", "/api/v1/recordings/r1", ADMIN)
    assert.is_nil(queries[3].args[2])
  end)

  it("validates callback queries and limits a tenant to its own frontends", function()
    local st, b = call("GET", "/api/v1/callbacks", ADMIN, nil,
      { limit = "1001", offset = "-1", state = "pending,lost" })
    assert.equal(400, st)
    assert.same({ "must be a whole number from 1 to 1000" }, b.fields.limit)
    assert.same({ "must be a whole number from 0 to 1000000000" }, b.fields.offset)
    assert.same({ "must be one or more (comma-separated) of delivered, failed, pending, refused" },
      b.fields.state)
    assert.equal(0, #queries)
    st = call("GET", "/api/v1/callbacks", NODE)
    assert.equal(403, st)
    st, b = call("GET", "/api/v1/callbacks", TENANT, nil, { frontend = "fe", state = "failed,refused" })
    assert.equal(200, st)
    assert.same({}, b)
    assert.same({ "fe", "failed,refused", "acme", 100, 0 }, queries[1].args)
    call("GET", "/api/v1/callbacks", ADMIN)
    assert.is_nil(queries[2].args[3])
  end)

  it("redacts what may carry a token in a callback URL", function()
    local redact = require("b3scale.admin.callbacks").redact
    assert.equal("https://fe.example/cb", redact("https://fe.example/cb"))
    assert.equal("https://fe.example/cb?", redact("https://fe.example/cb?"))
    assert.equal("https://fe.example/cb?token=redacted&a=&flag", redact("https://fe.example/cb?token=abc&a=&flag"))
    assert.equal("https://redacted@fe.example:8443/p?x=redacted#redacted",
      redact("https://u:p@fe.example:8443/p?x=1#frag?y=2"))
    assert.equal("http://fe.example/p/a@b#redacted", redact("http://fe.example/p/a@b#t"))
  end)

  it("turns a handler error into a 500 JSON answer", function()
    package.loaded["b3scale.admin_host"].query = function() error("boom") end
    local st, b = call("GET", "/api/v1/frontends", ADMIN)
    assert.equal(500, st)
    assert.equal("internal_error", b.error)
  end)
end)
