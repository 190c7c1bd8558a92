-- getRecordings, answered per frontend from Postgres (docs/recordings.md). Until imports land
-- the rows are written here as an import will write them.
local h = require("helpers")
local cluster = require("support.cluster")

local SECRET, OTHER_SECRET = "rec-fe-secret", "rec-other-secret"
local PLAYBACK = "https://rec.example.org"

describe("getRecordings", function()
  local sims, db, d

  -- a recording of frontend key, with formats { name = { size = n } }
  local function rec(key, record_id, meeting_id, o)
    o = o or {}
    local id = h.psql(db, string.format([[INSERT INTO recordings (frontend_id, record_id,
      meeting_id, internal_meeting_id, name, state, start_time, end_time, participants,
      raw_size, metadata, import_state) SELECT id, '%s', '%s', '%s', '%s', '%s', %d, %d, 3,
      1000, '%s'::jsonb, '%s' FROM frontends WHERE key = '%s' RETURNING id]],
      record_id, meeting_id, record_id, o.name or "Room", o.state or "published",
      o.start or 1000, (o.start or 1000) + 600000, o.meta or '{"meetingName":"Room"}',
      o.import_state or "done", key))
    for format, f in pairs(o.formats or { presentation = { size = 10 } }) do
      local path = "/playback/" .. format .. "/2.3/" .. record_id
      h.psql(db, string.format([[INSERT INTO recording_formats (recording_id, format, url,
        url_path, processing_time, length_ms, size) VALUES (%s, '%s', '%s', '%s', 77, 125000, %d)]],
        id, format, "https://node1.example.org" .. path, path, f.size))
    end
  end

  local function get(query, key, secret)
    local st, body = h.get(h.api_url(h.frontend_api(d, key or "fe"), "getRecordings", query or "",
      secret or SECRET))
    assert.equal(200, st)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    return body
  end

  local function ids(body)
    local out = {}
    for id in body:gmatch("<recording><recordID>(.-)</recordID>") do out[#out + 1] = id end
    return table.concat(out, ",")
  end

  setup(function()
    sims = { h.bbbsim({ name = "rec1" }) }
    db = h.new_db("recs")
    h.migrate(db)
    cluster.register(db, sims, "fe", SECRET)
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('other', '" .. OTHER_SECRET .. "')")
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "60000",
      B3SCALE_RECORDINGS_PLAYBACK_URL = PLAYBACK .. "/" } })
    rec("fe", "r-a1", "room-a", { start = 1000, meta = '{"meetingName":"A & B","gl-listed":"true"}',
      formats = { presentation = { size = 10 }, video = { size = 32 } } })
    rec("fe", "r-a2", "room-a", { start = 2000, state = "unpublished" })
    rec("fe", "r-b1", "room-b", { start = 3000, meta = '{"course":"math"}' })
    rec("fe", "r-b2", "room-b", { start = 4000, state = "deleted" })
    rec("fe", "r-c1", "room-c", { start = 5000, import_state = "staged" })
    rec("other", "o-a1", "room-a", { start = 1500 })
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("lists a frontend's recordings in BBB's shape, played back from the balancer's host", function()
    local body = get()
    assert.equal("r-a1,r-a2,r-b1", ids(body))
    local r = body:match("<recording>(.-)</recording>")
    local order = {}
    for tag in r:gsub("<metadata>.-</metadata>", "<metadata/>"):gsub("<playback>.*</playback>",
        "<playback/>"):gmatch("<(%w+)[/>]") do
      order[#order + 1] = tag
    end
    assert.equal("recordID,meetingID,internalMeetingID,name,isBreakout,published,state,"
      .. "startTime,endTime,participants,rawSize,metadata,size,playback", table.concat(order, ","))
    assert.equal("room-a", h.xml_text(r, "meetingID"))
    assert.equal("true", h.xml_text(r, "published"))
    assert.equal("42", r:match("</metadata><size>(%d+)</size>"))
    assert.truthy(r:find("<meetingName>A &amp; B</meetingName>", 1, true), r)
    assert.truthy(r:find("<gl-listed>true</gl-listed>", 1, true), r)
    assert.truthy(r:find("<format><type>presentation</type><url>" .. PLAYBACK
      .. "/playback/presentation/2.3/r-a1</url><processingTime>77</processingTime>"
      .. "<length>2</length><size>10</size></format>", 1, true), r)
    assert.truthy(r:find("<type>video</type>", 1, true))
    assert.is_nil(body:find("noRecordings", 1, true))
  end)

  it("filters by meetingID, recordID prefixes, state and meta_ as BBB does", function()
    assert.equal("r-a1,r-a2", ids(get("meetingID=room-a")))
    assert.equal("r-a1,r-a2,r-b1", ids(get("meetingID=room-a%2Croom-b")))
    assert.equal("r-a1,r-a2", ids(get("recordID=r-a")))
    assert.equal("r-a2,r-b1", ids(get("recordID=r-b1%2Cr-a2")))
    -- recordID wins over meetingID
    assert.equal("r-b1", ids(get("meetingID=room-a&recordID=r-b1")))
    assert.equal("r-a2", ids(get("state=unpublished")))
    assert.equal("r-a1,r-a2,r-b1,r-b2", ids(get("state=any")))
    assert.equal("r-b1", ids(get("meta_course=math")))
    assert.equal("r-a1", ids(get("meta_gl-listed=true&meetingID=room-a")))
    assert.equal("", ids(get("meta_course=art")))
  end)

  it("pages with offset and limit and says how many there are", function()
    local body = get("state=any&limit=2")
    assert.equal("r-a1,r-a2", ids(body))
    assert.equal("4", h.xml_text(body, "totalElements"))
    body = get("state=any&offset=2&limit=2")
    assert.equal("r-b1,r-b2", ids(body))
    assert.equal("4", h.xml_text(body, "totalElements"))
    assert.equal("r-a1,r-a2,r-b1,r-b2", ids(get("state=any&limit=1000")))
    assert.is_nil(get():find("totalElements", 1, true))
  end)

  it("shows a frontend only its own recordings, and says noRecordings when there are none", function()
    local body = get("", "other", OTHER_SECRET)
    assert.equal("o-a1", ids(body))
    assert.equal("", ids(get("recordID=o-a1")))
    body = get("meetingID=nothing-here")
    assert.equal("noRecordings", h.xml_text(body, "messageKey"))
    assert.truthy(body:find("<recordings></recordings>", 1, true))
  end)

  it("does not list a recording whose import has not finished", function()
    assert.equal("", ids(get("recordID=r-c")))
  end)

  describe("updateRecordings", function()
    local function update(query, key, secret)
      local st, body = h.get(h.api_url(h.frontend_api(d, key or "fe"), "updateRecordings", query,
        secret or SECRET))
      assert.equal(200, st)
      return body
    end
    local function meta(record_id)
      return h.psql(db, "SELECT metadata::text FROM recordings WHERE record_id = '" .. record_id .. "'")
    end

    it("sets meta_ keys (lowercased) and removes those given empty, on every recordID", function()
      local body = update("recordID=r-a1%2Cr-b1&meta_Course=art&meta_gl-listed=")
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
      assert.equal("true", h.xml_text(body, "updated"))
      assert.equal('{"course": "art", "meetingName": "A & B"}', meta("r-a1"))
      assert.equal('{"course": "art"}', meta("r-b1"))
      assert.equal("r-a1,r-b1", ids(get("meta_course=art")))
    end)

    it("answers notFound for another frontend's recording and leaves it alone", function()
      local before = meta("o-a1")
      local body = update("recordID=o-a1&meta_x=y")
      assert.equal("FAILED", h.xml_text(body, "returncode"))
      assert.equal("notFound", h.xml_text(body, "messageKey"))
      assert.equal(before, meta("o-a1"))
      body = update("meta_x=y")
      assert.equal("missingParamRecordID", h.xml_text(body, "messageKey"))
    end)
  end)

  describe("kept answers", function()
    local Q = "meetingID=room-b"
    local function quietly(sql) -- a change no notification announces
      h.psql(db, "BEGIN; ALTER TABLE recordings DISABLE TRIGGER recordings_notify; " .. sql
        .. "; ALTER TABLE recordings ENABLE TRIGGER recordings_notify; COMMIT;")
    end

    it("are reused until a change, which drops them whether made here, elsewhere or in SQL", function()
      local first = get(Q)
      quietly("UPDATE recordings SET name = 'Quiet' WHERE record_id = 'r-b1'")
      assert.equal(first, get(Q))
      h.psql(db, "UPDATE recordings SET name = 'Loud' WHERE record_id = 'r-b1'")
      assert.truthy(h.wait_until(function() return h.xml_text(get(Q), "name") == "Loud" end, 2))
      -- this instance's own call: the very next answer has it
      local st, body = h.get(h.api_url(h.frontend_api(d, "fe"), "publishRecordings",
        "publish=false&recordID=r-b1", SECRET))
      assert.equal(200, st, body)
      assert.equal("unpublished", h.xml_text(get(Q), "state"))
    end)

    it("are kept per frontend and per request, and for B3SCALE_RECORDINGS_CACHE_MS at most", function()
      get(Q)
      assert.equal("noRecordings", h.xml_text(get(Q, "other", OTHER_SECRET), "messageKey"))
      quietly("UPDATE recordings SET name = 'Late' WHERE record_id = 'r-b1'")
      assert.equal("Late", h.xml_text(get(Q .. "&state=any"), "name")) -- another request
      assert.is_not.equal("Late", h.xml_text(get(Q), "name"))
      assert.truthy(h.wait_until(function() return h.xml_text(get(Q), "name") == "Late" end, 8, 0.2))
    end)
  end)
end)
