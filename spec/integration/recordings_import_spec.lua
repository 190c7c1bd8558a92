-- POST /api/v1/recordings/import (docs/recordings.md): a tar of <format>/<recordID>/ trees is
-- checked whole, extracted to staging, written as pending rows and settled into
-- B3SCALE_RECORDINGS_DIR; every refusal leaves storage and database as they were.
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local tar = require("support.tar")
local cjson = require("cjson")
local socket = require("socket")

local SECRET, OTHER_SECRET = "imp-fe-secret", "imp-other-secret"
local JWT = "imp-jwt-secret"
local PLAYBACK = "https://rec.example.org"

describe("recordings import", function()
  local sims, db, d, root
  local node_tok, admin_tok

  local function env(extra)
    local e = { B3SCALE_POLL_INTERVAL_MS = "60000", B3SCALE_API_JWT_SECRET = JWT,
      B3SCALE_RECORDINGS_DIR = root, B3SCALE_RECORDINGS_PLAYBACK_URL = PLAYBACK,
      B3SCALE_MAX_RECORDING_UPLOAD = tostring(3 * 1024 * 1024 * 1024),
      B3SCALE_RECORDINGS_SWEEP_MS = "1000" }
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end

  local function import(body, o)
    o = o or {}
    local st, out = h.post(d.url .. "/api/v1/recordings/import" .. (o.query or ""), body,
      { ["content-type"] = o.ctype or "application/x-tar",
        authorization = "Bearer " .. (o.token or node_tok) })
    local ok, json = pcall(cjson.decode, out or "")
    return st, ok and json or out
  end

  local function call(name, query, key, secret)
    local st, body = h.get(h.api_url(h.frontend_api(d, key or "fe"), name, query or "",
      secret or SECRET))
    assert.equal(200, st)
    return body
  end

  local function listing(area)
    local p = io.popen("cd '" .. root .. "/" .. area .. "' 2>/dev/null && find . -mindepth 1 | sort")
    local s = p:read("*a")
    p:close()
    return s
  end

  local function rows()
    return tonumber(h.psql(db, "SELECT count(*) FROM recordings"))
  end

  -- storage and database exactly as before a refused upload
  local function unchanged(before_rows, before_pub)
    assert.equal(before_rows, rows())
    assert.equal(before_pub, listing("published"))
    assert.equal("", listing(".staging"))
    assert.truthy(h.wait_until(function() return listing(".spool") == "" end, 5))
  end

  setup(function()
    root = h.tmpdir() .. "/recordings"
    sims = { h.bbbsim({ name = "imp1" }) }
    db = h.new_db("imp")
    h.migrate(db)
    cluster.register(db, sims, "fe", SECRET)
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('other', '" .. OTHER_SECRET .. "')")
    h.psql(db, "INSERT INTO frontends (key, secret, settings) VALUES ('short', 'short-secret',"
      .. [[ '{"recordings":{"retention_days":30,"visibility":"public"}}')]])
    h.psql(db, "UPDATE backends SET agent_ref = 'node-1'")
    node_tok = tokens.hs384(JWT, "node-1", "b3scale:node")
    admin_tok = tokens.hs384(JWT, "root", "b3scale:admin")
    d = h.daemon({ db = db, env = env() })
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("imports a node's tree, lists it with playback on the recordings host, and files it under published/", function()
    local id = tar.record_id()
    local st, out = import(tar.build(tar.tree(id, "fe~room-1")))
    assert.equal(200, st, cjson.encode(out))
    assert.same({ imported = { { record_id = id, format = "presentation", frontend = "fe",
      meeting_id = "room-1" } } }, out)
    local base = root .. "/published/presentation/" .. id
    assert.equal("<svg>" .. id .. "</svg>", h.read_file(base .. "/shapes.svg"))
    assert.equal(3000, #h.read_file(base .. "/video/webcams.webm"))
    local body = call("getRecordings", "meetingID=room-1")
    assert.equal(id, h.xml_text(body, "recordID"), body)
    assert.equal("room-1", h.xml_text(body, "meetingID"))
    assert.equal("published", h.xml_text(body, "state"))
    assert.equal(PLAYBACK .. "/playback/presentation/2.3/" .. id, h.xml_text(body, "url"))
    assert.equal("room-1", h.xml_text(body, "meetingId")) -- the metadata, as the frontend knows it
    assert.equal("", listing(".staging"))
    assert.equal("", listing(".spool"))
  end)

  it("is idempotent, adds a new format to a known recording, and takes gzip", function()
    local id = tar.record_id()
    local body = tar.build(tar.tree(id, "fe~room-2"))
    assert.equal(200, (import(body)))
    assert.equal(200, (import(body)))
    assert.equal("1", h.psql(db, "SELECT count(*) FROM recordings WHERE record_id = '" .. id .. "'"))
    local dir = h.tmpdir() .. "/gz-" .. id
    os.execute("mkdir -p '" .. dir .. "'")
    h.write_file(dir .. "/v.tar", tar.build(tar.tree(id, "fe~room-2", "video")))
    assert.equal(0, os.execute("gzip -n '" .. dir .. "/v.tar'"))
    local st, out = import(h.read_file(dir .. "/v.tar.gz"), { ctype = "application/gzip" })
    assert.equal(200, st, cjson.encode(out))
    local list = call("getRecordings", "recordID=" .. id)
    local formats = {}
    for t in list:gmatch("<type>(.-)</type>") do formats[#formats + 1] = t end
    assert.same({ "presentation", "video" }, formats)
    assert.truthy(h.exists(root .. "/published/video/" .. id .. "/metadata.xml"))
  end)

  local hostile = {
    { "a '../' entry", function(id)
      return { { name = "presentation/" .. id .. "/metadata.xml", data = tar.metadata(id, "fe~x", "presentation") },
        { name = "presentation/" .. id .. "/../../../escape.txt", data = "x" } } end, "'..'" },
    { "an absolute path", function(id)
      return { { name = "/tmp/" .. id, data = "x" } } end, "absolute" },
    { "a symlink", function(id)
      return { { name = "presentation/" .. id .. "/metadata.xml", data = tar.metadata(id, "fe~x", "presentation") },
        { name = "presentation/" .. id .. "/passwd", type = "2", link = "/etc/passwd" } } end, "link" },
    { "a hard link", function(id)
      return { { name = "presentation/" .. id .. "/metadata.xml", data = tar.metadata(id, "fe~x", "presentation") },
        { name = "presentation/" .. id .. "/again", type = "1", link = "presentation/" .. id .. "/metadata.xml" } } end, "link" },
    { "a device", function(id)
      return { { name = "presentation/" .. id .. "/tty", type = "3" } } end, "device" },
    { "no metadata.xml", function(id)
      return { { name = "presentation/" .. id .. "/shapes.svg", data = "<svg/>" } } end, "no metadata.xml" },
    { "a malformed metadata.xml", function(id)
      return { { name = "presentation/" .. id .. "/metadata.xml", data = "<recording><id>" } } end, "metadata.xml" },
    { "a metadata.xml of another recording", function(id)
      return { { name = "presentation/" .. id .. "/metadata.xml", data = tar.metadata(tar.record_id(), "fe~x", "presentation") } } end, "<id>" },
    { "a 2 GiB-declared entry", function(id)
      return tar.join(tar.tree(id, "fe~x"), { { name = "presentation/" .. id .. "/huge.webm",
        data = "only this", size = 2 * 1024 * 1024 * 1024 } }) end, "truncated" },
    { "a file outside <format>/<recordID>/", function()
      return { { name = "README", data = "hi" } } end, "outside" },
    { "not a tar at all", function() return nil end, "tar" },
  }
  for _, case in ipairs(hostile) do
    it("refuses " .. case[1] .. " with 400 and writes nothing", function()
      local before_rows, before_pub = rows(), listing("published")
      local id = tar.record_id()
      local entries = case[2](id)
      local body = entries and tar.build(entries) or string.rep("not a tar ", 200)
      local st, out = import(body)
      assert.equal(400, st, cjson.encode(out))
      assert.equal("invalid_upload", out.error)
      assert.truthy(out.message:find(case[3], 1, true), out.message)
      unchanged(before_rows, before_pub)
      assert.is_false(h.exists(h.tmpdir() .. "/escape.txt"))
    end)
  end

  it("refuses a body cut short inside a file, and one whose client goes away", function()
    local before_rows, before_pub = rows(), listing("published")
    local body = tar.build(tar.tree(tar.record_id(), "fe~cut"))
    local st, out = import(body:sub(1, 2600))
    assert.equal(400, st, cjson.encode(out))
    assert.truthy(out.message:find("truncated", 1, true), out.message)
    -- the client declares 1 MB, sends 5 kB and disconnects
    local s = socket.tcp()
    assert(s:connect("127.0.0.1", d.port))
    s:send("POST /api/v1/recordings/import HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
      .. "Authorization: Bearer " .. node_tok .. "\r\nContent-Length: 1000000\r\n\r\n" .. body:sub(1, 5000))
    assert.truthy(h.wait_until(function() return listing(".spool") ~= "" end, 5))
    s:close()
    unchanged(before_rows, before_pub)
  end)

  it("answers 404 for an unknown frontend, and 409 for another frontend's recordID", function()
    local st, out = import(tar.build(tar.tree(tar.record_id(), "nosuch~room")))
    assert.equal(404, st, cjson.encode(out))
    assert.truthy(out.message:find("no frontend 'nosuch'", 1, true), out.message)
    local id = tar.record_id()
    assert.equal(200, (import(tar.build(tar.tree(id, "fe~mine")))))
    local before_pub = listing("published")
    st, out = import(tar.build(tar.tree(id, "other~theirs")))
    assert.equal(409, st, cjson.encode(out))
    assert.equal(before_pub, listing("published"))
    assert.equal("mine", h.xml_text(call("getRecordings", "recordID=" .. id), "meetingID"))
    assert.equal("noRecordings", h.xml_text(call("getRecordings", "recordID=" .. id, "other", OTHER_SECRET), "messageKey"))
  end)

  it("imports a legacy (not namespaced) recording only for an admin naming the frontend", function()
    local id = tar.record_id()
    local body = tar.build(tar.tree(id, "legacy-room"))
    local st, out = import(body)
    assert.equal(400, st)
    assert.truthy(out.message:find("not namespaced", 1, true), out.message)
    st, out = import(body, { token = admin_tok, query = "?frontend=fe" })
    assert.equal(200, st, cjson.encode(out))
    assert.equal("legacy-room", out.imported[1].meeting_id)
    st = import(body, { query = "?frontend=fe" })
    assert.equal(403, st) -- a node may not choose the tenant
  end)

  it("checks the token, the content type and the size before reading the body", function()
    local body = tar.build(tar.tree(tar.record_id(), "fe~auth"))
    assert.equal(401, (import(body, { token = "garbage" })))
    assert.equal(403, (import(body, { token = tokens.hs384(JWT, "fe", "b3scale") })))
    local st, out = import(body, { token = tokens.hs384(JWT, "ghost", "b3scale:node") })
    assert.equal(403, st)
    assert.truthy(out.message:find("no backend", 1, true), out.message)
    assert.equal(415, (import(body, { ctype = "text/plain" })))
    st = h.post(d.url .. "/api/v1/recordings/import", body, { ["content-type"] = "application/x-tar",
      authorization = "Bearer " .. node_tok, ["content-length"] = tostring(5 * 1024 * 1024 * 1024) })
    assert.equal(413, st)
  end)

  it("publishes, unpublishes and deletes per frontend, moving the trees", function()
    local id = tar.record_id()
    assert.equal(200, (import(tar.build(tar.tree(id, "fe~room-pub")))))
    -- another tenant can neither see nor touch it
    for _, c in ipairs({ { "publishRecordings", "publish=false&" }, { "deleteRecordings", "" },
      { "updateRecordings", "meta_x=y&" } }) do
      local body = call(c[1], c[2] .. "recordID=" .. id, "other", OTHER_SECRET)
      assert.equal("notFound", h.xml_text(body, "messageKey"), body)
    end
    assert.truthy(h.exists(root .. "/published/presentation/" .. id))
    local body = call("publishRecordings", "publish=false&recordID=" .. id)
    assert.equal("false", h.xml_text(body, "published"), body)
    assert.equal("unpublished", h.xml_text(call("getRecordings", "recordID=" .. id), "state"))
    assert.truthy(h.wait_until(function()
      return h.exists(root .. "/unpublished/presentation/" .. id .. "/metadata.xml")
        and not h.exists(root .. "/published/presentation/" .. id)
    end, 5))
    body = call("publishRecordings", "publish=true&recordID=" .. id)
    assert.equal("true", h.xml_text(body, "published"), body)
    assert.truthy(h.wait_until(function()
      return h.exists(root .. "/published/presentation/" .. id .. "/metadata.xml")
    end, 5))
    assert.equal("missingParamPublish", h.xml_text(call("publishRecordings", "recordID=" .. id), "messageKey"))
    body = call("deleteRecordings", "recordID=" .. id)
    assert.equal("true", h.xml_text(body, "deleted"), body)
    assert.truthy(h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM recordings WHERE record_id = '" .. id .. "'") == "0"
    end, 5))
    assert.is_false(h.exists(root .. "/published/presentation/" .. id))
    assert.is_false(h.exists(root .. "/unpublished/presentation/" .. id))
    assert.equal("", listing(".trash"))
    assert.equal("noRecordings", h.xml_text(call("getRecordings", "recordID=" .. id), "messageKey"))
  end)

  it("deletes what is older than a frontend's retention_days, and counts imports and deletions", function()
    local old, young, kept = tar.record_id(), tar.record_id(), tar.record_id()
    local now_ms = os.time() * 1000
    assert.equal(200, (import(tar.build(tar.tree(old, "short~r", nil, { start = now_ms - 40 * 86400000 })))))
    assert.equal(200, (import(tar.build(tar.tree(young, "short~r", nil, { start = now_ms - 86400000 })))))
    assert.equal(200, (import(tar.build(tar.tree(kept, "fe~r", nil, { start = now_ms - 400 * 86400000 })))))
    -- visibility public lists it for Greenlight's public recordings page
    assert.equal("true", h.psql(db, "SELECT metadata->>'gl-listed' FROM recordings WHERE record_id = '" .. young .. "'"))
    -- the row goes first, its files follow (the sweep moves them to .trash, then removes them)
    assert.truthy(h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM recordings WHERE record_id = '" .. old .. "'") == "0"
        and not h.exists(root .. "/published/presentation/" .. old)
    end, 10))
    assert.truthy(h.exists(root .. "/published/presentation/" .. young))
    assert.truthy(h.exists(root .. "/published/presentation/" .. kept))
    local st, m = h.get(d.url .. "/metrics")
    assert.equal(200, st)
    assert.truthy(tonumber(m:match("\nb3scale_recording_retention_deletions_total (%d+)")) >= 1)
    assert.truthy(tonumber(m:match('\nb3scale_recording_imports_total{outcome="ok"} (%d+)')) >= 3)
    assert.truthy(tonumber(m:match('\nb3scale_recording_imports_total{outcome="rejected"} (%d+)')) >= 10)
    assert.equal(tonumber(h.psql(db, "SELECT count(*) FROM recordings r JOIN frontends f ON f.id = r.frontend_id"
      .. " WHERE f.key = 'fe' AND r.state <> 'deleted'")),
      tonumber(m:match('\nb3scale_recordings{frontend="fe"} (%d+)')))
    assert.equal("0", m:match("\nb3scale_recordings_pending (%d+)"))
  end)

  it("answers 507 when the storage is full, at the spool or at the extraction, and writes nothing", function()
    -- a file size limit stands in for a full disk: writes past it fail as they would
    local port = h.free_port()
    local e = env({ B3SCALE_DB_URL = db, B3SCALE_LISTEN_HTTP = "127.0.0.1:" .. port,
      B3SCALE_LOG_LEVEL = "info" })
    local full = h.spawn({ "prlimit", "--fsize=200000", "--", h.BUILD .. "/b3scaled" }, e)
    local url = "http://127.0.0.1:" .. port
    h.wait_http(url .. "/healthz", 10, full, 200)
    local function send(body, ctype)
      local st, out = h.post(url .. "/api/v1/recordings/import", body,
        { ["content-type"] = ctype, authorization = "Bearer " .. node_tok })
      local ok, json = pcall(cjson.decode, out or "")
      return st, ok and json or out
    end
    local before_rows, before_pub = rows(), listing("published")
    local big = tar.join(tar.tree(tar.record_id(), "fe~full"), {})
    big[#big].data = string.rep("w", 300000)
    local st, out = send(tar.build(big), "application/x-tar")
    assert.equal(507, st, cjson.encode(out))
    assert.equal("insufficient_storage", out.error)
    unchanged(before_rows, before_pub)
    local dir = h.tmpdir() .. "/full-" .. h.random_hex(4)
    os.execute("mkdir -p '" .. dir .. "'")
    h.write_file(dir .. "/big.tar", tar.build(big))
    assert.equal(0, os.execute("gzip -n '" .. dir .. "/big.tar'"))
    st, out = send(h.read_file(dir .. "/big.tar.gz"), "application/gzip")
    assert.equal(507, st, cjson.encode(out))
    unchanged(before_rows, before_pub)
    -- room again: the same daemon imports
    st, out = send(tar.build(tar.tree(tar.record_id(), "fe~fits")), "application/x-tar")
    assert.equal(200, st, cjson.encode(out))
    h.stop(full)
  end)

  for _, point in ipairs({ "import_after_stage", "settle_after_move" }) do
    it("finishes an import after a crash at " .. point .. " (the restart's sweep settles it)", function()
      local d2 = h.daemon({ db = db, env = env({ B3SCALE_FAILPOINT = point }) })
      local id = tar.record_id()
      local st = h.post(d2.url .. "/api/v1/recordings/import", tar.build(tar.tree(id, "fe~crash")),
        { ["content-type"] = "application/x-tar", authorization = "Bearer " .. node_tok })
      assert.is_not.equal(200, st)
      h.wait_exit(d2.handle, 10)
      assert.is_false(h.alive(d2.handle))
      -- listed only once its files are in place
      assert.equal("noRecordings", h.xml_text(call("getRecordings", "recordID=" .. id), "messageKey"))
      local d3 = h.daemon({ db = db, env = env() })
      assert.truthy(h.wait_until(function()
        return h.psql(db, "SELECT pending::text || import_state FROM recordings WHERE record_id = '"
          .. id .. "'") == "falsedone"
      end, 10))
      h.stop(d3)
      assert.truthy(h.exists(root .. "/published/presentation/" .. id .. "/video/webcams.webm"))
      assert.equal(id, h.xml_text(call("getRecordings", "recordID=" .. id), "recordID"))
      assert.equal("", listing(".staging"))
    end)
  end
end)
