-- Protected playback (docs/recordings.md): examples/nginx/recordings.conf under a real nginx
-- serves B3SCALE_RECORDINGS_DIR/published and asks b3scaled (auth_request) before every file
-- of a recording; a protected recording's files need the cookie its signed link sets.
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local tar = require("support.tar")
local multipart = require("support.multipart")
local cjson = require("cjson")

local SECRET = "play-fe-secret"
local JWT = "play-jwt-secret"

describe("recordings playback", function()
  local db, d, root, nginx, base, player, conf
  local node_tok

  local function import(id, meeting)
    local st, out = h.post(d.url .. "/api/v1/recordings/import", tar.build(tar.tree(id, meeting)),
      { ["content-type"] = "application/x-tar", authorization = "Bearer " .. node_tok })
    assert.equal(200, st, out)
  end

  local function recording_url(key, id)
    local st, body = h.get(h.api_url(h.frontend_api(d, key), "getRecordings", "recordID=" .. id, SECRET))
    assert.equal(200, st)
    return (h.xml_text(body, "url"):gsub("&amp;", "&"))
  end

  local function file(id, cookie)
    return h.get(base .. "/presentation/" .. id .. "/shapes.svg", cookie and { cookie = cookie } or nil)
  end

  setup(function()
    local tmp = h.tmpdir()
    root = tmp .. "/recordings"
    player = tmp .. "/player/"
    os.execute("mkdir -p '" .. player .. "'")
    h.write_file(player .. "index.html", "<html>player</html>")
    db = h.new_db("play")
    h.migrate(db)
    local sims = { h.bbbsim({ name = "play1" }) }
    cluster.register(db, sims, "open", SECRET)
    h.psql(db, "INSERT INTO frontends (key, secret, settings) VALUES ('closed', '" .. SECRET
      .. [[', '{"recordings":{"visibility":"protected"}}')]])
    h.psql(db, "UPDATE backends SET agent_ref = 'node-1'")
    node_tok = tokens.hs384(JWT, "node-1", "b3scale:node")
    local nport, dport = h.free_port(), h.free_port()
    base = "http://127.0.0.1:" .. nport
    d = h.daemon({ db = db, port = dport, env = { B3SCALE_POLL_INTERVAL_MS = "60000",
      B3SCALE_API_JWT_SECRET = JWT, B3SCALE_RECORDINGS_DIR = root,
      B3SCALE_RECORDINGS_PLAYBACK_URL = base } })
    -- the shipped example, pointed at this test's ports and directories
    local site = assert(h.read_file("examples/nginx/recordings.conf"))
      :gsub("127%.0%.0%.1:42353", "127.0.0.1:" .. dport)
      :gsub("listen 80;", "listen 127.0.0.1:" .. nport .. ";")
      :gsub("/var/lib/b3scale/recordings/published", root .. "/published")
      :gsub("/var/bigbluebutton/playback/presentation/2%.3/", player)
    h.write_file(tmp .. "/recordings.conf", site)
    conf = tmp .. "/nginx.conf"
    h.write_file(conf, table.concat({
      (os.getenv("USER") == "root" or io.popen("id -u"):read("*l") == "0") and "user root;" or "",
      "worker_processes 1; daemon off; pid " .. tmp .. "/nginx.pid;",
      "error_log " .. tmp .. "/nginx-error.log;",
      "events { worker_connections 64; }",
      "http { access_log off;",
      " client_body_temp_path " .. tmp .. "; proxy_temp_path " .. tmp .. ";",
      " fastcgi_temp_path " .. tmp .. "; uwsgi_temp_path " .. tmp .. "; scgi_temp_path " .. tmp .. ";",
      " include " .. tmp .. "/recordings.conf; }" }, "\n"))
    nginx = h.spawn({ "nginx", "-c", conf, "-p", tmp })
    h.wait_http(base .. "/", 10, nginx)
  end)

  teardown(function()
    h.stop(nginx)
    h.stop(d)
    h.cleanup()
  end)

  it("ships an nginx config that nginx -t accepts", function()
    local code, out = h.run({ "nginx", "-t", "-c", conf, "-p", h.tmpdir() })
    assert.equal(0, code, out)
  end)

  it("serves a published recording's files and player without a cookie", function()
    local id = tar.record_id()
    import(id, "open~room")
    local url = recording_url("open", id)
    assert.equal(base .. "/playback/presentation/2.3/" .. id, url)
    local st, body = h.get(url)
    assert.equal(200, st)
    assert.equal("<html>player</html>", body)
    st, body = file(id)
    assert.equal(200, st)
    assert.equal("<svg>" .. id .. "</svg>", body)
  end)

  it("needs the link's cookie for a protected recording, and the cookie opens only that one", function()
    local id, other = tar.record_id(), tar.record_id()
    import(id, "closed~room")
    import(other, "closed~room-2")
    assert.equal(403, (file(id)))
    assert.equal(403, (h.get(base .. "/playback/presentation/2.3/" .. id)))
    local link = recording_url("closed", id)
    assert.truthy(link:find(base .. "/api/v1/recordings/play/", 1, true), link)
    local st, _, hdrs = h.get(link)
    assert.equal(302, st)
    assert.equal(base .. "/playback/presentation/2.3/" .. id, hdrs.location)
    local set = hdrs["set-cookie"]
    assert.matches("^b3s_rec_" .. id:gsub("%-", "%%-") .. "=", set)
    assert.matches("HttpOnly", set)
    assert.matches("Max%-Age=28800", set)
    local cookie = set:match("^([^;]+)")
    local body
    st, body = file(id, cookie)
    assert.equal(200, st)
    assert.equal("<svg>" .. id .. "</svg>", body)
    assert.equal(200, (h.get(base .. "/playback/presentation/2.3/" .. id, { cookie = "a=b; " .. cookie })))
    -- the same cookie value does not open the other recording
    assert.equal(403, (file(other, cookie:gsub(id, other))))
    assert.equal(403, (file(other, cookie)))
  end)

  it("serves a protected recording's text track at its href to the cookie holder only", function()
    local id = tar.record_id()
    import(id, "closed~room-tracks")
    local vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n"
    local body, ctype = multipart.track(vtt)
    local st, out = h.post(h.api_url(h.frontend_api(d, "closed"), "putRecordingTextTrack",
      "recordID=" .. id .. "&kind=subtitles&lang=en", SECRET), body, { ["content-type"] = ctype })
    assert.equal(200, st)
    assert.equal("SUCCESS", cjson.decode(out).response.returncode, out)
    st, out = h.get(h.api_url(h.frontend_api(d, "closed"), "getRecordingTextTracks", "recordID=" .. id, SECRET))
    local href = cjson.decode(out).response.tracks[1].href
    assert.equal(base .. "/presentation/" .. id .. "/caption_en.vtt", href)
    assert.truthy(h.wait_until(function()
      return h.read_file(root .. "/published/presentation/" .. id .. "/caption_en.vtt") ~= nil
    end, 10))
    assert.equal(403, (h.get(href)))
    local _, _, hdrs = h.get(recording_url("closed", id))
    st, out = h.get(href, { cookie = hdrs["set-cookie"]:match("^([^;]+)") })
    assert.equal(200, st)
    assert.equal(vtt, out)
  end)

  it("refuses a tampered or foreign link and a forged cookie", function()
    local id = tar.record_id()
    import(id, "closed~room-3")
    local link = recording_url("closed", id)
    local exp = link:match("~(%d+)~")
    assert.equal(403, (h.get((link:gsub("~" .. exp .. "~", "~" .. (exp + 86400) .. "~")))))
    assert.equal(403, (h.get((link:gsub("presentation", "video")))))
    assert.equal(403, (h.get(base .. "/api/v1/recordings/play/" .. id .. "~presentation~9999999999~" .. string.rep("0", 32))))
    assert.equal(403, (file(id, "b3s_rec_" .. id .. "=9999999999~" .. string.rep("a", 32))))
  end)

  it("answers auth for nginx: player assets pass, unknown and unpublished recordings do not", function()
    local function auth(uri, cookie)
      return (h.get(d.url .. "/api/v1/recordings/auth", { ["x-original-uri"] = uri, cookie = cookie }))
    end
    assert.equal(200, auth("/playback/presentation/2.3/static/js/main.js"))
    assert.equal(403, auth("/presentation/" .. tar.record_id() .. "/shapes.svg"))
    assert.equal(403, (h.get(d.url .. "/api/v1/recordings/auth")))
    local id = tar.record_id()
    import(id, "open~room-4")
    assert.equal(200, auth("/presentation/" .. id .. "/shapes.svg"))
    local st, body = h.get(h.api_url(h.frontend_api(d, "open"), "publishRecordings",
      "publish=false&recordID=" .. id, SECRET))
    assert.equal(200, st, body)
    assert.equal(403, auth("/presentation/" .. id .. "/shapes.svg"))
    assert.equal(405, (h.post(d.url .. "/api/v1/recordings/auth", "")))
  end)
end)
