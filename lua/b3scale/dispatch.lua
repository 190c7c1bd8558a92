-- b3scale.dispatch: the one entry point C calls. Compiles policies into their own strict
-- environments and calls select; C validates whatever comes back.
local _M = {}

local cjson = require("cjson.safe")

local policies = {}
local settings_cache = {}
local env_base


local function blocked(name)
  return function()
    error("blocked function: " .. name, 2)
  end
end


local function strict_env(modules)
  local env = {}
  setmetatable(env, {
    __index = function(_, k)
      local v = env_base[k]
      if v == nil then
        error("undeclared global '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = function(_, k)
      error("assignment to undeclared global '" .. tostring(k) .. "'", 2)
    end,
  })
  return env
end


-- Builds the frozen table every policy environment reads from.
local function make_base(modules)
  local base = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
    type = type, unpack = unpack, xpcall = xpcall, rawequal = rawequal,
    rawget = rawget, rawset = rawset, setmetatable = setmetatable,
    getmetatable = getmetatable,
    string = string, table = table, math = math, bit = bit,
  }
  for _, name in ipairs({ "dofile", "loadfile", "load", "loadstring", "getfenv", "setfenv",
      "collectgarbage", "module", "newproxy", "print" }) do
    base[name] = blocked(name)
  end
  base.io, base.os, base.package, base.debug, base.ffi, base.jit = nil, nil, nil, nil, nil, nil
  base.require = function(name)
    local m = modules[name]
    if m == nil then
      error("require of '" .. tostring(name) .. "' is not allowed in a policy", 2)
    end
    return m
  end
  return base
end


-- sources: { name = source text }; helpers: { module name = module table }.
-- Returns true, or nil and an error naming file and line.
function _M.init(sources, helpers, default_policy)
  helpers["cjson.safe"] = cjson
  env_base = make_base(helpers)
  local loaded = {}
  for name, src in pairs(sources) do
    local chunk, err = loadstring(src, "@" .. name .. ".lua")
    if not chunk then
      return nil, err
    end
    setfenv(chunk, strict_env())
    local ok, p = pcall(chunk)
    if not ok then
      return nil, p
    end
    if type(p) ~= "table" or p.name ~= name or p.api_version ~= 1
        or type(p.select) ~= "function" then
      return nil, name .. ".lua: must return a table with name = '" .. name
        .. "', api_version = 1 and a select function"
    end
    if p.configure then
      local cok, cerr = pcall(p.configure, {})
      if not cok then
        return nil, cerr
      end
    end
    loaded[name] = p
  end
  if not loaded[default_policy] then
    return nil, "default policy '" .. tostring(default_policy) .. "' not found"
  end
  policies = loaded
  _M.default = default_policy
  return true
end


local function decode_settings(text)
  local s = settings_cache[text]
  if s == nil then
    s = cjson.decode(text)
    if type(s) ~= "table" then
      s = {}
    end
    if next(settings_cache) and #text > 65536 then
      return s
    end
    settings_cache[text] = s
  end
  return s
end


-- Called by C: returns the policy's results unchanged (C checks them) and the policy used.
function _M.select(req, backends, settings_text)
  req.frontend.settings = decode_settings(settings_text)
  local name = req.frontend.settings.policy
  if type(name) ~= "string" then
    name = _M.default
  end
  local p = policies[name]
  if not p then
    error("unknown policy '" .. tostring(name) .. "' in frontend settings", 0)
  end
  return p.select(req, backends)
end


return _M
