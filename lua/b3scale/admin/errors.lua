-- b3scale.admin.errors: responses and request validation. A response is a table
-- { status, value }; handlers return one, and helpers that can fail return nil plus one.
local _M = {}

local json = require("b3scale.admin.json")

local type, pairs, ipairs, tostring, setmetatable = type, pairs, ipairs, tostring, setmetatable
local floor, huge = math.floor, math.huge
local sort = table.sort


function _M.ok(value, status)
  return { status or 200, value }
end


function _M.err(status, code, message, fields)
  return { status, { error = code, message = message, fields = fields } }
end


function _M.not_found(what)
  return _M.err(404, "not_found", (what or "resource") .. " not found")
end


function _M.forbidden(message)
  return _M.err(403, "forbidden", message)
end


function _M.conflict(message)
  return _M.err(409, "conflict", message)
end


-- A show endpoint's answer: 200 with present(row), or the response a failed look-up gave.
function _M.shown(present, row, err)
  if not row then
    return err
  end
  return _M.ok(present(row))
end


-- A collector of field problems: v:add("bbb.host", "must be a string"); v:response().
local Fields = {}
Fields.__index = Fields


function _M.fields()
  return setmetatable({ list = {}, n = 0 }, Fields)
end


function Fields:add(path, problem)
  local l = self.list[path]
  if not l then
    l = json.array()
    self.list[path] = l
  end
  l[#l + 1] = problem
  self.n = self.n + 1
end


function Fields:empty()
  return self.n == 0
end


function Fields:response(message)
  return _M.err(400, "validation_error", message or "validation failed", self.list)
end


-- Adds "unknown field" for every key of obj not in allowed (a set); prefix "a." or "".
function Fields:unknown(obj, allowed, prefix)
  for k in pairs(obj) do
    if not allowed[k] then
      self:add((prefix or "") .. tostring(k), "unknown field")
    end
  end
end


-- For a merge patch: "is read-only" for every key of the set `keys` that the patch sets to
-- something other than its current value; all of them are dropped from the patch.
function Fields:read_only(patch, current, keys)
  for k in pairs(keys) do
    if patch[k] ~= nil and not json.equal(patch[k], current[k]) then
      self:add(k, "is read-only")
    end
    patch[k] = nil
  end
end


-- Type checks; each returns true when value fits, else records the problem.
local KINDS = {
  string = { "must be a string", function(v) return type(v) == "string" end },
  boolean = { "must be a boolean", function(v) return type(v) == "boolean" end },
  number = { "must be a number", function(v)
    return type(v) == "number" and v == v and v ~= huge and v ~= -huge
  end },
  integer = { "must be an integer", function(v)
    return type(v) == "number" and v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53
  end },
  object = { "must be an object", json.is_object },
  array = { "must be an array", json.is_array },
}


function Fields:kind(path, value, kind)
  local k = KINDS[kind]
  if k[2](value) then
    return true
  end
  self:add(path, k[1])
  return false
end


-- An array whose items are all strings matching pattern (a Lua pattern).
function Fields:string_array(path, value, pattern, what)
  if not self:kind(path, value, "array") then
    return false
  end
  local ok = true
  for i, s in ipairs(value) do
    if type(s) ~= "string" then
      self:add(path .. "[" .. (i - 1) .. "]", "must be a string")
      ok = false
    elseif pattern and not s:find(pattern) then
      self:add(path .. "[" .. (i - 1) .. "]", what or "has an invalid format")
      ok = false
    end
  end
  return ok
end


-- The request body as a JSON object, or nil and a 400/413 response.
function _M.body_object(req, required)
  local body = req.body
  if body == nil or body:find("^%s*$") then
    if required == false then
      return {}
    end
    local f = _M.fields()
    f:add("body", "is required")
    return nil, f:response("request body is required")
  end
  if #body > (req.max_body or 1048576) then
    return nil, _M.err(413, "too_large", "request body is larger than "
      .. tostring(req.max_body or 1048576) .. " bytes")
  end
  local v, err = json.decode(body)
  local f = _M.fields()
  if v == nil then
    f:add("body", "invalid JSON: " .. tostring(err))
    return nil, f:response("invalid JSON")
  end
  if not json.is_object(v) then
    f:add("body", "must be a JSON object")
    return nil, f:response("request body must be a JSON object")
  end
  return v
end


-- The request body as a JSON object checked by validate(body) (which returns a record, or nil
-- and a response): the record, or nil and the response of whichever step refused it.
function _M.body_record(req, validate)
  local body, err = _M.body_object(req)
  if not body then
    return nil, err
  end
  return validate(body)
end


function _M.is_uuid(s)
  return type(s) == "string" and #s == 36 and s:find(
    "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end


-- A query-string boolean: true/false, or nil and a problem text.
function _M.query_bool(s)
  if s == nil or s == "" then
    return false
  end
  local l = s:lower()
  if l == "true" or l == "1" or l == "yes" then
    return true
  elseif l == "false" or l == "0" or l == "no" then
    return false
  end
  return nil, "must be true or false"
end


-- A query-string whole number from min to max: the number (default when absent), or nil and
-- a problem text.
function _M.query_int(s, default, min, max)
  if s == nil or s == "" then
    return default
  end
  local n = s:find("^%d+$") and #s <= 15 and tonumber(s)
  if not n or n < min or n > max then
    return nil, "must be a whole number from " .. min .. " to " .. max
  end
  return n
end


-- A list's ?limit= (1 to 1000, default 100) and ?offset= (default 0) from query q; a bad
-- one is added to fields f (and comes back nil).
function _M.page(q, f)
  local limit, problem = _M.query_int(q.limit, 100, 1, 1000)
  if not limit then
    f:add("limit", problem)
  end
  local offset
  offset, problem = _M.query_int(q.offset, 0, 0, 1000000000)
  if not offset then
    f:add("offset", problem)
  end
  return limit, offset
end


-- Keys of a set, sorted, as a JSON array.
function _M.sorted_keys(set)
  local out = json.array()
  for k in pairs(set) do
    out[#out + 1] = k
  end
  sort(out)
  return out
end


return _M
