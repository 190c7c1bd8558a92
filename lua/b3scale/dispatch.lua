-- b3scale.dispatch: the entry points C calls. Compiles policies into their own strict
-- environments and calls them; C validates whatever comes back.
local _M = {}

local cjson = require("cjson.safe")

local type, pairs, ipairs, tostring, next = type, pairs, ipairs, tostring, next
local sort, concat = table.sort, table.concat
local loadstring, setfenv, setmetatable, pcall, error = loadstring, setfenv, setmetatable,
  pcall, error

local ALLOWED_MODULES = {
  ["b3scale.policy"] = true,
  ["b3scale.host"] = true,
  ["b3scale.params"] = true,
  ["cjson.safe"] = true,
}
local BLOCKED = { "dofile", "loadfile", "load", "loadstring", "getfenv", "setfenv",
  "collectgarbage", "module", "newproxy", "print" }
local SETTINGS_CACHE_MAX = 256

local policies = {}
local settings_cache, settings_cached = {}, 0
local base


local function blocked(name)
  return function()
    error("blocked function: " .. name, 2)
  end
end


-- The frozen table every policy environment reads through.
local function make_base()
  local b = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
    type = type, unpack = unpack, xpcall = xpcall, rawequal = rawequal,
    rawget = rawget, rawset = rawset, setmetatable = setmetatable,
    getmetatable = getmetatable, _VERSION = _VERSION,
    string = string, table = table, math = math, bit = bit,
  }
  for _, name in ipairs(BLOCKED) do
    b[name] = blocked(name)
  end
  for _, name in ipairs({ "io", "os", "package", "debug", "ffi", "jit" }) do
    b[name] = setmetatable({}, { __index = function(_, k)
      error("blocked function: " .. name .. "." .. tostring(k), 2)
    end })
  end
  b.require = function(name)
    if not ALLOWED_MODULES[name] then
      error("blocked function: require '" .. tostring(name) .. "' is not allowed in a policy", 2)
    end
    return require(name)
  end
  return b
end


local function strict_env()
  return setmetatable({}, {
    __index = function(_, k)
      local v = base[k]
      if v == nil then
        error("undeclared global '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = function(_, k)
      error("assignment to undeclared global '" .. tostring(k) .. "'", 2)
    end,
  })
end


local function load_policy(name, src, chunkname, opts)
  local chunk, err = loadstring(src, chunkname)
  if not chunk then
    return nil, err
  end
  setfenv(chunk, strict_env())
  local ok, p = pcall(chunk)
  if not ok then
    return nil, p
  end
  local file = chunkname:sub(2)
  if type(p) ~= "table" then
    return nil, file .. ": must return a table"
  end
  if p.name ~= name then
    return nil, file .. ": name must be '" .. name .. "' (the file name), not '"
      .. tostring(p.name) .. "'"
  end
  if p.api_version ~= 1 then
    return nil, file .. ": api_version must be 1"
  end
  if type(p.select) ~= "function" then
    return nil, file .. ": select must be a function"
  end
  for _, hook in ipairs({ "configure", "create_params", "join_params" }) do
    if p[hook] ~= nil and type(p[hook]) ~= "function" then
      return nil, file .. ": " .. hook .. " must be a function"
    end
  end
  if p.configure then
    local cok, cerr = pcall(p.configure, opts or {})
    if not cok then
      return nil, file .. ": configure: " .. tostring(cerr)
    end
  end
  return p
end


-- sources/chunknames: { name = text }; options_json: policies/options.json or nil.
-- Returns true, or nil and an error naming the file (and line where Lua knows it).
function _M.init(sources, chunknames, default_policy, options_json)
  base = make_base()
  local options = {}
  if options_json then
    local o, err = cjson.decode(options_json)
    if type(o) ~= "table" then
      return nil, "policies/options.json: " .. tostring(err or "must be a JSON object")
    end
    options = o
  end
  local loaded = {}
  local names = {}
  for name in pairs(sources) do
    names[#names + 1] = name
  end
  sort(names)
  for _, name in ipairs(names) do
    local opts = options[name]
    if opts ~= nil and type(opts) ~= "table" then
      return nil, "policies/options.json: options for " .. name .. " must be an object"
    end
    local p, err = load_policy(name, sources[name], chunknames[name], opts)
    if not p then
      return nil, err
    end
    loaded[name] = p
  end
  if not loaded[default_policy] then
    return nil, "default policy '" .. tostring(default_policy) .. "' not found in policies/"
  end
  policies = loaded
  _M.default = default_policy
  return true
end


-- Every policy's select on a fixed synthetic request, to catch "fails on every call"
-- before activation. Returns true or nil and the first problem.
function _M.smoke()
  local function backend(i, tags)
    return { index = i, order = i, id = "00000000-0000-4000-8000-00000000000" .. i,
      host = "https://smoke" .. i .. ".invalid/bigbluebutton/api/", tags = tags,
      load_factor = 1, meetings = i - 1, pending = 0, participants = 3 * i, video = 0,
      voice = 0, listeners = 0 }
  end
  for name, p in pairs(policies) do
    local req = { action = "create", meeting_id = "smoke-test", attempt = 1, excluded = {},
      now = 0, params = { meetingID = "smoke-test", name = "Smoke" },
      frontend = { key = "smoke", settings = {} } }
    local bs = { backend(1, {}), backend(2, { sip = true }), backend(3, {}) }
    local ok, i, reason = pcall(p.select, req, bs)
    if not ok then
      return nil, tostring(i)
    end
    -- with an index, the second value is an explanation (never an error: a bad one is
    -- dropped)
    local valid = (type(i) == "number" and i == math.floor(i) and i >= 1 and i <= #bs)
      or (i == nil and type(reason) == "string")
    if not valid then
      return nil, "policies/" .. name .. ".lua: select returned " .. type(i)
        .. " on the smoke test, not an index from 1 to 3 or nil and a reason"
    end
  end
  return true
end


function _M.has(name)
  return policies[name] ~= nil
end


-- Whether any loaded policy defines hook (C skips the join hook call when none does and
-- the frontend's settings have nothing for it to apply).
function _M.has_hook(hook)
  for _, p in pairs(policies) do
    if p[hook] then
      return true
    end
  end
  return false
end


local function decode_settings(text)
  local s = settings_cache[text]
  if s == nil then
    s = cjson.decode(text)
    if type(s) ~= "table" then
      s = {}
    end
    if settings_cached >= SETTINGS_CACHE_MAX then
      settings_cache, settings_cached = {}, 0
    end
    settings_cache[text] = s
    settings_cached = settings_cached + 1
  end
  return s
end


local function policy_for(settings)
  local name = settings.policy
  if type(name) ~= "string" then
    name = _M.default
  end
  local p = policies[name]
  if not p then
    error("unknown policy '" .. tostring(name) .. "' in frontend settings", 0)
  end
  return p, name
end


-- Explanations: select may return index, explanation (a string, or a table
-- { reason = "...", scores = { [index] = number } }). It is recorded with the placement as
-- JSON { policy, chosen, reason, candidates = [{ host, score, excluded }] }, bounded here;
-- anything that does not fit the shape is dropped, never an error.
local EXPLAIN_MAX = 8192       -- bytes of the JSON text (C's buffer is larger)
local REASON_MAX = 300         -- bytes of the reason
local CANDIDATES_MAX = 64      -- candidates recorded (the chosen one always is)
local huge = math.huge

local function utf8_ok(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local len = (c < 0x80 and 1) or (c >= 0xC2 and c < 0xE0 and 2)
      or (c >= 0xE0 and c < 0xF0 and 3) or (c >= 0xF0 and c < 0xF5 and 4) or nil
    if not len or i + len - 1 > n then
      return false
    end
    local d = s:byte(i + 1)
    if (c == 0xE0 and d and d < 0xA0) or (c == 0xED and d and d > 0x9F)
        or (c == 0xF0 and d and d < 0x90) or (c == 0xF4 and d and d > 0x8F) then
      return false
    end
    for j = i + 1, i + len - 1 do
      local e = s:byte(j)
      if e < 0x80 or e > 0xBF then
        return false
      end
    end
    i = i + len
  end
  return true
end

-- A bounded, printable (valid UTF-8, no control character) copy of s; Postgres' jsonb
-- refuses \u0000 and invalid UTF-8, and the text ends on the log line too.
function _M.clean_text(s, max)
  s = tostring(s):sub(1, max):gsub("[%z\1-\31\127]", " ")
  if s:find("[\128-\255]") and not utf8_ok(s) then
    local cut = s:gsub("[\194-\244][\128-\191]*$", "")
    s = utf8_ok(cut) and cut or s:gsub("[\128-\255]", "?")
  end
  return s
end

local function finite(x)
  return type(x) == "number" and x == x and x > -huge and x < huge
end

local function explain(name, backends, idx, excluded, x)
  local reason, scores
  if type(x) == "string" or type(x) == "number" then
    reason = x
  elseif type(x) == "table" then
    reason, scores = rawget(x, "reason"), rawget(x, "scores")
    if type(reason) ~= "string" and type(reason) ~= "number" then
      reason = nil
    end
    if type(scores) ~= "table" then
      scores = nil
    end
  end -- anything else is no explanation: the candidates are still recorded
  reason = reason ~= nil and _M.clean_text(reason, REASON_MAX) or nil
  local cands = {}
  local function add(i, b)
    local c = { host = type(b.host) == "string" and b.host or tostring(b.id) }
    local s = scores and rawget(scores, i)
    if finite(s) then
      c.score = s
    end
    if type(excluded) == "table" and excluded[b.id] then
      c.excluded = true
    end
    cands[#cands + 1] = c
  end
  local n = #backends
  for i = 1, n < CANDIDATES_MAX and n or CANDIDATES_MAX do
    add(i, backends[i])
  end
  if idx > CANDIDATES_MAX then
    add(idx, backends[idx])
  end
  local doc = { policy = name, chosen = backends[idx].host, reason = reason,
    candidates = cands, candidates_total = n }
  local text = cjson.encode(doc)
  if text and #text > EXPLAIN_MAX then
    doc.candidates = nil
    text = cjson.encode(doc)
  end
  if not text or #text > EXPLAIN_MAX then
    return nil
  end
  return text, reason
end


-- Called by C for a placement: the policy's name (for logs and counters), then the index
-- (C checks it), the second value when there is no index (the reason a policy declined;
-- with an index, anything but nil), and for an index the explanation as JSON text and its
-- short reason (both nil when the policy's explanation was unusable). One call, not two:
-- each call into a state has a fixed cost. A meeting of unknown size (no hint,
-- maxParticipants or history) is expected to bring the policy's attendee_base (15 for a
-- policy without one).
function _M.select(req, backends, settings_text)
  req.frontend.settings = decode_settings(settings_text)
  local p, name = policy_for(req.frontend.settings)
  if req.expected_size == nil then
    local base = p.attendee_base
    req.expected_size = type(base) == "number" and base or 15
    req.expected_source = "default"
  end
  local idx, x = p.select(req, backends)
  if type(idx) ~= "number" or idx ~= idx or idx < 1 or idx > #backends or idx % 1 ~= 0 then
    return name, idx, x
  end
  local ok, text, short = pcall(explain, name, backends, idx, req.excluded, x)
  if not ok then
    text, short = nil, nil
  end
  return name, idx, nil, text, short
end


-- The name of the policy that places this frontend's meetings (for logs and counters).
function _M.policy_name(settings_text)
  local ok, _, name = pcall(policy_for, decode_settings(settings_text))
  return ok and name or "unknown"
end


-- Params as an ordered list of { key, value }: the request's order first, new keys sorted.
local function ordered(params, order)
  local out, seen = {}, {}
  for _, k in ipairs(order) do
    local v = params[k]
    if type(v) == "string" and not seen[k] then
      out[#out + 1] = { k, v }
      seen[k] = true
    end
  end
  local extra = {}
  for k, v in pairs(params) do
    if type(k) == "string" and type(v) == "string" and not seen[k] then
      extra[#extra + 1] = k
    end
  end
  sort(extra)
  for _, k in ipairs(extra) do
    out[#out + 1] = { k, params[k] }
  end
  return out
end


-- Presentation hooks: the policy's own, else lua/b3scale/params.lua.
local function present(hook, default_fn, req, settings_text, order)
  req.frontend.settings = decode_settings(settings_text)
  local p = policy_for(req.frontend.settings)
  local fn = p[hook]
  if not fn then
    fn = require("b3scale.params")[default_fn]
  end
  local res, key, msg = fn(req)
  if res == nil then
    return nil, tostring(key or "internalError"), tostring(msg or "rejected by policy")
  end
  if type(res) ~= "table" or type(res.params) ~= "table" then
    error(hook .. " must return { params = {...} } or nil, messageKey, message", 0)
  end
  if res.body ~= nil and type(res.body) ~= "string" then
    error(hook .. ": body must be a string", 0)
  end
  return ordered(res.params, order), res.body
end


function _M.create_params(req, settings_text, order)
  return present("create_params", "create", req, settings_text, order)
end


function _M.join_params(req, settings_text, order)
  return present("join_params", "join", req, settings_text, order)
end


return _M
