-- Usage accounting (docs/admin-api.md, "Usage"): every meeting instance gets a row in
-- meeting_usage whose attendee-seconds are the integral of the attendee count over time, as
-- polls and agents report it, closed when the meeting ends (also while b3scaled was stopped);
-- GET /api/v1/usage clips to a range, pages, and keeps tenants apart; b3scalectl prints it.
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local ctl = require("support.ctl")
local jwt = require("b3scalectl.jwt")
local cjson = require("cjson")

local SECRET = "usage-fe-secret"
local JWT = "usage-jwt-secret"
local POLL_S = 0.2
-- the archive backends: never polled (admin_state init), their live view written by hand
local ARCHIVE1 = "00000000-0000-4000-8000-0000000000a1"
local ARCHIVE2 = "00000000-0000-4000-8000-0000000000a2"

describe("usage accounting", function()
  local sim, db, d
  local c = ctl.new(JWT)
  local env = { B3SCALE_POLL_INTERVAL_MS = tostring(POLL_S * 1000), B3SCALE_API_JWT_SECRET = JWT }

  local function call(name, query)
    local _, body = h.get(h.api_url(h.frontend_api(d, "fe"), name, query, SECRET))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
  end

  local function attendees(mid, n)
    local _, st = h.sim_req(sim, "POST", "/sim/attendees?meetingID=fe~" .. mid .. "&count=" .. n)
    assert.equal(200, st)
    return h.now()
  end

  -- the usage row of meeting mid of frontend fe: a table of its columns (epochs as numbers)
  local function row(mid)
    local out = h.psql(db, "SELECT attendees, peak_attendees, attendee_seconds,"
      .. " extract(epoch FROM started_at), coalesce(extract(epoch FROM ended_at)::text, ''), count(*) OVER ()"
      .. " FROM meeting_usage u JOIN frontends f ON f.id = u.frontend_id"
      .. " WHERE f.key = 'fe' AND u.meeting_id = '" .. mid .. "' ORDER BY u.id DESC LIMIT 1")
    if out == "" then return nil end
    local a, p, s, st, en, n = out:match("^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$")
    return { attendees = tonumber(a), peak = tonumber(p), seconds = tonumber(s),
      started = tonumber(st), ended = tonumber(en), rows = tonumber(n) }
  end

  local function wait_row(mid, pred, what)
    local r
    assert.truthy(h.wait_until(function()
      r = row(mid)
      return r and pred(r)
    end, 10, 0.05), what .. ": " .. cjson.encode(r or {}))
    return r
  end

  local function api(query, token)
    local st, body = h.get(d.url .. "/api/v1/usage?" .. query,
      { authorization = "Bearer " .. (token or jwt.mint(JWT, "spec", { "b3scale:admin" }, 600)) })
    return st, cjson.decode(body), body
  end

  -- the live view of an archive backend, written as polls would (dated when observed)
  local function live(sql) h.psql(db, sql) end
  local function seen(backend, at)
    live("UPDATE backends SET counters_at = '" .. at .. "' WHERE id = '" .. backend .. "'")
  end
  local function observe(backend, iid, ext, n, at)
    local users = {}
    for i = 1, n do users["u" .. i] = { role = "VIEWER" } end
    local a = n > 0 and cjson.encode(users) or "{}"
    live(string.format("INSERT INTO node_meetings (backend_id, internal_id, meeting_id, attendees, updated_at)"
      .. " VALUES ('%s', '%s', '%s', '%s', '%s') ON CONFLICT (backend_id, internal_id) DO UPDATE"
      .. " SET attendees = EXCLUDED.attendees, updated_at = EXCLUDED.updated_at",
      backend, iid, ext:gsub("'", "''"), a, at))
    seen(backend, at)
  end
  local function gone(backend, iid, at)
    seen(backend, at)
    live("DELETE FROM node_meetings WHERE backend_id = '" .. backend .. "' AND internal_id = '" .. iid .. "'")
  end

  setup(function()
    sim = h.bbbsim({ name = "usage1" })
    db = h.new_db("usage")
    h.migrate(db)
    cluster.register(db, { sim }, "fe", SECRET)
    h.psql(db, "UPDATE frontends SET account_ref = 'acme' WHERE key = 'fe'")
    h.psql(db, "INSERT INTO frontends (key, secret, account_ref) VALUES ('other', 'other-secret', 'globex')")
    d = h.daemon({ db = db, env = env })
    c.url = d.url
    cluster.settled(d, db)
    h.psql(db, "INSERT INTO backends (id, host, secret, admin_state) VALUES"
      .. " ('" .. ARCHIVE1 .. "', 'http://archive1.invalid/bigbluebutton/api/', 's', 'init'),"
      .. " ('" .. ARCHIVE2 .. "', 'http://archive2.invalid/bigbluebutton/api/', 's', 'init')")
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("integrates the attendee count polls report, and the end closes the row", function()
    call("create", "name=Usage&meetingID=usage-1")
    local r0 = wait_row("usage-1", function() return true end, "no row for the new meeting")
    assert.is_nil(r0.ended)
    assert.equal(0, r0.seconds)
    -- 6 attendees for about 2 s, then 1 for about 2 s, then the end
    local changes = { { attendees("usage-1", 6), 6 } }
    wait_row("usage-1", function(r) return r.attendees == 6 end, "6 attendees not seen")
    h.sleep(2)
    changes[#changes + 1] = { attendees("usage-1", 1), 1 }
    wait_row("usage-1", function(r) return r.attendees == 1 end, "1 attendee not seen")
    h.sleep(2)
    local t_end = h.now()
    call("end", "meetingID=usage-1")
    local r = wait_row("usage-1", function(x) return x.ended ~= nil end, "the end did not close the row")
    changes[#changes + 1] = { t_end, 0 }
    local expected, jumps, prev = 0, 0, 0
    for i, ch in ipairs(changes) do
      if i > 1 then expected = expected + changes[i - 1][2] * (ch[1] - changes[i - 1][1]) end
      jumps = jumps + math.abs(ch[2] - prev)
      prev = ch[2]
    end
    -- each change is seen within a poll interval (and its latency): that much per attendee
    local tolerance = jumps * (POLL_S + 0.15)
    assert.is_true(math.abs(r.seconds - expected) <= tolerance, string.format(
      "attendee-seconds %.2f, expected %.2f +- %.2f", r.seconds, expected, tolerance))
    assert.equal(6, r.peak)
    assert.equal(0, r.attendees)
    assert.is_true(expected > 12)
    assert.equal(1, r.rows)
    assert.is_true(r.started <= changes[1][1])
    assert.is_true(math.abs(r.ended - t_end) <= POLL_S + 0.5, "ended at " .. r.ended .. ", end sent at " .. t_end)
    -- closed: nothing more accrues
    h.sleep(0.5)
    assert.equal(r.seconds, row("usage-1").seconds)
  end)

  it("closes a meeting that ended while b3scaled was stopped at the next poll, billed up to its last sighting", function()
    call("create", "name=Usage&meetingID=usage-2")
    wait_row("usage-2", function() return true end, "no row")
    local t0 = attendees("usage-2", 2)
    wait_row("usage-2", function(r) return r.attendees == 2 end, "2 attendees not seen")
    h.sleep(1)
    h.stop(d)
    local t_stop = h.now()
    local st, body = h.get(h.sim_api(sim, "end", "meetingID=fe~usage-2"))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    h.sleep(2)
    assert.is_nil(row("usage-2").ended, "closed while nobody polled")
    d = h.daemon({ db = db, env = env })
    c.url = d.url
    local t_restart = h.now()
    local r = wait_row("usage-2", function(x) return x.ended ~= nil end, "not closed after the restart")
    -- the meeting was last seen running before the stop: the gap is not billed
    assert.is_true(r.ended <= t_stop + 0.05, "ended at " .. r.ended .. ", stopped at " .. t_stop)
    assert.is_true(r.ended < t_restart)
    -- the last sighting is the last poll before the stop (a slow build polls late: the bound
    -- is loose; what matters is that it is not after the stop)
    assert.is_true(r.ended >= t_stop - (POLL_S + 1.5), "ended at " .. r.ended .. ", stopped at " .. t_stop)
    -- billed from when the 2 attendees came (seen within a poll of t0) to the last sighting
    local expected = 2 * (r.ended - t0)
    assert.is_true(math.abs(r.seconds - expected) <= 2 * (POLL_S + 0.5), string.format(
      "attendee-seconds %.2f, expected %.2f", r.seconds, expected))
  end)

  it("ends an instance when its meeting moves to another node, and counts the new one apart", function()
    live("INSERT INTO meetings (frontend_id, meeting_id, backend_meeting_id, backend_id, internal_id,"
      .. " create_query, confirmed_at) SELECT id, 'moved-1', 'fe~moved-1', '" .. ARCHIVE1 .. "', 'mv-a',"
      .. " 'meetingID=fe~moved-1', now() FROM frontends WHERE key = 'fe'")
    observe(ARCHIVE1, "mv-a", "fe~moved-1", 3, "2025-09-01T10:00:00Z")
    seen(ARCHIVE1, "2025-09-01T10:20:00Z") -- the node's last good poll
    -- the node died; a join re-created the meeting on archive 2
    live("UPDATE meetings SET backend_id = '" .. ARCHIVE2 .. "', confirmed_at = NULL WHERE meeting_id = 'moved-1'")
    observe(ARCHIVE2, "mv-b", "fe~moved-1", 2, "2025-09-01T10:21:00Z")
    -- the old node comes back still running the old instance: it is not reopened
    observe(ARCHIVE1, "mv-a", "fe~moved-1", 4, "2025-09-01T10:30:00Z")
    gone(ARCHIVE2, "mv-b", "2025-09-01T10:51:00Z")
    local out = h.psql(db, "SELECT internal_id, peak_attendees, round(attendee_seconds),"
      .. " to_char(ended_at AT TIME ZONE 'UTC', 'HH24:MI') FROM meeting_usage WHERE meeting_id = 'moved-1' ORDER BY id")
    assert.equal("mv-a|3|3600|10:20\nmv-b|2|3600|10:51", out)
  end)

  it("integrates what an agent reports as it happens", function()
    h.psql(db, "INSERT INTO backends (host, secret, admin_state, agent_ref)"
      .. " VALUES ('http://agent.invalid/bigbluebutton/api/', 's', 'init', 'usage-agent')")
    local node = jwt.mint(JWT, "usage-agent", { "b3scale:node" }, 600)
    local function post(path, lines)
      local st, b = h.http("POST", d.url .. path, table.concat(lines, "\n"),
        { ["content-type"] = "application/x-ndjson", authorization = "Bearer " .. node })
      assert.equal(200, st, b)
      return h.now()
    end
    local function msg(name, header, body)
      return cjson.encode({ envelope = { name = name }, core = { header = header, body = body } })
    end
    local function user(name, u)
      return msg(name, { meetingId = "int-agent-1", userId = u }, { intId = u, role = "VIEWER" })
    end
    post("/api/v1/agent/heartbeat", { "{}" })
    post("/api/v1/agent/events", { msg("MeetingCreatedEvtMsg", {}, { props = { meetingProp = {
      name = "Agent", extId = "fe~agent-1", intId = "int-agent-1", isBreakout = false } } }) })
    local t0 = post("/api/v1/agent/events", { user("UserJoinedMeetingEvtMsg", "w_a"),
      user("UserJoinedMeetingEvtMsg", "w_b"), user("UserJoinedMeetingEvtMsg", "w_c") })
    h.sleep(1)
    post("/api/v1/agent/heartbeat", { "{}" })
    local t1 = post("/api/v1/agent/events", { user("UserLeftMeetingEvtMsg", "w_a"),
      user("UserLeftMeetingEvtMsg", "w_b") })
    h.sleep(1)
    post("/api/v1/agent/heartbeat", { "{}" })
    local t2 = post("/api/v1/agent/events", { msg("MeetingEndedEvtMsg", { meetingId = "int-agent-1" }, {}) })
    local r = wait_row("agent-1", function(x) return x.ended ~= nil end, "the agent's end did not close the row")
    local expected = 3 * (t1 - t0) + 1 * (t2 - t1)
    assert.is_true(math.abs(r.seconds - expected) <= 0.5, string.format(
      "attendee-seconds %.2f, expected %.2f", r.seconds, expected))
    assert.equal(3, r.peak)
  end)

  describe("the API and b3scalectl", function()
    setup(function()
      -- clip-1 runs across the end of October: 4 attendees 23:45-00:30, 2 until 01:00
      observe(ARCHIVE1, "clip-1", "fe~clip-1", 0, "2025-10-31T23:30:00Z")
      observe(ARCHIVE1, "clip-1", "fe~clip-1", 4, "2025-10-31T23:45:00Z")
      observe(ARCHIVE1, "clip-1", "fe~clip-1", 2, "2025-11-01T00:30:00Z")
      gone(ARCHIVE1, "clip-1", "2025-11-01T01:00:00Z")
      -- within November: a meeting ID a spreadsheet must not split
      observe(ARCHIVE1, "csv-1", 'fe~a,b "c"', 3, "2025-11-02T10:00:00Z")
      gone(ARCHIVE1, "csv-1", "2025-11-02T10:10:00Z")
      -- and three more, for the pages; and one in December
      for i = 1, 3 do
        observe(ARCHIVE1, "page-" .. i, "fe~page-" .. i, i, string.format("2025-11-1%dT08:00:00Z", i))
        gone(ARCHIVE1, "page-" .. i, string.format("2025-11-1%dT09:00:00Z", i))
      end
      observe(ARCHIVE1, "dec-1", "fe~dec-1", 1, "2025-12-01T00:00:00Z")
      gone(ARCHIVE1, "dec-1", "2025-12-01T01:00:00Z")
      -- another tenant's meeting in the same month
      observe(ARCHIVE1, "oth-1", "other~secret-room", 7, "2025-11-05T10:00:00Z")
      gone(ARCHIVE1, "oth-1", "2025-11-05T11:00:00Z")
    end)

    local function by_id(list)
      local out = {}
      for _, m in ipairs(list) do out[m.meeting_id] = m end
      return out
    end

    it("clips a meeting's minutes to the range and totals the frontend", function()
      local st, nov = api("frontend=fe&from=2025-11-01&to=2025-12-01")
      assert.equal(200, st)
      assert.equal("2025-11-01T00:00:00Z", nov.from)
      assert.equal("2025-12-01T00:00:00Z", nov.to)
      local m = by_id(nov.meetings)
      assert.equal(180, m["clip-1"].attendee_minutes) -- 4 x 30 + 2 x 30: October's 60 cut off
      assert.equal("2025-10-31T23:30:00Z", m["clip-1"].started_at)
      assert.equal("2025-11-01T01:00:00Z", m["clip-1"].ended_at)
      assert.equal(4, m["clip-1"].peak_attendees)
      assert.is_false(m["clip-1"].running)
      assert.equal(30, m['a,b "c"'].attendee_minutes)
      assert.is_nil(m["dec-1"], "December's meeting is outside November")
      assert.is_nil(m["secret-room"], "another frontend's meeting")
      assert.equal(5, #nov.meetings)
      assert.same({ { frontend = "fe", meetings = 5, attendee_minutes = 180 + 30 + 60 + 120 + 180,
        attendee_seconds = (180 + 30 + 60 + 120 + 180) * 60, peak_attendees = 4 } }, nov.frontends)
      local _, oct = api("frontend=fe&from=2025-10-01T00:00:00Z&to=2025-11-01T00:00:00Z")
      assert.equal(1, #oct.meetings)
      assert.equal(60, oct.meetings[1].attendee_minutes)
      assert.equal(60, oct.frontends[1].attendee_minutes)
      -- the same instant with an offset; inside an hour the hour is prorated
      local _, part = api("frontend=fe&from=" .. h.urlencode("2025-11-01T01:15:00+01:00") .. "&to=2025-11-01T01:00:00Z")
      assert.equal("2025-11-01T00:15:00Z", part.from)
      assert.equal(1, #part.meetings)
      assert.equal(135, part.meetings[1].attendee_minutes) -- 180 x 45/60
      -- bad ranges
      local code, bad = api("from=2025-02-30")
      assert.equal(400, code)
      assert.truthy(bad.fields.from)
      code, bad = api("from=2025-12-01&to=2025-11-01")
      assert.equal(400, code)
      assert.truthy(bad.fields.to)
    end)

    it("pages with a cursor, the totals whole on every page", function()
      local seen_ids, pages, cursor = {}, 0, nil
      repeat
        local st, p = api("frontend=fe&from=2025-11-01&to=2025-12-01&limit=4"
          .. (cursor and ("&cursor=" .. cursor) or ""))
        assert.equal(200, st)
        pages = pages + 1
        assert.is_true(#p.meetings <= 4)
        assert.equal(5, p.frontends[1].meetings)
        for _, m in ipairs(p.meetings) do
          assert.is_nil(seen_ids[m.id], "row twice")
          seen_ids[m.id] = true
        end
        cursor = p.next ~= cjson.null and p.next or nil
      until not cursor
      assert.equal(2, pages)
      local n = 0
      for _ in pairs(seen_ids) do n = n + 1 end
      assert.equal(5, n)
      assert.equal(400, (api("limit=10001")))
      assert.equal(400, (api("cursor=abc")))
    end)

    it("shows a tenant its own frontends only: another's is as unknown", function()
      local acme = tokens.hs384(JWT, "acme", "b3scale")
      local st, mine = api("from=2025-11-01&to=2025-12-01", acme)
      assert.equal(200, st)
      assert.equal(1, #mine.frontends)
      assert.equal("fe", mine.frontends[1].frontend)
      for _, m in ipairs(mine.meetings) do assert.equal("fe", m.frontend) end
      local st1, _, unknown = api("frontend=nosuch&from=2025-11-01&to=2025-12-01", acme)
      local st2, _, foreign = api("frontend=other&from=2025-11-01&to=2025-12-01", acme)
      assert.equal(404, st1)
      assert.equal(404, st2)
      assert.equal(unknown, foreign)
      assert.is_nil(foreign:find("secret", 1, true))
      -- the admin sees both
      local _, all = api("from=2025-11-01&to=2025-12-01")
      assert.equal(2, #all.frontends)
      assert.equal(7 * 60, by_id(all.meetings)["secret-room"].attendee_minutes)
      -- and so does b3scalectl with the tenant's token
      local code, out, err = c.run({ "show", "usage", "--frontend", "other", "--month", "2025-11" },
        { B3SCALE_API_TOKEN = acme })
      assert.equal(1, code, out)
      assert.matches("not found", err)
    end)

    it("prints a table, RFC 4180 CSV and JSON", function()
      local out = c.ok({ "show", "usage", "--frontend", "fe", "--month", "2025-11" })
      assert.truthy(out:find("usage from 2025-11-01T00:00:00Z to 2025-12-01T00:00:00Z", 1, true), out)
      assert.truthy(out:find("clip-1", 1, true))
      assert.truthy(out:find("180.00", 1, true))
      assert.truthy(out:find("570.00", 1, true), out) -- the total
      local csv = c.ok({ "show", "usage", "--frontend", "fe", "--month", "2025-11", "--csv" })
      local lines = {}
      for l in csv:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
      assert.equal(6, #lines)
      assert.equal("frontend,meeting_id,internal_id,backend_host,started_at,ended_at,"
        .. "peak_attendees,attendee_minutes\r", lines[1])
      assert.truthy(csv:find('\r\nfe,"a,b ""c""",csv-1,http://archive1.invalid/bigbluebutton/api/,'
        .. "2025-11-02T10:00:00Z,2025-11-02T10:10:00Z,3,30\r\n", 1, true), csv)
      for i = 2, #lines do assert.matches("\r$", lines[i]) end
      local v = c.ok_json({ "show", "usage", "--frontend", "fe", "--from", "2025-10-01", "--to", "2025-11-01" })
      assert.equal(1, #v.meetings)
      assert.equal(60, v.frontends[1].attendee_minutes)
      c.fails(2, { "show", "usage", "--month", "2025-11", "--from", "2025-11-01" })
      c.fails(2, { "show", "usage", "--month", "11-2025" })
    end)
  end)
end)
