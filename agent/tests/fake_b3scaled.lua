-- A stand-in for b3scaled's agent API, for spec/unit/agent_spec.lua (run with luajit).
-- Records every request as one JSON line {t, method, path, ctype, auth, ua, body, status}
-- in FAKE_LOG and answers FAKE_STATUS (default 200) with a small JSON body;
-- GET /api/v1/agent/backend answers FAKE_BACKEND_STATUS (default 200) instead.
-- POST /api/v1/recordings/import: the body is streamed to FAKE_LOG.import-<n>.tar (the log
-- line has file and size instead of body); the n-th import gets the n-th answer of
-- FAKE_IMPORT, a comma list of statuses or "hang" (no answer ever; the connection is kept),
-- whose last entry repeats (default "200").
-- HTTP/1.1 keep-alive (the agent reuses its connection), Content-Length bodies only.
--
--   FAKE_PORT=8080 FAKE_LOG=/tmp/req.jsonl luajit agent/tests/fake_b3scaled.lua
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/../../spec/support/?.lua;"
    .. package.path
local socket = require("socket")
local cjson = require("cjson")
local httpd = require("httpd")

local port = assert(tonumber(os.getenv("FAKE_PORT")), "FAKE_PORT")
local out = assert(io.open(assert(os.getenv("FAKE_LOG"), "FAKE_LOG"), "a"))
local status_all = tonumber(os.getenv("FAKE_STATUS") or "") or 200
local status_backend = tonumber(os.getenv("FAKE_BACKEND_STATUS") or "") or 200
local imports = {}
for v in (os.getenv("FAKE_IMPORT") or "200"):gmatch("[^,]+") do imports[#imports + 1] = v end
local nimport = 0

-- an import body, streamed to a file; its path, or nil when the client went away
local function save_body(c, n)
    nimport = nimport + 1
    local path = string.format("%s.import-%d.tar", os.getenv("FAKE_LOG"), nimport)
    local f = assert(io.open(path, "wb"))
    while n > 0 do
        local chunk = c:receive(math.min(n, 65536))
        if not chunk then f:close() return nil end
        f:write(chunk)
        n = n - #chunk
    end
    f:close()
    return path
end

-- one request from c; false when the connection is done
local function serve(c)
    local method, path, hdr = httpd.head(c)
    if not method then return false end
    local body, file = "", nil
    local n = tonumber(hdr["content-length"] or "0") or 0
    local import = method == "POST" and path == "/api/v1/recordings/import"
    if import then
        file = save_body(c, n)
        if not file then return false end
    else
        body = httpd.body(c, hdr)
        if not body then return false end
    end
    local st = status_all
    if method == "GET" and path == "/api/v1/agent/backend" then st = status_backend end
    local answer = import and (imports[nimport] or imports[#imports]) or nil
    if answer then st = tonumber(answer) or 0 end
    out:write(cjson.encode({
        t = socket.gettime(), method = method, path = path, ctype = hdr["content-type"] or "",
        auth = hdr["authorization"] or "", ua = hdr["user-agent"] or "", body = body,
        status = st, file = file, size = file and n or nil,
    }), "\n")
    out:flush()
    if answer == "hang" then return "park" end
    local rb = st < 300 and (import and '{"imported":[]}' or '{"id":"fake"}')
        or '{"error":"fake says ' .. st .. '"}'
    c:send(string.format("HTTP/1.1 %d Fake\r\nContent-Type: application/json\r\n"
        .. "Content-Length: %d\r\n\r\n%s", st, #rb, rb))
    return true
end

httpd.loop(port, serve)
