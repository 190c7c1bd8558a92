-- What `import b3scale` and `apply` share: the cluster as the admin API shows it, the
-- difference between a wanted backend or frontend and the stored one (as the field names that
-- differ and the PATCH body that removes the difference), and readable JSON for files.
local json = require("b3scalectl.json")
local http = require("b3scalectl.http")
local util = require("b3scalectl.util")

local _M = {}

_M.ADMIN_STATES = { init = true, ready = true, stopped = true, decommissioned = true }
_M.KEY_PATTERN = "^[A-Za-z0-9_-]+$"          -- frontend keys, at most 64 bytes
_M.TAG_PATTERN = "^[A-Za-z0-9_.:-]+$"

local function is_object(v) return type(v) == "table" and not json.is_array(v) and v ~= json.null end
_M.is_object = is_object

-- A host as the server stores it (lower-case scheme, ending in "/"), or nil: unlike
-- util.normalise_host nothing is guessed, since hosts in files and databases are whole URLs.
function _M.host(h)
    if type(h) ~= "string" then return nil end
    h = util.trim(h)
    if not h:find("^[Hh][Tt][Tt][Pp][Ss]?://[^%s/?#@]+[^%s?#]*$") then return nil end
    h = h:gsub("^%a+", string.lower)
    if h:sub(-1) ~= "/" then h = h .. "/" end
    return h
end

-- v without the null members of its objects (stored settings never keep them: a merge
-- patch's null removes a key), so two values compare as the server would store them
function _M.strip_nulls(v)
    if type(v) ~= "table" or v == json.null then return v end
    if json.is_array(v) then
        local out = json.array()
        for i = 1, #v do out[i] = _M.strip_nulls(v[i]) end
        return out
    end
    local out = {}
    for k, x in pairs(v) do
        if x ~= json.null then out[k] = _M.strip_nulls(x) end
    end
    return out
end

function _M.same(a, b)
    return json.encode(_M.strip_nulls(a)) == json.encode(_M.strip_nulls(b))
end

-- The RFC 7396 merge patch that turns object cur into object want (null removes a key).
function _M.merge_diff(cur, want)
    if not is_object(cur) or not is_object(want) then return want end
    local patch = {}
    for k, v in pairs(want) do
        if cur[k] == nil or cur[k] == json.null then
            patch[k] = v
        elseif not _M.same(cur[k], v) then
            patch[k] = _M.merge_diff(cur[k], v)
        end
    end
    for k in pairs(cur) do
        if want[k] == nil then patch[k] = json.null end
    end
    return patch
end

-- The cluster: backends (with secrets: an admin token), frontends and meetings, each also
-- indexed (by host, by key).
function _M.state(ctx)
    local c = ctx.client()
    local _, _, backends = c.get("/api/v1/backends")
    local _, _, frontends = c.get("/api/v1/frontends")
    local _, _, meetings = c.get("/api/v1/meetings")
    local st = { backends = backends or {}, frontends = frontends or {}, meetings = meetings or {},
        by_host = {}, by_key = {} }
    for _, b in ipairs(st.backends) do st.by_host[util.backend_host(b)] = b end
    for _, f in ipairs(st.frontends) do st.by_key[util.frontend_key(f)] = f end
    return st
end

-- meetings of st per backend host and per frontend key
function _M.meeting_counts(st)
    local by_host, by_key = {}, {}
    for _, m in ipairs(st.meetings) do
        if m.backend_host ~= nil and m.backend_host ~= json.null then
            by_host[m.backend_host] = (by_host[m.backend_host] or 0) + 1
        end
        by_key[m.frontend_key] = (by_key[m.frontend_key] or 0) + 1
    end
    return by_host, by_key
end

local function tags_of(b)
    local t = type(b.settings) == "table" and b.settings.tags
    return type(t) == "table" and t or json.array()
end

local function nullable(v)
    if v == nil then return json.null end
    return v
end

-- Records field `name` as changed (with its PATCH value) when the wanted value is given and
-- differs from the stored one.
local function differ(fields, patch, name, stored, wanted, value)
    if wanted ~= nil and not _M.same(stored, wanted) then
        fields[#fields + 1] = name
        if value == nil then value = wanted end   -- (wanted may be false: no and/or)
        patch[name] = value
    end
end

-- A wanted backend: { host, secret?, tags?, load_factor?, admin_state?, agent_ref? } (absent:
-- keep; agent_ref json.null: clear). Against the stored backend cur: the names of the fields
-- that differ and the PATCH body, or an empty list.
function _M.backend_diff(cur, want)
    local fields, patch = {}, {}
    local bbb = type(cur.bbb) == "table" and cur.bbb or {}
    differ(fields, patch, "secret", bbb.secret, want.secret)
    differ(fields, patch, "tags", tags_of(cur), want.tags, { tags = json.array(want.tags or {}) })
    differ(fields, patch, "load_factor", cur.load_factor, want.load_factor)
    differ(fields, patch, "admin_state", cur.admin_state, want.admin_state)
    differ(fields, patch, "agent_ref", nullable(cur.agent_ref), want.agent_ref)
    -- the API's shapes: the secret inside bbb, the tags inside settings
    if patch.secret then patch.bbb, patch.secret = { secret = patch.secret }, nil end
    if patch.tags then patch.settings, patch.tags = patch.tags, nil end
    return fields, patch
end

-- The POST body creating a wanted backend (the server defaults what is absent).
function _M.backend_body(want)
    local body = { bbb = { host = want.host, secret = want.secret } }
    if want.tags ~= nil then body.settings = { tags = json.array(want.tags) } end
    if want.load_factor ~= nil then body.load_factor = want.load_factor end
    body.admin_state = want.admin_state or "ready"
    if want.agent_ref ~= nil and want.agent_ref ~= json.null then body.agent_ref = want.agent_ref end
    return body
end

-- A wanted frontend: { key, secret?, settings?, active?, account_ref? }; as backend_diff.
function _M.frontend_diff(cur, want)
    local fields, patch = {}, {}
    local bbb = type(cur.bbb) == "table" and cur.bbb or {}
    local s = is_object(cur.settings) and cur.settings or {}
    differ(fields, patch, "secret", bbb.secret, want.secret)
    differ(fields, patch, "settings", s, want.settings, want.settings ~= nil and
        _M.merge_diff(_M.strip_nulls(s), _M.strip_nulls(want.settings)) or nil)
    differ(fields, patch, "active", cur.active, want.active)
    differ(fields, patch, "account_ref", nullable(cur.account_ref), want.account_ref)
    if patch.secret then patch.bbb, patch.secret = { secret = patch.secret }, nil end
    return fields, patch
end

function _M.frontend_body(want)
    local body = { bbb = { key = want.key, secret = want.secret } }
    if want.settings ~= nil then body.settings = _M.strip_nulls(want.settings) end
    if want.active ~= nil then body.active = want.active end
    if want.account_ref ~= nil and want.account_ref ~= json.null then
        body.account_ref = want.account_ref
    end
    return body
end

function _M.create_backend(ctx, want)
    local _, _, v = ctx.client().post("/api/v1/backends", _M.backend_body(want))
    return v
end

function _M.patch_backend(ctx, cur, patch)
    ctx.client().patch("/api/v1/backends/" .. http.urlencode(cur.id), patch)
end

function _M.create_frontend(ctx, want)
    local _, _, v = ctx.client().post("/api/v1/frontends", _M.frontend_body(want))
    return v
end

function _M.patch_frontend(ctx, cur, patch)
    ctx.client().patch("/api/v1/frontends/" .. http.urlencode(cur.id), patch)
end

-- JSON for people and diffs: sorted keys, two spaces per level, one member per line; empty
-- arrays and objects as [] and {}.
function _M.pretty(v, indent)
    indent = indent or ""
    if type(v) ~= "table" or v == json.null then return json.encode(v) end
    local inner = indent .. "  "
    local parts = {}
    local seq = #v > 0
    for k in pairs(v) do
        if type(k) ~= "number" then seq = false end
    end
    if json.is_array(v) or seq then
        if #v == 0 then return "[]" end
        for i = 1, #v do parts[i] = inner .. _M.pretty(v[i], inner) end
        return "[\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    if #keys == 0 then return "{}" end
    table.sort(keys)
    for i, k in ipairs(keys) do
        parts[i] = inner .. json.encode(k) .. ": " .. _M.pretty(v[k], inner)
    end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end

return _M
