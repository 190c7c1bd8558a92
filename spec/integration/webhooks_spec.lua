-- Tenant webhooks (docs/callbacks.md, "Tenant webhooks"): a frontend's `webhooks` setting
-- subscribes URLs to what happens to its meetings; polls and agents only write the live
-- view, triggers make events of it and the outbox POSTs them as JSON signed with each
-- webhook's secret.
local h = require("helpers")
local agents = require("support.agent")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local tar = require("support.tar")
local receiver = require("support.receiver")
local R = require("support.redis")
local jwt = require("b3scalectl.jwt")
local cjson = require("cjson")

local SECRET = "wh-fe-secret"
local JWT = "wh-jwt-secret"
local HOOK_SECRET = "wh-hook-secret"
local ENDED_SECRET = "wh-ended-secret"
local ALL = { "meeting-created", "meeting-started", "meeting-ended", "user-joined", "user-left",
  "recording-ready" }

-- the webhooks of a frontend as JSON text for psql (no quotes in these URLs)
local function settings(hooks)
  return cjson.encode({ webhooks = hooks })
end

-- the receiver's deliveries to path: decoded events, each checked for its signature
local function events(rcv, path, secret)
  local out = {}
  for _, r in ipairs(receiver.requests(rcv, path)) do
    assert.equal("POST", r.method)
    assert.equal("application/json", r.headers["content-type"])
    assert.equal("sha256=" .. tokens.hmac_hex("HS256", secret, r.body),
      r.headers["x-b3scale-signature"], "the signature does not verify: " .. r.body)
    local e = cjson.decode(r.body)
    assert.equal(e.event, r.headers["x-b3scale-event"])
    out[#out + 1] = e
  end
  return out
end

local function named(list, name)
  local out = {}
  for _, e in ipairs(list) do
    if e.event == name then out[#out + 1] = e end
  end
  return out
end

-- waits until path got events for which done(list) holds; returns them
local function wait_events(rcv, path, secret, done, what)
  local list
  assert.truthy(h.wait_until(function()
    list = events(rcv, path, secret)
    return done(list)
  end, 10, 0.1), "webhooks did not arrive: " .. what .. "; got " .. cjson.encode(list or {}))
  return list
end


describe("tenant webhooks", function()
  local sim, db, d, rcv

  local function call(key, name, query, secret)
    local st, body, hd = h.get(h.api_url(h.frontend_api(d, key), name, query, secret or SECRET))
    return st, body, hd
  end

  local function create(key, mid, secret)
    local _, body = call(key, "create", "name=Room&meetingID=" .. mid, secret)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
  end

  -- a user joins through b3scaled's redirect, as a browser would
  local function join(key, mid, name, secret)
    local st, _, hd = call(key, "join", "meetingID=" .. mid .. "&fullName=" .. name
      .. "&role=moderator", secret)
    assert.equal(302, st)
    assert.equal(302, (h.get(hd.location)))
  end

  local function attendees(key, mid, n)
    local _, st = h.sim_req(sim, "POST", "/sim/attendees?meetingID=" .. key .. "~" .. mid
      .. "&count=" .. n)
    assert.equal(200, st)
  end

  setup(function()
    rcv = receiver.start()
    sim = h.bbbsim({ name = "wh1" })
    db = h.new_db("wh")
    h.migrate(db)
    cluster.register(db, { sim }, "fe", SECRET, settings({
      { url = rcv.url .. "/all", events = ALL, secret = HOOK_SECRET },
      { url = rcv.url .. "/ended", events = { "meeting-ended" }, secret = ENDED_SECRET },
    }))
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('plain', 'plain-secret')")
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "200",
      B3SCALE_API_JWT_SECRET = JWT, B3SCALE_CALLBACK_ALLOWED_NETWORKS = "127.0.0.0/8",
      B3SCALE_RECORDINGS_DIR = h.tmpdir() .. "/wh-storage" } })
    cluster.settled(d, db)
  end)

  teardown(function()
    h.stop(d)
    receiver.stop(rcv)
    h.cleanup()
  end)

  it("tells a meeting's life with the frontend's own IDs, signed and each once", function()
    create("fe", "room-1")
    join("fe", "room-1", "Alice")
    attendees("fe", "room-1", 2) -- Alice and "Sim User 1"
    wait_events(rcv, "/all", HOOK_SECRET, function(l)
      return #named(l, "user-joined") >= 2 and #named(l, "meeting-started") >= 1
    end, "joins")
    attendees("fe", "room-1", 1) -- the last one added leaves
    wait_events(rcv, "/all", HOOK_SECRET, function(l) return #named(l, "user-left") >= 1 end,
      "a leave")
    local _, body = call("fe", "end", "meetingID=room-1")
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    local list = wait_events(rcv, "/all", HOOK_SECRET, function(l)
      return #named(l, "meeting-ended") >= 1 and #named(l, "user-left") >= 2
    end, "the end")
    h.sleep(0.8) -- nothing more comes
    list = events(rcv, "/all", HOOK_SECRET)

    local ids = {}
    for _, e in ipairs(list) do
      assert.equal("room-1", e.meeting_id)
      assert.equal("fe", e.frontend)
      assert.matches("^fe%-%d+$", e.id)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", e.at)
      assert.is_nil(ids[e.id], "id sent twice: " .. e.id)
      ids[e.id] = true
      assert.is_nil(cjson.encode(e):find("fe~", 1, true), "a namespaced ID leaked")
    end
    assert.equal(1, #named(list, "meeting-created"))
    assert.equal(1, #named(list, "meeting-started"))
    assert.equal(1, #named(list, "meeting-ended"))
    local internal = h.psql(db, "SELECT internal_id FROM meetings WHERE meeting_id = 'room-1'")
    if internal ~= "" then -- the poll may have removed the row already
      assert.equal(internal, named(list, "meeting-created")[1].data.internal_meeting_id)
    end
    local joined = named(list, "user-joined")
    assert.equal(2, #joined)
    table.sort(joined, function(a, b) return a.data.name < b.data.name end)
    assert.equal("Alice", joined[1].data.name)
    assert.equal("MODERATOR", joined[1].data.role)
    assert.equal("Sim User 1", joined[2].data.name)
    assert.equal("VIEWER", joined[2].data.role)
    assert.matches("^w_", joined[1].data.user_id)
    local left = named(list, "user-left")
    assert.equal(2, #left)
    assert.equal("Sim User 1", left[1].data.name) -- the leave before the end
    assert.equal("Alice", left[2].data.name)      -- still in when the meeting ended
    assert.equal(joined[1].data.user_id, left[2].data.user_id)
    assert.equal(joined[1].data.internal_meeting_id,
      named(list, "meeting-ended")[1].data.internal_meeting_id)

    -- the second webhook asked for meeting-ended only, and is signed with its own secret
    local ended = events(rcv, "/ended", ENDED_SECRET)
    assert.equal(1, #ended)
    assert.equal("meeting-ended", ended[1].event)
    assert.equal(named(list, "meeting-ended")[1].id, ended[1].id)
    -- one outbox row per event and webhook, nothing left to take
    assert.equal(tostring(#list + 1), h.psql(db, "SELECT count(*) FROM callbacks"
      .. " WHERE kind = 'webhook' AND event_id ~ '^webhook:fe-[0-9]+:[01]$'"))
    assert.equal("0", h.psql(db, "SELECT count(*) FROM webhook_events"))
  end)

  it("sends nothing for a frontend without webhooks, and queues no events for it", function()
    create("plain", "quiet", "plain-secret")
    join("plain", "quiet", "Bob", "plain-secret")
    h.sleep(0.8) -- a few polls
    call("plain", "end", "meetingID=quiet", "plain-secret")
    h.sleep(0.8)
    assert.equal("0", h.psql(db, "SELECT count(*) FROM callbacks c JOIN frontends f"
      .. " ON f.id = c.frontend_id WHERE f.key = 'plain'"))
    for _, r in ipairs(receiver.requests(rcv)) do
      assert.is_nil(r.body:find("quiet", 1, true))
    end
    -- the triggers themselves, before the deliverer takes anything: a meeting's whole life
    -- in one transaction writes events for fe and none for plain
    local counts = h.psql(db, "BEGIN;"
      .. " INSERT INTO node_meetings (backend_id, internal_id, meeting_id, running, attendees)"
      .. "  SELECT id, k || '-int', k || '~tx', true, '{\"w_1\":{\"name\":\"X\",\"role\":\"VIEWER\"}}'"
      .. "  FROM backends, (VALUES ('fe'), ('plain')) v(k);"
      .. " UPDATE node_meetings SET attendees = '{}' WHERE meeting_id LIKE '%~tx';"
      .. " DELETE FROM node_meetings WHERE meeting_id LIKE '%~tx';"
      .. " SELECT string_agg(f.key || '=' || (SELECT count(*) FROM webhook_events e"
      .. "  WHERE e.frontend_id = f.id AND e.meeting_id = 'tx'), ',' ORDER BY f.key) FROM frontends f;"
      .. " ROLLBACK;")
    assert.equal("fe=4,plain=0", counts) -- started, joined, left, ended
  end)

  it("sends recording ready once per recording, when it is listed", function()
    create("fe", "lecture")
    local id = tar.record_id()
    local admin = tokens.hs384(JWT, "root", "b3scale:admin")
    for _ = 1, 2 do -- a re-import is the same recording
      local st, out = h.post(d.url .. "/api/v1/recordings/import",
        tar.build(tar.tree(id, "fe~lecture")),
        { ["content-type"] = "application/x-tar", authorization = "Bearer " .. admin })
      assert.equal(200, st, out)
    end
    local list = wait_events(rcv, "/all", HOOK_SECRET, function(l)
      return #named(l, "recording-ready") >= 1
    end, "recording ready")
    h.sleep(0.8)
    list = named(events(rcv, "/all", HOOK_SECRET), "recording-ready")
    assert.equal(1, #list)
    local e = list[1]
    assert.equal("lecture", e.meeting_id)
    assert.equal(id, e.data.record_id)
    assert.same({ "presentation" }, e.data.formats)
    assert.equal("published", e.data.state)
    assert.equal(3, e.data.participants)
    assert.equal(1700000000000, e.data.start_time)
  end)

  it("checks the webhooks setting when it is written", function()
    local admin = tokens.hs384(JWT, "root", "b3scale:admin")
    local function post(hooks)
      return tokens.request(d.url, "POST", "/api/v1/frontends", admin,
        { bbb = { key = "hooked-" .. h.random_hex(3), secret = "s" }, settings = { webhooks = hooks } })
    end
    local b = tokens.must(400, post({
      { url = "ftp://x.example/", events = { "meeting-ended" }, secret = "s" },
      { url = "https://x.example/", events = {}, secret = "" },
      { url = "https://x.example/", events = { "meeting-over" }, secret = string.rep("s", 257),
        extra = 1 },
      "nope",
    }))
    assert.truthy(b.fields["settings.webhooks[0].url"])
    assert.truthy(b.fields["settings.webhooks[1].events"])
    assert.truthy(b.fields["settings.webhooks[1].secret"])
    assert.truthy(b.fields["settings.webhooks[2].events[0]"])
    assert.truthy(b.fields["settings.webhooks[2].secret"])
    assert.truthy(b.fields["settings.webhooks[2].extra"])
    assert.truthy(b.fields["settings.webhooks[3]"])
    b = tokens.must(400, post({ url = "https://x.example/" }))
    assert.truthy(b.fields["settings.webhooks"])
    b = tokens.must(201, post({ { url = "https://hooks.example.org/b3", events = ALL, secret = "s3cr3t" } }))
    assert.equal("https://hooks.example.org/b3", b.settings.webhooks[1].url)
  end)
end)


describe("tenant webhooks from b3scaleagent", function()
  local db, d, sim, redis, agent, rcv

  setup(function()
    rcv = receiver.start()
    db = h.new_db("whagent")
    h.migrate(db)
    sim = h.bbbsim({ name = "whagent" })
    redis = R.start()
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT, B3SCALE_POLL_WORKERS = "0",
      B3SCALE_AGENT_MAX_AGE_MS = "1500", B3SCALE_CALLBACK_ALLOWED_NETWORKS = "127.0.0.0/8" } })
    h.psql(db, "INSERT INTO frontends (key, secret, settings) VALUES ('fe', 'fe-secret', '"
      .. settings({ { url = rcv.url .. "/users", events = { "user-joined", "user-left" },
        secret = HOOK_SECRET } }) .. "')")
    agent = agents.start({ d = d, sim = sim, redis = redis,
      token = jwt.mint(JWT, "wh-node", { "b3scale:node" }, 3600) })
  end)

  teardown(function()
    if agent then h.stop(agent) end
    if d then h.stop(d) end
    R.stop(redis)
    receiver.stop(rcv)
    h.cleanup()
  end)

  it("sends user-joined and user-left from a real node's Redis traffic", function()
    -- the recorded meeting, renamed into fe's namespace (the node saw a Greenlight room)
    local msgs = R.read_dump(R.DUMP)
    for _, m in ipairs(msgs) do
      m.payload = m.payload:gsub("8i8qwxettwzf3sofuk534w1cwhczvt2njbyyeeyh", "fe~home-room")
    end
    R.publish(redis, msgs)
    local list = wait_events(rcv, "/users", HOOK_SECRET, function(l)
      return #named(l, "user-joined") >= 2 and #named(l, "user-left") >= 1
    end, "the dump's users")
    h.sleep(0.5)
    list = events(rcv, "/users", HOOK_SECRET)
    local joined, left = named(list, "user-joined"), named(list, "user-left")
    assert.equal(2, #joined)
    assert.equal(1, #left)
    assert.equal(3, #list) -- subscribed to users only
    table.sort(joined, function(a, b) return a.at < b.at end)
    for _, e in ipairs(joined) do
      assert.equal("home-room", e.meeting_id)
      assert.equal("kunz", e.data.name)
      assert.equal("MODERATOR", e.data.role)
      assert.equal("dfd4f52aa82afed916e9d0c0f26d6b0487f60082-1605982450209",
        e.data.internal_meeting_id)
    end
    assert.equal("w_2kuksxbaxjsr", joined[1].data.user_id)
    assert.equal("w_qj5cyef3ywhb", joined[2].data.user_id)
    assert.equal("w_2kuksxbaxjsr", left[1].data.user_id)
    assert.equal("kunz", left[1].data.name)
  end)
end)
