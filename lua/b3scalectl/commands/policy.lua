-- policy test: runs fixture cases through the daemon's own policy sandbox. There is one
-- implementation of the sandbox (c/policy.c with lua/b3scale/dispatch.lua); this command
-- runs `b3scaled simulate --cases FILE` on this machine (no daemon, no database) and checks
-- the expectations in the file against what it printed.
local json = require("b3scalectl.json")
local util = require("b3scalectl.util")

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function readable(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
end

-- b3scaled: $B3SCALED, the checkout's build, else the installed one on PATH
local function b3scaled(ctx)
    local bin = ctx.getenv("B3SCALED")
    if bin and bin ~= "" then return bin end
    bin = ctx.root .. "/build/b3scaled"
    if readable(bin) then return bin end
    return "b3scaled"
end

local function read(path)
    local f, err = io.open(path, "rb")
    if not f then util.fail("usage", "policy test: " .. tostring(err)) end
    local s = f:read("*a")
    f:close()
    return s
end

local function host_eq(a, b)
    local function norm(h) return (tostring(h):gsub("/+$", "")) end
    return norm(a) == norm(b)
end

local function summary(ex)
    if type(ex) ~= "table" or type(ex.candidates) ~= "table" then return nil end
    local parts = {}
    for _, c in ipairs(ex.candidates) do
        parts[#parts + 1] = (util.show(c.host) or "?") ..
            (c.score ~= nil and ("=" .. util.show(c.score)) or "") ..
            (c.excluded == true and " (excluded)" or "")
    end
    return table.concat(parts, ", ")
end

local function run(ctx, args, flags)
    local file = args[1]
    local text = read(file)
    local doc = json.decode(text)
    if type(doc) ~= "table" then util.fail("usage", "policy test: " .. file .. " is not JSON") end
    local cases = doc.cases or doc
    local policy = flags.policy or (type(doc.policy) == "string" and doc.policy or nil)
    local env = { "B3SCALE_LUA_DIR=" .. shq(ctx.root .. "/lua") }
    local dir = flags["policy-dir"] or ctx.getenv("B3SCALE_POLICY_DIR")
    if dir and dir ~= "" then env[#env + 1] = "B3SCALE_POLICY_DIR=" .. shq(dir) end
    -- the daemon needs its default policy in the directory: the one under test will do
    if policy then env[#env + 1] = "B3SCALE_POLICY=" .. shq(policy) end
    local errfile = os.tmpname()
    local cmd = table.concat(env, " ") .. " " .. shq(b3scaled(ctx)) .. " simulate --cases " ..
        shq(file) .. (policy and (" --policy " .. shq(policy)) or "") .. " 2>" .. shq(errfile)
    local p = io.popen(cmd, "r")
    local out = p:read("*a")
    p:close()
    local stderr = read(errfile)
    os.remove(errfile)
    local res = json.decode(out or "")
    if type(res) ~= "table" or type(res.cases) ~= "table" then
        util.fail("config", "policy test: " .. (stderr ~= "" and stderr or
            "b3scaled simulate --cases gave no answer (is b3scaled installed? set B3SCALED)"))
    end
    if ctx.json then return util.print_json(ctx, out) end
    local failed, checked = 0, 0
    for i, r in ipairs(res.cases) do
        local c = type(cases[i]) == "table" and cases[i] or {}
        local got = r.outcome == "placed" and r.host or r.outcome
        local line = string.format("%s: %s", util.show(r.name) or ("case " .. i),
            r.outcome == "placed" and ("placed on " .. util.show(r.host)) or
            (r.outcome .. " (" .. (util.show(r.reason) or "") .. ")"))
        local verdict = ""
        if c.expect ~= nil and c.expect ~= json.null then
            checked = checked + 1
            local want = tostring(c.expect)
            local ok = (want == "none" and r.outcome == "declined") or
                (r.outcome == "placed" and host_eq(r.host, want))
            if ok then
                verdict = "ok    "
            else
                verdict = "FAIL  "
                failed = failed + 1
                line = line .. string.format("; expected %s", want == "none" and
                    "the policy to decline" or want)
            end
        else
            verdict = "      "
        end
        ctx.out(verdict .. line .. "\n")
        if r.outcome == "placed" then
            if r.reason and r.reason ~= "" then ctx.out("      reason: " .. r.reason .. "\n") end
            local s = summary(r.explanation)
            if s then ctx.out("      candidates: " .. s .. "\n") end
        end
        if got == nil then failed = failed + 1 end
    end
    ctx.out(string.format("%d case(s), %d expectation(s), %d failed\n", #res.cases, checked, failed))
    return failed > 0 and 1 or 0
end

return {
    {
        words = { "policy", "test" }, args = { "file" }, flags = { "policy-dir", "policy" },
        flag_help = {
            ["policy-dir"] = "load the policies from DIR (default: B3SCALE_POLICY_DIR, else b3scaled's)",
            policy = "the policy for cases that name none (default: the file's \"policy\")",
        },
        summary = "run a policy against fixture cases (no daemon, no database)",
        help = "Runs each case of FILE (JSON: {\"policy\": NAME, \"cases\": [...]}, see\n" ..
               "policies/README.md) through the daemon's own policy sandbox (b3scaled simulate\n" ..
               "--cases, on this machine) and prints what the policy chose, with its explanation.\n" ..
               "A case's \"expect\" is the host it must choose, or \"none\" when it must decline;\n" ..
               "exit status 1 when an expectation fails.",
        run = run,
    },
}
