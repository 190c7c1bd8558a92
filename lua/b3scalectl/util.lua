-- Shared helpers of the b3scalectl commands: errors, host normalisation, durations,
-- look-ups by host / key, output.
local http = require("b3scalectl.http")
local json = require("b3scalectl.json")

local _M = {}

-- raise a one-line error; kind "usage" exits 2, anything else 1
function _M.fail(kind, message) error(http.error(kind, message), 0) end
function _M.usage(message) _M.fail("usage", message) end

function _M.trim(s) return (tostring(s):gsub("^%s+", ""):gsub("%s+$", "")) end

-- A backend host as the API stores it: http(s)://authority/path/ ending in "/". Without a
-- scheme https:// is assumed; without a path BBB's /bigbluebutton/api/ is appended.
function _M.normalise_host(h)
    h = _M.trim(h)
    local scheme, rest = h:match("^([Hh][Tt][Tt][Pp][Ss]?)://(.*)$")
    if not scheme then
        if h:match("^%a[%w+.-]*://") then return h end   -- other scheme: the server refuses it
        scheme, rest = "https", h
    end
    local authority, path = rest:match("^([^/?#]*)(.*)$")
    if path == "" or path == "/" then path = "/bigbluebutton/api/" end
    if not path:match("/$") then path = path .. "/" end
    return scheme:lower() .. "://" .. authority .. path
end

-- the forms a host given on the command line may be stored as, most likely first
function _M.host_candidates(h)
    local list, seen = {}, {}
    local function add(x) if not seen[x] then seen[x] = true; list[#list + 1] = x end end
    add(_M.normalise_host(h))
    local t = _M.trim(h)
    if not t:match("^%a[%w+.-]*://") then t = "https://" .. t end
    if not t:match("/$") then t = t .. "/" end
    add(t)
    return list
end

local UNITS = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }
-- "90m", "24h", "7d", "1h30m", "3600" (seconds), "0" (no expiry) -> seconds; nil, msg if bad
function _M.parse_duration(s)
    s = _M.trim(s or "")
    if s:match("^%d+$") then return tonumber(s) end
    if s == "" or not s:match("^[%d%a]+$") then return nil, "bad duration " .. string.format("%q", s) end
    local total, rest = 0, s
    while rest ~= "" do
        local n, u, tail = rest:match("^(%d+)(%a)(.*)$")
        if not n or not UNITS[u] then
            return nil, "bad duration " .. string.format("%q", s) .. " (use e.g. 90m, 24h, 7d; 0 = never expires)"
        end
        total = total + tonumber(n) * UNITS[u]
        rest = tail
    end
    return total
end

function _M.is_uuid(s)
    return s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end

-- "a,b, c" -> json array {"a","b","c"}; "" -> []
function _M.csv(s)
    local list = json.array()
    for item in tostring(s):gmatch("[^,]+") do
        item = _M.trim(item)
        if item ~= "" then list[#list + 1] = item end
    end
    return list
end

-- the backend object for a host (or id); raises "no backend ..." when none
function _M.find_backend(ctx, host)
    local c = ctx.client()
    if _M.is_uuid(host) then
        local ok, e = pcall(function()
            local _, _, v = c.get("/api/v1/backends/" .. host)
            return v
        end)
        if ok then return e end
        if not (http.is_error(e) and e.status == 404) then error(e, 0) end
    end
    for _, cand in ipairs(_M.host_candidates(host)) do
        local _, _, list = c.get("/api/v1/backends?host=" .. http.urlencode(cand))
        if type(list) == "table" then
            for _, b in ipairs(list) do
                if type(b) == "table" and type(b.bbb) == "table" and b.bbb.host == cand then return b end
            end
            if #list == 1 and type(list[1]) == "table" then return list[1] end
        end
    end
    _M.fail("not_found", "no backend with host " .. _M.normalise_host(host))
end

-- the frontend object for a key; raises "no frontend ..." when none
function _M.find_frontend(ctx, key)
    local _, _, list = ctx.client().get("/api/v1/frontends?key=" .. http.urlencode(key))
    if type(list) == "table" then
        for _, f in ipairs(list) do
            if type(f) == "table" and (f.key == key or (type(f.bbb) == "table" and f.bbb.key == key)) then
                return f
            end
        end
    end
    _M.fail("not_found", "no frontend with key " .. key)
end

-- find(ctx, name) (find_backend or find_frontend), or nil when there is none; other errors
-- are raised as they are
function _M.find_or_nil(find, ctx, name)
    local ok, e = pcall(find, ctx, name)
    if ok then return e end
    if not (http.is_error(e) and e.kind == "not_found") then error(e, 0) end
    return nil
end

-- GET /api/v1/<collection>/<id> of an object found before: the server's raw JSON and value
function _M.get_raw(ctx, collection, obj)
    local _, raw, v = ctx.client().get("/api/v1/" .. collection .. "/" .. http.urlencode(obj.id))
    return raw, v
end

function _M.backend_host(b)
    return type(b.bbb) == "table" and b.bbb.host or b.host or "?"
end

function _M.frontend_key(f)
    return f.key or (type(f.bbb) == "table" and f.bbb.key) or "?"
end

_M.PAGE = 1000                -- the API's largest page

-- every page of GET <path>?<q> (q: a list of "name=value" parts) as one array
function _M.all_pages(ctx, path, q)
    local list, offset = json.array(), 0
    while true do
        local p = {}
        for _, x in ipairs(q) do p[#p + 1] = x end
        p[#p + 1] = "limit=" .. _M.PAGE
        p[#p + 1] = "offset=" .. offset
        local _, _, page = ctx.client().get(path .. "?" .. table.concat(p, "&"))
        page = type(page) == "table" and page or {}
        for _, r in ipairs(page) do list[#list + 1] = r end
        if #page < _M.PAGE then return list end
        offset = offset + #page
    end
end

-- a value for display: json null / nil -> nil; tables -> compact JSON
function _M.show(v)
    if v == nil or v == json.null then return nil end
    if type(v) == "table" then return json.encode(v) end
    if type(v) == "number" then
        if v % 1 == 0 then return string.format("%d", v) end
        return (string.format("%.4f", v):gsub("0+$", ""))
    end
    return tostring(v)
end

-- prints the raw JSON text of the server (one value, newline terminated)
function _M.print_json(ctx, raw)
    ctx.out(raw:gsub("%s+$", "") .. "\n")
end

-- a command's answer: the server's raw JSON with --json, else the formatted text
function _M.reply(ctx, raw, fmt, ...)
    if ctx.json then return _M.print_json(ctx, raw) end
    ctx.out(string.format(fmt, ...))
end

return _M
