-- The HTTP client of b3scalectl: lua-socket, JSON bodies, bearer token, no redirects.
local socket = require("socket")
local http   = require("socket.http")
local ltn12  = require("ltn12")
local json   = require("b3scalectl.json")

local _M = {}

_M.TIMEOUT = 30   -- seconds per request

-- an error raised by the client: { kind = "connect"|"http", message = "...", status = n,
-- body = raw text } carried through error() and recognised by main.lua
local Error = {}
Error.__index = Error
Error.__tostring = function(e) return e.message end
function _M.error(kind, message, extra)
    local e = setmetatable({ kind = kind, message = message }, Error)
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
end
function _M.is_error(e) return getmetatable(e) == Error end

-- "problem" / field list of a validation error, compact: "bbb.secret: is required; x: a, b"
local function fields_text(fields)
    if type(fields) ~= "table" then return nil end
    local names = {}
    for k in pairs(fields) do names[#names + 1] = k end
    table.sort(names)
    local parts = {}
    for _, k in ipairs(names) do
        local v = fields[k]
        local msgs = {}
        if type(v) == "table" then
            for _, m in ipairs(v) do msgs[#msgs + 1] = tostring(m) end
        else
            msgs[1] = tostring(v)
        end
        parts[#parts + 1] = k .. ": " .. table.concat(msgs, ", ")
    end
    if #parts == 0 then return nil end
    return table.concat(parts, "; ")
end

-- one line describing an HTTP error answer
function _M.describe(status, body)
    local v = json.decode(body or "")
    if type(v) == "table" and (v.message or v.error) then
        local msg = type(v.message) == "string" and v.message or tostring(v.error)
        local f = fields_text(v.fields)
        if f then msg = msg .. ": " .. f end
        return (string.format("%s (HTTP %d)", msg, status):gsub("%s*\n%s*", " "))
    end
    local first = (body or ""):match("^%s*([^\n]*)") or ""
    if #first > 200 then first = first:sub(1, 200) .. "..." end
    return (string.format("HTTP %d%s", status, first ~= "" and (": " .. first) or ""))
end

-- new client for base url `api` with an optional token (string, or a function returning one
-- that is called only when a request is made)
function _M.new(api, token)
    local c = { api = (api:gsub("/+$", "")), token = token }

    -- method, path (starting with /), optional body (table or string); returns
    -- status, raw body, decoded body (nil when not JSON). Raises an Error on no answer and
    -- on a status >= 400. opts.stream = { source = an ltn12 source, length = bytes,
    -- type = content type } sends that instead of body; opts.timeout overrides TIMEOUT.
    function c.request(method, path, body, opts)
        opts = opts or {}
        local https = c.api:match("^https:") ~= nil
        local transport = http
        if https then
            -- lua-sec (Debian lua-sec) verifies the server certificate against the system CAs
            local ok, ssl_https = pcall(require, "ssl.https")
            if not ok then
                error(_M.error("connect", "cannot reach " .. c.api ..
                    ": https needs the lua-sec package (apt-get install lua-sec)"))
            end
            transport = ssl_https
        end
        local headers = { accept = "application/json" }
        local tok = c.token
        if type(tok) == "function" then tok = tok() end
        if tok then headers.authorization = "Bearer " .. tok end
        if body ~= nil and type(body) ~= "string" then body = json.encode(body) end
        local source = body and ltn12.source.string(body) or nil
        if body then
            headers["content-type"] = "application/json"
            headers["content-length"] = tostring(#body)
        elseif opts.stream then
            source = opts.stream.source
            headers["content-type"] = opts.stream.type
            headers["content-length"] = tostring(opts.stream.length)
        end
        local chunks = {}
        local req = {
            url = c.api .. path,
            method = method,
            headers = headers,
            source = source,
            sink = ltn12.sink.table(chunks),
            redirect = false,
        }
        if https then
            req.verify = { "peer", "fail_if_no_peer_cert" }
            req.cafile = "/etc/ssl/certs/ca-certificates.crt"
        else
            req.create = function()
                local s = socket.tcp()
                s:settimeout(opts.timeout or _M.TIMEOUT)
                return s
            end
        end
        local ok, status = transport.request(req)
        if not ok then
            error(_M.error("connect", "cannot reach " .. c.api .. ": " .. tostring(status)))
        end
        status = tonumber(status)
        local raw = table.concat(chunks)
        if not status then
            error(_M.error("connect", "cannot reach " .. c.api .. ": no HTTP answer"))
        end
        local decoded = json.decode(raw)
        if status >= 400 then
            error(_M.error("http", _M.describe(status, raw), { status = status, body = raw }))
        end
        return status, raw, decoded
    end

    function c.get(path) return c.request("GET", path) end
    function c.post(path, body) return c.request("POST", path, body) end
    function c.patch(path, body) return c.request("PATCH", path, body) end
    function c.delete(path) return c.request("DELETE", path) end
    return c
end

-- percent-encoding for query values (RFC 3986 unreserved kept)
function _M.urlencode(s)
    return (tostring(s):gsub("[^A-Za-z0-9%-%._~]", function(ch)
        return string.format("%%%02X", ch:byte())
    end))
end

return _M
