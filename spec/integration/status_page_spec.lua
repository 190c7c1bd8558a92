-- The live status page (docs/status.html at GET /status) and its data, GET /api/v1/cluster,
-- against a small real cluster: the JSON's shape and scope, no secret anywhere, and the page
-- itself rendered by headless Chromium (pending with the reason when Chromium is missing or
-- cannot start). A screenshot is left at $B3SCALE_STATUS_SCREENSHOT (default
-- ${TMPDIR:-/tmp}/b3scale-status-page.png) and its path printed.
local h = require("helpers")
local chromium = require("support.chromium")
local tokens = require("support.tokens")
local cjson = require("cjson")

local JWT_SECRET = "status-page-jwt-secret-7d41"
local FE_SECRET = "status-page-fe-secret-2b9c"
local FAST = {
  B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_POLL_TIMEOUT_MS = "500",
  B3SCALE_UNAVAILABLE_AFTER = "2", B3SCALE_AVAILABLE_AFTER = "2",
  B3SCALE_BACKEND_CONNECT_TIMEOUT_MS = "300", B3SCALE_BACKEND_TIMEOUT_MS = "2000",
  B3SCALE_API_JWT_SECRET = JWT_SECRET,
}

local ADMIN = tokens.hs384(JWT_SECRET, "ops", "b3scale:admin")
local TENANT = tokens.hs384(JWT_SECRET, "acme", "b3scale")

--------------------------------------------------------------------------------------------

local function api(d, method, path, tok, body)
  local headers = {}
  if tok then headers.authorization = "Bearer " .. tok end
  if type(body) == "table" then
    body = cjson.encode(body)
    headers["content-type"] = "application/json"
  end
  local st, raw = h.http(method, d.url .. path, body, headers, 30)
  assert(st, "no answer: " .. tostring(raw))
  local ok, v = pcall(cjson.decode, raw)
  return st, ok and v or raw, raw
end


local function find(list, field, value)
  for _, x in ipairs(list or {}) do
    if x[field] == value then return x end
  end
end


-- the opening tag of the element carrying attr="value" in a serialised DOM, or nil
local function esc(s)
  return (s:gsub("%p", "%%%0"))
end


local function tag_with(dom, attr, value)
  local s = dom:find(" " .. attr .. '="' .. value .. '"', 1, true)
  if not s then return nil end
  local open = dom:sub(1, s):match(".*()<")
  return dom:sub(open, dom:find(">", s, true))
end


local function attr(tag, name)
  return tag and tag:match(" " .. esc(name) .. '="([^"]*)"')
end


-- text content of the element with id (no nested elements expected)
local function text_of(dom, id)
  return dom:match(' id="' .. esc(id) .. '"[^>]*>([^<]*)<')
end


describe("status page", function()
  local db, d, s1, s2, secrets, keep, hold

  setup(function()
    db = h.new_db("status")
    h.migrate(db)
    s1 = h.bbbsim({ name = "st1", secret = "status-node1-secret-e5f0" })
    s2 = h.bbbsim({ name = "st2", secret = "status-node2-secret-93ad" })
    secrets = { JWT_SECRET, FE_SECRET, s1.secret, s2.secret }
    d = h.daemon({ db = db, env = FAST })
    -- registered through the admin API, as an operator would
    for i, s in ipairs({ s1, s2 }) do
      local st, b = api(d, "POST", "/api/v1/backends", ADMIN, {
        bbb = { host = s.url, secret = s.secret }, settings = { tags = { "zone-" .. i } } })
      assert.equal(201, st, cjson.encode(b))
    end
    local st, b = api(d, "POST", "/api/v1/frontends", ADMIN, { bbb = { key = "fe", secret = FE_SECRET } })
    assert.equal(201, st, cjson.encode(b))
    -- two imports as the recordings thread logs them (spec/integration/recordings_import_spec.lua
    -- runs real ones): one from a node, one refused
    h.psql(db, "INSERT INTO recording_imports (backend_id, status, trees, bytes, record_ids, message)"
      .. " SELECT id, 200, 1, 5632, 'presentation/rec-ok-1', '' FROM backends WHERE host = '" .. s1.url .. "'")
    h.psql(db, "INSERT INTO recording_imports (status, message) VALUES (400,"
      .. " 'entry ''presentation/x/../../etc'' has an empty, ''.'' or ''..'' component')")
    assert(h.wait_until(function()
      local _, c = api(d, "GET", "/api/v1/cluster", ADMIN)
      local a, z = find(c.backends, "host", s1.url), find(c.backends, "host", s2.url)
      return a and z and a.node_state == "ready" and z.node_state == "ready"
    end, 10), "backends did not become ready")
    local _, body = h.get(h.api_url(h.frontend_api(d, "fe"), "create",
      "name=Status+Demo&meetingID=status-demo", FE_SECRET))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    -- kill the node that does not hold the meeting
    hold, keep = s1, s2
    for _, m in ipairs(h.sim_get(s2, "/sim/meetings")) do
      if m.meetingID == "fe~status-demo" then hold, keep = s2, s1 end
    end
    h.sim_req(hold, "POST", "/sim/attendees?meetingID=" .. h.urlencode("fe~status-demo") .. "&count=3")
    h.stop(keep)
    assert(h.wait_until(function()
      local _, c = api(d, "GET", "/api/v1/cluster", ADMIN)
      local z = find(c.backends, "host", keep.url)
      local a = find(c.backends, "host", hold.url)
      return z and z.node_state == "unavailable" and a and a.participants == 3
    end, 10), "the killed node did not become unavailable")
  end)

  teardown(function()
    if d then assert.equal(0, h.stop(d), "b3scaled should exit 0 on SIGTERM") end
    h.cleanup()
  end)

  it("GET /api/v1/cluster answers the snapshot to admins only, without a secret", function()
    local st, c, raw = api(d, "GET", "/api/v1/cluster", ADMIN)
    assert.equal(200, st, raw)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", c.generated_at)
    assert.equal(2, #c.backends)
    local a, z = find(c.backends, "host", hold.url), find(c.backends, "host", keep.url)
    assert.equal("ready", a.node_state)
    assert.equal("ready", a.admin_state)
    assert.equal(1, a.meetings)
    assert.equal(3, a.participants)
    assert.equal(1, a.load_factor)
    assert.equal(15, a.load)                 -- 1 x max((1 + 0 pending) x 15, 3)
    assert.is_number(a.latency_ms)
    assert.same({ a == find(c.backends, "host", s1.url) and "zone-1" or "zone-2" }, a.tags)
    assert.equal(cjson.null, a.last_error)
    assert.equal("unavailable", z.node_state)
    assert.is_string(z.last_error)
    for _, b in ipairs(c.backends) do
      for _, k in ipairs({ "id", "host", "admin_state", "node_state", "meetings", "participants",
          "video", "voice", "listeners", "latency_ms", "last_error", "load_factor", "load", "tags" }) do
        assert.is_not_nil(b[k], "backend field " .. k)
      end
      assert.is_nil(b.secret)
      assert.is_nil(b.bbb)
    end
    assert.same({ { key = "fe", active = true, meetings = 1, attendees = 3 } }, c.frontends)
    -- the placement and why (least_load's reason), newest first
    assert.equal(1, #c.placements, raw)
    local pl = c.placements[1]
    assert.equal("fe", pl.frontend)
    assert.equal("status-demo", pl.meeting_id)
    assert.equal(hold.url, pl.node)
    assert.equal("policy", pl.by)
    assert.equal("least_load", pl.policy)
    assert.matches("^least load %d+ of 2 eligible$", pl.reason)
    assert.equal(1, c.policy.generation)
    assert.equal(cjson.null, c.policy.last_reload_error)
    assert.equal(cjson.null, c.policy.last_reload_error_at)
    assert.equal("least_load", c.policy.default)
    local p = find(c.policy.policies, "policy", "least_load")
    assert.is_table(p, raw)
    assert.is_true(p.calls >= 1)
    assert.same({ runtime = 0, budget = 0, badret = 0, nomem = 0 }, p.errors)
    for _, s in ipairs(secrets) do
      assert.is_nil(raw:find(s, 1, true), "a secret appears in /api/v1/cluster")
    end
    assert.equal(403, (api(d, "GET", "/api/v1/cluster", TENANT)))
    assert.equal(401, (api(d, "GET", "/api/v1/cluster", nil)))
    assert.equal(405, (api(d, "POST", "/api/v1/cluster", ADMIN, {})))
  end)

  it("serves the page itself without a token, and it holds no data", function()
    local st, body, hd = h.get(d.url .. "/status")
    assert.equal(200, st)
    assert.matches("^text/html", hd["content-type"])
    assert.truthy(body:find("<title>b3scale status</title>", 1, true))
    assert.truthy(body:find("api/v1/cluster", 1, true))
    -- nothing loaded from elsewhere: no absolute src/href/url()/@import, data only from api/v1
    local lower = body:lower()
    for _, pat in ipairs({ "src%s*=%s*[\"']?%a*:?//", "href%s*=%s*[\"']?%a*:?//", "url%(%s*[\"']?%a*:?//",
        "@import", "<link[^>]+stylesheet" }) do
      assert.is_nil(lower:find(pat), "the page must not load anything from elsewhere: " .. pat)
    end
    assert.truthy(body:find("connect-src 'self'", 1, true))
    for _, s in ipairs(secrets) do
      assert.is_nil(body:find(s, 1, true))
    end
    assert.is_nil(body:find(s1.url, 1, true))
  end)

  describe("in headless Chromium", function()
    local usable, why = chromium.available()

    if not usable then
      pending("status page in headless Chromium: " .. tostring(why))
      return
    end

    it("renders both backends with their states, the frontend and the policy generation", function()
      local dom, where = chromium.dump_dom(d.url .. "/status#token=" .. ADMIN, { budget_ms = 6000 })
      assert(dom, where)
      local a = tag_with(dom, "data-backend", hold.url)
      local z = tag_with(dom, "data-backend", keep.url)
      assert(a and z, "backend rows missing in the DOM (" .. where .. ")")
      assert.equal("ready", attr(a, "data-state"))
      assert.equal("ready", attr(a, "data-admin-state"))
      assert.equal("1", attr(a, "data-meetings"))
      assert.equal("unavailable", attr(z, "data-state"))
      local fe = tag_with(dom, "data-frontend", "fe")
      assert.is_not_nil(fe, "frontend row missing")
      assert.equal("1", attr(fe, "data-meetings"))
      assert.equal("3", attr(fe, "data-attendees"))
      assert.equal("1", text_of(dom, "policy-generation"))
      assert.equal("ok", text_of(dom, "policy-reload"))
      assert.is_not_nil(tag_with(dom, "data-policy", "least_load"))
      assert.matches("^last updated ", text_of(dom, "last-updated"))
      assert.matches('class="hidden"', tag_with(dom, "id", "error-banner"))
      assert.matches('class="hidden"', tag_with(dom, "id", "token-form"))
      -- nothing secret on the page, not even the token it was given
      for _, s in ipairs(secrets) do assert.is_nil(dom:find(s, 1, true)) end
      assert.is_nil(dom:find(ADMIN, 1, true))
      -- the killed node's error is shown
      assert.truthy(dom:find('<td class="err"[^>]*>[^<]+</td>'))
      -- the recording imports, the refused one with its reason
      assert.is_not_nil(tag_with(dom, "data-status", "200"))
      assert.is_not_nil(tag_with(dom, "data-status", "400"))
      assert.truthy(dom:find("presentation/rec-ok-1", 1, true))
      assert.truthy(dom:find("has an empty, '.' or '..' component", 1, true))
      -- the placement with its reason
      assert.equal("policy", attr(tag_with(dom, "data-meeting", "fe/status-demo"), "data-by"))
      assert.truthy(dom:find("least load %d+ of 2 eligible"))
    end)

    it("asks for the token again when it is refused", function()
      local dom, where = chromium.dump_dom(d.url .. "/status#token=not.a.jwt", { budget_ms = 3000 })
      assert(dom, where)
      local form = tag_with(dom, "id", "token-form")
      assert.is_nil(attr(form, "class"):find("hidden", 1, true), "token form not shown")
      assert.matches("Not authorised", text_of(dom, "error-banner"))
      assert.matches('class="hidden"', tag_with(dom, "id", "dashboard"))
      -- a tenant token is refused with 403 and the page says why
      dom, where = chromium.dump_dom(d.url .. "/status#token=" .. TENANT, { budget_ms = 3000 })
      assert(dom, where)
      assert.matches("b3scale:admin", text_of(dom, "error-banner"))
      assert.is_nil(dom:find(TENANT, 1, true))
    end)

    it("takes a screenshot of the page", function()
      local path = os.getenv("B3SCALE_STATUS_SCREENSHOT")
      if not path or path == "" then
        path = (os.getenv("TMPDIR") or "/tmp") .. "/b3scale-status-page.png"
      end
      local ok, err = chromium.screenshot(d.url .. "/status#token=" .. ADMIN, path,
        { width = 1280, height = 900, budget_ms = 6000 })
      assert(ok, err)
      io.stdout:write("# status page screenshot: " .. path .. "\n")
    end)
  end)
end)
