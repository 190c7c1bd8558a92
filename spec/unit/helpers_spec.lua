-- Self-test of spec/helpers.lua; needs neither b3scaled nor bbbsim.
local h = require("helpers")

-- a tiny one-request-at-a-time HTTP server (LuaJIT + lua-socket) for testing h.http
local SERVER = [[
local socket = require("socket")
local port = tonumber(arg[1])
local srv = assert(socket.bind("127.0.0.1", port))
while true do
  local c = srv:accept()
  c:settimeout(5)
  local line = c:receive("*l") or ""
  local method, path = line:match("^(%S+) (%S+)")
  local len = 0
  while true do
    local l = c:receive("*l")
    if not l or l == "" then break end
    local n = l:lower():match("^content%-length:%s*(%d+)")
    if n then len = tonumber(n) end
  end
  local body = len > 0 and c:receive(len) or ""
  local status, extra, out = "200 OK", "", method .. " " .. path .. " " .. body
  if path == "/redirect" then
    status, extra, out = "302 Found", "Location: http://127.0.0.1:1/elsewhere\r\n", ""
  elseif path == "/missing" then
    status, out = "404 Not Found", "nope"
  end
  c:send("HTTP/1.1 " .. status .. "\r\n" .. extra .. "Content-Type: text/plain\r\n" ..
         "Content-Length: " .. #out .. "\r\nConnection: close\r\n\r\n" .. out)
  c:close()
end
]]

describe("helpers", function()
    after_each(function() h.cleanup() end)

    describe("sha", function()
        it("matches the BBB getMeetings sha1 vector", function()
            assert.equal("2027baa7771026e9e93392f55031535d1444c41f",
                h.sha("sha1", "getMeetings639259d4-9dd8-4b25-bf01-95f9567eaf4b"))
        end)

        it("matches the BBB create sha256 vector", function()
            local q = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
            local secret = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
            local want = "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e"
            assert.equal(want, h.sha("sha256", "create" .. q .. secret))
            assert.equal(q .. "&checksum=" .. want, h.sign("create", q, secret))
            assert.equal(q .. "&checksum=" .. want, h.sign("create", q, secret, "sha256"))
        end)

        it("does sha384 and sha512 (FIPS 180 'abc' vectors) and the empty string", function()
            assert.equal("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163" ..
                         "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7", h.sha("sha384", "abc"))
            assert.equal("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" ..
                         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
                         h.sha("sha512", "abc"))
            assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                         h.sha("sha256", ""))
            assert.has_error(function() h.sha("md5", "x") end)
        end)

        it("signs an empty query as just the checksum", function()
            assert.equal("checksum=" .. h.sha("sha1", "getMeetingss3cr3t"),
                h.sign("getMeetings", "", "s3cr3t", "sha1"))
        end)
    end)

    describe("url encoding", function()
        it("keeps RFC 3986 unreserved characters only", function()
            assert.equal("a%20b%26c%3Dd%2F%C3%A9~._-AZaz09%2B", h.urlencode("a b&c=d/é~._-AZaz09+"))
            assert.equal("a b&c", h.urldecode("a+b%26c"))
        end)

        it("builds queries in order", function()
            assert.equal("name=Demo%20Room&meetingID=r%261",
                h.query({ { "name", "Demo Room" }, { "meetingID", "r&1" } }))
            assert.equal("a=1&b=2", h.query({ b = 2, a = 1 }))
        end)
    end)

    it("extracts XML text", function()
        local xml = "<response><returncode>SUCCESS</returncode><meetingID>m1</meetingID><x/></response>"
        assert.equal("SUCCESS", h.xml_text(xml, "returncode"))
        assert.equal("m1", h.xml_text(xml, "meetingID"))
        assert.equal("", h.xml_text(xml, "x"))
        assert.is_nil(h.xml_text(xml, "nope"))
    end)

    it("finds a free port", function()
        local p = h.free_port()
        assert.is_number(p)
        assert.is_true(p > 0 and p < 65536)
        local s = assert(require("socket").bind("127.0.0.1", p))
        s:close()
    end)

    describe("processes", function()
        it("runs with extra environment and captures stdout and stderr", function()
            local code, out = h.run({ "sh", "-c", 'echo "out:$B3_HELPER_X"; echo err >&2; exit 3' },
                { B3_HELPER_X = "yes" })
            assert.equal(3, code)
            assert.matches("out:yes", out, 1, true)
            assert.matches("err", out, 1, true)
        end)

        it("reports 127 when the program cannot be executed", function()
            local code = h.run({ "/nonexistent/b3-helper-test" })
            assert.equal(127, code)
        end)

        it("stops with SIGTERM and reports the status", function()
            local p = h.spawn({ "sleep", "30" })
            assert.is_true(h.alive(p))
            local code, how = h.stop(p)
            assert.equal(128 + 15, code)
            assert.equal("killed", how)
            assert.is_false(h.alive(p))
            assert.equal(143, h.stop(p))        -- idempotent
        end)

        it("returns the exit code of a process that handles SIGTERM", function()
            local p = h.spawn({ "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.05; done" })
            h.sleep(0.2)
            assert.equal(7, h.stop(p))
        end)

        it("escalates to SIGKILL when SIGTERM is ignored", function()
            local saved = h.STOP_TIMEOUT
            h.STOP_TIMEOUT = 0.3
            local p = h.spawn({ "sh", "-c", "trap '' TERM; exec sleep 30" })
            h.sleep(0.1)
            local ok, code = pcall(h.stop, p)
            h.STOP_TIMEOUT = saved
            assert.is_true(ok)
            assert.equal(128 + 9, code)
        end)

        it("cleanup stops everything still running", function()
            local a = h.spawn({ "sleep", "30" })
            local b = h.spawn({ "sleep", "30" })
            h.cleanup()
            assert.is_false(h.alive(a))
            assert.is_false(h.alive(b))
        end)
    end)

    describe("http", function()
        local port, base
        before_each(function()
            port = h.free_port()
            base = "http://127.0.0.1:" .. port
            local file = h.tmpdir() .. "/httpd.lua"
            h.write_file(file, SERVER)
            h.spawn({ "luajit", file, tostring(port) })
            h.wait_http(base .. "/", 5)
        end)

        it("does GET and POST", function()
            local st, body, hd = h.http("GET", base .. "/a?b=1")
            assert.equal(200, st)
            assert.equal("GET /a?b=1 ", body)
            assert.equal("text/plain", hd["content-type"])
            st, body = h.http("POST", base .. "/p", "hello", { ["Content-Type"] = "text/plain" })
            assert.equal(200, st)
            assert.equal("POST /p hello", body)
        end)

        it("does not follow redirects", function()
            local st, _, hd = h.get(base .. "/redirect")
            assert.equal(302, st)
            assert.equal("http://127.0.0.1:1/elsewhere", hd.location)
        end)

        it("returns non-2xx statuses", function()
            local st, body = h.get(base .. "/missing")
            assert.equal(404, st)
            assert.equal("nope", body)
        end)

        it("wait_http waits for a wanted status and fails fast when the process died", function()
            assert.equal(404, (h.wait_http(base .. "/missing", 2)))
            local dead = h.spawn({ "true" })
            local err = select(2, pcall(h.wait_http, "http://127.0.0.1:" .. h.free_port() .. "/", 5, dead))
            assert.matches("exited", err)
        end)

        it("returns nil and an error when nothing listens", function()
            local st, err = h.http("GET", "http://127.0.0.1:" .. h.free_port() .. "/")
            assert.is_nil(st)
            assert.is_string(err)
        end)
    end)

    describe("postgres", function()
        if not h.pg_url() then
            pending("B3SCALE_TEST_PG_URL not set (run through spec/support/run.sh)")
            return
        end

        it("creates fresh databases and runs SQL", function()
            local url1, name1 = h.new_db()
            local url2 = h.new_db()
            assert.are_not.equal(url1, url2)
            assert.matches("/" .. name1 .. "$", url1)
            assert.equal(name1, h.psql(url1, "SELECT current_database()"))
            h.psql(url1, "CREATE TABLE t (a int, b text); INSERT INTO t VALUES (1, 'x'), (2, 'it''s')")
            assert.equal("1|x\n2|it's", h.psql(url1, "SELECT a, b FROM t ORDER BY a"))
            assert.equal("", h.psql(url2, "SELECT 1 WHERE false"))
        end)

        it("raises with psql's message on SQL errors", function()
            local ok, err = pcall(h.psql, h.pg_url(), "SELECT * FROM no_such_table")
            assert.is_false(ok)
            assert.matches("no_such_table", err)
        end)
    end)
end)
