-- Callbacks through the balancer (docs/callbacks.md): the node gets b3scaled's URLs, calls
-- them when the meeting ends (bbbsim calls as BBB does), and the frontend's receiver gets its
-- own meeting IDs and JWTs that verify with its own secret; recording ready comes from the
-- import, once per recording.
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local tar = require("support.tar")
local receiver = require("support.receiver")
local cjson = require("cjson")

local SECRET = "cb-fe-secret"
local JWT = "cb-jwt-secret"

describe("callbacks", function()
  local sims, db, d, rcv, api_url

  local function call(name, query)
    local st, body = h.get(h.api_url(h.frontend_api(d, "fe"), name, query, SECRET))
    assert.equal(200, st)
    return body
  end

  local function create(mid, extra)
    local body = call("create", "name=Room&meetingID=" .. mid .. (extra or ""))
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    return body
  end

  -- the receiver's requests to path (waits until n of them arrived)
  local function got(path, n)
    local list
    assert.truthy(h.wait_until(function()
      list = {}
      for _, r in ipairs(receiver.requests(rcv)) do
        if r.path == path then list[#list + 1] = r end
      end
      return #list >= (n or 1)
    end, 10), "no " .. path .. " callback arrived")
    return list
  end

  local function params(query)
    local out = {}
    for k, v in query:gmatch("([^&=]+)=([^&]*)") do out[h.urldecode(k)] = h.urldecode(v) end
    return out
  end

  -- b3scaled's URL the node got for kind (from the create as forwarded)
  local function node_url(mid, key)
    local q = h.psql(db, "SELECT create_query FROM meetings WHERE meeting_id = '" .. mid .. "'")
    return params(q)[key]
  end

  setup(function()
    rcv = receiver.start()
    sims = { h.bbbsim({ name = "cb1", args = { "--recordings", h.tmpdir() .. "/cb-published" } }) }
    db = h.new_db("cb")
    h.migrate(db)
    cluster.register(db, sims, "fe", SECRET)
    local port = h.free_port()
    api_url = "http://127.0.0.1:" .. port
    -- polls are far apart: only the node's callback can tell b3scaled of an end in time
    d = h.daemon({ db = db, port = port, env = { B3SCALE_POLL_INTERVAL_MS = "60000",
      B3SCALE_API_URL = api_url .. "/", B3SCALE_API_JWT_SECRET = JWT,
      B3SCALE_CALLBACK_ALLOWED_NETWORKS = "127.0.0.0/8",
      B3SCALE_RECORDINGS_DIR = h.tmpdir() .. "/cb-storage" } })
  end)

  teardown(function()
    h.stop(d)
    receiver.stop(rcv)
    h.cleanup()
  end)

  it("gives the node b3scaled's own URLs and keeps the frontend's", function()
    create("kept", "&meta_endCallbackUrl=" .. h.urlencode(rcv.url .. "/end")
      .. "&meta_bbb-recording-ready-url=" .. h.urlencode(rcv.url .. "/ready")
      .. "&meta_analytics-callback-url=" .. h.urlencode(rcv.url .. "/analytics")
      .. "&meta_course=physics")
    local q = params(h.psql(db, "SELECT create_query FROM meetings WHERE meeting_id = 'kept'"))
    assert.matches("^" .. api_url:gsub("%p", "%%%0") .. "/api/v1/callbacks/ended/%d+%-%x+$",
      q.meetingEndedURL)
    assert.matches("/api/v1/callbacks/end/", q["meta_endCallbackUrl"])
    assert.matches("/api/v1/callbacks/analytics/", q["meta_analytics-callback-url"])
    assert.is_nil(q["meta_bbb-recording-ready-url"])
    assert.equal("physics", q.meta_course)
    local raw = h.psql(db, "SELECT create_query FROM meetings WHERE meeting_id = 'kept'")
    assert.is_nil(raw:find(tostring(rcv.port), 1, true), "the frontend's URL reached the node")
    assert.equal(rcv.url .. "/end", h.psql(db, "SELECT end_url FROM meeting_callbacks"
      .. " WHERE meeting_id = 'kept'"))
  end)

  it("learns of an end from the node at once and calls the frontend with its own ID", function()
    create("room-1", "&record=true&meta_endCallbackUrl=" .. h.urlencode(rcv.url .. "/end?x=1")
      .. "&meetingEndedURL=" .. h.urlencode(rcv.url .. "/ended")
      .. "&meta_analytics-callback-url=" .. h.urlencode(rcv.url .. "/analytics"))
    assert.equal("SUCCESS", h.xml_text(call("end", "meetingID=room-1"), "returncode"))
    -- the meeting is gone before any poll (they are a minute apart)
    assert.equal("0", h.psql(db, "SELECT count(*) FROM meetings WHERE meeting_id = 'room-1'"))
    assert.equal("notFound", h.xml_text(call("getMeetingInfo", "meetingID=room-1"), "messageKey"))
    local p = params(got("/end")[1].query)
    assert.same({ x = "1", meetingID = "room-1", recordingmarks = "true" }, p)
    p = params(got("/ended")[1].query)
    assert.equal("room-1", p.meetingID)
    local a = got("/analytics")[1]
    assert.equal("application/json", a.headers["content-type"])
    local claims = tokens.verify(a.headers.authorization:match("^Bearer (.+)$"), "HS512", SECRET)
    assert.truthy(claims, "the analytics JWT does not verify with the frontend's secret")
    assert.truthy(claims.exp > os.time())
    local json = cjson.decode(a.body)
    assert.equal("room-1", json.meeting_id)
    assert.equal("room-1", json.data.metadata.meeting_id)
    assert.is_nil(a.body:find("fe~", 1, true))
    -- sent once each
    h.sleep(0.5)
    assert.equal(1, #got("/end"))
  end)

  it("sends recording ready once per recording after the import, signed with the frontend's secret", function()
    create("lecture", "&record=true&meta_bbb-recording-ready-url=" .. h.urlencode(rcv.url .. "/ready"))
    local id = tar.record_id()
    local admin = tokens.hs384(JWT, "root", "b3scale:admin")
    for _ = 1, 2 do -- a re-import does not send it again
      local st, out = h.post(d.url .. "/api/v1/recordings/import", tar.build(tar.tree(id, "fe~lecture")),
        { ["content-type"] = "application/x-tar", authorization = "Bearer " .. admin })
      assert.equal(200, st, out)
    end
    local r = got("/ready")[1]
    assert.equal("application/x-www-form-urlencoded", r.headers["content-type"])
    local sp = params(r.body).signed_parameters
    local claims = tokens.verify(sp, "HS256", SECRET)
    assert.truthy(claims, "signed_parameters do not verify with the frontend's secret")
    assert.same({ meeting_id = "lecture", record_id = id }, claims)
    h.sleep(0.5)
    assert.equal(1, #got("/ready"))
  end)

  it("refuses a forged token and a node JWT that does not verify", function()
    create("guarded", "&meta_analytics-callback-url=" .. h.urlencode(rcv.url .. "/guarded"))
    local ended = node_url("guarded", "meetingEndedURL")
    local forged = (ended:gsub("%x%x%x%x$", "0000"))
    assert.equal(403, (h.get(forged)))
    assert.equal(403, (h.get(api_url .. "/api/v1/callbacks/ended/999999-" .. string.rep("a", 32))))
    local analytics = node_url("guarded", "meta_analytics-callback-url")
    local bad = tokens.sign("HS512", "not-the-node-secret", { exp = os.time() + 60 })
    local st = h.post(analytics, '{"meeting_id":"fe~guarded"}',
      { ["content-type"] = "application/json", authorization = "Bearer " .. bad })
    assert.equal(401, st)
    local good = tokens.sign("HS512", sims[1].secret, { exp = os.time() + 60 })
    st = h.post(analytics, '{"meeting_id":"fe~guarded"}',
      { ["content-type"] = "application/json", authorization = "Bearer " .. good })
    assert.equal(200, st)
    assert.equal('{"meeting_id":"guarded"}', got("/guarded")[1].body)
  end)

  it("re-signs a recording-ready call a node makes itself", function()
    create("legacy")
    local ended = node_url("legacy", "meetingEndedURL")
    h.psql(db, "UPDATE meeting_callbacks SET recording_ready_url = '" .. rcv.url .. "/legacy-ready'"
      .. " WHERE meeting_id = 'legacy'")
    local ready = (ended:gsub("/ended/", "/recording-ready/"))
    local sp = tokens.sign("HS256", sims[1].secret, { meeting_id = "fe~legacy", record_id = "rec-legacy" })
    local st = h.post(ready, "signed_parameters=" .. h.urlencode(sp),
      { ["content-type"] = "application/x-www-form-urlencoded" })
    assert.equal(200, st)
    local claims = tokens.verify(params(got("/legacy-ready")[1].body).signed_parameters, "HS256", SECRET)
    assert.same({ meeting_id = "legacy", record_id = "rec-legacy" }, claims)
    local forged = tokens.sign("HS256", "someone-else", { meeting_id = "fe~legacy", record_id = "x" })
    assert.equal(401, (h.post(ready, "signed_parameters=" .. h.urlencode(forged),
      { ["content-type"] = "application/x-www-form-urlencoded" })))
  end)
end)
