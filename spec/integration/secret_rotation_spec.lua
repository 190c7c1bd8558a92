-- Rotating a frontend's secret without downtime (docs/frontend-settings.md, "Rotating the
-- secret"): while bbb.previous_secret is set, checksums made with either secret verify,
-- through every path a call takes (create, getMeetings, join, and a join answered from the
-- route cache); once it is dropped the old secret gets checksumError at once. b3scalectl's
-- --rotate-secret prints a new secret that works, --drop-previous-secret ends the rotation,
-- export carries previous_secret with --with-secrets only, and no secret reaches the log.
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local bjson = require("b3scalectl.json") -- export files keep [] as arrays

local JWT = "rotation-jwt-" .. h.random_hex(8)
local ADMIN = tokens.hs384(JWT, "root", "b3scale:admin")
local OLD = "rotation-old-" .. h.random_hex(8)
local NEW = "rotation-new-" .. h.random_hex(8)

local ctl = require("support.ctl").new(JWT)

describe("secret rotation", function()
  local sim, db, d, path
  local seen = { OLD, NEW } -- every secret the frontend had, for the log check

  local function call(secret, name, query, alg)
    return h.get(h.api_url(h.frontend_api(d, "fe"), name, query, secret, alg))
  end

  local function key_of(secret, name, query, alg)
    local st, body = call(secret, name, query, alg)
    assert.equal(200, st)
    return h.xml_text(body, "returncode") == "SUCCESS" and "SUCCESS" or h.xml_text(body, "messageKey")
  end

  local function join(secret, mid)
    local st, body = call(secret, "join", "fullName=Ann&meetingID=" .. mid .. "&role=VIEWER")
    if st == 302 then return "redirect" end
    return h.xml_text(body, "messageKey")
  end

  local function patch(body)
    return tokens.request(d.url, "PATCH", path, ADMIN, body)
  end

  setup(function()
    sim = h.bbbsim({ name = "rot" })
    db = h.new_db("secret_rotation")
    h.migrate(db)
    cluster.register(db, { sim }, "fe", OLD)
    -- a long route cache: a join repeated within it is answered from memory
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT, B3SCALE_ROUTE_CACHE_MS = "60000" } })
    ctl.url = d.url
    local st, list = tokens.request(d.url, "GET", "/api/v1/frontends?key=fe", ADMIN)
    assert.equal(200, st)
    path = "/api/v1/frontends/" .. list[1].id
    assert.equal("SUCCESS", key_of(OLD, "create", "name=Room&meetingID=room"))
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("shows no previous_secret while no rotation runs, and validates one", function()
    local st, f = tokens.request(d.url, "GET", path, ADMIN)
    assert.equal(200, st)
    assert.same({ key = "fe", secret = OLD }, f.bbb)
    for _, c in ipairs({
      { "", "must not be empty (use null to end the rotation)" },
      { "  ", "must not be empty (use null to end the rotation)" },
      { OLD, "must differ from bbb.secret" },
      { 7, "must be a string" },
    }) do
      local s, b = patch({ bbb = { previous_secret = c[1] } })
      assert.equal(400, s)
      assert.same({ c[2] }, b.fields["bbb.previous_secret"])
    end
    assert.equal("", h.psql(db, "SELECT coalesce(previous_secret, '') FROM frontends WHERE key = 'fe'"))
  end)

  it("verifies both secrets while previous_secret is set, on every path", function()
    local st, f = patch({ bbb = { secret = NEW, previous_secret = OLD } })
    assert.equal(200, st)
    assert.same({ key = "fe", secret = NEW, previous_secret = OLD }, f.bbb)
    st, f = tokens.request(d.url, "GET", "/api/v1/frontends?key=fe", ADMIN)
    assert.equal(OLD, f[1].bbb.previous_secret)
    for _, s in ipairs({ NEW, OLD }) do
      for _, alg in ipairs({ "sha1", "sha256", "sha512" }) do
        assert.equal("SUCCESS", key_of(s, "getMeetings", "", alg))
      end
      assert.equal("SUCCESS", key_of(s, "create", "name=Room&meetingID=room"))
      assert.equal("SUCCESS", key_of(s, "isMeetingRunning", "meetingID=room"))
    end
    -- a new meeting created under the old secret, joined under both (the second and later
    -- joins come from the route cache, filled by whichever secret came first)
    assert.equal("SUCCESS", key_of(OLD, "create", "name=Late&meetingID=late"))
    for _ = 1, 3 do
      assert.equal("redirect", join(NEW, "room"))
      assert.equal("redirect", join(OLD, "room"))
      assert.equal("redirect", join(OLD, "late"))
      assert.equal("redirect", join(NEW, "late"))
    end
    -- a form POST signed over its body, with the old secret
    local q = h.sign("getMeetings", "", OLD)
    local s2, body = h.post(h.frontend_api(d, "fe") .. "getMeetings", q,
      { ["content-type"] = "application/x-www-form-urlencoded" })
    assert.equal(200, s2)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    -- anything else is still refused
    assert.equal("checksumError", key_of("not-" .. OLD, "getMeetings", ""))
    assert.equal("checksumError", join("not-" .. NEW, "room"))
  end)

  it("refuses the old secret at once when the rotation ends, cached routes included", function()
    assert.equal("redirect", join(OLD, "room")) -- cached under the rotation
    local out = ctl.ok({ "set", "frontend", "fe", "--drop-previous-secret" })
    assert.truthy(out:find("ended the secret rotation of frontend fe", 1, true), out)
    assert.equal("", h.psql(db, "SELECT coalesce(previous_secret, '') FROM frontends WHERE key = 'fe'"))
    assert.truthy(h.wait_until(function() return join(OLD, "room") == "checksumError" end, 5, 0.02),
      "the old secret still verifies a cached join")
    assert.equal("checksumError", join(OLD, "late"))
    assert.equal("checksumError", key_of(OLD, "getMeetings", ""))
    assert.equal("checksumError", key_of(OLD, "create", "name=Room&meetingID=room"))
    assert.equal("redirect", join(NEW, "room"))
    assert.equal("SUCCESS", key_of(NEW, "getMeetings", ""))
    local _, f = tokens.request(d.url, "GET", path, ADMIN)
    assert.same({ key = "fe", secret = NEW }, f.bbb)
  end)

  it("rotates with b3scalectl: a new random secret that works, the old one still verifying", function()
    local out = ctl.ok({ "set", "frontend", "fe", "--rotate-secret" })
    local fresh = out:match("new secret: (%x+)\n")
    assert.truthy(fresh, out)
    assert.equal(48, #fresh)
    assert.truthy(out:find("--drop-previous-secret", 1, true), out)
    seen[#seen + 1] = fresh
    assert.equal(fresh .. "|" .. NEW, h.psql(db, "SELECT secret || '|' || previous_secret FROM frontends WHERE key = 'fe'"))
    assert.equal("SUCCESS", key_of(fresh, "create", "name=Fresh&meetingID=fresh"))
    assert.equal("redirect", join(fresh, "fresh"))
    assert.equal("redirect", join(NEW, "fresh"))
    assert.equal("checksumError", key_of(OLD, "getMeetings", ""))
    -- show frontend names both; the table of frontends neither
    out = ctl.ok({ "show", "frontend", "fe" })
    assert.truthy(out:find(fresh, 1, true) and out:find(NEW, 1, true), out)
    out = ctl.ok({ "show", "frontends" })
    assert.falsy(out:find(fresh, 1, true) or out:find(NEW, 1, true), out)
    -- a second rotation would silently stop the previous secret: refused without --force
    local err = ctl.fails(1, { "set", "frontend", "fe", "--rotate-secret" })
    assert.truthy(err:find("rotated already", 1, true), err)
    ctl.fails(2, { "set", "frontend", "fe", "--rotate-secret", "--secret", "x" })
    ctl.fails(1, { "set", "frontend", "nope", "--rotate-secret" })
    local v = ctl.ok_json({ "set", "frontend", "fe", "--rotate-secret", "--force" })
    assert.equal(fresh, v.bbb.previous_secret)
    assert.equal(48, #v.bbb.secret)
    assert.not_equal(fresh, v.bbb.secret)
    seen[#seen + 1] = v.bbb.secret
    assert.equal("SUCCESS", key_of(v.bbb.secret, "getMeetings", ""))
    assert.equal("SUCCESS", key_of(fresh, "getMeetings", ""))
    assert.equal("checksumError", key_of(NEW, "getMeetings", ""))
  end)

  it("exports previous_secret with --with-secrets only, and applies it", function()
    local _, f = tokens.request(d.url, "GET", path, ADMIN)
    local cur, prev = f.bbb.secret, f.bbb.previous_secret
    local plain = ctl.ok({ "export" })
    assert.falsy(plain:find(prev, 1, true) or plain:find(cur, 1, true), plain)
    local full = bjson.decode(ctl.ok({ "export", "--with-secrets" }))
    assert.equal(prev, full.frontends[1].previous_secret)
    assert.equal(cur, full.frontends[1].secret)
    -- applied back: nothing to change; with null: the rotation ends
    local file = h.tmpdir() .. "/rotation-" .. h.random_hex(4) .. ".json"
    h.write_file(file, bjson.encode(full))
    assert.truthy(ctl.ok({ "apply", "-f", file }):find("no changes", 1, true))
    full.frontends[1].previous_secret = bjson.null
    h.write_file(file, bjson.encode(full))
    local out = ctl.ok({ "apply", "-f", file })
    assert.truthy(out:find("~ frontend fe: previous_secret", 1, true), out)
    assert.equal("", h.psql(db, "SELECT coalesce(previous_secret, '') FROM frontends WHERE key = 'fe'"))
    -- and set again from a file
    full.frontends[1].previous_secret = prev
    h.write_file(file, bjson.encode(full))
    ctl.ok({ "apply", "-f", file })
    assert.equal(prev, h.psql(db, "SELECT previous_secret FROM frontends WHERE key = 'fe'"))
    assert.equal("SUCCESS", key_of(prev, "getMeetings", ""))
  end)

  it("never writes a secret to the daemon's log", function()
    local log = h.read_file(d.log) or ""
    assert.truthy(#log > 0)
    assert.truthy(log:find("checksum", 1, true) or log:find("bbb", 1, true), "the log shows the calls")
    for _, s in ipairs(seen) do
      assert.falsy(log:find(s, 1, true), "a secret in the log")
    end
  end)
end)
