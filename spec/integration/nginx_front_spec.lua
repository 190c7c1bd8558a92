-- The TLS front (examples/nginx/b3scale.conf, which includes examples/nginx/recordings.conf)
-- under a real nginx, in front of a real b3scaled and a simulated node. The shipped files are
-- used verbatim but for their placeholders (certificate, ports, paths), swapped by plain
-- string substitution; everything below goes through https as a frontend, an operator or a
-- Prometheus server would.
local h = require("helpers")
local cluster = require("support.cluster")
local tokens = require("support.tokens")
local tar = require("support.tar")
local logline = require("support.logline")
local socket = require("socket")
local cjson = require("cjson")

local HOST = "lb.example.org"
local KEY = "front"
local SECRET = "front-fe-secret-5c1e"
local JWT = "front-jwt-secret-77a0"


-- s with every occurrence of the literal `from` replaced by `to`; the placeholder must be
-- there, so a changed example fails here rather than running with production values
local function swap(s, from, to)
  local out, n = s:gsub(from:gsub("%p", "%%%0"), (to:gsub("%%", "%%%%")))
  assert(n > 0, "placeholder not found in the example: " .. from)
  return out
end


local function can_bind_v6()
  local probe = socket.tcp6()
  local ok = probe and probe:bind("::1", 0)
  if probe then probe:close() end
  return ok and true or false
end


describe("nginx TLS front", function()
  local dir, db, sim, d, nginx, conf, root
  local tport, hport
  local admin, hdr, out = nil, nil, nil

  -- one request through the front with curl; opts: method, headers (list of "Name: value"),
  -- file (request body), src (source address), plain (http on the :80 server).
  -- Returns status, body, headers (lower-case names).
  local function front(path, opts)
    opts = opts or {}
    local port = opts.plain and hport or tport
    local argv = { "curl", "-sS", "--max-time", "20", "--cacert", dir .. "/cert.pem",
      "--resolve", HOST .. ":" .. port .. ":127.0.0.1", "-D", hdr, "-o", out,
      "-w", "%{http_code}", "-H", "Expect:" }
    if opts.method then argv[#argv + 1] = "-X"; argv[#argv + 1] = opts.method end
    if opts.src then argv[#argv + 1] = "--interface"; argv[#argv + 1] = opts.src end
    if opts.file then argv[#argv + 1] = "--data-binary"; argv[#argv + 1] = "@" .. opts.file end
    for _, x in ipairs(opts.headers or {}) do argv[#argv + 1] = "-H"; argv[#argv + 1] = x end
    argv[#argv + 1] = (opts.plain and "http://" or "https://") .. HOST .. ":" .. port .. path
    local code, output = h.run(argv, nil, 30)
    assert.equal(0, code, output)
    local headers = {}
    for line in (h.read_file(hdr) or ""):gmatch("[^\r\n]+") do
      local k, v = line:match("^([^:]+):%s*(.*)$")
      if k then headers[k:lower()] = v end
    end
    return tonumber(output:match("(%d%d%d)%s*$")), h.read_file(out) or "", headers
  end

  local function bearer() return "Authorization: Bearer " .. admin end

  -- the access line b3scaled logged for an admin API path
  local function access(path)
    for line in (h.read_file(d.log) or ""):gmatch("[^\n]+") do
      local v = logline.parse(line)
      if v and v.api == "admin" and v.path == path then return v end
    end
  end

  setup(function()
    dir = h.tmpdir() .. "/front"
    root = dir .. "/recordings"
    local player = dir .. "/player/"
    assert(os.execute("mkdir -p '" .. player .. "' '" .. root .. "'") == 0)
    h.write_file(player .. "index.html", "<html>player</html>")
    hdr, out = dir .. "/curl.headers", dir .. "/curl.body"
    local code, o = h.run({ "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
      "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=" .. HOST,
      "-addext", "subjectAltName=DNS:" .. HOST, "-keyout", dir .. "/key.pem",
      "-out", dir .. "/cert.pem" })
    assert.equal(0, code, o)

    db = h.new_db("front")
    h.migrate(db)
    sim = h.bbbsim({ name = "front1" })
    cluster.register(db, { sim }, "seed", "seed-secret")
    local dport
    dport, tport, hport = h.free_port(), h.free_port(), h.free_port()
    -- what b3scale.conf's comments ask of b3scaled's environment
    d = h.daemon({ db = db, port = dport, env = {
      B3SCALE_TRUSTED_PROXIES = "127.0.0.1", B3SCALE_MAX_CONNECTIONS_PER_IP = "0",
      B3SCALE_API_JWT_SECRET = JWT, B3SCALE_POLL_INTERVAL_MS = "200",
      B3SCALE_RECORDINGS_DIR = root,
      B3SCALE_RECORDINGS_PLAYBACK_URL = "https://" .. HOST .. ":" .. tport } })
    admin = tokens.hs384(JWT, "ops", "b3scale:admin")

    local rec = assert(h.read_file("examples/nginx/recordings.conf"))
    rec = swap(rec, "127.0.0.1:42353", "127.0.0.1:" .. dport)
    -- both files' :80 servers share one port, told apart by name as in production
    rec = swap(rec, "listen 80;", "listen 127.0.0.1:" .. hport .. ";")
    rec = swap(rec, "/var/lib/b3scale/recordings/published", root .. "/published")
    rec = swap(rec, "/var/bigbluebutton/playback/presentation/2.3/", player)
    h.write_file(dir .. "/recordings.conf", rec)
    local v6 = can_bind_v6()
    local site = assert(h.read_file("examples/nginx/b3scale.conf"))
    site = swap(site, "/etc/nginx/snippets/b3scale-recordings.conf", dir .. "/recordings.conf")
    site = swap(site, "server 127.0.0.1:80;", "server 127.0.0.1:" .. hport .. ";")
    site = swap(site, "listen 80;", "listen 127.0.0.1:" .. hport .. ";")
    site = swap(site, "listen 443 ssl", "listen 127.0.0.1:" .. tport .. " ssl")
    site = swap(site, "listen [::]:80;", v6 and "listen [::1]:" .. hport .. ";" or "")
    site = swap(site, "listen [::]:443 ssl", v6 and "listen [::1]:" .. tport .. " ssl" or "#")
    site = swap(site, "/etc/ssl/certs/lb.example.org.fullchain.pem", dir .. "/cert.pem")
    site = swap(site, "/etc/ssl/private/lb.example.org.key", dir .. "/key.pem")
    assert.is_nil(site:find("listen %d+[ ;]"), "a production port is left")
    h.write_file(dir .. "/b3scale.conf", site)
    conf = dir .. "/nginx.conf"
    h.write_file(conf, table.concat({
      io.popen("id -u"):read("*l") == "0" and "user root;" or "",
      "worker_processes 1; daemon off; pid " .. dir .. "/nginx.pid;",
      "error_log " .. dir .. "/nginx-error.log;",
      "events { worker_connections 64; }",
      "http { access_log off;",
      " client_body_temp_path " .. dir .. "; proxy_temp_path " .. dir .. ";",
      " fastcgi_temp_path " .. dir .. "; uwsgi_temp_path " .. dir .. "; scgi_temp_path " .. dir .. ";",
      -- a distribution's default site, which takes whatever no server_name matches
      " server { listen 127.0.0.1:" .. hport .. " default_server; return 404; }",
      " include " .. dir .. "/b3scale.conf; }" }, "\n"))
    local tcode, tout = h.run({ "nginx", "-t", "-c", conf, "-p", dir })
    assert.equal(0, tcode, tout)
    nginx = h.spawn({ "nginx", "-c", conf, "-p", dir })
    h.wait_http("http://127.0.0.1:" .. hport .. "/", 10, nginx, 404)
    cluster.settled(d, db)

    -- the frontend of these tests, made through the front
    local body = dir .. "/frontend.json"
    h.write_file(body, cjson.encode({ bbb = { key = KEY, secret = SECRET } }))
    local st, reply = front("/api/v1/frontends", { method = "POST", file = body,
      headers = { bearer(), "Content-Type: application/json" } })
    assert.equal(201, st, reply)
  end)

  teardown(function()
    h.stop(nginx)
    h.stop(d)
    h.cleanup()
  end)

  local function api_path(call, query)
    return "/bbb/" .. KEY .. "/bigbluebutton/api/" .. call .. "?" .. h.sign(call, query, SECRET)
  end

  it("is accepted by nginx -t without warnings (the http2 listen parameter aside)", function()
    local code, o = h.run({ "nginx", "-t", "-c", conf, "-p", dir })
    assert.equal(0, code, o)
    for line in o:gmatch("[^\n]+") do
      if line:find("[warn]", 1, true) then assert.truthy(line:find("http2", 1, true), o) end
    end
  end)

  it("redirects http to https, path and query kept", function()
    local st, _, hd = front("/bbb/" .. KEY .. "/bigbluebutton/api/getMeetings?a=b", { plain = true })
    assert.equal(301, st)
    assert.equal("https://" .. HOST .. "/bbb/" .. KEY .. "/bigbluebutton/api/getMeetings?a=b", hd.location)
  end)

  it("serves its certificate with HSTS, and the health probes", function()
    -- curl checked the certificate against the one made in setup (--cacert)
    local st, body, hd = front("/healthz")
    assert.equal(200, st)
    assert.matches("^ok", body)
    assert.matches("max%-age=%d+", hd["strict-transport-security"])
    st, body = front("/readyz")
    assert.equal(200, st, body)
    assert.is_true(cjson.decode(body).ready)
    st, body, hd = front("/status")
    assert.equal(200, st)
    assert.matches("^text/html", hd["content-type"])
  end)

  it("answers the admin API", function()
    local st, body = front("/api/v1/frontends", { headers = { bearer() } })
    assert.equal(200, st, body)
    local keys = {}
    for _, f in ipairs(cjson.decode(body)) do keys[f.bbb.key] = true end
    assert.is_true(keys[KEY])
    st, body = front("/api/v1/frontends")
    assert.equal(401, st)
    assert.equal("unauthorized", cjson.decode(body).error)
  end)

  it("passes a signed create (with slides over nginx's default body limit) and a join", function()
    local docs = {}
    for i = 1, 1500 do
      docs[#docs + 1] = string.format('<document url="https://example.org/s/%05d.pdf" filename="%05d.pdf"/>', i, i)
    end
    local xml = dir .. "/slides.xml"
    h.write_file(xml, '<modules><module name="presentation">' .. table.concat(docs) .. "</module></modules>")
    local st, body = front(api_path("create", "name=Front&meetingID=front-room"), { method = "POST",
      file = xml, headers = { "Content-Type: application/xml" } })
    assert.equal(200, st, body)
    assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
    assert.equal(sim, cluster.holder({ sim }, KEY, "front-room"))
    local on
    for _, m in ipairs(h.sim_get(sim, "/sim/meetings")) do
      if m.meetingID == KEY .. "~front-room" then on = m end
    end
    assert.is_true(on.has_body)

    local hd
    st, body, hd = front(api_path("join", "fullName=Ann&meetingID=front-room&role=VIEWER"))
    assert.equal(302, st, body)
    local q = hd.location:match("^" .. sim.url:gsub("%p", "%%%0") .. "join%?(.*)$")
    assert.truthy(q, hd.location)
    local signed, sum = q:match("^(.*)&checksum=(%x+)$")
    assert.equal(h.sha("sha256", "join" .. signed .. sim.secret), sum)
  end)

  it("shows /metrics to the allowed networks only", function()
    local st, body = front("/metrics")
    assert.equal(200, st)
    assert.truthy(body:find("\nb3scale_build_info{", 1, true), body)
    -- 127.0.0.2 is loopback too, but not on the allow list
    st = front("/metrics", { src = "127.0.0.2" })
    assert.equal(403, st)
  end)

  it("makes b3scaled see the address nginx saw, never one the client forwarded", function()
    -- the client's own address reaches b3scaled through nginx's X-Forwarded-For
    local st = front("/api/v1/frontends/from-elsewhere", { src = "127.0.0.2",
      headers = { bearer(), "X-Forwarded-For: 203.0.113.7" } })
    assert.truthy(st)
    local line = h.wait_until(function() return access("/api/v1/frontends/from-elsewhere") end, 5)
    assert.truthy(line, "no access line")
    assert.equal("127.0.0.2", line.client)
    -- a client on a trusted address: an appended header would have made the forged entry
    -- the first untrusted one from the right
    front("/api/v1/frontends/from-proxy-host", { headers = { bearer(), "X-Forwarded-For: 203.0.113.8" } })
    line = h.wait_until(function() return access("/api/v1/frontends/from-proxy-host") end, 5)
    assert.truthy(line, "no access line")
    assert.equal("127.0.0.1", line.client)
    local log = h.read_file(d.log)
    assert.is_nil(log:find("203.0.113.7", 1, true))
    assert.is_nil(log:find("203.0.113.8", 1, true))
  end)

  it("takes a recording import over the API's body limit and plays it back through recordings.conf", function()
    local id = tar.record_id()
    local upload = dir .. "/import.tar"
    -- larger than /api/v1/'s 8 MB: the import has a location of its own
    local big = { name = "presentation/" .. id .. "/video/webcams-2.webm", data = string.rep("v", 9 * 1024 * 1024) }
    h.write_file(upload, tar.build(tar.join(tar.tree(id, KEY .. "~rec-room"), { big })))
    local st, body = front("/api/v1/recordings/import", { method = "POST", file = upload,
      headers = { bearer(), "Content-Type: application/x-tar" } })
    assert.equal(200, st, body)
    st, body = front(api_path("getRecordings", "recordID=" .. id))
    assert.equal(200, st)
    local url = h.xml_text(body, "url")
    local base = "https://" .. HOST .. ":" .. tport
    assert.equal(base .. "/playback/presentation/2.3/" .. id, url)
    st, body = front(url:sub(#base + 1))
    assert.equal(200, st)
    assert.equal("<html>player</html>", body)
    st, body = front("/presentation/" .. id .. "/shapes.svg")
    assert.equal(200, st)
    assert.equal("<svg>" .. id .. "</svg>", body)
    st, body = front("/presentation/" .. id .. "/video/webcams-2.webm")
    assert.equal(200, st)
    assert.equal(big.data, body)
    -- b3scaled answered the auth_request: a recording it does not know is refused
    st = front("/presentation/" .. tar.record_id() .. "/shapes.svg")
    assert.equal(403, st)
  end)
end)
