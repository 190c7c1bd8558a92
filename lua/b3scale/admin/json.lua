-- b3scale.admin.json: JSON for the admin API. lua-cjson 2.1.0 cannot tell an empty array
-- from an empty object, so arrays are marked (json.array) and encoding is done here; decoding
-- goes through cjson with empty arrays preserved as marked arrays.
local _M = {}

local cjson = require("cjson.safe")

local type, pairs, ipairs, next, tostring = type, pairs, ipairs, next, tostring
local setmetatable, getmetatable, rawequal = setmetatable, getmetatable, rawequal
local concat, sort = table.concat, table.sort
local find, sub, format = string.find, string.sub, string.format
local tonumber = tonumber
local huge, floor = math.huge, math.floor

local codec = cjson.new()
codec.decode_invalid_numbers(false)
codec.encode_invalid_numbers(false)
codec.decode_max_depth(64)

local ARRAY = { __name = "b3scale.admin.json.array" }
local RAW = { __name = "b3scale.admin.json.raw" }
local EMPTY = "\0b3scale-empty-array\0"

_M.null = cjson.null


-- Marks t (default: a new table) as a JSON array.
function _M.array(t)
  return setmetatable(t or {}, ARRAY)
end


-- JSON text that is embedded as is (e.g. a column Postgres rendered with ::text).
function _M.raw(text)
  return setmetatable({ text = text }, RAW)
end


function _M.is_array(v)
  if type(v) ~= "table" then
    return false
  end
  if getmetatable(v) == ARRAY then
    return true
  end
  if getmetatable(v) ~= nil or next(v) == nil then
    return false
  end
  local n = 0
  for k in pairs(v) do
    if type(k) ~= "number" then
      return false
    end
    n = n + 1
  end
  return n == #v
end


function _M.is_object(v)
  return type(v) == "table" and getmetatable(v) == nil and not _M.is_array(v)
end


local function encode(v, out)
  local t = type(v)
  if v == nil or rawequal(v, cjson.null) then
    out[#out + 1] = "null"
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif t == "number" then
    if v ~= v or v == huge or v == -huge then
      out[#out + 1] = "null"
    elseif v == floor(v) and v > -1e15 and v < 1e15 then
      out[#out + 1] = format("%d", v)
    else
      local s
      for digits = 14, 17 do                  -- the shortest text that reads back as v
        s = format("%." .. digits .. "g", v)
        if tonumber(s) == v then
          break
        end
      end
      out[#out + 1] = s
    end
  elseif t == "string" then
    out[#out + 1] = codec.encode(v)
  elseif t == "table" and getmetatable(v) == RAW then
    out[#out + 1] = v.text
  elseif _M.is_array(v) then
    out[#out + 1] = "["
    for i, x in ipairs(v) do
      if i > 1 then
        out[#out + 1] = ","
      end
      encode(x, out)
    end
    out[#out + 1] = "]"
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do
      keys[#keys + 1] = tostring(k)
    end
    sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      out[#out + 1] = (i > 1 and "," or "") .. codec.encode(k) .. ":"
      encode(v[k], out)
    end
    out[#out + 1] = "}"
  else
    out[#out + 1] = "null"
  end
end


-- Objects get their keys sorted, so output is stable.
function _M.encode(v)
  local out = {}
  encode(v, out)
  return concat(out)
end


-- Replaces every `[]` outside strings with a marker string cjson keeps.
local function mark_empty_arrays(s)
  if not find(s, "%[%s*%]") then
    return s
  end
  local out, pos = {}, 1
  while true do
    local i = find(s, '[%["]', pos)
    if not i then
      break
    end
    if sub(s, i, i) == '"' then
      local j = i + 1
      while true do
        local k = find(s, '[\\"]', j)
        if not k then
          return s                -- unterminated string: let cjson report it
        end
        if sub(s, k, k) == "\\" then
          j = k + 2
        else
          j = k + 1
          break
        end
      end
      out[#out + 1] = sub(s, pos, j - 1)
      pos = j
    else
      local _, e = find(s, "^%[%s*%]", i)
      if e then
        out[#out + 1] = sub(s, pos, i - 1) .. codec.encode(EMPTY)
        pos = e + 1
      else
        out[#out + 1] = sub(s, pos, i)
        pos = i + 1
      end
    end
  end
  out[#out + 1] = sub(s, pos)
  return concat(out)
end


local function restore(v)
  if v == EMPTY then
    return _M.array()
  end
  if type(v) ~= "table" then
    return v
  end
  local arr = _M.is_array(v)
  for k, x in pairs(v) do
    v[k] = restore(x)
  end
  return arr and _M.array(v) or v
end


-- Returns the decoded value, or nil and cjson's message.
function _M.decode(s)
  if type(s) ~= "string" then
    return nil, "expected a string"
  end
  local v, err = codec.decode(mark_empty_arrays(s))
  if v == nil then
    return nil, tostring(err)
  end
  return restore(v)
end


-- RFC 7396 JSON merge patch: a new value; neither argument is changed.
function _M.merge_patch(target, patch)
  if not _M.is_object(patch) then
    return patch
  end
  local out = {}
  if _M.is_object(target) then
    for k, v in pairs(target) do
      out[k] = v
    end
  end
  for k, v in pairs(patch) do
    if rawequal(v, cjson.null) then
      out[k] = nil
    else
      out[k] = _M.merge_patch(out[k], v)
    end
  end
  return out
end


-- Deep equality of two decoded JSON values.
function _M.equal(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b
  end
  for k, v in pairs(a) do
    if not _M.equal(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return _M.is_array(a) == _M.is_array(b)
end


return _M
