-- b3scaleagent against a real redis-server, bbbsim as the node and a fake b3scaled
-- (agent/tests/fake_b3scaled.lua) that records every request it gets.
local h = require("helpers")
local R = require("support.redis")
local socket = require("socket")
local cjson = require("cjson")

local H = dofile(h.ROOT .. "/agent/tests/harness.lua")
local AGENT, TOKEN = H.AGENT, H.TOKEN
local DUMP = R.DUMP
local PROPS = h.ROOT .. "/spec/fixtures/bbb/bbb-web.properties"

-- the names agent_events.c forwards; the dump holds no other copy of this list
local RELEVANT = {
    MeetingCreatedEvtMsg = true, MeetingEndedEvtMsg = true, MeetingDestroyedEvtMsg = true,
    UserJoinedMeetingEvtMsg = true, UserLeftMeetingEvtMsg = true,
    UserJoinedVoiceConfToClientEvtMsg = true, UserLeftVoiceConfToClientEvtMsg = true,
    UserBroadcastCamStartedEvtMsg = true, UserBroadcastCamStoppedEvtMsg = true,
    BreakoutRoomStartedEvtMsg = true, BreakoutRoomEndedEvtMsg = true,
}

--------------------------------------------------------------------------------------------
-- redis: a server per spec file (spec/support/redis.lua), and the dump's messages

local redis = {}

local function redis_cmds(cmds)
    return R.cmds(redis, cmds)
end

local function publish(msgs)
    return R.publish(redis, msgs)
end

local function redis_start()
    R.start(redis)
end

local dump, relevant = R.read_dump(DUMP), {}
for _, m in ipairs(dump) do
    local name = m.payload:match('^{"envelope":{"name":"([^"]+)"')
    if RELEVANT[name] then relevant[#relevant + 1] = m.payload end
end

local function repeated(list, n)
    local out = {}
    for _ = 1, n do for _, v in ipairs(list) do out[#out + 1] = v end end
    return out
end

--------------------------------------------------------------------------------------------
-- the fake b3scaled and the agent (agent/tests/harness.lua; everything a test starts is
-- stopped in after_each)

local fake_start, requests, wait_for, count = H.fake_start, H.requests, H.wait_for, H.count

local function ndjson_lines(reqs)
    local out = {}
    for _, r in ipairs(reqs) do
        for l in r.body:gmatch("([^\n]*)\n") do out[#out + 1] = l end
    end
    return out
end

local sim

local function agent_env(f, extra)
    local env = {
        BBB_CONFIG = "/nonexistent/bbb-web.properties",
        B3SCALE_API_URL = f and f.url or "http://127.0.0.1:9",
        B3SCALE_API_ACCESS_TOKEN = TOKEN,
        B3SCALE_AGENT_BBB_API = sim.url,
        B3SCALE_AGENT_BBB_SECRET = sim.secret,
        B3SCALE_AGENT_REDIS_HOST = "127.0.0.1",
        B3SCALE_AGENT_REDIS_PORT = redis.port,
        B3SCALE_AGENT_HEARTBEAT_MS = 250,
        B3SCALE_AGENT_RECORDINGS_DIR = "",   -- uploads off: agent_upload_spec.lua has them
        B3SCALE_LOG_LEVEL = "debug",
    }
    for k, v in pairs(extra or {}) do env[k] = v end
    return env
end

local function agent_start(f, extra, args)
    return H.agent_start(agent_env(f, extra), args)
end

-- this agent has subscribed n times (default once): its own log says so
local function subscribed(a, n)
    return function()
        return count(h.read_file(a.log) or "", "event=redis_subscribed") >= (n or 1)
    end
end

local function sim_state()
    local st, body = h.get(sim.url .. "getMeetings?checksum=" .. h.sha("sha256", "getMeetings" .. sim.secret))
    assert.equal(200, st)
    return body
end

describe("b3scaleagent", function()
    setup(function()
        assert(io.open(AGENT, "r"), "build " .. AGENT .. " first")
        redis.port = h.free_port()
        redis_start()
        sim = h.bbbsim{ name = "agentnode" }
        local st, body = h.get(h.sim_api(sim, "create", "name=Agent+Room&meetingID=agent-m1"))
        assert.equal(200, st)
        assert.equal("SUCCESS", h.xml_text(body, "returncode"))
    end)
    teardown(function() h.cleanup() end)
    after_each(function()
        H.stop_all()
        -- the redis test restarts redis; the next test needs it back
        if not h.alive(redis.handle) then redis_start() end
    end)

    it("prints usage with --help and the version with --version", function()
        local code, out = h.run({ AGENT, "--help" }, {})
        assert.equal(0, code)
        assert.matches("usage: b3scaleagent", out)
        assert.matches("%-%-register", out)
        code, out = h.run({ AGENT, "--version" }, {})
        assert.equal(0, code)
        assert.matches("^b3scaleagent %d+%.%d+%.%d+\n$", out)
    end)

    it("exits 2 with one line on a missing or invalid setting", function()
        local cases = {
            { B3SCALE_API_URL = false, want = "B3SCALE_API_URL is required" },
            { B3SCALE_API_ACCESS_TOKEN = false, want = "B3SCALE_API_ACCESS_TOKEN is required" },
            { B3SCALE_API_URL = "ftp://x", want = "must be an http%(s%) URL" },
            { B3SCALE_AGENT_HEARTBEAT_MS = "soon", want = "B3SCALE_AGENT_HEARTBEAT_MS must be" },
            { B3SCALE_AGENT_MAX_EVENTS = "5", want = "B3SCALE_AGENT_MAX_EVENTS must be" },
            { B3SCALE_AGENT_REPORT_LOAD = "2", want = "B3SCALE_AGENT_REPORT_LOAD must be" },
            { B3SCALE_LOAD_FACTOR = "-1", want = "B3SCALE_LOAD_FACTOR must be" },
            { B3SCALE_AGENT_REDIS_PORT = "70000", want = "Redis port must be" },
            { B3SCALE_LOG_LEVEL = "loud", want = "B3SCALE_LOG_LEVEL must be" },
            { B3SCALE_AGENT_BBB_API = false, want = "no BBB API: set B3SCALE_AGENT_BBB_API" },
            { B3SCALE_AGENT_BBB_SECRET = false, want = "no BBB secret" },
        }
        for _, c in ipairs(cases) do
            local want = c.want
            c.want = nil
            local code, out = h.run({ AGENT }, agent_env(nil, c), 5)
            assert.equal(2, code, want)
            assert.matches("^b3scaleagent: [^\n]*" .. want .. "[^\n]*\n$", out)
        end
        local code, out = h.run({ AGENT, "--frobnicate" }, agent_env(nil))
        assert.equal(2, code)
        assert.matches("unknown argument", out)
    end)

    it("resolves bbb-web.properties for --check-config without printing secrets", function()
        local env = agent_env(nil, { BBB_CONFIG = PROPS, B3SCALE_AGENT_BBB_API = false,
            B3SCALE_AGENT_BBB_SECRET = false, B3SCALE_AGENT_REDIS_HOST = false,
            B3SCALE_AGENT_REDIS_PORT = false })
        local code, out = h.run({ AGENT, "--check-config" }, env)
        assert.equal(0, code, out)
        assert.matches("bbb_api=https://bbbackend01%.example%.net/bigbluebutton/api/ %(properties%)", out)
        assert.matches("bbb_secret=set %(properties%)", out)
        assert.matches("redis=127%.0%.0%.1:6379", out)
        assert.matches("redis_password=unset", out)
        assert.is_nil(out:find("th1sI5v3rys3cr3t", 1, true))
        assert.is_nil(out:find(TOKEN, 1, true))
        -- Java rules: ':' and blank separators, continuations, ${refs}, comments, last wins
        local p = h.tmpdir() .. "/bbb-web-test.properties"
        h.write_file(p, table.concat({
            "# comment \\", "! other comment", "host=https://node.example.org",
            "bigbluebutton.web.serverURL=${host}/", "securitySalt : abc\\", "   def  ",
            "redisHost node-redis", "redisPort=${port}", "port=6390", "redisPassword=pw",
            "redisHost=redis.example.org",
        }, "\r\n"))
        env.BBB_CONFIG = p
        code, out = h.run({ AGENT, "--check-config" }, env)
        assert.equal(0, code, out)
        assert.matches("bbb_api=https://node%.example%.org/bigbluebutton/api/", out)
        assert.matches("redis=redis%.example%.org:6390", out)
        assert.matches("redis_password=set %(properties%)", out)
        assert.is_nil(out:find("abcdef", 1, true))
        -- the environment overrides the file
        env.B3SCALE_AGENT_BBB_API = "http://override.example/bigbluebutton/api"
        env.B3SCALE_AGENT_REDIS_PORT = "6400"
        code, out = h.run({ AGENT, "--check-config" }, env)
        assert.equal(0, code, out)
        assert.matches("bbb_api=http://override%.example/bigbluebutton/api/ %(env%)", out)
        assert.matches("redis=redis%.example%.org:6400", out)
        -- a reference loop is kept literally instead of hanging
        h.write_file(p, "a=${b}\nb=${a}\nbigbluebutton.web.serverURL=http://x${a}\nsecuritySalt=s\n")
        env.B3SCALE_AGENT_BBB_API = false
        code, out = h.run({ AGENT, "--check-config" }, env, 5)
        assert.equal(0, code, out)
        assert.matches("bbb_api=http://x", out)
        -- references that fan out at every level (8^10 expansions unbounded; libFuzzer's
        -- fuzz_agent_props found one that ran for minutes) end at the expansion budget
        local lines = { "bigbluebutton.web.serverURL=http://x${k0}", "securitySalt=s", "k10=yyyyyyyyyy" }
        for i = 0, 9 do lines[#lines + 1] = ("k%d=%s"):format(i, ("${k" .. (i + 1) .. "}"):rep(8)) end
        h.write_file(p, table.concat(lines, "\n"))
        local t0 = h.now()
        code, out = h.run({ AGENT, "--check-config" }, env, 5)
        assert.is_true(h.now() - t0 < 5, "still expanding after 5 s")
        assert.equal(2, code, out)
        assert.matches("^b3scaleagent: bigbluebutton%.web%.serverURL is too long\n$", out)
    end)

    it("signs getMeetings with the salt as Java reads it (continuation, \\uXXXX)", function()
        local node = h.bbbsim{ name = "propsnode", secret = "s3cretA=1" }
        local p = h.tmpdir() .. "/bbb-web-salt.properties"
        h.write_file(p, "bigbluebutton.web.serverURL=" .. node.base .. "\n"
            .. "securitySalt = s3cr\\\n      et\\u0041=1\n")
        local f = fake_start()
        local code, out = h.run({ AGENT, "--once" }, agent_env(f, { BBB_CONFIG = p,
            B3SCALE_AGENT_BBB_API = false, B3SCALE_AGENT_BBB_SECRET = false }), 10)
        assert.equal(0, code, out)
        local st = requests(f, "/api/v1/agent/state")
        assert.equal(1, #st)
        assert.matches("<returncode>SUCCESS</returncode>", st[1].body)
        h.stop(node)
    end)

    it("sends the state first, then the dump's relevant events in order, batched", function()
        local f = fake_start()
        local a = agent_start(f)
        wait_for("state", function() return #requests(f, "/api/v1/agent/state") > 0 end, 5, a)
        wait_for("subscription", subscribed(a), 5, a)
        local posts = {}
        for _, r in ipairs(requests(f)) do if r.method == "POST" then posts[#posts + 1] = r end end
        assert.matches("^/api/v1/agent/state%?fetched_at=%d+$", posts[1].path)
        assert.equal("application/xml", posts[1].ctype)
        assert.equal(sim_state(), posts[1].body)
        assert.matches("agent%-m1", posts[1].body)
        assert.equal("Bearer " .. TOKEN, posts[1].auth)
        assert.matches("^b3scaleagent/", posts[1].ua)
        assert.equal("GET", requests(f)[1].method)   -- the backend check comes first
        assert.equal("/api/v1/agent/backend", requests(f)[1].path)

        -- the whole dump, three times over, as fast as redis takes it
        assert.equal(8, #relevant)
        local replies = publish(repeated(dump, 3))
        assert.equal(1, replies[1])   -- the agent is the one subscriber
        local want = repeated(relevant, 3)
        wait_for("events", function()
            return #ndjson_lines(requests(f, "/api/v1/agent/events")) >= #want
        end, 5, a)
        h.sleep(0.5)
        local evs = requests(f, "/api/v1/agent/events")
        assert.same(want, ndjson_lines(evs))
        assert.is_true(#evs <= 3, "expected batching, got " .. #evs .. " POSTs")
        for _, r in ipairs(evs) do
            assert.equal("application/x-ndjson", r.ctype)
            assert.equal("\n", r.body:sub(-1))
            for l in r.body:gmatch("([^\n]*)\n") do assert.is_table(cjson.decode(l)) end
        end
        h.stop(a.handle)
        assert.is_nil((h.read_file(a.log) or ""):find(TOKEN, 1, true))
        assert.is_nil((h.read_file(a.log) or ""):find(sim.secret, 1, true))
    end)

    it("forwards nothing for 10,000 irrelevant messages; heartbeats keep their pace", function()
        local f = fake_start()
        local a = agent_start(f)
        wait_for("subscription", subscribed(a), 5, a)
        local cursor
        for _, m in ipairs(dump) do
            if m.payload:find('"name":"SendCursorPositionPubMsg"', 1, true) then cursor = m end
        end
        assert.is_table(cursor)
        local msgs = {}
        for i = 1, 10000 do
            msgs[i] = (i % 2 == 0) and cursor or
                { channel = "from-akka-apps-redis-channel", payload = '{"envelope":{"name":"MeetingCreatedEvtMsgX"}}' }
        end
        local t0 = h.now()
        publish(msgs)
        h.sleep(1.5)
        assert.equal(0, #requests(f, "/api/v1/agent/events"))
        -- heartbeats: about every 250 ms, also while the flood was read
        local hb = requests(f, "/api/v1/agent/heartbeat")
        local recent = {}
        for _, r in ipairs(hb) do if r.t >= t0 - 0.3 then recent[#recent + 1] = r end end
        assert.is_true(#recent >= 5, "heartbeats during 1.5 s: " .. #recent)
        for i = 2, #recent do
            local gap = recent[i].t - recent[i - 1].t
            assert.is_true(gap > 0.15 and gap < 0.6, "heartbeat gap " .. gap)
        end
        assert.equal("{}", hb[1].body)
        assert.equal("application/json", hb[1].ctype)
        h.stop(a.handle)
    end)

    it("reports CPU and memory in heartbeats with B3SCALE_AGENT_REPORT_LOAD=1", function()
        local f = fake_start()
        local a = agent_start(f, { B3SCALE_AGENT_REPORT_LOAD = 1 })
        wait_for("heartbeats", function() return #requests(f, "/api/v1/agent/heartbeat") >= 3 end, 5, a)
        local hb = requests(f, "/api/v1/agent/heartbeat")
        local b = cjson.decode(hb[3].body)
        assert.is_true(b.cpu >= 0 and b.cpu <= 1)
        assert.is_true(b.mem > 0 and b.mem <= 1)
        h.stop(a.handle)
    end)

    it("reconnects to a restarted redis, resubscribes and resends the state", function()
        local f = fake_start()
        local a = agent_start(f)
        wait_for("subscription", subscribed(a), 5, a)
        wait_for("state", function() return #requests(f, "/api/v1/agent/state") == 1 end, 5, a)
        h.stop(redis.handle, "SIGKILL")
        h.sleep(0.8)
        assert.is_true(h.alive(a.handle))
        redis_start()
        wait_for("resubscription", subscribed(a, 2), 8, a)
        wait_for("second state", function() return #requests(f, "/api/v1/agent/state") >= 2 end, 5, a)
        publish({ dump[1], { channel = "from-akka-apps-redis-channel", payload = relevant[1] } })
        wait_for("event after reconnect", function()
            return #requests(f, "/api/v1/agent/events") == 1
        end, 5, a)
        assert.same({ relevant[1] }, ndjson_lines(requests(f, "/api/v1/agent/events")))
        assert.equal(2, #requests(f, "/api/v1/agent/state"))   -- start, resubscription
        local log = h.read_file(a.log)
        assert.matches("event=redis_lost", log)
        assert.equal(2, count(log, "event=redis_subscribed"))
        h.stop(a.handle)
    end)

    it("keeps events while b3scaled is away and delivers them, then the state", function()
        local f = fake_start()
        local a = agent_start(f)
        wait_for("subscription", subscribed(a), 5, a)
        wait_for("state", function() return #requests(f, "/api/v1/agent/state") == 1 end, 5, a)
        h.stop(f.handle, "SIGKILL")
        h.sleep(0.5)                          -- heartbeats fail: the agent backs off
        publish(dump)
        h.sleep(1.0)
        assert.is_true(h.alive(a.handle))
        local f2 = fake_start{ port = f.port }
        wait_for("events after return", function()
            return #ndjson_lines(requests(f2, "/api/v1/agent/events")) >= #relevant
        end, 8, a)
        wait_for("state after return", function() return #requests(f2, "/api/v1/agent/state") >= 1 end, 5, a)
        assert.same(relevant, ndjson_lines(requests(f2, "/api/v1/agent/events")))
        -- queued events are older than the snapshot: they go first
        local order = {}
        for _, r in ipairs(requests(f2)) do
            if r.path ~= "/api/v1/agent/heartbeat" then order[#order + 1] = r.path:match("^[^?]*") end
        end
        assert.equal("/api/v1/agent/events", order[1])
        assert.equal("/api/v1/agent/state", order[#order])
        local log = h.read_file(a.log)
        assert.matches("event=report_failed", log)
        assert.matches("event=report_recovered", log)
        h.stop(a.handle)
    end)

    it("drops the queue on overflow while b3scaled is away and resyncs the state instead", function()
        local f = fake_start()
        local a = agent_start(f, { B3SCALE_AGENT_MAX_EVENTS = 10 })
        wait_for("subscription", subscribed(a), 5, a)
        wait_for("state", function() return #requests(f, "/api/v1/agent/state") == 1 end, 5, a)
        h.stop(f.handle, "SIGKILL")
        h.sleep(0.3)
        publish(repeated(dump, 5))            -- 40 relevant events for a queue of 10
        h.sleep(0.5)
        local f2 = fake_start{ port = f.port }
        wait_for("state after return", function() return #requests(f2, "/api/v1/agent/state") >= 1 end, 8, a)
        h.sleep(0.3)
        local lines = ndjson_lines(requests(f2, "/api/v1/agent/events"))
        assert.is_true(#lines < 10, "delivered " .. #lines .. " of a queue bounded at 10")
        -- what survived is the newest tail, in order
        local want = repeated(relevant, 5)
        for i = 1, #lines do assert.equal(want[#want - #lines + i], lines[i]) end
        assert.matches("event=events_overflow", h.read_file(a.log))
        h.stop(a.handle)
    end)

    it("drops a relevant message over 64 KiB and resyncs the state instead", function()
        local f = fake_start()
        local a = agent_start(f)
        wait_for("subscription", subscribed(a), 5, a)
        wait_for("state", function() return #requests(f, "/api/v1/agent/state") == 1 end, 5, a)
        local big = '{"envelope":{"name":"UserJoinedMeetingEvtMsg"},"core":{"pad":"'
            .. string.rep("x", 70000) .. '"}}'
        publish({ { channel = "from-akka-apps-redis-channel", payload = big } })
        wait_for("resync", function() return #requests(f, "/api/v1/agent/state") == 2 end, 5, a)
        assert.equal(0, #requests(f, "/api/v1/agent/events"))
        assert.matches("reason=too_large", h.read_file(a.log))
        h.stop(a.handle)
    end)

    it("resends the state every B3SCALE_AGENT_RESYNC_S seconds", function()
        local f = fake_start()
        local a = agent_start(f, { B3SCALE_AGENT_RESYNC_S = 1 })
        wait_for("three states", function() return #requests(f, "/api/v1/agent/state") >= 3 end, 5, a)
        local st = requests(f, "/api/v1/agent/state")
        local gap = st[3].t - st[2].t
        assert.is_true(gap > 0.8 and gap < 1.5, "resync gap " .. gap)
        assert.matches("reason=periodic", h.read_file(a.log))
        h.stop(a.handle)
    end)

    it("keeps heartbeating when the node refuses getMeetings, without hammering it", function()
        local f = fake_start()
        local a = agent_start(f, { B3SCALE_AGENT_BBB_SECRET = "wrong-secret" })
        h.sleep(1.5)
        assert.is_true(#requests(f, "/api/v1/agent/heartbeat") >= 4)
        assert.equal(0, #requests(f, "/api/v1/agent/state"))
        local log = h.read_file(a.log)
        assert.equal(1, count(log, "event=node_state_failed"))
        assert.matches("checksumError", log)
        assert.is_nil(log:find("wrong%-secret"))
        h.stop(a.handle)
    end)

    it("authenticates to redis with the configured password", function()
        local port = h.free_port()
        local rh = h.spawn({ "redis-server", "--port", tostring(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--requirepass", "redis-pw-123" })
        assert(h.wait_until(function()
            local c = socket.connect("127.0.0.1", port)
            if c then c:close() return true end
        end, 10))
        local f = fake_start()
        local a = agent_start(f, { B3SCALE_AGENT_REDIS_PORT = port,
            B3SCALE_AGENT_REDIS_PASSWORD = "redis-pw-123" })
        wait_for("subscription", function()
            return (h.read_file(a.log) or ""):find("event=redis_subscribed", 1, true)
        end, 5, a)
        h.stop(a.handle)
        local bad = agent_start(f, { B3SCALE_AGENT_REDIS_PORT = port,
            B3SCALE_AGENT_REDIS_PASSWORD = "not-the-password" })
        wait_for("refusal", function()
            return (h.read_file(bad.log) or ""):find("AUTH refused", 1, true)
        end, 5, bad)
        h.sleep(0.5)
        assert.is_true(h.alive(bad.handle))
        local log = h.read_file(bad.log)
        assert.equal(1, count(log, "event=redis_failed"))   -- retried quietly with backoff
        assert.is_nil(log:find("not%-the%-password"))
        h.stop(bad.handle)
        h.stop(rh)
    end)

    it("registers the node with --register when b3scaled has no backend for it", function()
        local f = fake_start{ backend_status = 404 }
        local a = agent_start(f, { B3SCALE_LOAD_FACTOR = "1.5" }, { "--register" })
        wait_for("registration", function() return #requests(f, "/api/v1/backends") == 1 end, 5, a)
        local r = requests(f, "/api/v1/backends")[1]
        assert.equal("POST", r.method)
        assert.equal("application/json", r.ctype)
        assert.equal("Bearer " .. TOKEN, r.auth)
        assert.same({ bbb = { host = sim.url, secret = sim.secret }, admin_state = "init",
            load_factor = 1.5 }, cjson.decode(r.body))
        -- then it runs on as usual
        wait_for("state", function() return #requests(f, "/api/v1/agent/state") == 1 end, 5, a)
        assert.is_true(h.alive(a.handle))
        h.stop(a.handle)
        assert.is_nil(h.read_file(a.log):find(sim.secret, 1, true))
        -- --register-ready with --once: admin_state ready, one state, exit 0
        local f2 = fake_start{ backend_status = 404 }
        local code, out = h.run({ AGENT, "--register-ready", "--once" }, agent_env(f2), 10)
        assert.equal(0, code, out)
        assert.equal("ready", cjson.decode(requests(f2, "/api/v1/backends")[1].body).admin_state)
        assert.equal(1, #requests(f2, "/api/v1/agent/state"))
        -- an existing backend is not registered again
        local f3 = fake_start()
        code, out = h.run({ AGENT, "--register", "--once" }, agent_env(f3), 10)
        assert.equal(0, code, out)
        assert.equal(0, #requests(f3, "/api/v1/backends"))
    end)

    it("runs on without --register when the backend is missing; backs off when refused", function()
        local f = fake_start{ backend_status = 404 }
        local a = agent_start(f)
        wait_for("heartbeats", function() return #requests(f, "/api/v1/agent/heartbeat") >= 2 end, 5, a)
        assert.equal(0, #requests(f, "/api/v1/backends"))
        assert.matches("event=backend_missing", h.read_file(a.log))
        -- a refused check (400) is not retried in a tight loop
        local f2 = fake_start{ backend_status = 400 }
        local a2 = agent_start(f2)
        h.sleep(1.5)
        assert.equal(1, #requests(f2))
        assert.is_true(h.alive(a2.handle))
        assert.matches("event=report_refused call=backend", h.read_file(a2.log))
    end)

    it("--once exits 1 when b3scaled cannot be reached", function()
        local code, out = h.run({ AGENT, "--once" }, agent_env(nil, {
            B3SCALE_API_URL = "http://127.0.0.1:" .. h.free_port() }), 10)
        assert.equal(1, code, out)
        assert.matches("event=once_failed", out)
    end)

    it("keeps retrying on 401 and logs it once, not per attempt", function()
        local f = fake_start{ status = 401, backend_status = 401 }
        local a = agent_start(f)
        h.sleep(2.5)
        assert.is_true(h.alive(a.handle))
        assert.is_true(#requests(f) >= 3, "retries: " .. #requests(f))
        local log = h.read_file(a.log)
        assert.equal(1, count(log, "event=report_unauthorized"))
        assert.is_nil(log:find(TOKEN, 1, true))
        h.stop(a.handle)
    end)

    it("flushes queued events on SIGTERM and exits 0", function()
        local f = fake_start()
        local a = agent_start(f, { B3SCALE_AGENT_FLUSH_MS = 30000 })
        wait_for("subscription", subscribed(a), 5, a)
        wait_for("state", function() return #requests(f, "/api/v1/agent/state") == 1 end, 5, a)
        publish(dump)
        wait_for("queued", function()
            return count(h.read_file(a.log) or "", "event=event_queued") == #relevant
        end, 5, a)
        assert.equal(0, #requests(f, "/api/v1/agent/events"))
        local code = h.stop(a.handle)
        assert.equal(0, code)
        assert.same(relevant, ndjson_lines(requests(f, "/api/v1/agent/events")))
    end)
end)
