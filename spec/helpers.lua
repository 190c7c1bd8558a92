-- Test helpers for b3scale specs (run under LuaJIT by busted; see spec/support/run.sh).
--
--   local h = require("helpers")
--   local db  = h.new_db(); h.migrate(db)
--   local sim = h.bbbsim{ name = "node1" }
--   local d   = h.daemon{ db = db }
--   local status, body, headers = h.http("GET", d.url .. "/healthz")
--   ...
--   h.cleanup()   -- in teardown/finally: stops everything still running
--
-- Processes are started with fork/exec (lua-posix); HTTP goes through lua-socket without
-- following redirects; hashes come from libcrypto through the LuaJIT FFI.

local ffi    = require("ffi")
local socket = require("socket")
local http   = require("socket.http")
local ltn12  = require("ltn12")
local cjson  = require("cjson")
local unistd = require("posix.unistd")
local fcntl  = require("posix.fcntl")
local psig   = require("posix.signal")
local pwait  = require("posix.sys.wait")
local stdlib = require("posix.stdlib")

local _M = {}

_M.cjson = cjson
_M.HTTP_TIMEOUT = 10          -- seconds, per request made by _M.http
_M.STOP_TIMEOUT = 5           -- seconds _M.stop waits after SIGTERM before SIGKILL

-- repository root: B3SCALE_ROOT or the current directory (run.sh runs busted from the root)
_M.ROOT = os.getenv("B3SCALE_ROOT") or unistd.getcwd() or "."
_M.BUILD = _M.ROOT .. "/build"

--------------------------------------------------------------------------------------------
-- small utilities

function _M.sleep(s) socket.sleep(s) end
function _M.now() return socket.gettime() end

function _M.read_file(path)
    local f, err = io.open(path, "rb")
    if not f then return nil, err end
    local s = f:read("*a")
    f:close()
    return s
end

function _M.write_file(path, s)
    local f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end
_M.trim = trim

-- single-quote a string for /bin/sh
local function shq(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
_M.shell_quote = shq

-- n random bytes as lowercase hex (from /dev/urandom)
function _M.random_hex(n)
    n = n or 16
    local f = assert(io.open("/dev/urandom", "rb"))
    local b = f:read(n)
    f:close()
    return (b:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Waits are upper bounds, never measurements: a condition that holds returns at once, so a
-- bound may be generous at no cost. Every bound a spec gives is multiplied by SLACK
-- (B3SCALE_SPEC_SLACK, default 3), because CI machines may be far slower than the one a
-- bound was chosen on (other jobs, disk contention, the sanitizer build).
_M.SLACK = tonumber(os.getenv("B3SCALE_SPEC_SLACK") or "") or 3

-- polls fn() every `interval` s until it returns a truthy value (returned) or timeout_s
-- (times SLACK) passes (then returns nil plus fn's last second result)
function _M.wait_until(fn, timeout_s, interval)
    local deadline = socket.gettime() + (timeout_s or 5) * _M.SLACK
    local last_err
    repeat
        local v, err = fn()
        if v then return v end
        last_err = err
        socket.sleep(interval or 0.05)
    until socket.gettime() > deadline
    return nil, last_err or "timeout"
end

-- a per-run scratch directory: B3SCALE_TEST_TMP (set by run.sh) or a fresh one under /tmp
-- (run.sh removes B3SCALE_TEST_TMP; a directory made here without it is removed when the
-- Lua state closes, unless B3SCALE_KEEP_TMP=1)
local scratch, scratch_owned
-- true when path exists (a file, a directory, or a link)
function _M.exists(path)
    return os.execute("test -e " .. shq(path) .. " -o -L " .. shq(path)) == 0
end

function _M.tmpdir()
    if not scratch then
        local base = os.getenv("B3SCALE_TEST_TMP")
        if base and base ~= "" then
            scratch = assert(stdlib.mkdtemp(base .. "/spec-XXXXXX"))
        else
            scratch = assert(stdlib.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/b3spec-XXXXXX"))
            scratch_owned = os.getenv("B3SCALE_KEEP_TMP") ~= "1"
        end
    end
    return scratch
end

--------------------------------------------------------------------------------------------
-- ports

-- a TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed)
function _M.free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return assert(tonumber(port))
end

--------------------------------------------------------------------------------------------
-- processes

local children = {}                 -- every handle spawned, in order
local pidfile = os.getenv("B3SCALE_TEST_PIDFILE")   -- run.sh kills what is listed here

local function reap(h, options)
    if h.done then return true end
    local pid, how, code = pwait.wait(h.pid, options)
    if pid == h.pid then
        h.done = true
        h.how = how
        h.code = (how == "exited") and code or (128 + (code or 0))
        h.signal = (how == "killed") and code or nil
        return true
    elseif pid == nil then          -- not our child any more (already reaped elsewhere)
        h.done = true
        h.how, h.code = "unknown", -1
        return true
    end
    return false
end

-- argv: { program, arg1, ... } (program looked up in PATH when it has no slash)
-- env:  table name -> value merged over the current environment (false removes a variable)
-- logfile: stdout and stderr of the child (truncated); default <tmpdir>/<program>-<n>.log
-- returns a handle { pid=, argv=, log= }
function _M.spawn(argv, env, logfile)
    assert(type(argv) == "table" and argv[1], "spawn: argv table expected")
    if not logfile then
        logfile = string.format("%s/%s-%d.log", _M.tmpdir(),
            (argv[1]:match("([^/]+)$") or "proc"), #children + 1)
    end
    io.stdout:flush(); io.stderr:flush()
    local pid, err = unistd.fork()
    assert(pid, "fork failed: " .. tostring(err))
    if pid == 0 then
        -- child: redirect, set the environment, exec
        local ok = pcall(function()
            local null = fcntl.open("/dev/null", fcntl.O_RDONLY)
            if null then unistd.dup2(null, 0) end
            local fd = fcntl.open(logfile, fcntl.O_WRONLY + fcntl.O_CREAT + fcntl.O_TRUNC, 420)
            if fd then unistd.dup2(fd, 1); unistd.dup2(fd, 2) end
            for i = 3, 1023 do unistd.close(i) end
            for k, v in pairs(env or {}) do
                if v == false then stdlib.setenv(k, nil) else stdlib.setenv(k, tostring(v)) end
            end
            local args = {}
            for i = 2, #argv do args[i - 1] = tostring(argv[i]) end
            args[0] = argv[1]
            local _, e = unistd.execp(argv[1], args)
            io.stderr:write("spawn: exec " .. tostring(argv[1]) .. " failed: " .. tostring(e) .. "\n")
        end)
        io.stderr:flush()
        unistd._exit(ok and 127 or 126)
    end
    local h = { pid = pid, argv = argv, log = logfile }
    children[#children + 1] = h
    if pidfile and pidfile ~= "" then
        local f = io.open(pidfile, "a")
        if f then f:write(pid, "\n"); f:close() end
    end
    return h
end

local function as_handle(x)
    if type(x) == "table" and x.handle then return x.handle end
    return x
end

-- true while the process runs (reaps it when it has exited)
function _M.alive(h)
    h = as_handle(h)
    return not reap(h, pwait.WNOHANG)
end

-- waits up to timeout_s for the process to exit by itself: returns its exit code, or nil
-- (exit code is 128+signal when killed by a signal)
function _M.wait_exit(h, timeout_s)
    h = as_handle(h)
    local deadline = socket.gettime() + (timeout_s or 10)
    while not reap(h, pwait.WNOHANG) do
        if socket.gettime() > deadline then return nil end
        socket.sleep(0.02)
    end
    return h.code, h.how
end

-- sends sig (default SIGTERM; a number or a name like "SIGINT"), waits up to STOP_TIMEOUT
-- seconds, then SIGKILLs. Returns the exit code (128+signal when killed by a signal) and
-- "exited"/"killed". Safe to call again or on a process that already ended.
-- Accepts a handle or anything with a .handle field (daemon, bbbsim objects).
function _M.stop(h, sig)
    h = as_handle(h)
    if not h then return nil end
    if type(sig) == "string" then sig = psig[sig] end
    if not reap(h, pwait.WNOHANG) then
        psig.kill(h.pid, sig or psig.SIGTERM)
        if not _M.wait_exit(h, _M.STOP_TIMEOUT) then
            psig.kill(h.pid, psig.SIGKILL)
            reap(h)   -- blocking
        end
    end
    return h.code, h.how
end

-- stops every child spawned by these helpers that still runs (newest first)
function _M.cleanup()
    for i = #children, 1, -1 do
        local h = children[i]
        if not h.done then pcall(_M.stop, h) end
    end
    children = {}
end

-- last resort when the Lua state is closed without cleanup(): SIGKILL leftovers
if newproxy then
    local sentinel = newproxy(true)
    getmetatable(sentinel).__gc = function()
        for _, h in ipairs(children) do
            if not h.done then pcall(psig.kill, h.pid, psig.SIGKILL) end
        end
        if scratch and scratch_owned then os.execute("rm -rf " .. shq(scratch)) end
    end
    _M._sentinel = sentinel
end

-- runs argv to completion (timeout_s, default 30; killed after it) and returns
-- exit code, combined stdout+stderr
function _M.run(argv, env, timeout_s, logfile)
    local h = _M.spawn(argv, env, logfile)
    local code = _M.wait_exit(h, timeout_s or 30)
    if not code then code = _M.stop(h, psig.SIGKILL) end
    return code, _M.read_file(h.log) or ""
end

--------------------------------------------------------------------------------------------
-- HTTP

-- method, url, optional body (string) and headers (table). Does not follow redirects.
-- returns status (number), body (string), headers (table, lower-case names)
-- or nil, error message when no HTTP answer came.
function _M.http(method, url, body, headers, timeout_s)
    local hdrs = {}
    for k, v in pairs(headers or {}) do hdrs[k:lower()] = v end
    if body and not hdrs["content-length"] then hdrs["content-length"] = tostring(#body) end
    local chunks = {}
    local t = timeout_s or _M.HTTP_TIMEOUT
    local ok, status, rheaders = http.request{
        url = url,
        method = method or "GET",
        headers = hdrs,
        source = body and ltn12.source.string(body) or nil,
        sink = ltn12.sink.table(chunks),
        redirect = false,
        create = function()
            local s = socket.tcp()
            s:settimeout(t)
            return s
        end,
    }
    if not ok then return nil, status end
    return tonumber(status), table.concat(chunks), rheaders or {}
end

function _M.get(url, headers) return _M.http("GET", url, nil, headers) end
function _M.post(url, body, headers) return _M.http("POST", url, body, headers) end

-- polls url until any HTTP answer (or one with status `want` when given) arrives; errors after
-- timeout_s (default 10, times SLACK). When `handle` is given and its process exits, fails
-- at once. Returns status, body, headers of the answer.
function _M.wait_http(url, timeout_s, handle, want)
    local deadline = socket.gettime() + (timeout_s or 10) * _M.SLACK
    local last
    while true do
        local st, body, hd = _M.http("GET", url, nil, nil, 1)
        if st and (not want or st == want) then return st, body, hd end
        last = st and ("HTTP " .. st) or body
        if handle and not _M.alive(handle) then
            error(string.format("wait_http %s: process %d exited (code %s) before answering",
                url, as_handle(handle).pid, tostring(as_handle(handle).code)), 2)
        end
        if socket.gettime() > deadline then
            error(string.format("wait_http %s: no answer within %ss (last: %s)",
                url, tostring(timeout_s or 10), tostring(last)), 2)
        end
        socket.sleep(0.05)
    end
end

--------------------------------------------------------------------------------------------
-- hashing, signing, URL encoding

ffi.cdef[[
typedef struct evp_md_st EVP_MD;
typedef struct engine_st ENGINE;
const EVP_MD *EVP_get_digestbyname(const char *name);
int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
               const EVP_MD *type, ENGINE *impl);
]]

-- one libcrypto loader for the daemon's tools and the specs
local libcrypto = require("b3scalectl.jwt").libcrypto

local DIGESTS = { sha1 = "SHA1", sha256 = "SHA256", sha384 = "SHA384", sha512 = "SHA512" }

-- lowercase hex digest of s; alg one of sha1, sha256, sha384, sha512
function _M.sha(alg, s)
    local name = DIGESTS[(alg or ""):lower()]
    assert(name, "sha: unsupported algorithm " .. tostring(alg))
    local lib = libcrypto()
    local md = lib.EVP_get_digestbyname(name)
    assert(md ~= nil, "EVP_get_digestbyname(" .. name .. ") failed")
    local out = ffi.new("unsigned char[64]")
    local len = ffi.new("unsigned int[1]")
    assert(lib.EVP_Digest(s, #s, out, len, md, nil) == 1, "EVP_Digest failed")
    local hex = {}
    for i = 0, len[0] - 1 do hex[#hex + 1] = string.format("%02x", out[i]) end
    return table.concat(hex)
end

-- the query with BBB's checksum appended: sha(alg, call .. query .. secret)
function _M.sign(call, query, secret, alg)
    query = query or ""
    return query .. (query ~= "" and "&" or "") ..
        "checksum=" .. _M.sha(alg or "sha256", call .. query .. secret)
end

-- percent-encoding; RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) are kept
function _M.urlencode(s)
    return (tostring(s):gsub("[^A-Za-z0-9%-%._~]", function(c)
        return string.format("%%%02X", c:byte())
    end))
end

function _M.urldecode(s)
    return (s:gsub("%+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- builds a query string from { {"k","v"}, ... } (order kept) or a map (sorted by key)
function _M.query(params)
    local parts = {}
    if params[1] ~= nil then
        for _, kv in ipairs(params) do
            parts[#parts + 1] = _M.urlencode(kv[1]) .. "=" .. _M.urlencode(kv[2])
        end
    else
        local keys = {}
        for k in pairs(params) do keys[#keys + 1] = k end
        table.sort(keys)
        for _, k in ipairs(keys) do
            parts[#parts + 1] = _M.urlencode(k) .. "=" .. _M.urlencode(params[k])
        end
    end
    return table.concat(parts, "&")
end

-- full signed API URL: api_base (ending in /api/) .. call .. "?" .. signed query
function _M.api_url(api_base, call, query, secret, alg)
    return api_base .. call .. "?" .. _M.sign(call, query or "", secret, alg)
end

-- text of the first <tag>...</tag> in an XML string (no entity decoding), or nil
function _M.xml_text(xml, tag)
    if not xml then return nil end
    return xml:match("<" .. tag .. "%s*>(.-)</" .. tag .. "%s*>")
        or (xml:match("<" .. tag .. "%s*/>") and "")
end

--------------------------------------------------------------------------------------------
-- PostgreSQL (the private server started by run.sh)

function _M.pg_url()
    return os.getenv("B3SCALE_TEST_PG_URL")
end

-- runs sql through psql against url; returns trimmed stdout (unaligned, tuples only,
-- fields separated by "|"); raises with psql's message on failure
function _M.psql(url, sql)
    assert(url, "psql: no database URL (is B3SCALE_TEST_PG_URL set? run via make test)")
    local errf = os.tmpname()
    local cmd = "psql -X -q -A -t -v ON_ERROR_STOP=1 " .. shq(url) .. " -c " .. shq(sql) ..
        " 2>" .. shq(errf) .. "; echo \"__rc=$?\""
    local p = assert(io.popen(cmd, "r"))
    local out = p:read("*a")
    p:close()
    local err = _M.read_file(errf) or ""
    os.remove(errf)
    local rc = tonumber(out:match("__rc=(%d+)%s*$"))
    out = out:gsub("__rc=%d+%s*$", "")
    if rc ~= 0 then
        error("psql failed (rc " .. tostring(rc) .. "): " .. trim(err) .. "\nSQL: " .. sql, 2)
    end
    return trim(out)
end

-- the checkout itself, for commands that must run there (make): the specs may run in a tree
-- of symlinks to it (run.sh, for another build directory)
function _M.checkout()
    local p = assert(io.popen("readlink -f Makefile"))
    local path = p:read("*l")
    p:close()
    return assert(path and path:match("^(.*)/Makefile$"), "cannot find the checkout")
end

local db_counter = 0
-- creates a fresh, uniquely named database on the test server; returns its URL
function _M.new_db(prefix)
    local base = _M.pg_url()
    assert(base, "new_db: B3SCALE_TEST_PG_URL is not set (run the specs via make test)")
    db_counter = db_counter + 1
    local name = string.format("%s_%d_%d_%s", prefix or "t", unistd.getpid(), db_counter,
        _M.random_hex(3))
    _M.psql(base, "CREATE DATABASE " .. name)
    local url = base:gsub("/[^/?]*(%??[^/]*)$", "/" .. name .. "%1", 1)
    return url, name
end

-- applies sql/*.sql with `build/b3scaled migrate`; asserts exit 0; returns its output
function _M.migrate(db_url, env)
    local e = { B3SCALE_DB_URL = db_url }
    for k, v in pairs(env or {}) do e[k] = v end
    local code, out = _M.run({ _M.BUILD .. "/b3scaled", "migrate" }, e, 60)
    if code ~= 0 then
        error("b3scaled migrate failed (exit " .. tostring(code) .. "):\n" .. out, 2)
    end
    return out
end

--------------------------------------------------------------------------------------------
-- simulated BBB nodes and the daemon

local function fail_with_log(what, h, err)
    local log = _M.read_file(h.log) or "(no log)"
    pcall(_M.stop, h)
    io.stderr:write("---- " .. what .. " log (" .. h.log .. ") ----\n", log,
        "\n---- end of " .. what .. " log ----\n")
    error(what .. " did not start: " .. tostring(err), 3)
end

local sim_counter = 0
-- opts: name, secret, port, args (extra argv), env, timeout (s, default 10)
-- returns { port=, url=<api base>, base=, secret=, name=, handle=, log= }
function _M.bbbsim(opts)
    opts = opts or {}
    sim_counter = sim_counter + 1
    local port = opts.port or _M.free_port()
    local name = opts.name or ("sim" .. sim_counter)
    local secret = opts.secret or _M.random_hex(16)
    local argv = { _M.BUILD .. "/bbbsim", "--listen", "127.0.0.1:" .. port,
                   "--secret", secret, "--name", name }
    for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
    local h = _M.spawn(argv, opts.env, string.format("%s/bbbsim-%s-%d.log", _M.tmpdir(), name, port))
    local base = "http://127.0.0.1:" .. port
    local ok, err = pcall(_M.wait_http, base .. "/sim/health", opts.timeout or 10, h)
    if not ok then fail_with_log("bbbsim " .. name, h, err) end
    return {
        port = port, base = base, url = base .. "/bigbluebutton/api/",
        secret = secret, name = name, handle = h, log = h.log,
    }
end

-- GETs a control path of a sim (e.g. "/sim/health") and decodes the JSON answer:
-- returns decoded value (nil when the body is not JSON), status, raw body
function _M.sim_get(sim, path)
    return _M.sim_req(sim, "GET", path)
end

-- any method; a table body is JSON-encoded
function _M.sim_req(sim, method, path, body)
    local headers
    if type(body) == "table" then
        body = cjson.encode(body)
        headers = { ["content-type"] = "application/json" }
    end
    local st, raw = _M.http(method, sim.base .. path, body, headers)
    assert(st, "sim request " .. path .. " failed: " .. tostring(raw))
    local ok, v = pcall(cjson.decode, raw)
    return ok and v or nil, st, raw
end

-- signed BBB API URL for a call on a sim node
function _M.sim_api(sim, call, query, alg)
    return _M.api_url(sim.url, call, query, sim.secret, alg)
end

-- opts: db (required, B3SCALE_DB_URL), port, env (extra env), args (extra argv),
--       timeout (s, default 10), log (path)
-- returns { url="http://127.0.0.1:PORT", port=, handle=, log= }
function _M.daemon(opts)
    opts = opts or {}
    assert(opts.db, "daemon: opts.db (database URL) is required")
    local port = opts.port or _M.free_port()
    local env = {
        B3SCALE_DB_URL = opts.db,
        B3SCALE_LISTEN_HTTP = "127.0.0.1:" .. port,
        B3SCALE_LOG_LEVEL = "debug",
    }
    for k, v in pairs(opts.env or {}) do env[k] = v end
    local argv = { _M.BUILD .. "/b3scaled" }
    for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
    local h = _M.spawn(argv, env, opts.log or string.format("%s/b3scaled-%d.log", _M.tmpdir(), port))
    local url = "http://127.0.0.1:" .. port
    local ok, err = pcall(_M.wait_http, url .. "/healthz", opts.timeout or 10, h, 200)
    if not ok then fail_with_log("b3scaled", h, err) end
    return { url = url, port = port, handle = h, log = h.log }
end

-- the frontend-facing API base of a daemon for a frontend key
function _M.frontend_api(d, key)
    return d.url .. "/bbb/" .. key .. "/bigbluebutton/api/"
end

return _M
