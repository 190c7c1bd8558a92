-- b3scaleagent's recording uploads (agent/agent_upload.c, agent_spool.c, agent_tree.c)
-- against the fake b3scaled (agent/tests/fake_b3scaled.lua), which saves every import body
-- and answers as told (FAKE_IMPORT). The trees are written here the way BBB publishes them:
-- the files first, metadata.xml last. No Redis and no node: the agent runs on without both
-- (and says so in its log), which is all the uploads need.
local h = require("helpers")
local pstat = require("posix.sys.stat")

local H = dofile(h.ROOT .. "/agent/tests/harness.lua")
local AGENT, wait_for, count = H.AGENT, H.wait_for, H.count
local IMPORT = "/api/v1/recordings/import"

-- a shell command's output (LuaJIT's popen gives no exit status: callers check the output)
local function sh(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    return out
end

local function exists(path)
    return pstat.lstat(path) ~= nil
end

local function lines(s)
    local out = {}
    for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
    table.sort(out)
    return out
end

-- a recordID as BBB makes them: the internal meeting ID, <sha1 hex>-<ms>
local function record_id()
    return h.random_hex(20) .. "-" .. string.format("%013d", 1700000000000 + math.random(0, 99999999))
end

-- a fresh published dir and spool for one test
local function dirs()
    local base = h.tmpdir() .. "/rec-" .. h.random_hex(4)
    local d = { base = base, pub = base .. "/published", spool = base .. "/spool" }
    sh("mkdir -p " .. h.shell_quote(d.pub))
    return d
end

-- <pub>/<format>/<rid>/ with files (relative path -> content), then metadata.xml unless
-- opts.ready == false
local function tree(d, format, rid, files, opts)
    local root = string.format("%s/%s/%s", d.pub, format, rid)
    sh("mkdir -p " .. h.shell_quote(root))
    for path, content in pairs(files or {}) do
        local dir = (root .. "/" .. path):match("^(.*)/[^/]*$")
        sh("mkdir -p " .. h.shell_quote(dir))
        h.write_file(root .. "/" .. path, content)
    end
    if not (opts and opts.ready == false) then
        h.write_file(root .. "/metadata.xml", "<recording><id>" .. rid .. "</id></recording>\n")
    end
    return root
end

-- the tree as a tar should list it: every directory (with a '/') and regular file, no links
local function tree_list(d, format, rid)
    return lines(sh(string.format("cd %s && find %s -type d -printf '%%p/\\n' -o -type f -print",
        h.shell_quote(d.pub), h.shell_quote(format .. "/" .. rid))))
end

local function tar_list(file)
    local out = sh("tar -tf " .. h.shell_quote(file) .. " || echo TAR-FAILED")
    assert(not out:find("TAR-FAILED", 1, true), "tar -tf " .. file .. ": " .. out)
    return lines(out)
end

local function tar_cat(file, entry)
    return (sh("tar -xOf " .. h.shell_quote(file) .. " " .. h.shell_quote(entry)))
end

local function imports(f)
    return H.requests(f, IMPORT)
end

local function agent_env(f, d, extra)
    local dead = h.free_port()   -- neither Redis nor the node answers there
    local env = {
        BBB_CONFIG = "/nonexistent/bbb-web.properties",
        B3SCALE_API_URL = f and f.url or "http://127.0.0.1:9",
        B3SCALE_API_ACCESS_TOKEN = H.TOKEN,
        B3SCALE_AGENT_BBB_API = "http://127.0.0.1:" .. dead .. "/bigbluebutton/api/",
        B3SCALE_AGENT_BBB_SECRET = "node-secret",
        B3SCALE_AGENT_REDIS_HOST = "127.0.0.1",
        B3SCALE_AGENT_REDIS_PORT = dead,
        B3SCALE_AGENT_HEARTBEAT_MS = 250,
        B3SCALE_AGENT_RECORDINGS_DIR = d.pub,
        B3SCALE_AGENT_SPOOL_DIR = d.spool,
        B3SCALE_AGENT_RECORDINGS_SCAN_MS = 200,
        B3SCALE_LOG_LEVEL = "debug",
    }
    for k, v in pairs(extra or {}) do env[k] = v end
    return env
end

local function agent_start(f, d, extra)
    return H.agent_start(agent_env(f, d, extra))
end

local function upload_cmd(f, d, rid, extra)
    return h.run({ AGENT, "--upload-recording", rid }, agent_env(f, d, extra), 20)
end

local function heartbeats_since(f, t)
    local n = 0
    for _, r in ipairs(H.requests(f, "/api/v1/agent/heartbeat")) do
        if r.t >= t then n = n + 1 end
    end
    return n
end

-- one ready presentation tree, the fake answering imports as told (FAKE_IMPORT) and an
-- agent, after its first import: the dirs, the recordID, the fake and the agent
local function uploading(import)
    local d, rid = dirs(), record_id()
    tree(d, "presentation", rid, { ["shapes.svg"] = "<svg/>" })
    local f = H.fake_start{ import = import }
    local a = agent_start(f, d)
    wait_for("import", function() return #imports(f) >= 1 end, 5, a)
    return d, rid, f, a
end

-- stops agent a, starts another on the same dirs, and checks that over a second of its
-- heartbeats the fake got no import beyond the n it had
local function restart_sends_nothing(a, f, d, n)
    h.stop(a.handle)
    local a2 = agent_start(f, d)
    local t = h.now()
    wait_for("heartbeats", function() return heartbeats_since(f, t) >= 4 end, 5, a2)
    assert.equal(n, #imports(f))
    return a2
end

describe("b3scaleagent recording uploads", function()
    setup(function()
        assert(io.open(AGENT, "r"), "build " .. AGENT .. " first")
        math.randomseed(os.time())
    end)
    teardown(function() h.cleanup() end)
    after_each(function() H.stop_all() end)

    it("uploads a published tree once, as a tar of exactly that tree; not again after a restart", function()
        local d = dirs()
        local rid, later = record_id(), record_id()
        local root = tree(d, "presentation", rid, {
            ["slides/slide-1.svg"] = "<svg>one</svg>", ["slides/slide-2.svg"] = "<svg>two</svg>",
            ["shapes.svg"] = "<svg/>", ["events/cursor.xml"] = "<cursor/>",
        })
        sh("mkdir -p " .. h.shell_quote(root .. "/empty"))
        tree(d, "presentation", later, { ["shapes.svg"] = "<svg/>" }, { ready = false })
        tree(d, "presentation", "not valid!", { ["x"] = "x" })    -- a name outside [A-Za-z0-9._-]
        tree(d, "presentation", ".hidden", { ["x"] = "x" })
        local f = H.fake_start()
        local a = agent_start(f, d)
        wait_for("import", function() return #imports(f) == 1 end, 5, a)
        h.sleep(1.0)                                    -- five scans: nothing else is ready
        assert.equal(1, #imports(f))
        local r = imports(f)[1]
        assert.equal("POST", r.method)
        assert.equal("application/x-tar", r.ctype)
        assert.equal("Bearer " .. H.TOKEN, r.auth)
        assert.same(tree_list(d, "presentation", rid), tar_list(r.file))
        assert.equal("presentation/" .. rid .. "/", tar_list(r.file)[1])
        assert.equal("<svg>two</svg>", tar_cat(r.file, "presentation/" .. rid .. "/slides/slide-2.svg"))
        local id = "presentation--" .. rid
        assert.is_true(exists(d.spool .. "/done/" .. id))
        assert.is_false(exists(d.spool .. "/" .. id .. ".tar"))
        local log = h.read_file(a.log)
        assert.matches("event=recording_uploaded format=presentation record_id=" .. rid:gsub("%-", "%%-")
            .. " bytes=" .. r.size, log)
        assert.matches('event=recording_skipped path="[^"]*/presentation/not valid!" reason=invalid_name', log)
        assert.is_nil(log:find(".hidden", 1, true))
        -- BBB finishes the second one: metadata.xml comes last
        h.write_file(d.pub .. "/presentation/" .. later .. "/metadata.xml", "<recording/>")
        wait_for("second import", function() return #imports(f) == 2 end, 5, a)
        assert.same(tree_list(d, "presentation", later), tar_list(imports(f)[2].file))
        -- a restart: the done markers keep both from going again
        local a2 = restart_sends_nothing(a, f, d, 2)
        assert.matches("event=uploads_started", h.read_file(a2.log))
        assert.is_nil((h.read_file(a.log) .. h.read_file(a2.log)):find(H.TOKEN, 1, true))
    end)

    it("retries a 500 with growing, jittered delays, keeping the tar, then succeeds", function()
        local d, rid, f, a = uploading("500,500,200")
        local tar = d.spool .. "/presentation--" .. rid .. ".tar"
        assert.is_true(exists(tar))
        wait_for("three imports", function() return #imports(f) == 3 end, 8, a)
        local im = imports(f)
        local gap1, gap2 = im[2].t - im[1].t, im[3].t - im[2].t
        -- 1 s, then 2 s, each at half to all of it (a busy machine only adds to them)
        assert.is_true(gap1 >= 0.45, "first retry after " .. gap1)
        assert.is_true(gap2 >= 0.95, "second retry after " .. gap2)
        for i = 2, 3 do assert.equal(h.read_file(im[1].file), h.read_file(im[i].file)) end
        -- the marker first, then the spool copy goes
        wait_for("done marker and no spool copy", function()
            return exists(d.spool .. "/done/presentation--" .. rid) and not exists(tar)
        end, 5, a)
        local log = h.read_file(a.log)
        assert.equal(1, count(log, "event=recording_upload_failed"))   -- the series, logged once
        assert.matches('error="HTTP 500: fake says 500" retry_ms=%d+', log)
        assert.equal(1, count(log, "event=recording_uploaded"))
    end)

    it("moves a tar refused with 400 to failed/ and never retries it", function()
        local d, rid, f, a = uploading("400")
        local id = "presentation--" .. rid
        wait_for("failed/", function() return exists(d.spool .. "/failed/" .. id .. ".tar") end, 5, a)
        h.sleep(1.5)
        assert.equal(1, #imports(f))
        assert.is_false(exists(d.spool .. "/" .. id .. ".tar"))
        assert.is_false(exists(d.spool .. "/done/" .. id))
        assert.matches('event=recording_upload_refused format=presentation record_id=%S+ '
            .. 'error="HTTP 400: fake says 400"', h.read_file(a.log))
        restart_sends_nothing(a, f, d, 1)
    end)

    it("keeps heartbeating while an upload hangs, and still stops on SIGTERM", function()
        local d, rid, f, a = uploading("hang")
        local t = h.now()
        h.sleep(1.5)
        local n = heartbeats_since(f, t)
        assert.is_true(n >= 4, "heartbeats during a hung upload: " .. n)
        t = h.now()
        local code = h.stop(a.handle)
        assert.equal(0, code)
        assert.is_true(h.now() - t < 3, "stopping took " .. (h.now() - t) .. " s")
        assert.is_true(exists(d.spool .. "/presentation--" .. rid .. ".tar"))   -- still owed
        assert.matches("event=uploads_stopped uploaded=0 refused=0 waiting=1", h.read_file(a.log))
    end)

    it("never uploads a tar half-written when the agent was killed; spools it again", function()
        local d = dirs()
        local rid = record_id()
        local root = tree(d, "presentation", rid, { ["shapes.svg"] = "<svg/>" }, { ready = false })
        -- sparse, so reading is cheap; writing 192 MiB into the spool takes a while
        sh("truncate -s 192M " .. h.shell_quote(root .. "/video.webm"))
        h.write_file(root .. "/metadata.xml", "<recording/>")
        local f = H.fake_start{ import = "hang" }
        local a = agent_start(f, d)
        local tmp = d.spool .. "/presentation--" .. rid .. ".tar.tmp"
        wait_for("the tar being written", function() return exists(tmp) end, 10, a)
        h.stop(a.handle, "SIGKILL")
        assert.is_true(exists(tmp))
        assert.equal(0, #imports(f))
        local f2 = H.fake_start()
        local a2 = agent_start(f2, d)
        wait_for("import", function() return #imports(f2) == 1 end, 20, a2)
        assert.is_false(exists(tmp))
        assert.matches("event=spool_tmp_removed", h.read_file(a2.log))
        local file = imports(f2)[1].file
        assert.same(tree_list(d, "presentation", rid), tar_list(file))
        local listing = sh("tar -tvf " .. h.shell_quote(file))
        assert.matches(" 201326592 [^\n]*presentation/" .. rid:gsub("%-", "%%-") .. "/video%.webm", listing)
        assert.equal(0, #imports(f))
    end)

    it("--upload-recording re-sends every format, done or not; exits 0, or 1 when any fails", function()
        local d = dirs()
        local rid = record_id()
        tree(d, "presentation", rid, { ["shapes.svg"] = "<svg/>" })
        tree(d, "video", rid, { ["video-0.m4v"] = "video" })
        local f = H.fake_start()
        local a = agent_start(f, d)
        wait_for("both formats", function() return #imports(f) == 2 end, 5, a)
        H.stop_all()
        -- a deliberate re-send ignores the done markers
        f = H.fake_start()
        local code, out = upload_cmd(f, d, rid)
        assert.equal(0, code, out)
        assert.matches("presentation/" .. rid:gsub("%-", "%%-") .. ": uploaded %(%d+ bytes%)", out)
        assert.matches("video/" .. rid:gsub("%-", "%%-") .. ": uploaded", out)
        assert.equal(2, #imports(f))
        local seen = {}
        for _, r in ipairs(imports(f)) do seen[tar_list(r.file)[1]] = true end
        assert.same({ ["presentation/" .. rid .. "/"] = true, ["video/" .. rid .. "/"] = true }, seen)
        -- refused: exit 1, both in failed/
        local f400 = H.fake_start{ import = "400" }
        code, out = upload_cmd(f400, d, rid)
        assert.equal(1, code, out)
        assert.matches("refused %(HTTP 400: fake says 400%); moved to ", out)
        assert.is_true(exists(d.spool .. "/failed/video--" .. rid .. ".tar"))
        -- temporary: exit 1, the tar stays for the running agent
        local f503 = H.fake_start{ import = "503" }
        code, out = upload_cmd(f503, d, rid)
        assert.equal(1, code, out)
        assert.matches("failed %(HTTP 503: fake says 503%); kept in ", out)
        assert.is_true(exists(d.spool .. "/video--" .. rid .. ".tar"))
        -- accepted again: the refused copies go
        code, out = upload_cmd(f, d, rid)
        assert.equal(0, code, out)
        assert.is_false(exists(d.spool .. "/failed/video--" .. rid .. ".tar"))
        assert.is_false(exists(d.spool .. "/video--" .. rid .. ".tar"))
        -- unknown, invalid, uploads off, b3scaled away
        code, out = upload_cmd(f, d, record_id())
        assert.equal(1, code, out)
        assert.matches("no published recording under ", out)
        code, out = upload_cmd(f, d, "../etc")
        assert.equal(2, code, out)
        assert.matches("invalid recordID", out)
        code, out = upload_cmd(f, d, rid, { B3SCALE_AGENT_RECORDINGS_DIR = "" })
        assert.equal(2, code, out)
        assert.matches("uploads are off", out)
        code, out = upload_cmd(nil, d, rid, { B3SCALE_API_URL = "http://127.0.0.1:" .. h.free_port() })
        assert.equal(1, code, out)
        assert.matches("failed %(", out)
        code, out = h.run({ AGENT, "--help" }, {})
        assert.equal(0, code)
        assert.matches("%-%-upload%-recording RECORD_ID", out)
    end)

    it("never follows or sends a symlink inside a tree", function()
        local d = dirs()
        local rid = record_id()
        local secret = d.base .. "/outside"
        sh("mkdir -p " .. h.shell_quote(secret .. "/dir"))
        h.write_file(secret .. "/secret.txt", "not for b3scaled")
        h.write_file(secret .. "/dir/inner.txt", "nor this")
        local root = tree(d, "presentation", rid, { ["shapes.svg"] = "<svg/>" }, { ready = false })
        sh("ln -s " .. h.shell_quote(secret .. "/secret.txt") .. " " .. h.shell_quote(root .. "/leak.txt"))
        sh("ln -s " .. h.shell_quote(secret .. "/dir") .. " " .. h.shell_quote(root .. "/leakdir"))
        h.write_file(root .. "/metadata.xml", "<recording/>")
        local f = H.fake_start()
        local a = agent_start(f, d)
        wait_for("import", function() return #imports(f) == 1 end, 5, a)
        local file = imports(f)[1].file
        assert.same(tree_list(d, "presentation", rid), tar_list(file))
        assert.is_nil(h.read_file(file):find("not for b3scaled", 1, true))
        assert.is_nil(h.read_file(file):find("nor this", 1, true))
        local log = h.read_file(a.log)
        assert.matches("event=recording_entry_skipped path=presentation/%S+/leak%.txt reason=symlink", log)
        assert.matches("event=recording_entry_skipped path=presentation/%S+/leakdir reason=symlink", log)
    end)

    it("deletes the node's tree only after a 200 with B3SCALE_AGENT_DELETE_AFTER_UPLOAD=1", function()
        local d = dirs()
        local rid, other = record_id(), record_id()
        local secret = d.base .. "/outside.txt"
        h.write_file(secret, "keep me")
        local root = tree(d, "presentation", rid, { ["slides/s1.svg"] = "<svg/>" }, { ready = false })
        sh("ln -s " .. h.shell_quote(secret) .. " " .. h.shell_quote(root .. "/slides/link.svg"))
        sh("ln -s " .. h.shell_quote(d.base) .. " " .. h.shell_quote(root .. "/up"))
        h.write_file(root .. "/metadata.xml", "<recording/>")
        tree(d, "presentation", other, { ["x.svg"] = "<svg/>" }, { ready = false })   -- not ready
        local f = H.fake_start{ import = "500,200" }
        local a = agent_start(f, d, { B3SCALE_AGENT_DELETE_AFTER_UPLOAD = 1 })
        wait_for("first import", function() return #imports(f) == 1 end, 5, a)
        h.sleep(0.2)
        assert.is_true(exists(root .. "/metadata.xml"))   -- answered 500: still there
        wait_for("second import", function() return #imports(f) == 2 end, 5, a)
        wait_for("tree removed", function() return not exists(root) end, 5, a)
        assert.equal("keep me", h.read_file(secret))
        assert.is_true(exists(d.pub .. "/presentation/" .. other .. "/x.svg"))
        assert.is_true(exists(d.base .. "/spool"))
        assert.matches("event=recording_deleted path=%S+/presentation/" .. rid:gsub("%-", "%%-"),
            h.read_file(a.log))
    end)

    it("prints the upload settings with --check-config and refuses bad ones", function()
        local d = dirs()
        local code, out = h.run({ AGENT, "--check-config" }, agent_env(nil, d))
        assert.equal(0, code, out)
        assert.matches("recordings_dir=" .. d.pub:gsub("%p", "%%%0") .. "\n", out)
        assert.matches("recordings_scan_ms=200\n", out)
        assert.matches("spool_dir=" .. d.spool:gsub("%p", "%%%0") .. "\n", out)
        assert.matches("delete_after_upload=0\n", out)
        code, out = h.run({ AGENT, "--check-config" }, agent_env(nil, d, {
            B3SCALE_AGENT_RECORDINGS_DIR = false, B3SCALE_AGENT_SPOOL_DIR = false,
            B3SCALE_AGENT_RECORDINGS_SCAN_MS = false }))
        assert.equal(0, code, out)
        assert.matches("recordings_dir=/var/bigbluebutton/published\n", out)
        assert.matches("recordings_scan_ms=10000\n", out)
        assert.matches("spool_dir=/var/lib/b3scaleagent/spool\n", out)
        code, out = h.run({ AGENT, "--check-config" }, agent_env(nil, d, {
            B3SCALE_AGENT_RECORDINGS_DIR = "", B3SCALE_AGENT_SPOOL_DIR = d.spool .. "///" }))
        assert.equal(0, code, out)
        assert.matches("recordings_dir= %(uploads off%)\n", out)
        assert.matches("spool_dir=" .. d.spool:gsub("%p", "%%%0") .. "\n", out)
        local cases = {
            { B3SCALE_AGENT_RECORDINGS_DIR = "published", want = "B3SCALE_AGENT_RECORDINGS_DIR must be an absolute path" },
            { B3SCALE_AGENT_SPOOL_DIR = d.pub .. "/spool", want = "must not contain each other" },
            { B3SCALE_AGENT_RECORDINGS_DIR = d.base, want = "must not contain each other" },
            { B3SCALE_AGENT_RECORDINGS_SCAN_MS = "5", want = "B3SCALE_AGENT_RECORDINGS_SCAN_MS must be" },
            { B3SCALE_AGENT_DELETE_AFTER_UPLOAD = "yes", want = "B3SCALE_AGENT_DELETE_AFTER_UPLOAD must be" },
        }
        for _, c in ipairs(cases) do
            local want = c.want
            c.want = nil
            code, out = h.run({ AGENT }, agent_env(nil, d, c), 5)
            assert.equal(2, code, want)
            assert.matches("^b3scaleagent: [^\n]*" .. want .. "[^\n]*\n$", out)
        end
        -- uploads off: no spool is made
        local off = dirs()
        local f = H.fake_start()
        local a = agent_start(f, off, { B3SCALE_AGENT_RECORDINGS_DIR = "" })
        wait_for("heartbeats", function() return #H.requests(f, "/api/v1/agent/heartbeat") >= 2 end, 5, a)
        assert.is_false(exists(off.spool))
        assert.is_nil(h.read_file(a.log):find("uploads_started", 1, true))
    end)
end)
