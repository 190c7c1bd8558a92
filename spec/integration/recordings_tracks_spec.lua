-- putRecordingTextTrack and getRecordingTextTracks (docs/recordings.md, "Text tracks"): the
-- upload is stored with the recording, per frontend, and the settle writes it into the
-- presentation tree as BBB's player reads it (caption_<lang>.vtt, captions.json).
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local tar = require("support.tar")
local multipart = require("support.multipart")
local cjson = require("cjson")

local SECRET, OTHER_SECRET = "trk-fe-secret", "trk-other-secret"
local JWT = "trk-jwt-secret"
local PLAYBACK = "https://rec.example.org"

local VTT = "WEBVTT\r\n\r\n00:00:01.000 --> 00:00:04.000\r\nHello <b>world</b>\r\n"
local SRT = table.concat({
  "1", "00:00:01,600 --> 00:00:04,200", "Olá, mundo", "",
  "2", "0:01:02,5 --> 0:01:05,25  X1:10 X2:20", "a --> b", "second line", "", "" }, "\r\n")
local SRT_AS_VTT = table.concat({
  "WEBVTT", "",
  "1", "00:00:01.600 --> 00:00:04.200", "Olá, mundo", "",
  "2", "00:01:02.500 --> 00:01:05.250", "a --&gt; b", "second line", "" }, "\n")

describe("recording text tracks", function()
  local sims, db, d, root, node_tok

  local function import(id, meeting, format, extra)
    local entries = tar.tree(id, meeting or "fe~room", format)
    local st, out = h.post(d.url .. "/api/v1/recordings/import", tar.build(tar.join(entries, extra or {})),
      { ["content-type"] = "application/x-tar", authorization = "Bearer " .. node_tok })
    assert.equal(200, st, out)
  end

  local function json_answer(st, body, hd)
    assert.equal(200, st, body)
    assert.equal("application/json", hd["content-type"], body)
    return cjson.decode(body)
  end

  -- putRecordingTextTrack with a query table; o: body, ctype, key, secret, raw (unsigned URL)
  local function put(params, o)
    o = o or {}
    local body, ctype = o.body, o.ctype
    if not body then body, ctype = multipart.track(VTT) end
    local q = h.query(params)
    local url = o.raw and (h.frontend_api(d, "fe") .. "putRecordingTextTrack?" .. o.raw)
      or h.api_url(h.frontend_api(d, o.key or "fe"), "putRecordingTextTrack", q, o.secret or SECRET)
    return json_answer(h.post(url, body, { ["content-type"] = ctype or "text/plain" }))
  end

  local function tracks(id, key, secret)
    return json_answer(h.get(h.api_url(h.frontend_api(d, key or "fe"), "getRecordingTextTracks",
      id and ("recordID=" .. id) or "", secret or SECRET)))
  end

  local function tree(id, area, format)
    return root .. "/" .. (area or "published") .. "/" .. (format or "presentation") .. "/" .. id
  end

  local function track_rows(id)
    return tonumber(h.psql(db, "SELECT count(*) FROM recording_tracks t JOIN recordings r"
      .. " ON r.id = t.recording_id WHERE r.record_id = '" .. id .. "'"))
  end

  local function settled(id)
    assert.truthy(h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM recordings WHERE record_id = '" .. id
        .. "' AND pending") == "0"
    end, 10))
  end

  setup(function()
    root = h.tmpdir() .. "/recordings"
    sims = { h.bbbsim({ name = "trk1" }) }
    db = h.new_db("trk")
    h.migrate(db)
    cluster.register(db, sims, "fe", SECRET)
    h.psql(db, "INSERT INTO frontends (key, secret) VALUES ('other', '" .. OTHER_SECRET .. "')")
    h.psql(db, "UPDATE backends SET agent_ref = 'node-1'")
    node_tok = tokens.hs384(JWT, "node-1", "b3scale:node")
    d = h.daemon({ db = db, env = { B3SCALE_POLL_INTERVAL_MS = "60000",
      B3SCALE_API_JWT_SECRET = JWT, B3SCALE_RECORDINGS_DIR = root,
      B3SCALE_RECORDINGS_PLAYBACK_URL = PLAYBACK, B3SCALE_RECORDINGS_SWEEP_MS = "1000" } })
  end)

  teardown(function()
    h.stop(d)
    h.cleanup()
  end)

  it("stores a WebVTT and an SRT track, lists them and writes them into the presentation tree", function()
    local id = tar.record_id()
    -- the node's tree brings live captions of its own
    import(id, "fe~room-1", nil, { { name = "presentation/" .. id .. "/caption_de.vtt",
      data = "WEBVTT\n" } })
    local out = put({ recordID = id, kind = "subtitles", lang = "en", label = "English" })
    assert.same({ response = { returncode = "SUCCESS", messageKey = "upload_text_track_success",
      message = "Text track uploaded successfully", recordId = id } }, out)
    -- SRT, a lang written with '_', a label that is not ASCII, a file of another name
    local body, ctype = multipart.track(SRT, "track.srt")
    out = put({ recordID = id, kind = "captions", lang = "pt_BR", label = "Português" },
      { body = body, ctype = ctype })
    assert.equal("SUCCESS", out.response.returncode, cjson.encode(out))
    out = tracks(id)
    local base = PLAYBACK .. "/presentation/" .. id .. "/caption_"
    assert.same({ response = { returncode = "SUCCESS", tracks = {
      { href = base .. "en.vtt", kind = "subtitles", label = "English", lang = "en", source = "upload" },
      { href = base .. "pt-BR.vtt", kind = "captions", label = "Português", lang = "pt-BR", source = "upload" },
    } } }, out)
    local dir = tree(id)
    assert.truthy(h.wait_until(function()
      return h.exists(dir .. "/caption_pt-BR.vtt") and h.exists(dir .. "/caption_en.vtt")
    end, 10))
    settled(id)
    assert.equal("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nHello <b>world</b>\n",
      h.read_file(dir .. "/caption_en.vtt"))
    assert.equal(SRT_AS_VTT, h.read_file(dir .. "/caption_pt-BR.vtt"))
    assert.same({ { locale = "de", localeName = "de" }, { locale = "en", localeName = "English" },
      { locale = "pt-BR", localeName = "Português" } }, cjson.decode(h.read_file(dir .. "/captions.json")))
    assert.equal("2", h.psql(db, "SELECT count(*) FROM recording_tracks WHERE written"))
    -- a new upload replaces the track and its file
    body, ctype = multipart.build({ { name = "file", data = "WEBVTT\n\n00:00:02.000 --> 00:00:03.000\nNew\n" } })
    out = put({ recordID = id, kind = "subtitles", lang = "en", label = "English (new)" },
      { body = body, ctype = ctype })
    assert.equal("SUCCESS", out.response.returncode)
    assert.truthy(h.wait_until(function()
      return (h.read_file(dir .. "/caption_en.vtt") or ""):find("New", 1, true) ~= nil
    end, 10))
    settled(id)
    assert.equal("English (new)", cjson.decode(h.read_file(dir .. "/captions.json"))[2].localeName)
    assert.equal(2, #tracks(id).response.tracks)
  end)

  it("takes a track larger than B3SCALE_MAX_SMALL_BODY and refuses one over 2 MiB", function()
    local id = tar.record_id()
    import(id, "fe~room-big")
    local cues = {}
    for i = 1, 3000 do
      cues[#cues + 1] = string.format("00:%02d:%02d.000 --> 00:%02d:%02d.500\nLine number %d of a long lecture",
        math.floor(i / 60) % 60, i % 60, math.floor(i / 60) % 60, i % 60, i)
    end
    local big = "WEBVTT\n\n" .. table.concat(cues, "\n\n") .. "\n"
    assert.truthy(#big > 65536)
    local body, ctype = multipart.track(big)
    local out = put({ recordID = id, kind = "subtitles", lang = "en" }, { body = body, ctype = ctype })
    assert.equal("SUCCESS", out.response.returncode, cjson.encode(out))
    body, ctype = multipart.track("WEBVTT\n\n" .. string.rep("x", 2 * 1024 * 1024))
    out = put({ recordID = id, kind = "subtitles", lang = "fr" }, { body = body, ctype = ctype })
    assert.equal("upload_text_track_failed", out.response.messageKey, cjson.encode(out))
    assert.equal("The text track is larger than 2 MiB.", out.response.message)
    assert.equal(1, track_rows(id))
  end)

  it("answers every error with BBB's JSON and stores nothing", function()
    local id = tar.record_id()
    import(id, "fe~room-err")
    local function fails(key, out, msg)
      assert.equal("FAILED", out.response.returncode, cjson.encode(out))
      assert.equal(key, out.response.messageKey, cjson.encode(out))
      if msg then assert.equal(msg, out.response.message) end
    end
    fails("paramError", put({ kind = "subtitles", lang = "en" }), "Missing param recordID.")
    fails("paramError", put({ recordID = id, lang = "en" }), "Missing param kind.")
    fails("paramError", put({ recordID = id, kind = "captions" }), "Missing param lang.")
    fails("paramError", put({}, { raw = "recordID=" .. id .. "&kind=captions&lang=en" }),
      "Missing param checksum.")
    fails("checksumError", put({}, { raw = "recordID=" .. id .. "&kind=captions&lang=en&checksum="
      .. string.rep("0", 40) }))
    fails("invalidKind", put({ recordID = id, kind = "chapters", lang = "en" }))
    for _, lang in ipairs({ "e", "en/../../x", "../etc", "en-", "toolonglanguage", "1a", "en%00" }) do
      fails("invalidLang", put({ recordID = id, kind = "captions", lang = lang }))
    end
    fails("noRecordings", put({ recordID = tar.record_id(), kind = "captions", lang = "en" }))
    fails("noRecordings", put({ recordID = "../" .. id, kind = "captions", lang = "en" }))
    local empty = { response = { returncode = "FAILED", messageKey = "empty_uploaded_text_track",
      message = "Empty uploaded text track." } }
    assert.same(empty, put({ recordID = id, kind = "captions", lang = "en" }, { body = "" }))
    local body, ctype = multipart.track("")
    assert.same(empty, put({ recordID = id, kind = "captions", lang = "en" }, { body = body, ctype = ctype }))
    body, ctype = multipart.build({ { name = "other", data = VTT } })
    assert.same(empty, put({ recordID = id, kind = "captions", lang = "en" }, { body = body, ctype = ctype }))
    for _, bad in ipairs({ "just some words", "1\n00:00:01,000 -> 00:00:02,000\nx\n",
      "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\nnot a time\n", "WEBVTT\n\xff\xfe broken UTF-8\n" }) do
      body, ctype = multipart.track(bad)
      local out = put({ recordID = id, kind = "captions", lang = "en" }, { body = body, ctype = ctype })
      assert.same({ response = { returncode = "FAILED", messageKey = "upload_text_track_failed",
        message = "The text track is neither WebVTT nor SRT (UTF-8).", recordId = id } }, out)
    end
    -- a body cut before its closing boundary
    body, ctype = multipart.track(VTT)
    fails("upload_text_track_failed", put({ recordID = id, kind = "captions", lang = "en" },
      { body = body:sub(1, #body - 40), ctype = ctype }), "The request body is not valid multipart/form-data.")
    assert.equal(0, track_rows(id))
    -- getRecordingTextTracks
    assert.same({ response = { returncode = "FAILED", messageKey = "missingParamRecordID",
      message = "You must specify a recordID." } }, tracks(nil))
    local unknown = tar.record_id()
    assert.same({ response = { returncode = "FAILED", messageKey = "noRecordings",
      message = "No recordings for " .. unknown } }, tracks(unknown))
    assert.same({ response = { returncode = "FAILED", messageKey = "noCaptionsFound",
      message = "No captions found for " .. id } }, tracks(id))
  end)

  it("never shows or touches another frontend's recording", function()
    local id = tar.record_id()
    import(id, "fe~room-mine")
    assert.equal("SUCCESS", put({ recordID = id, kind = "subtitles", lang = "en" }).response.returncode)
    settled(id)
    local before = h.read_file(tree(id) .. "/caption_en.vtt")
    local body, ctype = multipart.track("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nnot yours\n")
    local out = put({ recordID = id, kind = "subtitles", lang = "en" },
      { body = body, ctype = ctype, key = "other", secret = OTHER_SECRET })
    assert.same({ response = { returncode = "FAILED", messageKey = "noRecordings",
      message = "No recordings for " .. id } }, out)
    out = put({ recordID = id, kind = "captions", lang = "fr" },
      { body = body, ctype = ctype, key = "other", secret = OTHER_SECRET })
    assert.equal("noRecordings", out.response.messageKey)
    assert.equal(1, track_rows(id))
    assert.equal("false", h.psql(db, "SELECT pending::text FROM recordings WHERE record_id = '" .. id .. "'"))
    assert.equal(before, h.read_file(tree(id) .. "/caption_en.vtt"))
    assert.same({ response = { returncode = "FAILED", messageKey = "noRecordings",
      message = "No recordings for " .. id } }, tracks(id, "other", OTHER_SECRET))
  end)

  it("moves a track with its tree on unpublish and publish, and removes it with the recording", function()
    local id = tar.record_id()
    import(id, "fe~room-move")
    local call = function(name, q)
      local st, body = h.get(h.api_url(h.frontend_api(d, "fe"), name, q, SECRET))
      assert.equal(200, st)
      assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    end
    call("publishRecordings", "publish=false&recordID=" .. id)
    settled(id)
    -- an unpublished recording takes a track too: into its unpublished tree
    assert.equal("SUCCESS", put({ recordID = id, kind = "captions", lang = "nl", label = "Nederlands" })
      .response.returncode)
    assert.truthy(h.wait_until(function()
      return h.exists(tree(id, "unpublished") .. "/caption_nl.vtt")
    end, 10))
    call("publishRecordings", "publish=true&recordID=" .. id)
    assert.truthy(h.wait_until(function()
      return h.exists(tree(id) .. "/caption_nl.vtt") and h.exists(tree(id) .. "/captions.json")
    end, 10))
    assert.is_false(h.exists(tree(id, "unpublished")))
    assert.equal(1, #tracks(id).response.tracks)
    -- a re-import replaces the tree: the track is written into the new one
    import(id, "fe~room-move")
    settled(id)
    assert.truthy(h.wait_until(function() return h.exists(tree(id) .. "/caption_nl.vtt") end, 10))
    assert.same({ { locale = "nl", localeName = "Nederlands" } },
      cjson.decode(h.read_file(tree(id) .. "/captions.json")))
    call("deleteRecordings", "recordID=" .. id)
    assert.truthy(h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM recordings WHERE record_id = '" .. id .. "'") == "0"
    end, 10))
    assert.equal("0", h.psql(db, "SELECT count(*) FROM recording_tracks t WHERE NOT EXISTS"
      .. " (SELECT 1 FROM recordings r WHERE r.id = t.recording_id)"))
    assert.is_false(h.exists(tree(id)))
    assert.equal("noRecordings", tracks(id).response.messageKey)
  end)

  it("keeps the track of a recording without a presentation format in the database only", function()
    local id = tar.record_id()
    import(id, "fe~room-video", "video")
    assert.equal("SUCCESS", put({ recordID = id, kind = "subtitles", lang = "en" }).response.returncode)
    settled(id)
    assert.equal("false", h.psql(db, "SELECT bool_or(written)::text FROM recording_tracks t JOIN"
      .. " recordings r ON r.id = t.recording_id WHERE r.record_id = '" .. id .. "'"))
    assert.is_false(h.exists(tree(id, "published", "video") .. "/caption_en.vtt"))
    assert.is_false(h.exists(tree(id)))
    assert.equal(PLAYBACK .. "/presentation/" .. id .. "/caption_en.vtt", tracks(id).response.tracks[1].href)
  end)
end)
