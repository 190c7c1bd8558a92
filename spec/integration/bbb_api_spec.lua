-- The real b3scaled against a real Postgres and simulated BBB nodes: what a frontend sees.
local h = require("helpers")

local FE_SECRET = "fe-secret-1"
local FE2_SECRET = "fe-secret-2"

-- registers a node; older created_at means earlier in the policy's tie-break order
local function add_backend(db, url, secret, age_s, tags)
  h.psql(db, string.format(
    "INSERT INTO backends (host, secret, created_at, tags) VALUES ('%s', '%s', now() - interval '%d seconds', '%s')",
    url, secret, age_s or 0, tags or "{}"))
end

local function add_frontend(db, key, secret, extra)
  h.psql(db, string.format("INSERT INTO frontends (key, secret%s) VALUES ('%s', '%s'%s)",
    extra and ", " .. extra[1] or "", key, secret, extra and ", " .. extra[2] or ""))
end

local function api(d, key, secret, call, query, alg)
  return h.get(h.api_url(h.frontend_api(d, key), call, query, secret, alg))
end

local function rc(body) return h.xml_text(body, "returncode") end
local function mkey(body) return h.xml_text(body, "messageKey") end

-- which sims hold a meeting with this backend-side ID
local function holders(sims, nsid)
  local found = {}
  for _, s in ipairs(sims) do
    for _, m in ipairs(h.sim_get(s, "/sim/meetings")) do
      if m.meetingID == nsid then
        found[#found + 1] = s.name
      end
    end
  end
  return found
end

-- checks a request a sim received was signed with that sim's secret, by us
local function resigned(sim, call, raw)
  local q, sum = raw:match("^(.*)&checksum=(%x+)$")
  return q ~= nil and h.sha("sha256", call .. q .. sim.secret) == sum
end


-- A migrated database with sims registered in order (the first preferred on ties), the
-- frontend fe1, and a daemon; returns db, daemon.
local function cluster(name, sims, env)
  local db = h.new_db(name)
  h.migrate(db)
  for i, s in ipairs(sims) do
    add_backend(db, s.url, s.secret, 100 - i)
  end
  add_frontend(db, "fe1", FE_SECRET)
  return db, h.daemon({ db = db, env = env })
end

local function stop(d)
  if d then assert.equal(0, h.stop(d), "b3scaled should exit 0 on SIGTERM") end
  h.cleanup()
end


describe("b3scaled BBB API", function()
  local db, d, sims

  setup(function()
    sims = { h.bbbsim({ name = "n1" }), h.bbbsim({ name = "n2" }), h.bbbsim({ name = "n3" }) }
    db, d = cluster("api", sims)
    add_frontend(db, "fe2", FE2_SECRET)
    add_frontend(db, "off", "off-secret", { "active", "false" })
  end)

  teardown(function()
    stop(d)
  end)

  it("answers the API index without a checksum", function()
    for _, path in ipairs({ "/bbb/fe1/api", "/bbb/fe1/api/", "/bbb/fe1/bigbluebutton/api/" }) do
      local st, body, hd = h.get(d.url .. path)
      assert.equal(200, st)
      assert.equal("SUCCESS", rc(body))
      assert.equal("2.0", h.xml_text(body, "version"))
      assert.matches("^text/xml", hd["content-type"])
    end
  end)

  it("answers the same index for unknown and disabled keys, so keys cannot be probed", function()
    local _, want = h.get(d.url .. "/bbb/fe1/api")
    for _, key in ipairs({ "nobody", "off" }) do
      local st, body = h.get(d.url .. "/bbb/" .. key .. "/bigbluebutton/api/")
      assert.equal(200, st)
      assert.equal(want, body, key)
    end
    -- real calls without a checksum: the same error for every key
    local _, known = h.get(h.frontend_api(d, "fe1") .. "getMeetings")
    assert.equal("You must provide the checksum", h.xml_text(known, "message"))
    for _, key in ipairs({ "nobody", "off" }) do
      local _, body = h.get(h.frontend_api(d, key) .. "getMeetings")
      assert.equal(known, body, key)
    end
  end)

  it("places a create on a node with a request re-signed for that node", function()
    local st, body = api(d, "fe1", FE_SECRET, "create", "name=Room+One&meetingID=room-1&record=false")
    assert.equal(200, st)
    assert.equal("SUCCESS", rc(body))
    assert.equal("room-1", h.xml_text(body, "meetingID"))
    local where = holders(sims, "fe1~room-1")
    assert.equal(1, #where)
    for _, s in ipairs(sims) do
      if s.name == where[1] then
        local reqs = h.sim_get(s, "/sim/requests")
        local last = reqs[#reqs]
        assert.equal("create", last.call)
        assert.is_true(last.checksum_ok)
        assert.is_true(resigned(s, "create", last.query))
        assert.matches("meetingID=fe1~room-1", last.query, 1, true)
        assert.matches("name=Room%20One", last.query, 1, true)
      end
    end
  end)

  it("creates the same meeting only once", function()
    local q = "name=Twice&meetingID=twice"
    local _, b1 = api(d, "fe1", FE_SECRET, "create", q)
    local _, b2 = api(d, "fe1", FE_SECRET, "create", q)
    assert.equal("SUCCESS", rc(b1))
    assert.equal("SUCCESS", rc(b2))
    assert.equal("duplicateWarning", mkey(b2))
    assert.equal(h.xml_text(b1, "internalMeetingID"), h.xml_text(b2, "internalMeetingID"))
    assert.equal(1, #holders(sims, "fe1~twice"))
    assert.equal("1", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'twice'"))
  end)

  it("converges 20 concurrent creates of one meeting on one backend", function()
    local url = h.api_url(h.frontend_api(d, "fe1"), "create", "name=Storm&meetingID=storm", FE_SECRET)
    local dir = h.tmpdir()
    local cmd = string.format(
      "for i in $(seq 1 20); do curl -s -o %s/storm.$i %s & done; wait", dir, h.shell_quote(url))
    assert.is_true(os.execute(cmd) == 0 or os.execute(cmd) == true)
    local ok = 0
    for i = 1, 20 do
      if rc(h.read_file(dir .. "/storm." .. i)) == "SUCCESS" then
        ok = ok + 1
      end
    end
    assert.equal(20, ok)
    assert.equal(1, #holders(sims, "fe1~storm"))
    assert.equal("1", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'storm'"))
  end)

  it("redirects a join to the meeting's node with a checksum that node accepts", function()
    api(d, "fe1", FE_SECRET, "create", "name=Join+Me&meetingID=join-me")
    local where = holders(sims, "fe1~join-me")[1]
    local st, _, hd = api(d, "fe1", FE_SECRET, "join", "fullName=Ann+Lee&meetingID=join-me&role=MODERATOR")
    assert.equal(302, st)
    local loc = hd["location"]
    local node
    for _, s in ipairs(sims) do
      if s.name == where then node = s end
    end
    assert.equal(node.url .. "join?", loc:sub(1, #node.url + 5))
    assert.matches("meetingID=fe1~join-me", loc, 1, true)
    assert.matches("fullName=Ann%20Lee", loc, 1, true)
    -- the node itself accepts it: it answers with its client redirect, not a FAILED XML
    local nst, nbody, nhd = h.get(loc)
    assert.equal(302, nst, nbody)
    assert.matches("sessionToken=", nhd["location"], 1, true)
    local _, info = api(d, "fe1", FE_SECRET, "getMeetingInfo", "meetingID=join-me")
    assert.equal("1", h.xml_text(info, "participantCount"))
    assert.equal("join-me", h.xml_text(info, "meetingID"))
  end)

  it("passes redirect=false through to the node, which answers with join XML", function()
    api(d, "fe1", FE_SECRET, "create", "name=No+Redirect&meetingID=nored")
    local st, _, hd = api(d, "fe1", FE_SECRET, "join", "fullName=X&meetingID=nored&role=VIEWER&redirect=false")
    assert.equal(302, st)
    local nst, nbody = h.get(hd["location"])
    assert.equal(200, nst)
    assert.equal("successfullyJoined", mkey(nbody))
  end)

  it("answers invalidMeetingIdentifier for a join to an unknown meeting, as bbb-web does", function()
    local st, body = api(d, "fe1", FE_SECRET, "join", "fullName=X&meetingID=nope&role=VIEWER&redirect=false")
    assert.equal(200, st)
    assert.equal("invalidMeetingIdentifier", mkey(body))
  end)

  it("accepts a form POST signed over its body or over the empty URL query (bbb-web 2.7/3.0)", function()
    local url = h.frontend_api(d, "fe1") .. "create"
    local form = { ["content-type"] = "application/x-www-form-urlencoded" }
    local q = "name=Form+Post&meetingID=form-body"
    local st, body = h.post(url, h.sign("create", q, FE_SECRET), form)
    assert.equal(200, st)
    assert.equal("SUCCESS", rc(body), body)
    q = "name=Form+Post&meetingID=form-empty"
    st, body = h.post(url, q .. "&checksum=" .. h.sha("sha256", "create" .. FE_SECRET), form)
    assert.equal(200, st)
    assert.equal("SUCCESS", rc(body), body)
    st, body = h.post(url, q .. "&checksum=" .. h.sha("sha256", "create" .. "wrong"), form)
    assert.equal("checksumError", mkey(body))
  end)

  it("refuses a meeting ID shorter than 2 characters or with control characters", function()
    for _, mid in ipairs({ "x", "a%01b", "a%0Ab" }) do
      local st, body = api(d, "fe1", FE_SECRET, "create", "name=Short+ID&meetingID=" .. mid)
      assert.equal(200, st)
      assert.equal("validationError", mkey(body), mid)
    end
  end)

  it("keeps two frontends' meetings with the same ID apart", function()
    local _, a = api(d, "fe1", FE_SECRET, "create", "name=Alpha&meetingID=shared&moderatorPW=a1")
    local _, b = api(d, "fe2", FE2_SECRET, "create", "name=Beta&meetingID=shared&moderatorPW=b1")
    assert.equal("SUCCESS", rc(a))
    assert.equal("SUCCESS", rc(b))
    assert.equal("shared", h.xml_text(b, "meetingID"))
    assert.not_equal(h.xml_text(a, "internalMeetingID"), h.xml_text(b, "internalMeetingID"))
    assert.equal(1, #holders(sims, "fe1~shared"))
    assert.equal(1, #holders(sims, "fe2~shared"))
    local _, ia = api(d, "fe1", FE_SECRET, "getMeetingInfo", "meetingID=shared")
    local _, ib = api(d, "fe2", FE2_SECRET, "getMeetingInfo", "meetingID=shared")
    assert.equal("Alpha", h.xml_text(ia, "meetingName"))
    assert.equal("Beta", h.xml_text(ib, "meetingName"))
  end)

  it("lists only the frontend's own meetings with its own IDs", function()
    api(d, "fe2", FE2_SECRET, "create", "name=Only2&meetingID=only-fe2")
    local _, body = api(d, "fe2", FE2_SECRET, "getMeetings", "")
    assert.equal("SUCCESS", rc(body))
    assert.matches("<meetingID>only-fe2</meetingID>", body, 1, true)
    assert.matches("<meetingID>shared</meetingID>", body, 1, true)
    assert.is_nil(body:find("room-1", 1, true))
    assert.is_nil(body:find("fe2~", 1, true))
    local _, again = api(d, "fe1", FE_SECRET, "getMeetings", "")
    assert.is_nil(again:find("only-fe2", 1, true))
  end)

  it("answers noMeetings for a frontend without meetings", function()
    add_frontend(db, "empty", "e-secret")
    local _, body = api(d, "empty", "e-secret", "getMeetings", "")
    assert.equal("SUCCESS", rc(body))
    assert.equal("noMeetings", mkey(body))
  end)

  it("routes isMeetingRunning, getMeetingInfo and end to the meeting's node", function()
    api(d, "fe1", FE_SECRET, "create", "name=Ending&meetingID=to-end")
    local _, r = api(d, "fe1", FE_SECRET, "isMeetingRunning", "meetingID=to-end")
    assert.equal("false", h.xml_text(r, "running"))
    api(d, "fe1", FE_SECRET, "join", "fullName=X&meetingID=to-end&role=VIEWER")
    local _, e = api(d, "fe1", FE_SECRET, "end", "meetingID=to-end")
    assert.equal("sentEndMeetingRequest", mkey(e))
    assert.equal(0, #holders(sims, "fe1~to-end"))
    local _, i = api(d, "fe1", FE_SECRET, "getMeetingInfo", "meetingID=to-end")
    assert.equal("notFound", mkey(i))
  end)

  it("answers unknown meetings as BBB does", function()
    local _, r = api(d, "fe1", FE_SECRET, "isMeetingRunning", "meetingID=ghost")
    assert.equal("SUCCESS", rc(r))
    assert.equal("false", h.xml_text(r, "running"))
    local _, i = api(d, "fe1", FE_SECRET, "getMeetingInfo", "meetingID=ghost")
    assert.equal("notFound", mkey(i))
    local _, e = api(d, "fe1", FE_SECRET, "end", "meetingID=ghost")
    assert.equal("notFound", mkey(e))
  end)

  it("passes a create's XML body to the node", function()
    local url = h.api_url(h.frontend_api(d, "fe1"), "create", "name=Slides&meetingID=slides", FE_SECRET)
    local xml = '<modules><module name="presentation"><document url="https://example.org/a.pdf"/></module></modules>'
    local st, body = h.post(url, xml, { ["content-type"] = "application/xml" })
    assert.equal(200, st)
    assert.equal("SUCCESS", rc(body))
    local found
    for _, s in ipairs(sims) do
      for _, m in ipairs(h.sim_get(s, "/sim/meetings")) do
        if m.meetingID == "fe1~slides" then found = m end
      end
    end
    assert.is_true(found.has_body)
  end)

  it("returns the node's answer and keeps nothing when the create is the client's fault", function()
    local _, body = api(d, "fe1", FE_SECRET, "create", "meetingID=noname")
    assert.equal("FAILED", rc(body))
    assert.equal("validationError", mkey(body))
    assert.equal("0", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'noname'"))
  end)

  describe("refuses bad requests with BBB errors", function()
    it("missing checksum", function()
      local st, body = h.get(h.frontend_api(d, "fe1") .. "getMeetings")
      assert.equal(200, st)
      assert.equal("checksumError", mkey(body))
      assert.equal("You must provide the checksum", h.xml_text(body, "message"))
    end)

    it("wrong checksum, and the secret of another frontend", function()
      local _, body = api(d, "fe1", "wrong", "getMeetings", "")
      assert.equal("checksumError", mkey(body))
      _, body = api(d, "fe1", FE2_SECRET, "create", "name=x&meetingID=x")
      assert.equal("checksumError", mkey(body))
      assert.equal("0", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'x'"))
    end)

    it("duplicate checksum parameters", function()
      local q = h.sign("getMeetings", "", FE_SECRET)
      local st, body = h.get(h.frontend_api(d, "fe1") .. "getMeetings?" .. q .. "&" .. q)
      assert.equal(200, st)
      assert.equal("checksumError", mkey(body))
    end)

    it("every checksum algorithm and uppercase hex", function()
      for _, alg in ipairs({ "sha1", "sha256", "sha384", "sha512" }) do
        local _, body = api(d, "fe1", FE_SECRET, "getMeetings", "", alg)
        assert.equal("SUCCESS", rc(body), alg)
      end
      local sum = h.sha("sha1", "getMeetings" .. FE_SECRET):upper()
      local _, body = h.get(h.frontend_api(d, "fe1") .. "getMeetings?checksum=" .. sum)
      assert.equal("SUCCESS", rc(body))
    end)

    it("unknown frontend, indistinguishable from a wrong checksum", function()
      local st, body = api(d, "nobody", "whatever", "getMeetings", "")
      assert.equal(200, st)
      assert.equal("checksumError", mkey(body))
    end)

    it("inactive frontend", function()
      local _, body = api(d, "off", "off-secret", "create", "name=x&meetingID=y")
      assert.equal("checksumError", mkey(body))
      assert.equal("This frontend is disabled.", h.xml_text(body, "message"))
    end)

    it("missing meetingID", function()
      for _, call in ipairs({ "create", "join", "end", "getMeetingInfo", "isMeetingRunning" }) do
        local _, body = api(d, "fe1", FE_SECRET, call, "name=x&fullName=y")
        assert.equal("missingParamMeetingID", mkey(body), call)
      end
    end)

    it("oversized query", function()
      local st, body = api(d, "fe1", FE_SECRET, "create",
        "name=big&meetingID=big&welcome=" .. ("x"):rep(70000))
      assert.equal(200, st)
      assert.equal("FAILED", rc(body))
      assert.equal("validationError", mkey(body))
    end)

    it("unsupported call", function()
      local _, body = api(d, "fe1", FE_SECRET, "getDefaultConfigXML", "")
      assert.equal("unsupportedRequest", mkey(body))
    end)

    it("create body with an unsupported content type", function()
      local url = h.api_url(h.frontend_api(d, "fe1"), "create", "name=Content&meetingID=ct", FE_SECRET)
      local _, body = h.post(url, "{}", { ["content-type"] = "application/json" })
      assert.equal("unsupportedContentType", mkey(body))
    end)
  end)

  it("never writes secrets or checksums to its log", function()
    local log = h.read_file(d.log)
    assert.is_nil(log:find(FE_SECRET, 1, true))
    for _, s in ipairs(sims) do
      assert.is_nil(log:find(s.secret, 1, true))
    end
    assert.is_nil(log:find("checksum=", 1, true))
  end)
end)


describe("b3scaled with a node that refuses connections", function()
  local db, d, live

  setup(function()
    db = h.new_db("dead")
    h.migrate(db)
    live = h.bbbsim({ name = "live" })
    -- registered first, so the policy prefers it on a tie
    add_backend(db, "http://127.0.0.1:" .. h.free_port() .. "/bigbluebutton/api/", "dead", 1000)
    add_backend(db, live.url, live.secret, 10)
    add_frontend(db, "fe1", FE_SECRET)
    d = h.daemon({ db = db })
  end)

  teardown(function()
    assert.equal(0, h.stop(d))
    h.cleanup()
  end)

  it("skips it and places the meeting on the next candidate", function()
    local _, body = api(d, "fe1", FE_SECRET, "create", "name=Skip&meetingID=skip")
    assert.equal("SUCCESS", rc(body))
    assert.equal(1, #holders({ live }, "fe1~skip"))
    local log = h.read_file(d.log)
    assert.matches("event=backend_failed call=create", log, 1, true)
  end)

  it("says so in BBB's terms when no node is left", function()
    h.stop(live)
    local st, body = api(d, "fe1", FE_SECRET, "create", "name=Nowhere&meetingID=nowhere")
    assert.equal(200, st)
    assert.equal("FAILED", rc(body))
    assert.equal("internalError", mkey(body))
    assert.equal("0", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'nowhere'"))
  end)
end)


describe("b3scaled start-up", function()
  it("refuses a database with pending migrations and names them", function()
    local db = h.new_db("fresh")
    local code, out = h.run({ h.BUILD .. "/b3scaled" }, {
      B3SCALE_DB_URL = db, B3SCALE_LISTEN_HTTP = "127.0.0.1:" .. h.free_port() })
    assert.not_equal(0, code)
    assert.matches("pending migration", out, 1, true)
    assert.matches("0001_init.sql", out, 1, true)
  end)

  it("explains a bad setting in one line", function()
    local code, out = h.run({ h.BUILD .. "/b3scaled" }, {
      B3SCALE_DB_URL = "postgresql:///x", B3SCALE_WORKERS = "lots" })
    assert.equal(2, code)
    assert.matches("B3SCALE_WORKERS", out, 1, true)
    assert.equal(1, select(2, out:gsub("\n", "")))
  end)

  it("needs B3SCALE_DB_URL", function()
    local code, out = h.run({ h.BUILD .. "/b3scaled" }, { B3SCALE_DB_URL = false })
    assert.equal(2, code)
    assert.matches("B3SCALE_DB_URL is required", out, 1, true)
  end)
end)


describe("failed browser joins", function()
  local db, d

  setup(function()
    db, d = cluster("joinerr", {}, { B3SCALE_POLL_WORKERS = "0" })
  end)

  teardown(function()
    stop(d)
  end)

  it("go back to the frontend's errorRedirectUrl with BBB's errors parameter", function()
    local back = "https://lms.example.org/room?id=7"
    local st, _, hd = api(d, "fe1", FE_SECRET, "join",
      "fullName=A&meetingID=nope&role=VIEWER&errorRedirectUrl=" .. h.urlencode(back))
    assert.equal(302, st)
    assert.equal(back .. "&errors=", hd.location:sub(1, #back + 8))
    local errors = h.cjson.decode(h.urldecode(hd.location:match("errors=(.*)$")))
    assert.equal("invalidMeetingIdentifier", errors[1].key)
  end)

  it("fall back to logoutURL, and answer XML with redirect=false", function()
    local st, _, hd = api(d, "fe1", FE_SECRET, "join",
      "fullName=A&meetingID=nope&role=VIEWER&logoutURL=" .. h.urlencode("https://lms.example.org/"))
    assert.equal(302, st)
    assert.matches("^https://lms%.example%.org/%?errors=", hd.location)
    local xst, body = api(d, "fe1", FE_SECRET, "join",
      "fullName=A&meetingID=nope&role=VIEWER&redirect=false&logoutURL=" .. h.urlencode("https://lms.example.org/"))
    assert.equal(200, xst)
    assert.equal("invalidMeetingIdentifier", mkey(body))
  end)

  it("never redirect on a bad checksum or to a non-http URL", function()
    local st, body = api(d, "fe1", "wrong", "join",
      "fullName=A&meetingID=nope&role=VIEWER&errorRedirectUrl=" .. h.urlencode("https://evil.example/"))
    assert.equal(200, st)
    assert.equal("checksumError", mkey(body))
    st, body = api(d, "fe1", FE_SECRET, "join",
      "fullName=A&meetingID=nope&role=VIEWER&errorRedirectUrl=" .. h.urlencode("javascript:alert(1)"))
    assert.equal(200, st)
    assert.equal("invalidMeetingIdentifier", mkey(body))
  end)
end)


describe("insertDocument and sendChatMessage", function()
  local db, d, sim

  setup(function()
    sim = h.bbbsim({ name = "ins" })
    db, d = cluster("insert", { sim }, { B3SCALE_POLL_WORKERS = "0" })
    local _, b = api(d, "fe1", FE_SECRET, "create", "name=Slides+Later&meetingID=later")
    assert.equal("SUCCESS", rc(b))
  end)

  teardown(function()
    stop(d)
  end)

  local function sim_meeting()
    return h.sim_get(sim, "/sim/meetings")[1]
  end

  it("routes insertDocument with its XML body to the meeting's node", function()
    local url = h.api_url(h.frontend_api(d, "fe1"), "insertDocument", "meetingID=later", FE_SECRET)
    local xml = '<modules><module name="presentation"><document url="https://example.org/b.pdf"/></module></modules>'
    local st, body = h.post(url, xml, { ["content-type"] = "application/xml" })
    assert.equal(200, st)
    assert.equal("SUCCESS", rc(body))
    assert.equal(1, sim_meeting().inserted)
    _, body = h.post(url, "{}", { ["content-type"] = "application/json" })
    assert.equal("unsupportedContentType", mkey(body))
    local gone = h.api_url(h.frontend_api(d, "fe1"), "insertDocument", "meetingID=nope", FE_SECRET)
    _, body = h.post(gone, xml, { ["content-type"] = "application/xml" })
    assert.equal("notFound", mkey(body))
    assert.equal(1, sim_meeting().inserted)
  end)

  it("routes sendChatMessage to the meeting's node", function()
    local _, body = api(d, "fe1", FE_SECRET, "sendChatMessage", "meetingID=later&message=" .. h.urlencode("Hello all"))
    assert.equal("SUCCESS", rc(body))
    assert.equal(1, sim_meeting().chats)
    local reqs = h.sim_get(sim, "/sim/requests")
    assert.matches("meetingID=fe1~later", reqs[#reqs].query, 1, true)
  end)
end)
