-- The callback outbox and its delivery (docs/callbacks.md, "Delivery"): rows are added
-- through db_callbacks_add (libb3scale.so over FFI, exactly as producers add them) and the
-- real b3scaled delivers them to a real HTTP receiver (spec/support/receiver.lua) that
-- answers each path by a script. Retries are fast here (B3SCALE_CALLBACK_RETRY_MS=100).
local h = require("helpers")
local ffi = require("ffi")
local receiver = require("support.receiver")
local ctl = require("support.ctl")
local tokens = require("support.tokens")
local cjson = require("cjson")

local JWT = "cb-outbox-jwt-secret"
local EIO, EINVAL = -5, -22

pcall(ffi.cdef, [[
struct db_callback {
  const char *frontend_id, *kind, *event_id, *url, *method, *content_type, *headers_json;
  const char *body;
  size_t body_len;
};]])
pcall(ffi.cdef, "int db_callbacks_add(void *db, const struct db_callback *cb, char *err, size_t errlen);")
pcall(ffi.cdef, "int db_open_timeout(void *db, const char *url, long timeout_ms, char *err, size_t errlen);")
pcall(ffi.cdef, "void db_close(void *db);")
pcall(ffi.cdef, "int log_setup(const char *level, const char *format);")

local C

-- The producers' API on database url: add{...} -> rc, err; close().
local function producer(url)
  if not C then
    C = ffi.load(h.BUILD .. "/libb3scale.so")
    C.log_setup("error", "text")
  end
  local conn, err = ffi.new("char[4096]"), ffi.new("char[512]")
  assert.equal(0, C.db_open_timeout(conn, url, 5000, err, 512), ffi.string(err))
  local p = {}
  function p.add(cb)
    local c = ffi.new("struct db_callback")
    c.frontend_id, c.kind, c.event_id, c.url = cb.frontend_id, cb.kind or "webhook",
      cb.event_id, cb.url
    c.method, c.content_type, c.headers_json = cb.method or "POST", cb.content_type,
      cb.headers and cjson.encode(cb.headers) or cb.headers_json
    c.body, c.body_len = cb.body, cb.body and #cb.body or 0
    err[0] = 0
    local rc = C.db_callbacks_add(conn, c, err, 512)
    return rc, ffi.string(err)
  end
  function p.close() C.db_close(conn) end
  return p
end

local function daemon(db, env)
  local e = { B3SCALE_CALLBACK_RETRY_MS = "100", B3SCALE_CALLBACK_TIMEOUT_MS = "1000",
    B3SCALE_API_JWT_SECRET = JWT, B3SCALE_POLL_WORKERS = "0" }
  for k, v in pairs(env or {}) do e[k] = v end
  return h.daemon({ db = db, env = e })
end

-- A migrated database, a receiver answering by plan, a daemon with env, the producers' API.
local function world(name, plan, env)
  local w = { rcv = receiver.start({ plan = plan }), db = h.new_db(name) }
  h.migrate(w.db)
  w.d = daemon(w.db, env)
  w.out = producer(w.db)
  return w
end

local function world_end(out, d, rcv)
  if out then out.close() end
  h.stop(d)
  receiver.stop(rcv)
  h.cleanup()
end

-- { state, attempts, last_status, last_error } of the row of event ev
local function row(db, ev)
  local out = h.psql(db, "SELECT state || '|' || attempts || '|' || coalesce(last_status::text, '')"
    .. " || '|' || coalesce(last_error, '') FROM callbacks WHERE event_id = '" .. ev .. "'")
  local state, attempts, status, err = out:match("^([^|]*)|([^|]*)|([^|]*)|(.*)$")
  return { state = state, attempts = tonumber(attempts), last_status = tonumber(status),
    last_error = err }
end

local function wait_state(db, ev, state, timeout)
  local r
  assert.truthy(h.wait_until(function()
    r = row(db, ev)
    return r.state == state
  end, timeout or 10, 0.05), ev .. " did not become " .. state .. " (last: "
    .. cjson.encode(r or {}) .. ")")
  return r
end

local function counter(d, outcome)
  local st, body = h.get(d.url .. "/metrics")
  assert.equal(200, st)
  return tonumber(body:match('\nb3scale_callbacks_total{outcome="' .. outcome .. '"} (%d+)'))
end


describe("callback delivery", function()
  local db, d, rcv, out, fe_id
  local runner = ctl.new(JWT)

  setup(function()
    local w = world("cb_outbox", {
      ["/flaky"] = { "500", "500", "200" }, ["/gone"] = { "404" }, ["/gone410"] = { "410" },
      ["/moved"] = { "302", "200" }, ["/slow"] = { "hang", "200" }, ["/huge"] = { "huge" },
      ["/stubborn"] = { "503" },
    }, { B3SCALE_CALLBACK_ALLOWED_NETWORKS = "127.0.0.0/8" })
    db, d, rcv, out = w.db, w.d, w.rcv, w.out
    fe_id = h.psql(db, "INSERT INTO frontends (key, secret, account_ref) VALUES ('fe', 's', 'acme')"
      .. " RETURNING id")
    h.psql(db, "INSERT INTO frontends (key, secret, account_ref) VALUES ('other', 's', 'zeta')")
    runner.url = d.url
  end)

  teardown(function() world_end(out, d, rcv) end)

  it("delivers once, with the method, body and headers the producer stored", function()
    local body = "signed_parameters=abc%20def&x=\0\1\255 é"
    assert.same({ 0, "" }, { out.add({ frontend_id = fe_id, kind = "recording-ready",
      event_id = "ev-post", url = rcv.url .. "/post", content_type = "application/x-www-form-urlencoded",
      headers = { Authorization = "Bearer tok-1", ["X-B3scale-Signature"] = "sig-1" }, body = body }) })
    assert.equal(0, (out.add({ frontend_id = fe_id, kind = "meeting-ended", event_id = "ev-get",
      method = "GET", url = rcv.url .. "/get?meetingID=room-1&secret=s3cr3t" })))
    wait_state(db, "ev-post", "delivered")
    local r = wait_state(db, "ev-get", "delivered")
    assert.equal(1, r.attempts)
    assert.equal(200, r.last_status)
    -- the same event again adds nothing and sends nothing
    assert.equal(1, (out.add({ kind = "recording-ready", event_id = "ev-post", url = rcv.url .. "/post" })))
    h.sleep(0.5)
    local posts = receiver.requests(rcv, "/post")
    assert.equal(1, #posts)
    local p = posts[1]
    assert.equal("POST", p.method)
    assert.equal(body, p.body)
    assert.equal("application/x-www-form-urlencoded", p.headers["content-type"])
    assert.equal("Bearer tok-1", p.headers.authorization)
    assert.equal("sig-1", p.headers["x-b3scale-signature"])
    assert.equal("b3scaled", p.headers["user-agent"])
    local gets = receiver.requests(rcv, "/get")
    assert.equal(1, #gets)
    assert.equal("GET", gets[1].method)
    assert.equal("meetingID=room-1&secret=s3cr3t", gets[1].query)
    assert.equal("", gets[1].body)
    assert.equal("delivered", h.psql(db, "SELECT state FROM callbacks WHERE delivered_at IS NOT NULL"
      .. " AND event_id = 'ev-get'"))
  end)

  it("retries a 500 with growing waits and delivers on the 200", function()
    out.add({ event_id = "ev-flaky", url = rcv.url .. "/flaky", body = "x" })
    local r = wait_state(db, "ev-flaky", "delivered")
    assert.equal(3, r.attempts)
    local reqs = receiver.requests(rcv, "/flaky")
    assert.equal(3, #reqs)
    -- the first wait is 50-100 ms, the second 100-200 ms (half of each is random)
    assert.truthy(reqs[2].t - reqs[1].t >= 0.045, "no backoff before the first retry")
    assert.truthy(reqs[3].t - reqs[2].t >= 0.095, "the wait did not grow")
  end)

  it("gives up at once on 404 and 410", function()
    out.add({ event_id = "ev-404", url = rcv.url .. "/gone" })
    out.add({ event_id = "ev-410", url = rcv.url .. "/gone410" })
    local r = wait_state(db, "ev-404", "failed")
    assert.same({ 1, 404, "HTTP 404" }, { r.attempts, r.last_status, r.last_error })
    r = wait_state(db, "ev-410", "failed")
    assert.equal(410, r.last_status)
    h.sleep(0.5)
    assert.equal(1, #receiver.requests(rcv, "/gone"))
    assert.equal(1, #receiver.requests(rcv, "/gone410"))
  end)

  it("does not follow a redirect: a 3xx is a failed attempt", function()
    out.add({ event_id = "ev-302", url = rcv.url .. "/moved" })
    local r = wait_state(db, "ev-302", "delivered")
    assert.equal(2, r.attempts)
    assert.equal(2, #receiver.requests(rcv, "/moved"))
    assert.equal(0, #receiver.requests(rcv, "/redirected"))
  end)

  it("times out a receiver that never answers and retries", function()
    out.add({ event_id = "ev-hang", url = rcv.url .. "/slow" })
    local r = wait_state(db, "ev-hang", "delivered")
    assert.equal(2, r.attempts)
    local reqs = receiver.requests(rcv, "/slow")
    assert.equal(2, #reqs)
    assert.truthy(reqs[2].t - reqs[1].t >= 0.95, "retried before B3SCALE_CALLBACK_TIMEOUT_MS")
  end)

  it("reads at most 64 KiB of an answer", function()
    out.add({ event_id = "ev-huge", url = rcv.url .. "/huge" })
    wait_state(db, "ev-huge", "delivered")
    local reqs
    assert.truthy(h.wait_until(function()
      reqs = receiver.requests(rcv, "/huge")
      return #reqs == 1 and reqs[1].sent
    end, 10))
    -- 64 MiB were offered; only what the kernel buffers took went out after the cut
    assert.truthy(reqs[1].sent < 16 * 1024 * 1024, "sent " .. reqs[1].sent)
  end)

  it("fails a callback still failing after B3SCALE_CALLBACK_MAX_AGE_S", function()
    out.add({ event_id = "ev-old", url = rcv.url .. "/stubborn" })
    assert.truthy(h.wait_until(function() return row(db, "ev-old").attempts >= 2 end, 10))
    assert.equal("pending", row(db, "ev-old").state)
    h.psql(db, "UPDATE callbacks SET created_at = now() - interval '2 days' WHERE event_id = 'ev-old'")
    local r = wait_state(db, "ev-old", "failed")
    assert.matches("^gave up after %d+ attempts: HTTP 503$", r.last_error)
  end)

  it("refuses rows the outbox cannot send, at enqueue", function()
    local function add(cb)
      cb.event_id = cb.event_id or ("bad-" .. h.random_hex(4))
      if cb.url == false then
        cb.url = nil
      else
        cb.url = cb.url or rcv.url .. "/never"
      end
      return (out.add(cb))
    end
    assert.equal(EIO, add({ url = "ftp://127.0.0.1/x" }))
    assert.equal(EIO, add({ method = "PUT" }))
    assert.equal(EIO, add({ headers = { Host = "internal" } }))
    assert.equal(EIO, add({ headers = { ["X-A"] = "v\r\nX-Injected: 1" } }))
    assert.equal(EIO, add({ headers_json = "[1]" }))
    assert.equal(EIO, add({ frontend_id = "not-a-uuid" }))
    assert.equal(EINVAL, add({ url = false }))
    assert.equal("0", h.psql(db, "SELECT count(*) FROM callbacks WHERE event_id LIKE 'bad-%'"))
  end)

  it("counts this instance's outcomes and the cluster's pending callbacks in /metrics", function()
    assert.truthy(counter(d, "delivered") >= 6)
    assert.truthy(counter(d, "retried") >= 5)
    assert.truthy(counter(d, "failed") >= 3)
    assert.equal(0, counter(d, "refused"))
    h.psql(db, "INSERT INTO callbacks (kind, event_id, url, next_at) VALUES"
      .. " ('webhook', 'ev-later', 'http://127.0.0.1:1/', now() + interval '1 hour')")
    local want = tonumber(h.psql(db, "SELECT count(*) FROM callbacks WHERE state = 'pending'"))
    assert.equal(1, want)
    assert.truthy(h.wait_until(function()
      local _, body = h.get(d.url .. "/metrics")
      return tonumber(body:match("\nb3scale_callbacks_pending (%d+)")) == want
    end, 5))
  end)

  it("shows operators what needs a look, URLs redacted, tenants their own", function()
    out.add({ frontend_id = fe_id, event_id = "ev-acme", method = "GET",
      url = "http://user:pw@127.0.0.1:1/cb?token=t0k3n&empty=#frag" })
    wait_state(db, "ev-acme", "pending")
    local list = runner.ok_json({ "show", "callbacks" })
    local states, by_event = {}, {}
    for _, c in ipairs(list) do
      states[c.state] = true
      by_event[c.event_id] = c
    end
    assert.is_nil(states.delivered)
    assert.truthy(states.failed and states.pending)
    assert.equal("HTTP 404", by_event["ev-404"].last_error)
    assert.equal("fe", by_event["ev-acme"].frontend)
    assert.equal("http://redacted@127.0.0.1:1/cb?token=redacted&empty=#redacted", by_event["ev-acme"].url)
    list = runner.ok_json({ "show", "callbacks", "--state", "delivered" })
    for _, c in ipairs(list) do
      assert.equal("delivered", c.state)
      if c.event_id == "ev-get" then
        assert.equal(rcv.url .. "/get?meetingID=redacted&secret=redacted", c.url)
        assert.equal(cjson.null, c.next_at)
      end
    end
    local text = runner.ok({ "show", "callbacks", "--state", "failed" })
    assert.matches("HTTP 404", text, 1, true)
    assert.is_nil(text:find("s3cr3t", 1, true))
    -- a tenant sees its frontends' rows only; rows of no frontend are admins'
    list = runner.ok_json({ "show", "callbacks", "--state", "all" },
      { B3SCALE_API_TOKEN = tokens.hs384(JWT, "acme", "b3scale"), B3SCALE_API_JWT_SECRET = false })
    assert.truthy(#list >= 3)
    for _, c in ipairs(list) do assert.equal("fe", c.frontend) end
    list = runner.ok_json({ "show", "callbacks", "--state", "all" },
      { B3SCALE_API_TOKEN = tokens.hs384(JWT, "zeta", "b3scale"), B3SCALE_API_JWT_SECRET = false })
    assert.same({}, list)
    local st = h.get(d.url .. "/api/v1/callbacks?state=lost",
      { authorization = "Bearer " .. tokens.hs384(JWT, "root", "b3scale:admin") })
    assert.equal(400, st)
  end)
end)


describe("callback SSRF guard", function()
  local db, d, rcv, out

  setup(function()
    local w = world("cb_guard")
    db, d, rcv, out = w.db, w.d, w.rcv, w.out
  end)

  -- d is the daemon of the moment (the last case restarts it)
  teardown(function() world_end(out, d, rcv) end)

  it("refuses loopback, private and special targets for good, without connecting", function()
    local p = tostring(rcv.port)
    local targets = { rcv.url .. "/a", "http://localhost:" .. p .. "/b", "http://[::1]:" .. p .. "/c",
      "http://[::ffff:127.0.0.1]:" .. p .. "/d", "http://10.1.2.3/", "http://169.254.169.254/latest/",
      "http://100.64.0.1/", "http://[fd00::1]/", "http://0.0.0.0:" .. p .. "/e", "https://224.0.0.1/",
      "http://[64:ff9b::a01:203]/", "http://192.168.1.1/", "http://172.16.0.1/", "http://[fe80::1]/" }
    for i, url in ipairs(targets) do
      assert.equal(0, (out.add({ event_id = "ssrf-" .. i, url = url })))
    end
    for i, url in ipairs(targets) do
      local r = wait_state(db, "ssrf-" .. i, "refused")
      assert.equal(1, r.attempts, url)
      assert.matches("not a public address %(allow it with B3SCALE_CALLBACK_ALLOWED_NETWORKS%)$",
        r.last_error)
    end
    assert.equal("127.0.0.1 is not a public address (allow it with B3SCALE_CALLBACK_ALLOWED_NETWORKS)",
      row(db, "ssrf-1").last_error)
    assert.matches("^localhost resolves to ", row(db, "ssrf-2").last_error)
    assert.matches("^10%.1%.2%.3 is not", row(db, "ssrf-5").last_error)
    assert.matches("^64:ff9b::a01:203 is not", row(db, "ssrf-11").last_error)
    h.sleep(0.3)
    assert.equal(0, #receiver.requests(rcv))
    assert.equal(#targets, counter(d, "refused"))
  end)

  it("retries a name that does not resolve", function()
    out.add({ event_id = "ssrf-nxdomain", url = "http://no-such-host.invalid/x" })
    assert.truthy(h.wait_until(function() return row(db, "ssrf-nxdomain").attempts >= 2 end, 20))
    local r = row(db, "ssrf-nxdomain")
    assert.equal("pending", r.state)
    assert.matches("^cannot resolve no%-such%-host%.invalid", r.last_error)
    -- no more lookups (a slow resolver would hold the deliverer up in the next case)
    h.psql(db, "UPDATE callbacks SET state = 'failed' WHERE event_id = 'ssrf-nxdomain'")
  end)

  it("reaches B3SCALE_CALLBACK_ALLOWED_NETWORKS; a bad entry stops start-up", function()
    local code, text = h.run({ h.BUILD .. "/b3scaled" }, { B3SCALE_DB_URL = db,
      B3SCALE_LISTEN_HTTP = "127.0.0.1:" .. h.free_port(),
      B3SCALE_CALLBACK_ALLOWED_NETWORKS = "10.0.0.0/8,127.0.0.0/33" }, 20)
    assert.is_not.equal(0, code)
    assert.matches("b3scaled: B3SCALE_CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/33' is not an IP"
      .. " address or CIDR\n", text, 1, true)
    h.stop(d)
    d = daemon(db, { B3SCALE_CALLBACK_ALLOWED_NETWORKS = "127.0.0.0/8, ::1/128" })
    out.add({ event_id = "allowed-1", url = rcv.url .. "/allowed" })
    out.add({ event_id = "allowed-2", url = "http://localhost:" .. rcv.port .. "/by-name" })
    wait_state(db, "allowed-1", "delivered")
    wait_state(db, "allowed-2", "delivered")
    assert.equal(1, #receiver.requests(rcv, "/allowed"))
    assert.equal(1, #receiver.requests(rcv, "/by-name"))
    -- refused rows stay refused
    assert.equal("refused", row(db, "ssrf-1").state)
    assert.equal(1, row(db, "ssrf-1").attempts)
  end)
end)


describe("callback delivery across restarts and instances", function()
  local db, out

  setup(function()
    db = h.new_db("cb_ha")
    h.migrate(db)
    out = producer(db)
  end)

  teardown(function()
    if out then out.close() end
    h.cleanup()
  end)

  it("survives a receiver that is down and a b3scaled restart, and delivers once", function()
    local port = h.free_port()
    local env = { B3SCALE_CALLBACK_ALLOWED_NETWORKS = "127.0.0.0/8" }
    local d = daemon(db, env)
    out.add({ event_id = "ev-down", url = "http://127.0.0.1:" .. port .. "/later", body = "once" })
    assert.truthy(h.wait_until(function() return row(db, "ev-down").attempts >= 2 end, 10))
    local r = row(db, "ev-down")
    assert.equal("pending", r.state)
    assert.matches("onnect", r.last_error)
    h.stop(d)
    d = daemon(db, env)
    local rcv = receiver.start({ port = port })
    wait_state(db, "ev-down", "delivered", 15)
    h.sleep(0.5)
    local reqs = receiver.requests(rcv, "/later")
    assert.equal(1, #reqs)
    assert.equal("once", reqs[1].body)
    h.stop(d)
    receiver.stop(rcv)
  end)

  it("two daemons on one database send every callback exactly once", function()
    local rcv = receiver.start()
    local env = { B3SCALE_CALLBACK_ALLOWED_NETWORKS = "127.0.0.0/8", B3SCALE_CALLBACK_CONCURRENCY = "4" }
    local d1, d2 = daemon(db, env), daemon(db, env)
    local n = 60
    for i = 1, n do
      assert.equal(0, (out.add({ event_id = "pair-" .. i, url = rcv.url .. "/pair/" .. i })))
    end
    assert.truthy(h.wait_until(function()
      return h.psql(db, "SELECT count(*) FROM callbacks WHERE event_id LIKE 'pair-%'"
        .. " AND state = 'delivered'") == tostring(n)
    end, 20), "not every callback was delivered")
    h.sleep(0.5)
    local seen = {}
    for _, q in ipairs(receiver.requests(rcv)) do
      seen[q.path] = (seen[q.path] or 0) + 1
    end
    for i = 1, n do
      assert.equal(1, seen["/pair/" .. i], "/pair/" .. i)
    end
    assert.equal(n, counter(d1, "delivered") + counter(d2, "delivered"))
    h.stop(d1)
    h.stop(d2)
    receiver.stop(rcv)
  end)
end)
