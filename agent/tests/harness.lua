-- What the agent specs share: the fake b3scaled (agent/tests/fake_b3scaled.lua), the agent
-- binary, and waiting on both. Every process started here is stopped by stop_all() (call it
-- in after_each, so a failed assertion cannot leave an agent behind for the next test).
--
--   local H = dofile(h.ROOT .. "/agent/tests/harness.lua")
local h = require("helpers")
local cjson = require("cjson")
local httpd = require("support.httpd")

local H = {}
H.AGENT = os.getenv("B3SCALE_AGENT_BIN") or (h.BUILD .. "/b3scaleagent")
H.FAKE = h.ROOT .. "/agent/tests/fake_b3scaled.lua"
H.TOKEN = "eyJhbGciOiJIUzM4NCJ9.eyJzdWIiOiJhZ2VudC10ZXN0In0.c2lnbmF0dXJl"

local started = {}

-- opts: port, log, status (every answer), backend_status (GET /agent/backend), import
-- (FAKE_IMPORT: "500,200", "hang", ...)
function H.fake_start(opts)
    opts = opts or {}
    local f = { port = opts.port or h.free_port() }
    f.url = "http://127.0.0.1:" .. f.port
    f.log = opts.log or string.format("%s/fake-%d-%s.jsonl", h.tmpdir(), f.port, h.random_hex(4))
    f.handle = h.spawn({ "luajit", H.FAKE }, {
        FAKE_PORT = f.port, FAKE_LOG = f.log,
        FAKE_STATUS = opts.status or false, FAKE_BACKEND_STATUS = opts.backend_status or false,
        FAKE_IMPORT = opts.import or false,
    })
    started[#started + 1] = f.handle
    httpd.wait_listening(f.port, f.handle, "fake b3scaled")
    return f
end

-- requests the fake recorded, optionally only those to path
function H.requests(f, path)
    local out = {}
    for l in (h.read_file(f.log) or ""):gmatch("[^\n]+") do
        local r = cjson.decode(l)
        -- the state POST carries ?fetched_at=: paths are compared without their query
        if not path or r.path:match("^[^?]*") == path then out[#out + 1] = r end
    end
    return out
end

-- env: the agent's whole environment (merged over ours, false removes)
function H.agent_start(env, args)
    local argv = { H.AGENT }
    for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
    local a = { handle = h.spawn(argv, env) }
    a.log = a.handle.log
    started[#started + 1] = a.handle
    return a
end

-- waits for fn() to be true; on a timeout shows the agent's log (when given) and fails
function H.wait_for(what, fn, timeout, a)
    local v = h.wait_until(fn, timeout or 5)
    if not v and a then io.stderr:write("---- agent log ----\n", h.read_file(a.log) or "", "\n") end
    assert(v, "timed out waiting for " .. what)
    return v
end

function H.count(s, pat)
    local n = 0
    for _ in s:gmatch(pat) do n = n + 1 end
    return n
end

function H.stop_all()
    for i = #started, 1, -1 do h.stop(started[i]) end
    started = {}
end

return H
