-- export / apply: backends and frontends as one JSON file, and the cluster made to match
-- one. The file (docs/switching.md, "Export and apply"):
--
--   { "version": 1,
--     "backends":  [ { "host", "secret"?, "tags"?, "load_factor"?, "admin_state"?, "agent_ref"? } ],
--     "frontends": [ { "key", "secret"?, "previous_secret"?, "settings"?, "active"?,
--                      "account_ref"? } ] }
--
-- A field left out is left as it is (a new object gets the server's default), so a file
-- exported without secrets applies without touching them. previous_secret (a rotation in
-- progress) is exported with --with-secrets only, and only while set; null in a file ends
-- the rotation. The whole file is checked, and
-- the changes planned, before the first change is made.
local json = require("b3scalectl.json")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")
local sync = require("b3scalectl.sync")

local VERSION = 1
local TOP = { version = true, backends = true, frontends = true }
local BACKEND = { host = true, secret = true, tags = true, load_factor = true,
    admin_state = true, agent_ref = true }
local FRONTEND = { key = true, secret = true, previous_secret = true, settings = true,
    active = true, account_ref = true }

-- webhooks carry a secret of their own inside the settings
local function webhooks_of(settings)
    local w = sync.is_object(settings) and settings.webhooks
    return json.is_array(w) and w or nil
end

local function export_settings(settings, with_secrets)
    local s = sync.strip_nulls(sync.is_object(settings) and settings or {})
    local hooks = webhooks_of(s)
    if hooks and not with_secrets then
        for _, w in ipairs(hooks) do
            if sync.is_object(w) then w.secret = nil end
        end
    end
    return s
end

local function export(ctx, _, flags)
    local with = flags["with-secrets"] == true
    local st = sync.state(ctx)
    local out = { version = VERSION, backends = json.array(), frontends = json.array() }
    for _, b in ipairs(st.backends) do
        local tags = type(b.settings) == "table" and b.settings.tags
        out.backends[#out.backends + 1] = {
            host = util.backend_host(b), admin_state = b.admin_state, load_factor = b.load_factor,
            tags = json.array(type(tags) == "table" and tags or {}),
            agent_ref = b.agent_ref == nil and json.null or b.agent_ref,
            secret = with and type(b.bbb) == "table" and b.bbb.secret or nil,
        }
    end
    table.sort(out.backends, function(a, b) return a.host < b.host end)
    for _, f in ipairs(st.frontends) do
        out.frontends[#out.frontends + 1] = {
            key = util.frontend_key(f), active = f.active ~= false,
            account_ref = f.account_ref == nil and json.null or f.account_ref,
            settings = export_settings(f.settings, with),
            secret = with and type(f.bbb) == "table" and f.bbb.secret or nil,
            previous_secret = with and type(f.bbb) == "table" and f.bbb.previous_secret or nil,
        }
    end
    table.sort(out.frontends, function(a, b) return a.key < b.key end)
    ctx.out(sync.pretty(out) .. "\n")
end

--------------------------------------------------------------------------------------------
-- apply

local function bad(where, msg)
    util.fail("config", where .. ": " .. msg .. "; nothing was changed")
end

local function read_file(name)
    local text, err
    if name == "-" then
        text = io.stdin:read("*a")
    else
        local f
        f, err = io.open(name, "rb")
        if not f then util.fail("config", "cannot read " .. tostring(err)) end
        text = f:read("*a")
        f:close()
    end
    local v
    v, err = json.decode(text or "")
    if v == nil then bad(name, "invalid JSON: " .. tostring(err)) end
    if not sync.is_object(v) then bad(name, "must be a JSON object with backends and frontends") end
    return v
end

local function unknown(where, obj, allowed)
    local names = {}
    for k in pairs(obj) do
        if not allowed[k] then names[#names + 1] = tostring(k) end
    end
    table.sort(names)
    if names[1] then bad(where, "unknown field " .. string.format("%q", names[1])) end
end

local function kind(where, field, v, k)
    local ok
    if k == "string" then ok = type(v) == "string"
    elseif k == "nonempty" then ok = type(v) == "string" and util.trim(v) ~= ""
    elseif k == "boolean" then ok = type(v) == "boolean"
    elseif k == "number" then ok = type(v) == "number" and v == v and v >= 0 and v < math.huge
    elseif k == "object" then ok = sync.is_object(v)
    elseif k == "strings" then
        ok = json.is_array(v)
        for _, x in ipairs(ok and v or {}) do
            if type(x) ~= "string" or not x:find(sync.TAG_PATTERN) then ok = false end
        end
    elseif k == "ref" then ok = v == json.null or (type(v) == "string" and v ~= "") end
    if not ok then
        local what = { string = "a string", nonempty = "a non-empty string", boolean = "true or false",
            number = "a number >= 0", object = "an object",
            strings = "a list of tags matching " .. sync.TAG_PATTERN,
            ref = "a non-empty string or null" }
        bad(where, field .. " must be " .. what[k])
    end
end

local function opt(where, obj, field, k)
    if obj[field] ~= nil then kind(where, field, obj[field], k) end
end

-- the file as wanted backends and frontends (lists, in file order); raises on anything wrong
local function parse(name, doc)
    unknown(name, doc, TOP)
    if doc.version ~= nil and doc.version ~= VERSION then
        bad(name, "version must be " .. VERSION)
    end
    local backends, frontends, hosts, keys = {}, {}, {}, {}
    for _, part in ipairs({ "backends", "frontends" }) do
        if doc[part] ~= nil and not json.is_array(doc[part]) then
            bad(name, part .. " must be a list")
        end
    end
    for i, b in ipairs(doc.backends or {}) do
        local where = string.format("%s: backends[%d]", name, i - 1)
        if not sync.is_object(b) then bad(where, "must be an object") end
        local host = sync.host(b.host)
        if host then where = string.format("%s: backend %s", name, host) end
        unknown(where, b, BACKEND)
        if b.host == nil then bad(where, "host is required") end
        if not host then bad(where, "host must be an http(s) URL") end
        if hosts[host] then bad(where, "listed twice") end
        hosts[host] = true
        opt(where, b, "secret", "nonempty")
        opt(where, b, "tags", "strings")
        opt(where, b, "load_factor", "number")
        opt(where, b, "agent_ref", "ref")
        if b.admin_state ~= nil and not sync.ADMIN_STATES[b.admin_state] then
            bad(where, "admin_state must be one of init, ready, stopped, decommissioned")
        end
        backends[#backends + 1] = { host = host, secret = b.secret, tags = b.tags,
            load_factor = b.load_factor, admin_state = b.admin_state, agent_ref = b.agent_ref }
    end
    for i, f in ipairs(doc.frontends or {}) do
        local where = string.format("%s: frontends[%d]", name, i - 1)
        if not sync.is_object(f) then bad(where, "must be an object") end
        local valid = type(f.key) == "string" and #f.key <= 64 and f.key:find(sync.KEY_PATTERN)
        if valid then where = string.format("%s: frontend %s", name, f.key) end
        unknown(where, f, FRONTEND)
        if f.key == nil then bad(where, "key is required") end
        if not valid then bad(where, "key must match ^[A-Za-z0-9_-]{1,64}$") end
        if keys[f.key] then bad(where, "listed twice") end
        keys[f.key] = true
        opt(where, f, "secret", "nonempty")
        if f.previous_secret ~= json.null then opt(where, f, "previous_secret", "nonempty") end
        opt(where, f, "settings", "object")
        opt(where, f, "active", "boolean")
        opt(where, f, "account_ref", "ref")
        frontends[#frontends + 1] = { key = f.key, secret = f.secret, settings = f.settings,
            active = f.active, account_ref = f.account_ref, previous_secret = f.previous_secret }
    end
    return backends, frontends
end

-- A webhook written without its secret (an export without --with-secrets) keeps the secret
-- of the stored webhook with the same URL; raises when there is none.
local function keep_webhook_secrets(name, want, cur)
    local hooks = webhooks_of(want.settings)
    if not hooks then return end
    local stored = {}
    for _, w in ipairs(webhooks_of(cur and cur.settings) or {}) do
        if sync.is_object(w) and type(w.url) == "string" and stored[w.url] == nil then
            stored[w.url] = w.secret
        end
    end
    for i, w in ipairs(hooks) do
        if sync.is_object(w) and w.secret == nil then
            if stored[w.url] == nil then
                bad(string.format("%s: frontend %s", name, want.key), string.format(
                    "settings.webhooks[%d] has no secret and no stored webhook has its url", i - 1))
            end
            w.secret = stored[w.url]
        end
    end
end

-- sync's frontend diff and create, plus previous_secret (absent: keep; null: end the rotation)
local function frontend_diff(cur, want)
    local fields, patch = sync.frontend_diff(cur, want)
    local had = type(cur.bbb) == "table" and cur.bbb.previous_secret or nil
    local p = want.previous_secret
    if p ~= nil and p ~= (had == nil and json.null or had) then
        fields[#fields + 1] = "previous_secret"
        patch.bbb = patch.bbb or {}
        patch.bbb.previous_secret = p
    end
    return fields, patch
end

local function create_frontend(ctx, want)
    local body = sync.frontend_body(want)
    if want.previous_secret ~= nil and want.previous_secret ~= json.null then
        body.bbb.previous_secret = want.previous_secret
    end
    ctx.client().post("/api/v1/frontends", body)
end

-- The changes, in the order they are made: { sign, what, name, detail, fn } with fn nil for
-- a line that changes nothing (a refusal, "!"). Raises, before any change, on a new object
-- without a secret.
local function plan(ctx, name, backends, frontends, st, prune)
    local steps = {}
    local function step(sign, what, id, detail, fn)
        steps[#steps + 1] = { sign = sign, what = what, name = id, detail = detail, fn = fn }
    end
    local meetings_on, meetings_of = sync.meeting_counts(st)
    for _, want in ipairs(backends) do
        local cur = st.by_host[want.host]
        if not cur then
            if want.secret == nil then
                bad(name .. ": backend " .. want.host, "a new backend needs its secret" ..
                    " (export --with-secrets writes secrets)")
            end
            step("+", "backend", want.host, nil, function() sync.create_backend(ctx, want) end)
        else
            local fields, patch = sync.backend_diff(cur, want)
            if #fields > 0 then
                step("~", "backend", want.host, table.concat(fields, ", "),
                    function() sync.patch_backend(ctx, cur, patch) end)
            end
        end
    end
    for _, want in ipairs(frontends) do
        local cur = st.by_key[want.key]
        keep_webhook_secrets(name, want, cur)
        if not cur then
            if want.secret == nil then
                bad(name .. ": frontend " .. want.key, "a new frontend needs its secret" ..
                    " (export --with-secrets writes secrets)")
            end
            step("+", "frontend", want.key, nil, function() create_frontend(ctx, want) end)
        else
            local fields, patch = frontend_diff(cur, want)
            if #fields > 0 then
                step("~", "frontend", want.key, table.concat(fields, ", "),
                    function() sync.patch_frontend(ctx, cur, patch) end)
            end
        end
    end
    if not prune then return steps end
    local listed_f, listed_b = {}, {}
    for _, f in ipairs(frontends) do listed_f[f.key] = true end
    for _, b in ipairs(backends) do listed_b[b.host] = true end
    for _, f in ipairs(st.frontends) do
        local key = util.frontend_key(f)
        local n = meetings_of[key] or 0
        if listed_f[key] then
            -- kept
        elseif n > 0 then
            -- deleting a frontend deletes its meeting records: they would run on unreachable
            step("!", "frontend", key, string.format("not deleted: it has %d meeting(s); end" ..
                " them (or keep it in the file) first", n))
        else
            step("-", "frontend", key, nil, function()
                ctx.client().delete("/api/v1/frontends/" .. http.urlencode(f.id))
            end)
        end
    end
    for _, b in ipairs(st.backends) do
        local host = util.backend_host(b)
        local n = meetings_on[host] or 0
        if listed_b[host] then
            -- kept
        elseif b.admin_state == "decommissioned" and n > 0 then
            -- drained already (an earlier prune or delete backend): nothing new to do
        else
            -- as `delete backend` without --force: a backend with meetings only drains
            step("-", "backend", host, n > 0 and string.format("decommissioned: it has %d" ..
                " meeting(s) and is removed once they are gone", n) or nil, function()
                ctx.client().delete("/api/v1/backends/" .. http.urlencode(b.id))
            end)
        end
    end
    return steps
end

local function apply(ctx, _, flags)
    local name = flags.file
    local doc = read_file(name)
    local backends, frontends = parse(name, doc)
    local st = sync.state(ctx)
    local steps = plan(ctx, name, backends, frontends, st, flags.prune == true)
    local dry = flags["dry-run"] == true
    local changes, refused = 0, 0
    for _, s in ipairs(steps) do
        ctx.out(string.format("%s %s %s%s\n", s.sign, s.what, s.name,
            s.detail and (": " .. s.detail) or ""))
        if s.fn then
            changes = changes + 1
            if not dry then s.fn() end
        else
            refused = refused + 1
        end
    end
    if changes == 0 then
        ctx.out("no changes: the cluster matches " .. (name == "-" and "the input" or name) .. "\n")
    elseif dry then
        ctx.out(string.format("dry run: %d change(s) planned, nothing was changed\n", changes))
    else
        ctx.out(string.format("%d change(s) applied\n", changes))
    end
    if refused > 0 then
        util.fail("partial", string.format("%d object(s) could not be removed (see above)", refused))
    end
end

return {
    {
        words = { "export" }, flags = { "with-secrets" },
        flag_help = { ["with-secrets"] = "include the backends' and frontends' secrets" },
        summary = "print backends and frontends as a JSON file for apply",
        help = "Prints every backend and frontend as one JSON document (keys sorted, one\n" ..
               "member per line) that `apply -f` takes. Without --with-secrets the secrets,\n" ..
               "including those of frontend webhooks, are left out, and applying the file\n" ..
               "keeps the stored ones. Needs an admin token.",
        run = export,
    },
    {
        words = { "apply" }, flags = { "file", "dry-run", "prune" }, required = { file = true },
        short = { f = "file" },
        flag_help = {
            file = "the JSON file (as export prints it; - reads stdin)",
            ["dry-run"] = "print the changes, make none",
            prune = "also remove backends and frontends the file does not list",
        },
        summary = "make backends and frontends match a JSON file",
        help = "Creates what the file lists and the cluster lacks, changes the fields that\n" ..
               "differ and, with --prune, removes backends and frontends the file does not\n" ..
               "list; prints one line per change (+ created, ~ changed: fields, - removed).\n" ..
               "A field the file leaves out stays as it is, so a file exported without\n" ..
               "secrets keeps them; a new backend or frontend needs its secret. The whole file\n" ..
               "is checked first: an error changes nothing. --prune never loses a meeting: a\n" ..
               "backend with meetings is decommissioned (it drains), a frontend with meetings\n" ..
               "is kept and reported (exit 1). See docs/switching.md.",
        run = apply,
    },
}
