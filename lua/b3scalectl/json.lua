-- JSON for b3scalectl: decoding through lua-cjson, encoding with a small deterministic
-- encoder (sorted keys, real empty arrays, raw JSON passed through) so request bodies and
-- token claims are reproducible and `{"tags":[]}` stays an array.
local cjson = require("cjson")

local _M = {}

_M.null = cjson.null
local ARRAY = {}                 -- metatable marking a table as a JSON array
local RAW = {}                   -- metatable marking { json = "<text>" } as raw JSON

function _M.array(t) return setmetatable(t or {}, ARRAY) end
function _M.raw(text) return setmetatable({ json = text }, RAW) end

-- A small decoder that, unlike cjson, keeps arrays recognisable (ARRAY metatable, so `[]`
-- re-encodes as `[]`). cjson validates first, so this one only sees well-formed JSON.
local function decoder(s)
    local pos = 1
    local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
    local value
    local function string_()
        local buf, i = {}, pos + 1
        while true do
            local c = s:sub(i, i)
            if c == '"' then pos = i + 1; return table.concat(buf) end
            if c == "\\" then
                local e = s:sub(i + 1, i + 1)
                if e == "u" then
                    local cp = tonumber(s:sub(i + 2, i + 5), 16)
                    i = i + 6
                    if cp >= 0xD800 and cp <= 0xDBFF and s:sub(i, i + 1) == "\\u" then
                        local lo = tonumber(s:sub(i + 2, i + 5), 16)
                        cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
                        i = i + 6
                    end
                    if cp < 0x80 then buf[#buf + 1] = string.char(cp)
                    elseif cp < 0x800 then
                        buf[#buf + 1] = string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64)
                    elseif cp < 0x10000 then
                        buf[#buf + 1] = string.char(0xE0 + math.floor(cp / 4096),
                            0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
                    else
                        buf[#buf + 1] = string.char(0xF0 + math.floor(cp / 262144),
                            0x80 + math.floor(cp / 4096) % 64, 0x80 + math.floor(cp / 64) % 64,
                            0x80 + cp % 64)
                    end
                else
                    local map = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
                    buf[#buf + 1] = map[e] or e
                    i = i + 2
                end
            else
                local j = s:find('["\\]', i)
                buf[#buf + 1] = s:sub(i, j - 1)
                i = j
            end
        end
    end
    -- fills t with the members up to `close` (one by member(t) each), past the separators
    local function members(t, close, member)
        pos = pos + 1; ws()
        if s:sub(pos, pos) == close then pos = pos + 1; return t end
        while true do
            member(t)
            ws()
            local d = s:sub(pos, pos); pos = pos + 1
            if d == close then return t end
        end
    end
    function value()
        ws()
        local c = s:sub(pos, pos)
        if c == "{" then
            return members({}, "}", function(t)
                ws()
                local k = string_()
                ws(); pos = pos + 1          -- ':'
                t[k] = value()
            end)
        elseif c == "[" then
            local n = 0
            return members(setmetatable({}, ARRAY), "]", function(t)
                n = n + 1
                t[n] = value()
            end)
        elseif c == '"' then
            return string_()
        elseif s:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
        elseif s:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
        elseif s:sub(pos, pos + 3) == "null" then pos = pos + 4; return cjson.null
        else
            local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
            pos = pos + #num
            return tonumber(num)
        end
    end
    return value()
end

-- decodes text; returns value (arrays carry the ARRAY metatable, null is json.null)
-- or nil, message
function _M.decode(text)
    if type(text) ~= "string" then return nil, "no JSON text" end
    local ok, err = pcall(cjson.decode, text)
    if not ok then return nil, (tostring(err):gsub("^.-:%d+: ", "")) end
    local ok2, v = pcall(decoder, text)
    if not ok2 then return nil, tostring(v) end
    return v
end

function _M.is_array(v) return type(v) == "table" and getmetatable(v) == ARRAY end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
              ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function str(s)
    return '"' .. s:gsub('[%c"\\]', function(c)
        return ESC[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
end

local function is_seq(t)
    local n = 0
    for k in pairs(t) do
        if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return false end
        n = n + 1
    end
    return n > 0 and n == #t
end

local encode
function encode(v, out)
    local tv = type(v)
    if v == nil or v == cjson.null then
        out[#out + 1] = "null"
    elseif tv == "boolean" then
        out[#out + 1] = tostring(v)
    elseif tv == "number" then
        if v ~= v or v == math.huge or v == -math.huge then error("cannot encode " .. tostring(v)) end
        if v % 1 == 0 and math.abs(v) < 2 ^ 53 then
            out[#out + 1] = string.format("%d", v)
        else
            out[#out + 1] = string.format("%.17g", v)
        end
    elseif tv == "string" then
        out[#out + 1] = str(v)
    elseif tv == "table" then
        local mt = getmetatable(v)
        if mt == RAW then
            out[#out + 1] = v.json
        elseif mt == ARRAY or is_seq(v) then
            out[#out + 1] = "["
            for i = 1, #v do
                if i > 1 then out[#out + 1] = "," end
                encode(v[i], out)
            end
            out[#out + 1] = "]"
        else
            local keys = {}
            for k in pairs(v) do keys[#keys + 1] = tostring(k) end
            table.sort(keys)
            out[#out + 1] = "{"
            for i, k in ipairs(keys) do
                if i > 1 then out[#out + 1] = "," end
                out[#out + 1] = str(k)
                out[#out + 1] = ":"
                local x = v[k]
                if x == nil then x = v[tonumber(k)] end
                encode(x, out)
            end
            out[#out + 1] = "}"
        end
    else
        error("cannot encode a " .. tv)
    end
end

function _M.encode(v)
    local out = {}
    encode(v, out)
    return table.concat(out)
end

return _M
