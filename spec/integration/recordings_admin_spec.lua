-- The admin side of recordings against the real b3scaled and Postgres: `b3scalectl import
-- recordings` streams a tar to POST /api/v1/recordings/import, `show recordings` lists what
-- the token may see, and GET/PATCH/DELETE /api/v1/recordings/{id} (through b3scalectl and
-- directly) change the rows while the recordings thread moves the trees to match.
local h = require("helpers")
local tar = require("support.tar")
local tokens = require("support.tokens")
local cjson = h.cjson

local JWT = "recadm-jwt-" .. h.random_hex(8)
local ctl = require("support.ctl").new(JWT)
local ok, ok_json, fails = ctl.ok, ctl.ok_json, ctl.fails

local function has(s, needle) return s:find(needle, 1, true) ~= nil end

local function lit(s) return (s:gsub("%p", "%%%0")) end   -- s as a Lua pattern

describe("recordings through the admin API and b3scalectl", function()
  local db, d, root, dir
  local ACME = tokens.hs384(JWT, "acme", "b3scale")        -- owns frontend fe
  local acme = { B3SCALE_API_TOKEN = ACME, B3SCALE_API_JWT_SECRET = false }
  local ADMIN = tokens.hs384(JWT, "root", "b3scale:admin")
  local mine, theirs = tar.record_id(), tar.record_id()   -- fe's (two formats) and other's

  local function api(method, path, tok, body)
    return tokens.request(d.url, method, path, tok, body)
  end

  -- the storage's directories, for failure messages
  local function tree()
    local p = io.popen("cd '" .. root .. "' && find . -mindepth 1 -maxdepth 3 -type d | sort")
    local s = p:read("*a")
    p:close()
    return s
  end

  local function row(id)
    return h.psql(db, "SELECT state || '|' || visibility || '|' || pending::text FROM recordings"
      .. " WHERE record_id = '" .. id .. "'")
  end

  -- writes entries as a tar file named `name` in the scratch dir; returns its path
  local function tar_file(name, entries)
    local path = dir .. "/" .. name
    h.write_file(path, tar.build(entries))
    return path
  end

  setup(function()
    root = h.tmpdir() .. "/recordings-admin"
    dir = h.tmpdir() .. "/recadm-tars"
    os.execute("mkdir -p '" .. dir .. "'")
    db = h.new_db("recadm")
    h.migrate(db)
    h.psql(db, "INSERT INTO frontends (key, secret, account_ref) VALUES ('fe', 'fe-secret', 'acme'),"
      .. " ('other', 'other-secret', 'zeta')")
    d = h.daemon({ db = db, env = { B3SCALE_API_JWT_SECRET = JWT, B3SCALE_RECORDINGS_DIR = root,
      B3SCALE_POLL_INTERVAL_MS = "60000" } })
    ctl.url = d.url
  end)

  teardown(function()
    if d then h.stop(d) end
    h.cleanup()
  end)

  it("imports a tar and a tar.gz with b3scalectl import recordings", function()
    local out = ok({ "import", "recordings", tar_file("two.tar", tar.join(tar.tree(mine, "fe~room-1"),
      tar.tree(theirs, "other~room-9", "presentation", { start = 1700000100000 }))) })
    assert.matches("^RECORD ID%s+FORMAT%s+FRONTEND%s+MEETING ID\n", out)
    assert.matches("\n" .. lit(mine) .. "%s+presentation%s+fe%s+room%-1\n", out)
    assert.matches("\n" .. lit(theirs) .. "%s+presentation%s+other%s+room%-9\n", out)
    -- the video format of the same recording, gzip-compressed (by the file name)
    local gz = tar_file("video.tar", tar.tree(mine, "fe~room-1", "video"))
    assert.equal(0, os.execute("gzip -n '" .. gz .. "'"))
    local v = ok_json({ "import", "recordings", gz .. ".gz" })
    assert.same({ imported = { { record_id = mine, format = "video", frontend = "fe",
      meeting_id = "room-1" } } }, v)
    assert.truthy(h.exists(root .. "/published/presentation/" .. mine .. "/metadata.xml"))
    assert.truthy(h.exists(root .. "/published/video/" .. mine .. "/video/webcams.webm"))
    assert.truthy(h.exists(root .. "/published/presentation/" .. theirs .. "/metadata.xml"))
  end)

  it("reports a refused import in one line, with the server's message", function()
    local err = fails(1, { "import", "recordings", tar_file("bad.tar",
      { { name = "presentation/" .. tar.record_id() .. "/shapes.svg", data = "<svg/>" } }) })
    assert.truthy(has(err, "no metadata.xml") and has(err, "HTTP 400"), err)
    -- a node token may not name the frontend; a tenant token may not import at all
    err = fails(1, { "import", "recordings", dir .. "/two.tar", "--frontend", "fe" },
      { B3SCALE_API_TOKEN = tokens.hs384(JWT, "n1", "b3scale:node"), B3SCALE_API_JWT_SECRET = false })
    assert.truthy(has(err, "only an admin may name the frontend"), err)
    err = fails(1, { "import", "recordings", dir .. "/two.tar" }, acme)
    assert.truthy(has(err, "HTTP 403"), err)
    err = fails(1, { "import", "recordings", dir .. "/missing.tar" })
    assert.truthy(has(err, "cannot open") and has(err, "missing.tar"), err)
    assert.equal("2", h.psql(db, "SELECT count(*) FROM recordings"))
  end)

  it("lists recordings newest first: all for an admin, its own for a tenant", function()
    local out = ok({ "show", "recordings" })
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(3, #lines, out)
    assert.matches("^RECORD ID%s+FRONTEND%s+MEETING ID%s+STATE%s+VISIBILITY%s+FORMATS%s+STARTED%s+PARTICIPANTS$",
      lines[1])
    assert.matches("^" .. lit(theirs) .. "%s+other%s+room%-9%s+published%s+published%s+presentation%s+"
      .. "2023%-11%-14T22:15:00Z%s+3$", lines[2])
    assert.matches("^" .. lit(mine) .. "%s+fe%s+room%-1%s+published%s+published%s+presentation,video%s",
      lines[3])

    local v = ok_json({ "show", "recordings", "--frontend", "fe" })
    assert.equal(1, #v)
    local r = v[1]
    assert.equal(mine, r.record_id)
    assert.equal("fe", r.frontend)
    assert.equal("room-1", r.meeting_id)
    assert.equal("Room " .. mine, r.name)
    assert.equal(1700000000000, r.start_time)
    assert.equal(1700000600000, r.end_time)
    assert.equal(3, r.participants)
    assert.same({ { format = "presentation", size = 248378, length_ms = 32860 },
      { format = "video", size = 248378, length_ms = 32860 } }, r.formats)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", r.created_at)
    assert.same({}, ok_json({ "show", "recordings", "--meeting", "room-404" }))
    assert.equal(theirs, ok_json({ "show", "recordings", "--meeting", "room-9" })[1].record_id)

    -- a tenant sees its own frontend's only, whatever it asks for
    v = ok_json({ "show", "recordings" }, acme)
    assert.equal(1, #v)
    assert.equal(mine, v[1].record_id)
    assert.equal("no recordings\n", ok({ "show", "recordings", "--frontend", "other" }, acme))
    assert.falsy(has(ok({ "show", "recordings" }, acme), theirs))
  end)

  it("pages and filters with limit, offset and state, and refuses bad values", function()
    local b = tokens.must(200, api("GET", "/api/v1/recordings?limit=1", ADMIN))
    assert.equal(1, #b)
    assert.equal(theirs, b[1].record_id)
    b = tokens.must(200, api("GET", "/api/v1/recordings?limit=1&offset=1", ADMIN))
    assert.equal(mine, b[1].record_id)
    assert.same({}, tokens.must(200, api("GET", "/api/v1/recordings?state=unpublished", ADMIN)))
    assert.equal(2, #tokens.must(200, api("GET", "/api/v1/recordings?state=published", ADMIN)))
    b = tokens.must(400, api("GET", "/api/v1/recordings?limit=1001&offset=-1&state=gone", ADMIN))
    assert.equal("validation_error", b.error)
    assert.same({ "must be a whole number from 1 to 1000" }, b.fields.limit)
    assert.is_table(b.fields.offset)
    assert.is_table(b.fields.state)
    tokens.must(400, api("GET", "/api/v1/recordings?limit=0", ADMIN))
    b = tokens.must(200, api("GET", "/api/v1/recordings/" .. mine, ACME))
    assert.equal("presentation", b.formats[1].format)
  end)

  it("unpublishes and publishes by visibility, moving the trees", function()
    local out = ok({ "set", "recording", mine, "--visibility", "unpublished" }, acme)
    assert.equal("recording " .. mine .. ": visibility unpublished, state unpublished\n", out)
    assert.truthy(h.wait_until(function()
      return h.exists(root .. "/unpublished/presentation/" .. mine .. "/metadata.xml")
        and h.exists(root .. "/unpublished/video/" .. mine .. "/metadata.xml")
        and not h.exists(root .. "/published/presentation/" .. mine)
        and not h.exists(root .. "/published/video/" .. mine)
    end, 10), tree())
    assert.truthy(h.wait_until(function() return row(mine) == "unpublished|unpublished|false" end, 5))
    assert.equal("unpublished", ok_json({ "show", "recordings", "--frontend", "fe" })[1].state)

    -- any other visibility publishes it again
    local v = ok_json({ "set", "recording", mine, "--visibility", "protected" })
    assert.equal("protected", v.visibility)
    assert.equal("published", v.state)
    assert.truthy(h.wait_until(function()
      return h.exists(root .. "/published/presentation/" .. mine .. "/metadata.xml")
        and not h.exists(root .. "/unpublished/presentation/" .. mine)
    end, 10))
    assert.truthy(h.wait_until(function() return row(mine) == "published|protected|false" end, 5))
    -- a visibility that keeps the state moves nothing
    v = ok_json({ "set", "recording", mine, "--visibility", "public" })
    assert.equal("published", v.state)
    assert.equal("published|public|false", row(mine))
  end)

  it("refuses a bad visibility with 400 and names the field", function()
    local err = fails(1, { "set", "recording", mine, "--visibility", "secret" })
    assert.truthy(has(err, "visibility: must be one of") and has(err, "HTTP 400"), err)
    local b = tokens.must(400, api("PATCH", "/api/v1/recordings/" .. mine, ADMIN,
      { visibility = 1, colour = "red" }))
    assert.same({ "must be a string" }, b.fields.visibility)
    assert.same({ "unknown field" }, b.fields.colour)
    b = tokens.must(400, api("PATCH", "/api/v1/recordings/" .. mine, ADMIN, {}))
    assert.same({ "is required" }, b.fields.visibility)
    fails(2, { "set", "recording", mine })
    assert.equal("published|public|false", row(mine))
  end)

  it("answers 404 for another tenant's recording, on every method", function()
    for _, c in ipairs({ { "GET" }, { "PATCH", { visibility = "unpublished" } }, { "DELETE" } }) do
      local b = tokens.must(404, api(c[1], "/api/v1/recordings/" .. theirs, ACME, c[2]))
      assert.same({ error = "not_found", message = "recording not found" }, b)
    end
    tokens.must(404, api("GET", "/api/v1/recordings/no-such-recording", ADMIN))
    local err = fails(1, { "delete", "recording", theirs }, acme)
    assert.truthy(has(err, "recording not found") and has(err, "HTTP 404"), err)
    fails(1, { "set", "recording", theirs, "--visibility", "unpublished" }, acme)
    assert.equal("published|published|false", row(theirs))
    assert.truthy(h.exists(root .. "/published/presentation/" .. theirs .. "/metadata.xml"))
  end)

  it("deletes a recording: its trees, then its row", function()
    local out = ok({ "delete", "recording", mine }, acme)
    assert.equal("deleted recording " .. mine .. "\n", out)
    assert.truthy(h.wait_until(function() return row(mine) == "" end, 10))
    assert.is_false(h.exists(root .. "/published/presentation/" .. mine))
    assert.is_false(h.exists(root .. "/published/video/" .. mine))
    assert.is_false(h.exists(root .. "/unpublished/presentation/" .. mine))
    assert.equal("0", h.psql(db, "SELECT count(*) FROM recording_formats f JOIN recordings r"
      .. " ON r.id = f.recording_id WHERE r.record_id = '" .. mine .. "'"))
    tokens.must(404, api("GET", "/api/v1/recordings/" .. mine, ADMIN))
    fails(1, { "delete", "recording", mine })
    -- an admin's delete answers the recording in state deleted
    local b = tokens.must(200, api("DELETE", "/api/v1/recordings/" .. theirs, ADMIN))
    assert.equal("deleted", b.state)
    assert.equal(theirs, b.record_id)
    assert.truthy(h.wait_until(function() return row(theirs) == "" end, 10))
    assert.is_false(h.exists(root .. "/published/presentation/" .. theirs))
    assert.equal("no recordings\n", ok({ "show", "recordings" }))
  end)
end)
