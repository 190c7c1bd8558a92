-- b3scalectl export / apply against the real b3scaled: files create, change and (with
-- --prune) remove backends and frontends, the same file twice changes nothing, an export
-- applied back is a no-op, a plain export has no secrets and keeps them, --dry-run and every
-- error change nothing, and --prune never loses a meeting.
local h = require("helpers")
local cjson = h.cjson
-- export files are edited with b3scalectl's own JSON: [] stays an array
local bjson = require("b3scalectl.json")
local cluster = require("support.cluster")

local JWT_SECRET = "apply-jwt-" .. h.random_hex(12)
local ACME_SECRET = "acme-" .. h.random_hex(6)
local OLD_SECRET = "old-" .. h.random_hex(6)
local HOOK_SECRET = "hook-" .. h.random_hex(6)

local ctl = require("support.ctl").new(JWT_SECRET)
local ok, ok_json, fails = ctl.ok, ctl.ok_json, ctl.fails

local function has(s, needle) return s:find(needle, 1, true) ~= nil end

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

describe("b3scalectl export and apply", function()
  local db, d, sims, dir

  local function write(name, v)
    local path = dir .. "/" .. name
    h.write_file(path, type(v) == "string" and v or bjson.encode(v))
    return path
  end

  -- what apply manages, as one comparable text
  local function snapshot()
    return h.psql(db, "SELECT concat_ws(' | ',"
      .. " (SELECT string_agg(concat_ws(',', host, secret, admin_state, tags::text, load_factor,"
      .. "  agent_ref), ';' ORDER BY host) FROM backends),"
      .. " (SELECT string_agg(concat_ws(',', key, secret, settings::text, active, account_ref),"
      .. "  ';' ORDER BY key) FROM frontends))")
  end

  -- bin/b3scalectl export | bin/b3scalectl apply -f - ...: exit code and output
  local function pipe(extra)
    local out = dir .. "/pipe.out"
    local code = h.run({ "sh", "-c", "bin/b3scalectl export | bin/b3scalectl apply -f - " .. extra
      .. " >" .. out .. " 2>&1" }, { B3SCALE_API_URL = d.url, B3SCALE_API_JWT_SECRET = JWT_SECRET,
      B3SCALE_API_TOKEN = false }, 30)
    return code, h.read_file(out) or ""
  end

  local function cluster_file()
    return {
      version = 1,
      backends = {
        { host = sims[1].url, secret = sims[1].secret, tags = { "sip" }, load_factor = 1 },
        { host = sims[2].url, secret = sims[2].secret, admin_state = "ready" },
      },
      frontends = {
        { key = "acme", secret = ACME_SECRET, account_ref = "acme-co",
          settings = { attendees_limit = { limit = 20 },
            webhooks = { { url = "https://hooks.example.org/bbb", events = { "meeting-ended" },
              secret = HOOK_SECRET } } } },
        { key = "old", secret = OLD_SECRET },
      },
    }
  end

  setup(function()
    db = h.new_db("apply")
    h.migrate(db)
    sims = { h.bbbsim({ name = "a1" }), h.bbbsim({ name = "a2" }) }
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT_SECRET } })
    ctl.url = d.url
    dir = h.tmpdir()
  end)

  teardown(function()
    if d then h.stop(d) end
    h.cleanup()
  end)

  it("creates what a file lists, and applying it again changes nothing", function()
    local path = write("cluster.json", cluster_file())
    local out = ok({ "apply", "-f", path })
    assert.same({
      "+ backend " .. sims[1].url,
      "+ backend " .. sims[2].url,
      "+ frontend acme",
      "+ frontend old",
      "4 change(s) applied",
    }, lines(out))
    local b = ok_json({ "show", "backend", sims[1].url })
    assert.same({ "sip" }, b.settings.tags)
    assert.equal(sims[1].secret, b.bbb.secret)
    local f = ok_json({ "show", "frontend", "acme" })
    assert.equal(ACME_SECRET, f.bbb.secret)
    assert.equal("acme-co", f.account_ref)
    assert.equal(20, f.settings.attendees_limit.limit)
    assert.equal(HOOK_SECRET, f.settings.webhooks[1].secret)

    local before = snapshot()
    out = ok({ "apply", "--file", path })
    assert.equal("no changes: the cluster matches " .. path .. "\n", out)
    assert.equal(before, snapshot())
  end)

  it("exports without secrets unless asked, in a stable order, and applies back as a no-op", function()
    local out = ok({ "export" })
    for _, s in ipairs({ sims[1].secret, sims[2].secret, ACME_SECRET, OLD_SECRET, HOOK_SECRET }) do
      assert.falsy(has(out, s), "a secret in the plain export")
    end
    assert.equal(out, ok({ "export" }))
    local v = cjson.decode(out)
    assert.equal(1, v.version)
    assert.equal(2, #v.backends)
    assert.equal(sims[1].url < sims[2].url and sims[1].url or sims[2].url, v.backends[1].host)
    assert.same({ "acme", "old" }, { v.frontends[1].key, v.frontends[2].key })
    assert.is_nil(v.frontends[1].secret)
    assert.is_nil(v.frontends[1].settings.webhooks[1].secret)
    assert.equal("https://hooks.example.org/bbb", v.frontends[1].settings.webhooks[1].url)
    -- keys sorted, one member per line: a backend starts with admin_state, ends with tags
    assert.matches('\n    {\n      "admin_state": "ready",\n      "agent_ref": null,\n      "host": ', out)
    assert.matches('^{\n  "backends": %[', out)

    local full = ok({ "export", "--with-secrets" })
    v = cjson.decode(full)
    local secrets = {}
    for _, b in ipairs(v.backends) do secrets[b.host] = b.secret end
    assert.equal(sims[1].secret, secrets[sims[1].url])
    assert.equal(ACME_SECRET, v.frontends[1].secret)
    assert.equal(HOOK_SECRET, v.frontends[1].settings.webhooks[1].secret)

    -- both exports applied back change nothing, the secrets included
    local before = snapshot()
    for _, text in ipairs({ out, full }) do
      local res = ok({ "apply", "-f", write("export.json", text) })
      assert.truthy(has(res, "no changes"), res)
    end
    local code, res = pipe("")
    assert.equal(0, code, res)
    assert.equal("no changes: the cluster matches the input\n", res)
    assert.equal(before, snapshot())
  end)

  it("prints the changes with --dry-run and makes none, then applies them", function()
    local v = bjson.decode(ok({ "export" }))
    v.backends[1].load_factor = 2.5
    v.backends[1].tags = { "sip", "eu" }
    v.frontends[1].settings.attendees_limit = nil
    v.frontends[1].settings.required_tags = { "eu" }
    v.frontends[2].active = false
    v.frontends[#v.frontends + 1] = { key = "newfe", secret = "newfe-secret", settings = {} }
    local path = write("changed.json", v)
    local host = v.backends[1].host
    local want = {
      "~ backend " .. host .. ": tags, load_factor",
      "~ frontend acme: settings",
      "~ frontend old: active",
      "+ frontend newfe",
    }
    local before = snapshot()
    local out = ok({ "apply", "-f", path, "--dry-run" })
    local got = lines(out)
    assert.equal("dry run: 4 change(s) planned, nothing was changed", table.remove(got))
    assert.same(want, got)
    assert.equal(before, snapshot())

    got = lines(ok({ "apply", "-f", path }))
    assert.equal("4 change(s) applied", table.remove(got))
    assert.same(want, got)
    local b = ok_json({ "show", "backend", host })
    assert.equal(2.5, b.load_factor)
    assert.same({ "sip", "eu" }, b.settings.tags)
    local f = ok_json({ "show", "frontend", "acme" })
    assert.is_nil(f.settings.attendees_limit)
    assert.same({ "eu" }, f.settings.required_tags)
    assert.equal(HOOK_SECRET, f.settings.webhooks[1].secret)   -- kept, though not in the file
    assert.equal(ACME_SECRET, f.bbb.secret)
    assert.is_false(ok_json({ "show", "frontend", "old" }).active)
    assert.equal("newfe-secret", ok_json({ "show", "frontend", "newfe" }).bbb.secret)
    assert.truthy(has(ok({ "apply", "-f", path }), "no changes"))
  end)

  it("prunes what the file leaves out, but never a meeting", function()
    -- acme's meeting on whichever node the policy picks
    ok({ "set", "frontend", "acme", "--settings", '{"required_tags":[]}' })
    cluster.settled(d, db)
    local st, body = h.get(h.api_url(h.frontend_api(d, "acme"), "create",
      "name=Keep&meetingID=keep-me", ACME_SECRET))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    local holder = cluster.holder(sims, "acme", "keep-me")
    local other = holder == sims[1] and sims[2] or sims[1]

    -- a file without acme, old and the meeting's node: old goes, acme and the meeting stay
    local v = bjson.decode(ok({ "export" }))
    local keep_b, keep_f = {}, {}
    for _, b in ipairs(v.backends) do if b.host == other.url then keep_b[#keep_b + 1] = b end end
    for _, f in ipairs(v.frontends) do if f.key == "newfe" then keep_f[#keep_f + 1] = f end end
    v.backends, v.frontends = bjson.array(keep_b), bjson.array(keep_f)
    local path = write("pruned.json", v)
    local before = snapshot()
    local code, out, err = ctl.run({ "apply", "-f", path, "--prune", "--dry-run" })
    assert.equal(1, code, out .. err)
    assert.same({
      "! frontend acme: not deleted: it has 1 meeting(s); end them (or keep it in the file) first",
      "- frontend old",
      "- backend " .. holder.url .. ": decommissioned: it has 1 meeting(s) and is removed once"
        .. " they are gone",
      "dry run: 2 change(s) planned, nothing was changed",
    }, lines(out))
    assert.equal("b3scalectl: 1 object(s) could not be removed (see above)\n", err)
    assert.equal(before, snapshot())

    code, out = ctl.run({ "apply", "-f", path, "--prune" })
    assert.equal(1, code, out)
    assert.truthy(has(out, "2 change(s) applied"), out)
    assert.equal("0", h.psql(db, "SELECT count(*) FROM frontends WHERE key = 'old'"))
    assert.equal("1", h.psql(db, "SELECT count(*) FROM frontends WHERE key = 'acme'"))
    assert.equal("decommissioned", ok_json({ "show", "backend", holder.url }).admin_state)
    -- the meeting is still there and reachable
    st, body = h.get(h.api_url(h.frontend_api(d, "acme"), "getMeetingInfo", "meetingID=keep-me",
      ACME_SECRET))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(holder, cluster.holder(sims, "acme", "keep-me"))

    -- again: the drained node is left to drain, acme still refused, nothing else to do
    code, out = ctl.run({ "apply", "-f", path, "--prune" })
    assert.equal(1, code)
    assert.same({
      "! frontend acme: not deleted: it has 1 meeting(s); end them (or keep it in the file) first",
      "no changes: the cluster matches " .. path,
    }, lines(out))
    -- without --prune nothing is removed
    assert.equal("no changes: the cluster matches " .. path .. "\n", ok({ "apply", "-f", path }))
  end)

  it("refuses a bad file with one line and changes nothing", function()
    local before = snapshot()
    local function refused(content, needle)
      local err = fails(1, { "apply", "-f", write("bad.json", content) })
      assert.truthy(has(err, needle), err)
      assert.truthy(has(err, "nothing was changed"), err)
      assert.equal(before, snapshot())
      return err
    end
    refused("{\"backends\": [", "invalid JSON")
    refused("[1, 2]", "must be a JSON object")
    refused({ backends = {}, colour = "red" }, 'unknown field "colour"')
    refused({ frontends = { { key = "acme", secrte = "x" } } }, 'frontend acme: unknown field "secrte"')
    refused({ backends = { { host = "ftp://x/", secret = "s" } } }, "host must be an http(s) URL")
    refused({ backends = { { host = sims[1].url, load_factor = "2" } } }, "load_factor must be a number")
    refused({ backends = { { host = sims[1].url, admin_state = "on" } } }, "admin_state must be one of")
    refused({ frontends = { { key = "bad key", secret = "s" } } }, "key must match")
    refused({ frontends = { { key = "dup", secret = "s" }, { key = "dup", secret = "s" } } }, "listed twice")
    refused({ version = 2 }, "version must be 1")
    -- a new object without its secret: an error, and the valid change planned before it is
    -- not made either
    local err = refused({ backends = { { host = "https://new.example.org/bigbluebutton/api/" } } },
      "a new backend needs its secret")
    assert.truthy(has(err, "https://new.example.org/bigbluebutton/api/"), err)
    refused({ backends = { { host = sims[1].url, load_factor = 9 } }, frontends = { { key = "brandnew" } } },
      "frontend brandnew: a new frontend needs its secret")
    refused({ frontends = { { key = "newfe", settings = { webhooks = {
      { url = "https://elsewhere.example.org/", events = { "meeting-ended" } } } } } } },
      "settings.webhooks[0] has no secret")
    err = fails(1, { "apply", "-f", dir .. "/missing.json" })
    assert.truthy(has(err, "cannot read"), err)
    fails(2, { "apply" })
    fails(2, { "apply", "-f", write("x.json", "{}"), "--force" })
  end)
end)
