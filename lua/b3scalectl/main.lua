-- b3scalectl: the admin CLI of b3scale-c, a client of the REST API in docs/admin-api.md.
--
--   bin/b3scalectl [--api URL] [--json] <command> ...      (bin/b3scalectl --help)
--
-- Run as a script (by bin/b3scalectl) it executes the command line and exits; required as
-- the module `b3scalectl.main` it returns the parser and runner for the specs.
local http = require("b3scalectl.http")
local jwt  = require("b3scalectl.jwt")
local util = require("b3scalectl.util")

local _M = {}

_M.VERSION = "0.1.0"
_M.DEFAULT_API = "http://127.0.0.1:42353"
_M.TOKEN_TTL = 300            -- seconds; tokens minted per call are short-lived

-- every flag a command may take; arg = its value's name (nil: a switch)
_M.FLAGS = {
    secret        = { arg = "S", short = "s" },
    tags          = { arg = "a,b" },
    ["load-factor"] = { arg = "F" },
    ["max-meetings"] = { arg = "N" },
    ["max-attendees"] = { arg = "N" },
    settings      = { arg = "JSON" },
    ["account-ref"] = { arg = "R" },
    backend       = { arg = "HOST" },
    frontend      = { arg = "KEY" },
    meeting       = { arg = "ID" },
    visibility    = { arg = "V" },
    state         = { arg = "S" },
    force         = { short = "f" },
    sub           = { arg = "S" },
    scopes        = { arg = "a,b" },
    expires       = { arg = "DURATION" },
    ref           = { arg = "R" },
    db            = { arg = "URL" },
    ["dry-run"]   = {},
    ["with-secrets"] = {},
    file          = { arg = "FILE" },
    prune         = {},
    ["rotate-secret"] = {},
    ["drop-previous-secret"] = {},
    ["policy-dir"] = { arg = "DIR" },
    policy        = { arg = "NAME" },
    month         = { arg = "YYYY-MM" },
    from          = { arg = "TIME" },
    to            = { arg = "TIME" },
    csv           = {},
}
local SHORT = {}
for name, f in pairs(_M.FLAGS) do if f.short then SHORT[f.short] = name end end

local GLOBAL = { api = { arg = "URL", short = "b" }, json = {}, help = { short = "h" } }
local GLOBAL_SHORT = { b = "api", h = "help" }

-- first words accepted for each verb (b3scale's aliases included)
local VERB_ALIASES = {
    s = "show", update = "set", u = "set", add = "set", a = "set",
    d = "delete", del = "delete", rm = "delete", en = "enable", start = "enable",
    dis = "disable", stop = "disable",
}
local NOUN_ALIASES = {
    ["create-access-token"] = "create_access_token",
    ["authorize-node-agent"] = "authorize_node_agent",
}

-- the command table, in help order
_M.COMMANDS = {}
for _, name in ipairs({ "backends", "frontends", "meetings", "recordings", "callbacks", "usage",
    "auth", "policy", "migrate", "apply", "misc" }) do
    for _, cmd in ipairs(require("b3scalectl.commands." .. name)) do
        _M.COMMANDS[#_M.COMMANDS + 1] = cmd
    end
end

-- the one-letter form of flag f in cmd (a command may give a letter its own meaning, as
-- apply's -f FILE), or nil
local function short_of(cmd, f)
    for letter, name in pairs(cmd.short or {}) do
        if name == f then return letter end
    end
    local letter = _M.FLAGS[f].short
    if letter and not (cmd.short and cmd.short[letter]) then return letter end
    return nil
end

local function synopsis(cmd)
    local parts = { table.concat(cmd.words, " ") }
    for _, a in ipairs(cmd.args or {}) do parts[#parts + 1] = "<" .. a .. ">" end
    for _, f in ipairs(cmd.flags or {}) do
        local spec = _M.FLAGS[f]
        local req = cmd.required and cmd.required[f]
        local letter = req and short_of(cmd, f)
        local s = (letter and ("-" .. letter) or ("--" .. f)) .. (spec.arg and (" " .. spec.arg) or "")
        parts[#parts + 1] = req and s or ("[" .. s .. "]")
    end
    return table.concat(parts, " ")
end
_M.synopsis = synopsis

function _M.help_text(prefix)
    prefix = prefix or {}
    local matching = {}
    for _, cmd in ipairs(_M.COMMANDS) do
        local ok = true
        for i, w in ipairs(prefix) do if cmd.words[i] ~= w then ok = false end end
        if ok then matching[#matching + 1] = cmd end
    end
    local out = {}
    if #matching == 1 and #prefix == #matching[1].words then
        local cmd = matching[1]
        out[#out + 1] = "usage: b3scalectl [--api URL] [--json] " .. synopsis(cmd)
        out[#out + 1] = ""
        out[#out + 1] = cmd.help
        if cmd.flags and #cmd.flags > 0 then
            out[#out + 1] = ""
            out[#out + 1] = "flags:"
            for _, f in ipairs(cmd.flags) do
                local spec = _M.FLAGS[f]
                local letter = short_of(cmd, f)
                local left = (letter and ("-" .. letter .. ", ") or "") .. "--" .. f ..
                    (spec.arg and (" " .. spec.arg) or "")
                out[#out + 1] = string.format("  %-22s %s", left, cmd.flag_help and cmd.flag_help[f] or "")
            end
        end
        return table.concat(out, "\n") .. "\n"
    end
    if #prefix == 0 then
        out[#out + 1] = "usage: b3scalectl [--api URL] [--json] <command> [args] [flags]"
        out[#out + 1] = ""
        out[#out + 1] = "Administers b3scaled through its REST API (docs/admin-api.md)."
        out[#out + 1] = ""
        out[#out + 1] = "commands:"
    else
        out[#out + 1] = "usage: b3scalectl [--api URL] [--json] " .. table.concat(prefix, " ") .. " ..."
        out[#out + 1] = ""
        out[#out + 1] = "commands:"
    end
    local function short(cmd)
        local parts = { table.concat(cmd.words, " ") }
        for _, a in ipairs(cmd.args or {}) do parts[#parts + 1] = "<" .. a .. ">" end
        if cmd.flags and #cmd.flags > 0 then parts[#parts + 1] = "[flags]" end
        return table.concat(parts, " ")
    end
    local w = 0
    for _, cmd in ipairs(matching) do w = math.max(w, #short(cmd)) end
    for _, cmd in ipairs(matching) do
        out[#out + 1] = string.format("  %-" .. w .. "s  %s", short(cmd), cmd.summary)
    end
    out[#out + 1] = ""
    out[#out + 1] = "global flags:"
    out[#out + 1] = "  -b, --api URL   admin API base URL (env B3SCALE_API_URL, default " .. _M.DEFAULT_API .. ")"
    out[#out + 1] = "  --json          print the server's JSON instead of tables (for scripts)"
    out[#out + 1] = "  -h, --help      usage of any command, e.g. b3scalectl set backend --help"
    if #prefix == 0 then
        out[#out + 1] = ""
        out[#out + 1] = "credentials: B3SCALE_API_TOKEN (a token), else a 5-minute admin token is minted"
        out[#out + 1] = "per call from B3SCALE_API_JWT_SECRET (the daemon's secret)."
        out[#out + 1] = "exit status: 0 ok, 1 error (one line on stderr), 2 usage error."
    end
    return table.concat(out, "\n") .. "\n"
end

-- Parses argv (a list of strings). Returns a table:
--   { help = {words...} }                      when -h/--help/help was asked for
--   { cmd = <command>, args = {...}, flags = {name = value|true}, api = s|nil, json = bool }
-- Raises a usage error (util.usage) on anything wrong.
local function scan_words(argv, short)
    -- -h / --help before any "--": the command words, skipping flags (and known flags'
    -- values) without judging them, so help works even on an otherwise wrong line
    local asked, words, i = false, {}, 1
    while i <= #argv do
        local a = argv[i]
        if a == "--" then break end
        if a == "-h" or a == "--help" then asked = true
        elseif a:sub(1, 1) == "-" and a ~= "-" then
            local name = a:match("^%-%-([^=]+)$") or GLOBAL_SHORT[a:sub(2)] or short[a:sub(2)]
            local spec = name and (GLOBAL[name] or _M.FLAGS[name])
            if spec and spec.arg then i = i + 1 end
        else
            words[#words + 1] = a
        end
        i = i + 1
    end
    return words, asked
end

local function help_words(argv, short)
    local words, asked = scan_words(argv, short)
    return asked and words or nil
end

-- The one-letter flags of this command line: a command's own letters (see short_of) when its
-- words come first with them read so, else the common ones.
local function short_map(argv)
    for _, cmd in ipairs(_M.COMMANDS) do
        if cmd.short then
            local map = {}
            for k, v in pairs(SHORT) do map[k] = v end
            for k, v in pairs(cmd.short) do map[k] = v end
            local words = scan_words(argv, map)
            if words[1] then words[1] = VERB_ALIASES[words[1]] or words[1] end
            local same = #words >= #cmd.words
            for k = 1, #cmd.words do
                if words[k] ~= cmd.words[k] then same = false end
            end
            if same then return map end
        end
    end
    return SHORT
end

function _M.parse(argv)
    local words, flags, order = {}, {}, {}
    local short = short_map(argv)
    local hw = help_words(argv, short)
    if hw then
        argv = hw
        table.insert(argv, 1, "help")
    end
    local g = { json = false }
    local i, nomore = 1, false
    while i <= #argv do
        local a = argv[i]
        if nomore or a == "-" or a:sub(1, 1) ~= "-" then
            words[#words + 1] = a
        elseif a == "--" then
            nomore = true
        else
            local name, value
            if a:sub(1, 2) == "--" then
                name, value = a:match("^%-%-([^=]+)=(.*)$")
                if not name then name = a:sub(3) end
            else
                name = a:sub(2)
                if #name ~= 1 then util.usage("unknown flag " .. a) end
                name = GLOBAL_SHORT[name] or short[name]
                if not name then util.usage("unknown flag " .. a) end
            end
            local spec = GLOBAL[name] or _M.FLAGS[name]
            if not spec then util.usage("unknown flag " .. a) end
            if spec.arg then
                if value == nil then
                    i = i + 1
                    value = argv[i]
                    if value == nil then util.usage("flag --" .. name .. " needs a value (" .. spec.arg .. ")") end
                end
            elseif value ~= nil then
                util.usage("flag --" .. name .. " takes no value")
            else
                value = true
            end
            if GLOBAL[name] then g[name] = value
            else flags[name] = value; order[#order + 1] = name end
        end
        i = i + 1
    end

    -- resolve the command words
    if words[1] == "help" then
        local rest = {}
        for k = 2, #words do rest[#rest + 1] = words[k] end
        words = rest
        g.help = true
    end
    if words[1] then words[1] = VERB_ALIASES[words[1]] or words[1] end
    if words[2] then words[2] = NOUN_ALIASES[words[2]] or words[2] end
    local best, bestlen = nil, 0
    for _, cmd in ipairs(_M.COMMANDS) do
        local n = #cmd.words
        if n > bestlen and #words >= n then
            local ok = true
            for k = 1, n do if words[k] ~= cmd.words[k] then ok = false end end
            if ok then best, bestlen = cmd, n end
        end
    end
    if g.help then
        if best then return { help = best.words } end
        -- a valid prefix (e.g. "show") lists its commands; anything else the whole list
        local prefix = {}
        for _, cmd in ipairs(_M.COMMANDS) do
            if cmd.words[1] == words[1] then prefix = { words[1] } end
        end
        return { help = prefix }
    end
    if #words == 0 then util.usage("missing command (see b3scalectl --help)") end
    if not best then
        local verb_known = false
        for _, cmd in ipairs(_M.COMMANDS) do if cmd.words[1] == words[1] then verb_known = true end end
        if verb_known then
            local subs = {}
            for _, cmd in ipairs(_M.COMMANDS) do
                if cmd.words[1] == words[1] and cmd.words[2] then subs[#subs + 1] = cmd.words[2] end
            end
            util.usage(string.format("%s: %s (one of: %s)", words[1],
                words[2] and ("unknown subcommand " .. words[2]) or "missing subcommand",
                table.concat(subs, ", ")))
        end
        util.usage("unknown command " .. words[1] .. " (see b3scalectl --help)")
    end
    local name = table.concat(best.words, " ")
    local args = {}
    for k = bestlen + 1, #words do args[#args + 1] = words[k] end
    local want = best.args or {}
    if #args < #want then
        util.usage(string.format("%s: missing <%s> (usage: b3scalectl %s)", name, want[#args + 1], synopsis(best)))
    elseif #args > #want then
        util.usage(string.format("%s: unexpected argument %s (usage: b3scalectl %s)", name, args[#want + 1], synopsis(best)))
    end
    local allowed = {}
    for _, f in ipairs(best.flags or {}) do allowed[f] = true end
    for _, f in ipairs(order) do
        if not allowed[f] then
            util.usage(string.format("%s: unknown flag --%s (usage: b3scalectl %s)", name, f, synopsis(best)))
        end
    end
    for f in pairs(best.required or {}) do
        if flags[f] == nil then
            util.usage(string.format("%s: --%s is required (usage: b3scalectl %s)", name, f, synopsis(best)))
        end
    end
    return { cmd = best, args = args, flags = flags, api = g.api, json = g.json }
end

-- repository root: from this file's path (<root>/lua/b3scalectl/main.lua)
function _M.root()
    local src = debug.getinfo(1, "S").source
    if src:sub(1, 1) == "@" then
        local dir = src:sub(2):match("^(.*)/lua/b3scalectl/main%.lua$")
        if dir then return dir end
    end
    return "."
end

-- the bearer token for a request: B3SCALE_API_TOKEN, else minted from B3SCALE_API_JWT_SECRET
function _M.token(getenv)
    getenv = getenv or os.getenv
    local t = getenv("B3SCALE_API_TOKEN")
    if t and t ~= "" then return t end
    local secret = getenv("B3SCALE_API_JWT_SECRET")
    if secret and secret ~= "" then
        return jwt.mint(secret, "b3scalectl", { "b3scale:admin" }, _M.TOKEN_TTL)
    end
    util.fail("config", "no credentials: set B3SCALE_API_TOKEN to a token, or " ..
        "B3SCALE_API_JWT_SECRET to the daemon's secret")
end

-- builds the context commands run in
function _M.context(p, opts)
    opts = opts or {}
    local getenv = opts.getenv or os.getenv
    local api = p.api or getenv("B3SCALE_API_URL")
    if not api or api == "" then api = _M.DEFAULT_API end
    api = api:gsub("/+$", "")
    if not api:match("^https?://") then
        util.usage("--api must be an http:// URL, got " .. api)
    end
    local ctx = {
        api = api, json = p.json, getenv = getenv, root = opts.root or _M.root(),
        version = _M.VERSION,
        out = opts.out or function(s) io.stdout:write(s) end,
    }
    local client
    function ctx.client()
        if not client then
            client = http.new(api, function() return _M.token(getenv) end)
        end
        return client
    end
    return ctx
end

-- runs argv; returns the exit status. Errors go to stderr as one line.
function _M.main(argv, opts)
    opts = opts or {}
    local err = opts.err or function(s) io.stderr:write(s) end
    local ok, res = xpcall(function()
        local p = _M.parse(argv)
        if p.help then
            (opts.out or function(s) io.stdout:write(s) end)(_M.help_text(p.help))
            return 0
        end
        local ctx = _M.context(p, opts)
        return p.cmd.run(ctx, p.args, p.flags) or 0
    end, function(e)
        if http.is_error(e) then return e end
        return http.error("internal", "internal error: " .. tostring(e) ..
            (os.getenv("B3SCALECTL_DEBUG") and ("\n" .. debug.traceback()) or ""))
    end)
    if ok then return res end
    local msg = tostring(res.message):gsub("%s*\n%s*", " ")
    if os.getenv("B3SCALECTL_DEBUG") then msg = tostring(res.message) end
    err("b3scalectl: " .. msg .. "\n")
    return res.kind == "usage" and 2 or 1
end

if ... ~= "b3scalectl.main" then
    local argv = {}
    for k = 1, select("#", ...) do argv[k] = select(k, ...) end
    io.stdout:setvbuf("full")
    local code = _M.main(argv)
    io.stdout:flush()
    os.exit(code)
end

return _M
