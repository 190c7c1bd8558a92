-- b3scalectl import b3scale: b3scale's schema (reference b3scale-go.md §3.1) in a database
-- of its own on the spec's Postgres, filled with backends, frontends with settings and
-- meetings running on simulated nodes under b3scale's node IDs; the import (dry run, real
-- run, second run), what the cluster becomes, and that b3scaled then reaches those meetings
-- and its polls leave them alone. Also POST /api/v1/meetings, the adoption it uses.
local h = require("helpers")
local cjson = h.cjson
local jwt = require("b3scalectl.jwt")

local JWT_SECRET = "mig-jwt-" .. h.random_hex(12)
local ACME_SECRET = "acme-secret-" .. h.random_hex(4)
local OTHER_SECRET = "other-secret-" .. h.random_hex(4)
local PW = "hunter2-" .. h.random_hex(4)       -- a password that must never be printed

local ctl = require("support.ctl").new(JWT_SECRET)
local ok, fails = ctl.ok, ctl.fails

local function has(s, needle) return s:find(needle, 1, true) ~= nil end
local function sq(s) return "'" .. tostring(s):gsub("'", "''") .. "'" end

-- b3scale's node ID for a frontend's meeting: base64url, padded, of [key, id, "b3scl"]
local function b3s_id(key, id)
  local b = jwt.b64url(cjson.encode({ key, id, "b3scl" }))
  return b .. string.rep("=", (4 - #b % 4) % 4)
end

-- b3scale's tables as its migrations 0001/0002 make them (gen_random_uuid: no uuid-ossp)
local SCHEMA = [[
CREATE TYPE instance_state AS ENUM ('init', 'ready', 'error', 'stopped', 'decommissioned');
CREATE TABLE __meta__ (version int UNIQUE, description text, applied_at timestamp DEFAULT now());
INSERT INTO __meta__ (version, description) VALUES (1, 'schema v.1.0.0'), (2, 'node agent api');
CREATE TABLE backends (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  node_state instance_state NOT NULL DEFAULT 'init',
  admin_state instance_state NOT NULL DEFAULT 'stopped',
  agent_heartbeat timestamp NOT NULL DEFAULT '2000-01-01', latency bigint DEFAULT 0,
  meetings_count int DEFAULT 0, attendees_count int DEFAULT 0, load_factor real DEFAULT 1.0,
  last_error text, host text NOT NULL UNIQUE, secret text NOT NULL,
  settings jsonb DEFAULT '{}'::jsonb, created_at timestamp DEFAULT now(),
  updated_at timestamp DEFAULT now(), synced_at timestamp DEFAULT now(),
  agent_ref varchar(64) UNIQUE);
CREATE TABLE frontends (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(), key text NOT NULL UNIQUE,
  secret text NOT NULL, account_ref varchar(80), settings jsonb DEFAULT '{}'::jsonb,
  active bool DEFAULT true, created_at timestamp DEFAULT now(),
  updated_at timestamp DEFAULT now(), synced_at timestamp DEFAULT now());
CREATE TABLE frontend_meetings (
  frontend_id uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
  meeting_id varchar(255) NOT NULL UNIQUE, seen_at timestamp DEFAULT now());
CREATE TABLE meetings (
  id varchar(255) PRIMARY KEY, internal_id varchar(255) UNIQUE, state jsonb NOT NULL,
  frontend_id uuid REFERENCES frontends (id) ON DELETE CASCADE,
  backend_id uuid REFERENCES backends (id) ON DELETE SET NULL,
  created_at timestamp DEFAULT now(), updated_at timestamp DEFAULT now(),
  synced_at timestamp DEFAULT now());
]]

-- what the import manages in our database, in one comparable text
local function snapshot(db)
  return h.psql(db, "SELECT concat_ws(' | ',"
    .. " (SELECT string_agg(concat_ws(',', host, secret, admin_state, tags::text, load_factor,"
    .. "  agent_ref), ';' ORDER BY host) FROM backends),"
    .. " (SELECT string_agg(concat_ws(',', key, secret, settings::text, active, account_ref), ';'"
    .. "  ORDER BY key) FROM frontends),"
    .. " (SELECT string_agg(concat_ws(',', meeting_id, backend_meeting_id, backend_id,"
    .. "  create_query, attendee_pw, moderator_pw), ';' ORDER BY meeting_id) FROM meetings))")
end

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

describe("b3scalectl import b3scale", function()
  local db, b3db, d, sims, url
  local enc, internal = {}, {}

  -- a meeting created straight on a node, as b3scale created it there; returns its internal ID
  local function node_meeting(sim, id, name)
    local st, body = h.get(h.sim_api(sim, "create", "name=" .. h.urlencode(name) .. "&meetingID="
      .. h.urlencode(id) .. "&attendeePW=ap&moderatorPW=mp"))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    return h.xml_text(body, "internalMeetingID")
  end

  local function on_sim(sim, id)
    for _, m in ipairs(h.sim_get(sim, "/sim/meetings") or {}) do
      if m.meetingID == id then return true end
    end
    return false
  end

  local function api(key, secret, call, query)
    return h.get(h.api_url(h.frontend_api(d, key), call, query, secret))
  end

  setup(function()
    db = h.new_db("mig")
    h.migrate(db)
    b3db = h.new_db("b3scale")
    h.psql(b3db, SCHEMA)
    -- the URL the operator gives, with a password (trust auth ignores it) that must not leak
    url = b3db:gsub("^postgresql://([^@/]+)@", "postgresql://%1:" .. PW .. "@")
    sims = { h.bbbsim({ name = "m1" }), h.bbbsim({ name = "m2" }) }
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT_SECRET,
      B3SCALE_POLL_INTERVAL_MS = "200", B3SCALE_POLL_WORKERS = "1" } })
    ctl.url = d.url

    h.psql(b3db, string.format([[
      INSERT INTO backends (host, secret, admin_state, load_factor, settings, agent_ref) VALUES
        (%s, %s, 'ready', 1.5, '{"tags": ["sip", "bad tag", ""], "colour": "red"}', 'node-1'),
        (%s, %s, 'stopped', 1, '{"tags": []}', NULL),
        ('https://gone.example.org/bigbluebutton/api/', 'g', 'decommissioned', 1, '{}', NULL),
        ('HTTPS://err.example.org/bigbluebutton/api', 'e', 'error', 2, '{"tags": null}', NULL);
      INSERT INTO frontends (key, secret, settings, active, account_ref) VALUES
        ('acme', %s, '{"required_tags": ["sip"],
          "default_presentation": {"url": "https://cdn.example.org/welcome.pdf", "force": false},
          "create_default_params": {"record": "false"}, "create_override_params": {},
          "join_default_params": null, "attendees_limit": {"limit": 50},
          "recordings": {"visibility_override": "protected"}, "my_custom": 1}', true, 'acme-co'),
        ('other', %s, '{}', false, NULL),
        ('bad key!', 'b', '{}', true, NULL);
    ]], sq(sims[1].url), sq(sims[1].secret), sq(sims[2].url), sq(sims[2].secret),
      sq(ACME_SECRET), sq(OTHER_SECRET)))

    -- running on the nodes: acme's room-1 under b3scale's node ID, a legacy raw ID on the
    -- stopped node, and a meeting without a frontend (as a poll of b3scale records a breakout)
    enc.room1 = b3s_id("acme", "room-1")
    internal.room1 = node_meeting(sims[1], enc.room1, "Room One")
    internal.legacy = node_meeting(sims[2], "legacy-room", "Legacy")
    internal.stray = node_meeting(sims[1], "stray-room", "Stray")
    local function row(id, iid, name, fe, host)
      return string.format("(%s, %s, jsonb_build_object('MeetingName', %s, 'MeetingID', %s,"
        .. " 'InternalMeetingID', %s, 'AttendeePW', 'ap', 'ModeratorPW', 'mp', 'Running', true,"
        .. " 'CreateTime', 1700000000000), %s, (SELECT id FROM backends WHERE host = %s))",
        sq(id), sq(iid), sq(name), sq(id), sq(iid),
        fe and ("(SELECT id FROM frontends WHERE key = " .. sq(fe) .. ")") or "NULL", sq(host))
    end
    h.psql(b3db, "INSERT INTO meetings (id, internal_id, state, frontend_id, backend_id) VALUES "
      .. row(enc.room1, internal.room1, "Room One", "acme", sims[1].url) .. ", "
      .. row("legacy-room", internal.legacy, "Legacy", "acme", sims[2].url) .. ", "
      .. row("stray-room", internal.stray, "Stray", nil, sims[1].url))
  end)

  teardown(function()
    if d then h.stop(d) end
    h.cleanup()
  end)

  it("refuses a database that is not b3scale's, and never prints the URL or password", function()
    local ours = db:gsub("^postgresql://([^@/]+)@", "postgresql://%1:" .. PW .. "@")
    local err = fails(1, { "import", "b3scale", "--db", ours })
    assert.truthy(has(err, "not a b3scale database"), err)
    assert.falsy(has(err, PW), err)
    local gone = "postgresql://postgres:" .. PW .. "@127.0.0.1:" .. h.free_port() .. "/b3scale"
    err = fails(1, { "import", "b3scale", "--db", gone })
    assert.truthy(has(err, "b3scale's database"), err)
    assert.falsy(has(err, PW) or has(err, gone), err)
    err = fails(2, { "import", "b3scale" })
    assert.truthy(has(err, "B3SCALE_IMPORT_DB_URL"), err)
    assert.equal("", snapshot(db))
  end)

  it("shows with --dry-run what it would do, and changes nothing", function()
    local before = snapshot(db)
    local out = ok({ "import", "b3scale", "--db", url, "--dry-run" })
    assert.falsy(has(out, PW))
    assert.truthy(has(out, "would create backend " .. sims[1].url), out)
    assert.truthy(has(out, "would create frontend acme"), out)
    assert.truthy(has(out, "would adopt meeting acme/room-1: running on " .. sims[1].url), out)
    assert.truthy(has(out, "would adopt meeting acme/legacy-room"), out)
    assert.matches("\ndry run: would create 5, update 0, adopt 2 meeting%(s%); 0 unchanged, %d+ skipped;"
      .. " nothing was changed\n$", out)
    assert.equal(before, snapshot(db))
    -- the same through the environment instead of --db
    out = ok({ "import", "b3scale", "--dry-run" }, { B3SCALE_IMPORT_DB_URL = url })
    assert.truthy(has(out, "would create frontend acme"), out)
    assert.equal(before, snapshot(db))
  end)

  it("imports backends, frontends and the meetings on the nodes, saying what and why", function()
    local out = ok({ "import", "b3scale", "--db", url })
    assert.falsy(has(out, PW))
    local want = {
      "created backend " .. sims[1].url .. ": ready, load factor 1.5, tags sip",
      "  not imported: tag \"bad tag\" (tags must match ^[A-Za-z0-9_.:-]+$)",
      "  not imported: settings.colour (backends have only tags)",
      "created backend " .. sims[2].url .. ": stopped, load factor 1",
      "skipped backend https://gone.example.org/bigbluebutton/api/: decommissioned in b3scale"
        .. " and without meetings",
      "created backend https://err.example.org/bigbluebutton/api/: stopped, load factor 2",
      "  admin_state error imported as stopped (takes no new meetings; b3scalectl delete"
        .. " backend removes it once empty)",
      "skipped frontend \"bad key!\": keys here must match ^[A-Za-z0-9_-]{1,64}$ (add it under"
        .. " a new key: its URL changes)",
      "created frontend acme",
      "  not imported: settings.my_custom (no equivalent)",
      "created frontend other",
      "adopted meeting acme/room-1: running on " .. sims[1].url,
      "adopted meeting acme/legacy-room: running on " .. sims[2].url,
      "skipped meeting stray-room: no frontend in b3scale (a breakout room, or created around"
        .. " b3scale)",
      "5 created, 0 updated, 2 meeting(s) adopted, 0 unchanged, 3 skipped",
    }
    local got = {}
    for _, l in ipairs(lines(out)) do got[l] = true end
    for _, l in ipairs(want) do assert.truthy(got[l], "missing line: " .. l .. "\n" .. out) end
    assert.equal(#want, #lines(out), out)

    -- backends: state, load factor, valid tags, agent ref and secret as b3scale had them
    local b = ctl.ok_json({ "show", "backend", sims[1].url })
    assert.equal("ready", b.admin_state)
    assert.equal(1.5, b.load_factor)
    assert.same({ "sip" }, b.settings.tags)
    assert.equal("node-1", b.agent_ref)
    assert.equal(sims[1].secret, b.bbb.secret)
    assert.equal("stopped", ctl.ok_json({ "show", "backend", sims[2].url }).admin_state)
    assert.equal("0", h.psql(db, "SELECT count(*) FROM backends WHERE host LIKE '%gone%'"))

    -- frontends: the settings with an equivalent, in our spelling
    local f = ctl.ok_json({ "show", "frontend", "acme" })
    assert.equal(ACME_SECRET, f.bbb.secret)
    assert.equal("acme-co", f.account_ref)
    assert.is_true(f.active)
    assert.same({
      required_tags = { "sip" },
      default_presentation = { url = "https://cdn.example.org/welcome.pdf" },
      create_default_params = { record = "false" },
      attendees_limit = { limit = 50 },
      recordings = { visibility = "protected" },
    }, f.settings)
    assert.is_false(ctl.ok_json({ "show", "frontend", "other" }).active)

    -- meetings: the frontend's own IDs, mapped to the IDs the nodes know
    local list = ctl.ok_json({ "show", "meetings", "--frontend", "acme" })
    local by = {}
    for _, m in ipairs(list) do by[m.meeting_id] = m end
    assert.equal(enc.room1, by["room-1"].backend_meeting_id)
    assert.equal(sims[1].url, by["room-1"].backend_host)
    assert.equal(internal.room1, by["room-1"].internal_id)
    assert.equal(1700000000000, by["room-1"].create_time)
    assert.equal("legacy-room", by["legacy-room"].backend_meeting_id)
    assert.equal(sims[2].url, by["legacy-room"].backend_host)
    -- the create call a failover would re-create it from: name, node ID and passwords
    assert.equal("name=Room%20One&meetingID=" .. h.urlencode(enc.room1)
      .. "&attendeePW=ap&moderatorPW=mp",
      h.psql(db, "SELECT create_query FROM meetings WHERE meeting_id = 'room-1'"))
    assert.equal("t", h.psql(db, "SELECT confirmed_at IS NOT NULL FROM meetings WHERE meeting_id = 'room-1'"))
  end)

  it("changes nothing when run again", function()
    local before = snapshot(db)
    local out = ok({ "import", "b3scale", "--db", url })
    assert.matches("\nnothing to do %(7 unchanged, 3 skipped%)\n$", out)
    for _, l in ipairs(lines(out)) do
      assert.falsy(l:find("^created") or l:find("^updated") or l:find("^adopted"), l)
    end
    assert.truthy(has(out, "unchanged meeting acme/room-1"), out)
    assert.equal(before, snapshot(db))
    -- a change in b3scale is taken over, and only that
    h.psql(b3db, "UPDATE backends SET load_factor = 3 WHERE host = " .. sq(sims[2].url))
    out = ok({ "import", "b3scale", "--db", url })
    assert.truthy(has(out, "updated backend " .. sims[2].url .. ": load_factor\n"), out)
    assert.matches("0 created, 1 updated, 0 meeting%(s%) adopted, 6 unchanged, 3 skipped\n$", out)
    assert.equal(3, ctl.ok_json({ "show", "backend", sims[2].url }).load_factor)
  end)

  it("lets joins and getMeetingInfo reach the nodes' meetings, under the frontend's IDs", function()
    -- the frontend keeps its key and secret: only the host it calls changes
    local st, body, hd = api("acme", ACME_SECRET, "join", "fullName=Ann&meetingID=room-1&role=MODERATOR")
    assert.equal(302, st, body)
    assert.equal(sims[1].url .. "join?", hd.location:sub(1, #sims[1].url + 5))
    assert.truthy(has(hd.location, "meetingID=" .. h.urlencode(enc.room1)), hd.location)
    local nst, nbody, nhd = h.get(hd.location)
    assert.equal(302, nst, nbody)               -- the node accepts the signed join
    assert.truthy(has(nhd.location, "sessionToken="), nhd.location)

    st, body = api("acme", ACME_SECRET, "getMeetingInfo", "meetingID=room-1")
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(internal.room1, h.xml_text(body, "internalMeetingID"))
    assert.equal("1", h.xml_text(body, "participantCount"))

    st, body, hd = api("acme", ACME_SECRET, "join", "fullName=Bo&meetingID=legacy-room&role=VIEWER")
    assert.equal(302, st, body)
    assert.equal(sims[2].url .. "join?", hd.location:sub(1, #sims[2].url + 5))
    st, body = api("acme", ACME_SECRET, "isMeetingRunning", "meetingID=legacy-room")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
  end)

  it("keeps the adopted meetings through polls of their nodes", function()
    local function polled()
      return tonumber(h.psql(db, "SELECT coalesce(min(extract(epoch FROM polled_at)), 0) FROM"
        .. " backends WHERE host IN (" .. sq(sims[1].url) .. ", " .. sq(sims[2].url) .. ")"))
    end
    local t0 = polled()
    -- two full rounds of both nodes after now
    assert.truthy(h.wait_until(function() return polled() > t0 end, 10, 0.05), "no poll")
    local t1 = polled()
    assert.truthy(h.wait_until(function() return polled() > t1 end, 10, 0.05), "no second poll")
    assert.equal("2", h.psql(db, "SELECT count(*) FROM meetings WHERE backend_meeting_id IN ("
      .. sq(enc.room1) .. ", 'legacy-room')"))
    assert.is_true(on_sim(sims[1], enc.room1))
    assert.is_true(on_sim(sims[2], "legacy-room"))
    -- the live view counts the joined moderator against the adopted row
    assert.truthy(h.wait_until(function()
      return h.psql(db, "SELECT participants FROM meetings WHERE meeting_id = 'room-1'") == "1"
    end, 10, 0.05), "participants not refreshed")
    -- the stray without a frontend is the nodes' business: not adopted, not ended
    assert.is_true(on_sim(sims[1], "stray-room"))
    local st, body = api("acme", ACME_SECRET, "getMeetingInfo", "meetingID=room-1")
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
  end)

  describe("POST /api/v1/meetings", function()
    local function call(body, scope)
      local token = jwt.mint(JWT_SECRET, "root", { scope or "b3scale:admin" }, 300)
      local st, raw = h.http("POST", d.url .. "/api/v1/meetings", cjson.encode(body),
        { authorization = "Bearer " .. token, ["content-type"] = "application/json" })
      local ok_, v = pcall(cjson.decode, raw)
      return st, ok_ and v or raw
    end

    it("answers the same mapping with 200 and another one with a 409 error", function()
      local st, v = call({ frontend = "acme", meeting_id = "room-1", backend = sims[1].url,
        backend_meeting_id = enc.room1 })
      assert.equal(200, st)
      assert.equal("room-1", v.meeting_id)
      st, v = call({ frontend = "acme", meeting_id = "room-1", backend = sims[2].url,
        backend_meeting_id = enc.room1 })
      assert.equal(409, st)
      assert.equal("conflict", v.error)
      assert.truthy(has(v.message, "already mapped"), v.message)
      st, v = call({ frontend = "other", meeting_id = "x-room", backend = sims[1].url,
        backend_meeting_id = enc.room1 })
      assert.equal(409, st)
      assert.truthy(has(v.message, "already belongs to meeting room-1 of frontend acme"), v.message)
    end)

    it("adopts by backend id with the node's ID defaulting to the meeting ID", function()
      internal.plain = node_meeting(sims[2], "plain-room", "Plain")
      local be = ctl.ok_json({ "show", "backend", sims[2].url })
      local st, v = call({ frontend = "other", meeting_id = "plain-room", backend = be.id })
      assert.equal(201, st)
      assert.equal("plain-room", v.backend_meeting_id)
      assert.equal(be.id, v.backend_id)
      st = call({ frontend = "other", meeting_id = "plain-room", backend = sims[2].url })
      assert.equal(200, st)
    end)

    it("checks the body, the names and the scope", function()
      local st, v = call({ frontend = "acme", meeting_id = "x", backend = sims[1].url, colour = 1 })
      assert.equal(400, st)
      assert.same({ "unknown field" }, v.fields.colour)
      assert.is_table(v.fields.meeting_id)
      st, v = call({ frontend = "acme", meeting_id = "new-room", backend = sims[1].url,
        backend_meeting_id = "other~new-room" })
      assert.equal(400, st)
      assert.is_table(v.fields.backend_meeting_id)
      st = call({ frontend = "nope", meeting_id = "new-room", backend = sims[1].url })
      assert.equal(404, st)
      st = call({ frontend = "acme", meeting_id = "new-room", backend = "https://nope.example.org/" })
      assert.equal(404, st)
      st = call({ frontend = "acme", meeting_id = "new-room", backend = sims[1].url }, "b3scale")
      assert.equal(403, st)
      assert.equal("0", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'new-room'"))
    end)
  end)
end)
