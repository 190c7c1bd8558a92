-- bin/b3scalectl against the real b3scaled, Postgres and simulated BBB nodes: what an
-- operator sees (output, exit status, one-line errors) and what the cluster becomes.
local h = require("helpers")
local cjson = h.cjson

local JWT_SECRET = "ctl-jwt-" .. h.random_hex(12)
local FE_SECRET = "fe1-secret-" .. h.random_hex(4)

local ctl = require("support.ctl").new(JWT_SECRET)
local ok, ok_json, fails = ctl.ok, ctl.ok_json, ctl.fails

local function has(s, needle) return s:find(needle, 1, true) ~= nil end

local function create_meeting(d, key, secret, id)
  local st, body = h.get(h.api_url(h.frontend_api(d, key), "create",
    "name=Room&meetingID=" .. id .. "&record=false", secret))
  assert.equal(200, st)
  assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
end

local function sim_meetings(sim)
  local list = h.sim_get(sim, "/sim/meetings") or {}
  return #list
end

describe("b3scalectl", function()
  local db, d, sims

  setup(function()
    db = h.new_db("ctl")
    h.migrate(db)
    sims = { h.bbbsim({ name = "c1" }), h.bbbsim({ name = "c2" }) }
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT_SECRET } })
    ctl.url = d.url
  end)

  teardown(function()
    if d then h.stop(d) end
    h.cleanup()
  end)

  it("builds a cluster: two backends and a frontend that serves BBB calls", function()
    local out = ok({ "set", "backend", sims[1].url, "--secret", sims[1].secret, "--tags", "sip,big" })
    assert.equal("created backend " .. sims[1].url, out:match("^(.-) %(id"))
    -- without the trailing slash: normalised
    out = ok({ "set", "backend", sims[2].url:gsub("/$", ""), "-s", sims[2].secret })
    assert.truthy(has(out, "created backend " .. sims[2].url), out)
    out = ok({ "set", "frontend", "fe1", "--secret", FE_SECRET, "--settings", '{"required_tags":[]}' })
    assert.truthy(has(out, "created frontend fe1"), out)
    assert.truthy(has(out, d.url .. "/bbb/fe1/bigbluebutton/api/"), out)
    assert.falsy(has(out, FE_SECRET))

    -- what the database now holds
    assert.equal(sims[1].secret .. "|ready|{sip,big}",
      h.psql(db, "SELECT secret, admin_state, tags FROM backends WHERE host = '" .. sims[1].url .. "'"))
    assert.equal("1", h.psql(db, "SELECT count(*) FROM backends WHERE host = '" .. sims[2].url .. "'"))
    -- and the frontend works through the BBB API
    create_meeting(d, "fe1", FE_SECRET, "hello")
    assert.equal(1, sim_meetings(sims[1]) + sim_meetings(sims[2]))
  end)

  it("shows backends as a table without secrets, and as the server's JSON", function()
    local out = ok({ "show", "backends" })
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(3, #lines, out)
    assert.matches("^HOST%s+STATE%s+MEETINGS%s+ATTENDEES%s+LOAD FACTOR%s+CAPS%s+TAGS%s+LAST ERROR$", lines[1])
    assert.truthy(has(out, sims[1].url) and has(out, sims[2].url))
    assert.truthy(has(out, "sip,big"))
    assert.matches("ready/%a+", out)
    for _, s in ipairs(sims) do assert.falsy(has(out, s.secret), "no backend secret in the table") end
    -- columns are aligned: STATE starts at the same offset on every line
    local col = lines[1]:find("STATE", 1, true)
    for i = 2, #lines do assert.matches("^%S+%s+$", lines[i]:sub(1, col - 1)) end

    local v = ok_json({ "show", "backends" })
    assert.equal(2, #v)
    local hosts = { v[1].bbb.host, v[2].bbb.host }
    table.sort(hosts)
    local want = { sims[1].url, sims[2].url }
    table.sort(want)
    assert.same(want, hosts)

    out = ok({ "show", "backend", sims[1].url })
    assert.matches("host:%s+" .. sims[1].url:gsub("%p", "%%%0"), out)
    assert.matches("tags:%s+sip,big", out)
    assert.matches("admin state:%s+ready", out)
    assert.falsy(has(out, sims[1].secret))
    v = ok_json({ "show", "backend", sims[1].url })
    assert.equal(sims[1].url, v.bbb.host)
    assert.same({ "sip", "big" }, v.settings.tags)
  end)

  it("shows frontends as a table, and one frontend with its API URL and secret", function()
    local out = ok({ "show", "frontends" })
    assert.matches("^KEY%s+ACTIVE%s+ACCOUNT%s+SETTINGS\n", out)
    assert.matches("\nfe1%s+yes%s+%-%s+{\"required_tags\":%[%]}\n", out)
    assert.falsy(has(out, FE_SECRET))
    local v = ok_json({ "show", "frontends" })
    assert.equal(1, #v)
    assert.equal("fe1", v[1].key)

    out = ok({ "show", "frontend", "fe1" })
    assert.truthy(has(out, d.url .. "/bbb/fe1/bigbluebutton/api/"), out)
    assert.matches("API URL:%s+http://", out)
    assert.matches("secret:%s+" .. FE_SECRET:gsub("%p", "%%%0"), out)
    v = ok_json({ "show", "frontend", "fe1" })
    assert.equal("fe1", v.bbb.key)
    assert.equal(FE_SECRET, v.bbb.secret)
  end)

  it("changes only what is given", function()
    local out = ok({ "set", "backend", sims[1].url, "--load-factor", "2.5" })
    assert.truthy(has(out, "updated backend " .. sims[1].url), out)
    local v = ok_json({ "show", "backend", sims[1].url })
    assert.equal(2.5, v.load_factor)
    assert.same({ "sip", "big" }, v.settings.tags)
    assert.equal(sims[1].secret, v.bbb.secret)
    ok({ "set", "backend", sims[1].url, "--tags", "" })
    v = ok_json({ "show", "backend", sims[1].url })
    assert.same({}, v.settings.tags)
    assert.equal(2.5, v.load_factor)
    out = ok({ "show", "backends" })
    assert.matches("2%.5", out)

    ok({ "set", "frontend", "fe1", "--settings", '{"attendees_limit":5}' })
    v = ok_json({ "show", "frontend", "fe1" })
    assert.equal(5, v.settings.attendees_limit)
    assert.is_not_nil(v.settings.required_tags)
    ok({ "set", "frontend", "fe1", "--settings", '{"attendees_limit":null}', "--account-ref", "acme" })
    v = ok_json({ "show", "frontend", "fe1" })
    assert.is_nil(v.settings.attendees_limit)
    assert.equal("acme", v.account_ref)
    assert.equal(FE_SECRET, v.bbb.secret)
    assert.matches("\nfe1%s+yes%s+acme%s", ok({ "show", "frontends" }))
    ok({ "set", "frontend", "fe1", "--account-ref", "" })
    assert.equal(cjson.null, ok_json({ "show", "frontend", "fe1" }).account_ref)
  end)

  it("disables and enables backends and frontends", function()
    local out = ok({ "disable", "backend", sims[2].url })
    assert.truthy(has(out, "disabled backend " .. sims[2].url), out)
    assert.equal("stopped", h.psql(db, "SELECT admin_state FROM backends WHERE host = '" .. sims[2].url .. "'"))
    assert.matches("stopped/", ok({ "show", "backends" }))
    ok({ "enable", "backend", sims[2].url })
    assert.equal("ready", ok_json({ "show", "backend", sims[2].url }).admin_state)

    out = ok({ "disable", "frontend", "fe1" })
    assert.truthy(has(out, "disabled frontend fe1"), out)
    assert.is_false(ok_json({ "show", "frontend", "fe1" }).active)
    assert.matches("\nfe1%s+no%s", ok({ "show", "frontends" }))
    ok({ "enable", "frontend", "fe1" })
    assert.is_true(ok_json({ "show", "frontend", "fe1" }).active)
  end)

  it("lists meetings and ends every meeting of a backend", function()
    create_meeting(d, "fe1", FE_SECRET, "room-1")
    local list = ok_json({ "show", "meetings", "--frontend", "fe1" })
    local m
    for _, x in ipairs(list) do if x.meeting_id == "room-1" then m = x end end
    assert.is_not_nil(m, "room-1 is listed")
    local host = m.backend_host
    local out = ok({ "show", "meetings" })
    assert.matches("^ID%s+FRONTEND%s+MEETING ID%s+BACKEND%s+RUNNING%s+PARTICIPANTS%s+CREATED\n", out)
    assert.truthy(has(out, "room-1"))
    local on_host = ok_json({ "show", "meetings", "--backend", host })
    assert.is_true(#on_host >= 1)
    for _, x in ipairs(on_host) do assert.equal(host, x.backend_host) end

    local sim = sims[1].url == host and sims[1] or sims[2]
    local before = sim_meetings(sim)
    assert.is_true(before >= 1)
    out = ok({ "end", "meetings", host })
    assert.equal(string.format("ended %d meeting(s) on %s\n", #on_host, host), out)
    assert.equal(0, sim_meetings(sim))
    assert.same({}, ok_json({ "show", "meetings", "--backend", host }))
    assert.equal("no meetings\n", ok({ "show", "meetings", "--backend", host }))

    local v = ok_json({ "end", "meetings", host })
    assert.equal("end_all_meetings", v.action)
    assert.equal(0, v.result.ended)
  end)

  it("deletes a backend: decommissioned while it has meetings, removed with --force", function()
    -- only sims[1] takes meetings while sims[2] is stopped
    ok({ "disable", "backend", sims[2].url })
    create_meeting(d, "fe1", FE_SECRET, "room-2")
    local on1 = ok_json({ "show", "meetings", "--backend", sims[1].url })
    assert.is_true(#on1 >= 1)
    local out = ok({ "delete", "backend", sims[1].url })
    assert.truthy(has(out, "decommissioned backend " .. sims[1].url), out)
    assert.equal("decommissioned", ok_json({ "show", "backend", sims[1].url }).admin_state)
    out = ok({ "delete", "backend", sims[1].url, "--force" })
    assert.equal("deleted backend " .. sims[1].url .. "\n", out)
    assert.equal("0", h.psql(db, "SELECT count(*) FROM backends WHERE host = '" .. sims[1].url .. "'"))
    -- a backend without meetings goes at once, even without --force
    out = ok({ "delete", "backend", sims[2].url })
    assert.equal("deleted backend " .. sims[2].url .. "\n", out)
    assert.equal("no backends\n", ok({ "show", "backends" }))
    assert.same({}, ok_json({ "show", "backends" }))
  end)

  it("deletes a frontend", function()
    ok({ "set", "frontend", "gone", "--secret", "gone-secret" })
    local v = ok_json({ "delete", "frontend", "gone" })
    assert.equal("gone", v.key)
    local err = fails(1, { "show", "frontend", "gone" })
    assert.equal("b3scalectl: no frontend with key gone\n", err)
    ok({ "set", "frontend", "gone", "--secret", "gone-secret" })
    assert.equal("deleted frontend gone\n", ok({ "delete", "frontend", "gone" }))
  end)

  it("mints tokens the API accepts with the right scope", function()
    ok({ "set", "frontend", "acme-room", "--secret", "acme-secret", "--account-ref", "acme" })
    ok({ "set", "frontend", "other-room", "--secret", "other-secret", "--account-ref", "other" })

    -- a tenant token sees only its own frontends and no backends
    local token = ok({ "auth", "create_access_token", "--sub", "acme", "--scopes", "b3scale" }):match("^(%S+)\n$")
    assert.is_not_nil(token)
    local tenant = { B3SCALE_API_TOKEN = token, B3SCALE_API_JWT_SECRET = false }
    local v = ok_json({ "show", "frontends" }, tenant)
    assert.equal(1, #v)
    assert.equal("acme-room", v[1].key)
    assert.matches("\nacme%-room%s", ok({ "show", "frontends" }, tenant))
    fails(1, { "show", "frontend", "other-room" }, tenant)
    local err = fails(1, { "show", "backends" }, tenant)
    assert.truthy(has(err, "scope") and has(err, "403"), err)

    -- the same call with an admin token sees everything
    token = ok({ "auth", "create_access_token", "--sub", "ops", "--scopes", "b3scale:admin", "--expires", "90m" })
    v = ok_json({ "show", "frontends" }, { B3SCALE_API_TOKEN = token:match("%S+"), B3SCALE_API_JWT_SECRET = false })
    assert.is_true(#v >= 3)

    -- a node agent token registers its own backend (disabled) and sees only that one
    local out = ok({ "auth", "authorize_node_agent", "--ref", "agent-7" })
    assert.matches("^ref:%s+agent%-7\n", out)
    local node = { B3SCALE_API_TOKEN = out:match("token:%s+(%S+)"), B3SCALE_API_JWT_SECRET = false }
    assert.equal("no backends\n", ok({ "show", "backends" }, node))
    out = ok({ "set", "backend", sims[1].url, "--secret", sims[1].secret }, node)
    assert.truthy(has(out, "admin state init") and has(out, "enable backend"), out)
    v = ok_json({ "show", "backends" }, node)
    assert.equal(1, #v)
    assert.equal("agent-7", v[1].agent_ref)
    assert.equal("init", v[1].admin_state)
    assert.matches("agent ref:%s+agent%-7", ok({ "show", "backend", sims[1].url }))
    fails(1, { "show", "frontends" }, node)
    -- changing or enabling it needs an admin
    err = fails(1, { "enable", "backend", sims[1].url }, node)
    assert.truthy(has(err, "403") and has(err, "b3scale:admin"), err)
    fails(1, { "set", "backend", sims[1].url, "--load-factor", "0" }, node)
    ok({ "enable", "backend", sims[1].url })
    assert.equal("ready", ok_json({ "show", "backends" }, node)[1].admin_state)

    -- a token signed with another secret, and an expired one
    local bad = ok({ "auth", "create_access_token", "--sub", "x", "--scopes", "b3scale:admin", "--secret", "wrong" })
    err = fails(1, { "show", "backends" }, { B3SCALE_API_TOKEN = bad:match("%S+") })
    assert.truthy(has(err, "invalid token") and has(err, "401"), err)
    -- (the server tolerates 30 s of clock skew, so this one expired ten minutes ago)
    local now = os.time()
    local expired = require("b3scalectl.jwt").encode({ sub = "x", scope = "b3scale:admin",
      iat = now - 3600, exp = now - 600 }, JWT_SECRET)
    err = fails(1, { "show", "backends" }, { B3SCALE_API_TOKEN = expired })
    assert.truthy(has(err, "token expired"), err)
  end)

  it("reports errors in one line with the right exit status", function()
    local err = fails(1, { "show", "backend", "https://nope.example.org" })
    assert.equal("b3scalectl: no backend with host https://nope.example.org/bigbluebutton/api/\n", err)
    fails(1, { "disable", "backend", "nope.example.org" })
    fails(1, { "end", "meetings", "nope.example.org" })
    fails(1, { "delete", "frontend", "nope" })
    fails(1, { "show", "meetings", "--frontend", "nope" })

    -- creating without a secret: the server's validation message
    err = fails(1, { "set", "backend", "http://127.0.0.1:9/bigbluebutton/api/" })
    assert.truthy(has(err, "bbb.secret: is required") and has(err, "400"), err)
    err = fails(1, { "set", "frontend", "newfe" })
    assert.truthy(has(err, "bbb.secret: is required"), err)
    err = fails(1, { "set", "backend", sims[1].url, "--load-factor", "-1" })
    assert.truthy(has(err, "load_factor"), err)
    err = fails(1, { "set", "frontend", "bad key!", "--secret", "s" })
    assert.truthy(has(err, "key"), err)

    -- usage errors
    err = fails(2, { "show", "backends", "--bogus" })
    assert.truthy(has(err, "--bogus"), err)
    fails(2, { "set", "backend", sims[1].url, "--load-factor", "lots" })
    fails(2, { "set", "frontend", "fe1", "--settings", "{not json" })
    fails(2, { "set", "frontend", "fe1", "--settings", "[1]" })
    fails(2, { "show" })
    fails(2, {})
    fails(2, { "delete", "backend" })

    -- nothing listening, no credentials
    local port = h.free_port()
    err = fails(1, { "show", "backends" }, { B3SCALE_API_URL = "http://127.0.0.1:" .. port })
    assert.equal("b3scalectl: cannot reach http://127.0.0.1:" .. port .. ": connection refused\n", err)
    err = fails(1, { "--api", "http://127.0.0.1:" .. port, "show", "backends" }, { B3SCALE_API_URL = d.url })
    assert.truthy(has(err, "cannot reach http://127.0.0.1:" .. port), err)
    err = fails(1, { "show", "backends" }, { B3SCALE_API_JWT_SECRET = false })
    assert.truthy(has(err, "B3SCALE_API_TOKEN") and has(err, "B3SCALE_API_JWT_SECRET"), err)
  end)

  it("answers --help on every command and subcommand", function()
    local main = require("b3scalectl.main")
    local out = ok({ "--help" })
    assert.matches("^usage: b3scalectl", out)
    for _, cmd in ipairs(main.COMMANDS) do
      assert.truthy(has(out, table.concat(cmd.words, " ")), table.concat(cmd.words, " "))
      local args = {}
      for _, w in ipairs(cmd.words) do args[#args + 1] = w end
      args[#args + 1] = "--help"
      local o = ok(args, { B3SCALE_API_URL = "http://127.0.0.1:1" })   -- no server needed
      assert.truthy(has(o, "usage: b3scalectl [--api URL] [--json] " .. main.synopsis(cmd)), o)
      args[#args] = "-h"
      assert.equal(o, ok(args))
    end
    for _, verb in ipairs({ "show", "set", "enable", "disable", "delete", "end", "import", "auth", "db" }) do
      assert.matches("commands:", ok({ verb, "--help" }))
    end
  end)

  it("prints the local and the server version, and migrates locally", function()
    local out = ok({ "version" })
    assert.matches("^b3scalectl %d+%.%d+%.%d+\nb3scaled%s+%d+%.%d+%.%d+ at " .. d.url:gsub("%p", "%%%0"), out)
    local v = ok_json({ "version" })
    assert.is_string(v.client)
    assert.equal("v1", v.server.api)
    ok({ "db", "migrate" }, { B3SCALE_DB_URL = db })
    ok({ "migrate" }, { B3SCALE_DB_URL = db })
    local err = fails(1, { "db", "migrate" }, { B3SCALE_DB_URL = false })
    assert.truthy(has(err, "B3SCALE_DB_URL"), err)
  end)
end)
