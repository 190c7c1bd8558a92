-- Size-aware placement in the real daemon: a new meeting reserves its expected size (the
-- create's meta_bbb-meeting-size-hint, else maxParticipants, else the meeting ID's history in
-- meeting_usage) on its node, the reservation decays to the participants the node reports,
-- and per-node caps (max_meetings, max_attendees) refuse full nodes; a cluster with every
-- node full answers FAILED saying so, from the Lua policies and from the C fallback alike.
-- A "reveal" policy (frontend "probe") answers nil with what it was given (the request's
-- expected size and source, each node's `reserved`), so the specs read the policy's facts
-- through the create's FAILED message without placing anything.
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local ctlrun = require("support.ctl")

local SECRET = "size-fe-secret"
local JWT = "size-jwt-secret"

local REVEAL = [[
local P = { name = "reveal", api_version = 1 }
function P.select(req, backends)
  local parts = {}
  for _, b in ipairs(backends) do
    parts[#parts + 1] = b.host .. "=" .. tostring(b.reserved)
  end
  return nil, "expected=" .. tostring(req.expected_size) .. " source="
    .. tostring(req.expected_source) .. " reserved " .. table.concat(parts, " ")
end
return P
]]

local BOOM = [[
local P = { name = "boom", api_version = 1 }
function P.select(req, backends)
  if req.meeting_id == "smoke-test" then return 1 end   -- passes the reload's smoke call
  error("boom")
end
return P
]]

describe("size-aware placement", function()
  local db, d, d2, sims, A, B
  local ctl = ctlrun.new(JWT)

  local function create_url(daemon, key, mid, extra)
    return h.api_url(h.frontend_api(daemon, key), "create",
      "name=Room&meetingID=" .. mid .. (extra and ("&" .. extra) or ""), SECRET)
  end

  local function create(mid, extra)
    local st, body = h.get(create_url(d, "fe", mid, extra))
    assert.equal(200, st)
    return body
  end

  -- what the reveal policy saw: expected size, its source, and { [sim] = reserved }
  local function reveal(mid, extra, daemon)
    local _, body = h.get(create_url(daemon or d, "probe", mid, extra))
    assert.equal("FAILED", h.xml_text(body, "returncode"), body)
    local msg = h.xml_text(body, "message")
    local size, source = msg:match("expected=(%S+) source=(%S+)")
    local reserved = {}
    for _, s in ipairs(sims) do
      reserved[s] = tonumber(msg:match(s.url:gsub("%p", "%%%0") .. "=(%-?%d+)"))
    end
    return tonumber(size), source, reserved
  end

  -- reveal's size and source alone
  local function expect(mid, extra)
    local size, source = reveal(mid, extra)
    return { size, source }
  end

  local function count(sim)
    return #h.sim_get(sim, "/sim/meetings")
  end

  setup(function()
    db = h.new_db("size")
    h.migrate(db)
    sims = { h.bbbsim({ name = "sizeA" }), h.bbbsim({ name = "sizeB" }) }
    A, B = sims[1], sims[2]
    cluster.register(db, sims, "fe", SECRET)
    h.psql(db, "INSERT INTO frontends (key, secret, settings) VALUES ('probe', '" .. SECRET
      .. "', '{\"policy\":\"reveal\"}'), ('broken', '" .. SECRET .. "', '{\"policy\":\"boom\"}')")
    local dir = h.tmpdir() .. "/policies-size"
    assert(os.execute("mkdir -p " .. dir .. " && cp policies/*.lua " .. dir) == 0)
    h.write_file(dir .. "/reveal.lua", REVEAL)
    h.write_file(dir .. "/boom.lua", BOOM)
    local env = { B3SCALE_POLICY_DIR = dir, B3SCALE_POLL_INTERVAL_MS = "300",
      B3SCALE_API_JWT_SECRET = JWT }
    d = h.daemon({ db = db, env = env })
    ctl.url = d.url
    -- a second instance whose reservations last 2 s
    env.B3SCALE_RESERVATION_WINDOW_S = "2"
    d2 = h.daemon({ db = db, env = env })
    cluster.settled(d, db)
  end)

  teardown(function()
    h.stop(d)
    h.stop(d2)
    h.cleanup()
  end)

  it("spreads a burst by expected size, not by meeting count", function()
    local body = create("lecture", "meta_bbb-meeting-size-hint=300")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(A, cluster.holder(sims, "fe", "lecture"))
    -- 19 five-person meetings at once, before any node reports them
    local argv, files = { "curl", "-s", "-Z", "--parallel-max", "19" }, {}
    for i = 1, 19 do
      files[i] = h.tmpdir() .. "/burst-" .. i .. ".xml"
      argv[#argv + 1] = create_url(d, "fe", "small-" .. i, "meta_bbb-meeting-size-hint=5")
      argv[#argv + 1] = "-o"
      argv[#argv + 1] = files[i]
    end
    assert.equal(0, (h.run(argv, nil, 60)))
    for i = 1, 19 do
      assert.equal("SUCCESS", h.xml_text(h.read_file(files[i]), "returncode"), files[i])
    end
    -- by meeting count they would split 10/10; the lecture alone outweighs 19 small rooms
    assert.equal(1, count(A))
    assert.equal(19, count(B))
    local size, source, reserved = reveal("whatever", "meta_bbb-meeting-size-hint=300")
    assert.same({ 300, "hint" }, { size, source })
    assert.is_true(reserved[A] >= 280 and reserved[A] <= 300, tostring(reserved[A]))
    assert.equal("300", h.psql(db, "SELECT expected_size FROM meetings WHERE meeting_id = 'lecture'"))
  end)

  it("lets the reservation decay to the participants the node reports", function()
    h.sim_req(A, "POST", "/sim/attendees?meetingID=fe~lecture&count=120")
    local seen
    assert.truthy(h.wait_until(function()
      local _, _, r = reveal("whatever")
      seen = r[A]
      return seen <= 185
    end, 10, 0.1), "reserved stayed at " .. tostring(seen))
    assert.is_true(seen >= 150, tostring(seen))         -- 300 x decay - 120, not 0
    h.sim_req(A, "POST", "/sim/attendees?meetingID=fe~lecture&count=320")  -- sets, not adds
    assert.truthy(h.wait_until(function()
      local _, _, r = reveal("whatever")
      return r[A] == 0
    end, 10, 0.1), "the lecture reported 320 and still reserves")
    -- the small rooms still reserve on this instance (600 s), not on one with a 2 s window
    local _, _, r = reveal("whatever")
    assert.is_true(r[B] > 0)
    assert.truthy(h.wait_until(function()
      local _, _, r2 = reveal("whatever", nil, d2)
      return r2[B] == 0
    end, 10, 0.1), "the reservations outlived their window")
  end)

  it("takes the expected size from the hint, maxParticipants, history, else the default", function()
    local fid = h.psql(db, "SELECT id FROM frontends WHERE key = 'probe'")
    local function usage(frontend_id, mid, peak, ago)
      h.psql(db, string.format("INSERT INTO meeting_usage (frontend_id, meeting_id, started_at,"
        .. " ended_at, peak_attendees) VALUES ('%s', '%s', now() - interval '%d days',"
        .. " now() - interval '%d days', %d)", frontend_id, mid, ago, ago, peak))
    end
    usage(fid, "weekly", 999, 30)           -- the fourth last: not looked at
    usage(fid, "weekly", 60, 21)
    usage(fid, "weekly", 180, 14)
    usage(fid, "weekly", 40, 7)
    assert.same({ 180, "history" }, expect("weekly"))
    assert.same({ 25, "max_participants" }, expect("weekly", "maxParticipants=25"))
    assert.same({ 50, "hint" },
      expect("weekly", "maxParticipants=25&meta_bbb-meeting-size-hint=50"))
    assert.same({ 180, "history" }, expect("weekly", "maxParticipants=0"))
    -- another frontend's history is not this one's
    assert.same({ 15, "default" }, expect("unknown"))
    -- a real create stores what it reserved
    usage(h.psql(db, "SELECT id FROM frontends WHERE key = 'fe'"), "seminar", 250, 7)
    local body = create("seminar")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal("250", h.psql(db, "SELECT expected_size FROM meetings WHERE meeting_id = 'seminar'"))
    create("adhoc")
    assert.equal("", h.psql(db, "SELECT expected_size FROM meetings WHERE meeting_id = 'adhoc'"))
  end)

  it("refuses full nodes, and answers FAILED when the cluster is full", function()
    -- A: 320 attendees; B: 21 meetings (a floor of 315), so least_load picks B; capping B
    -- at its count sends the next create to A
    local nb = count(B)
    ctl.ok({ "set", "backend", B.url, "--max-meetings", tostring(nb) })
    local out = ctl.ok({ "show", "backends" })
    assert.matches("%s" .. nb .. "/%-%s", out)
    local v = ctl.ok_json({ "show", "backend", B.url })
    assert.equal(nb, v.max_meetings)
    local body = create("capped-1")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(A, cluster.holder(sims, "fe", "capped-1"))
    -- A at 320 attendees: a cap of 300 fills it, and nothing is left
    ctl.ok({ "set", "backend", A.url, "--max-attendees", "300" })
    body = create("capped-2")
    assert.equal("FAILED", h.xml_text(body, "returncode"), body)
    assert.equal("internalError", h.xml_text(body, "messageKey"))
    assert.matches("the cluster is full", h.xml_text(body, "message"))
    assert.is_nil(cluster.holder(sims, "fe", "capped-2"))
    -- the C fallback (a policy that fails) says the same
    local _, fb = h.get(create_url(d, "broken", "capped-3"))
    assert.equal("FAILED", h.xml_text(fb, "returncode"), fb)
    assert.matches("the cluster is full", h.xml_text(fb, "message"))
    -- bad caps are refused; none clears one
    ctl.fails(2, { "set", "backend", A.url, "--max-meetings", "-3" })
    local st = tokens.request(d.url, "PATCH", "/api/v1/backends/" .. v.id,
      tokens.hs384(JWT, "root", "b3scale:admin"), { max_attendees = 2.5 })
    assert.equal(400, st)
    ctl.ok({ "set", "backend", B.url, "--max-meetings", "none" })
    body = create("capped-4")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(B, cluster.holder(sims, "fe", "capped-4"))
    assert.equal("", h.psql(db, "SELECT coalesce(max_meetings::text, '') FROM backends WHERE host = '"
      .. B.url .. "'"))
  end)
end)
