-- b3scale.policy: helpers for policy authors (filters, pickers, option readers).
-- Filters return arrays of the same backend tables C passed in, so `b.index` stays valid.
local _M = {}

local host = require("b3scale.host")

local floor, max, huge = math.floor, math.max, math.huge
local type, tostring, error, ipairs, next = type, tostring, error, ipairs, next
local concat = table.concat
local bxor, rshift = bit.bxor, bit.rshift


-- Host functions, reached through the host table so the daemon's C versions are used.
function _M.now() return host.now() end
function _M.random(m, n) return host.random(m, n) end
function _M.hash32(s) return host.hash32(s) end
function _M.log(level, msg) return host.log(level, msg) end


-- Backends that carry every tag in `required` (an array of strings, or nil for no filter).
function _M.with_tags(backends, required)
  if type(required) ~= "table" or #required == 0 then
    return backends
  end
  local out = {}
  for _, b in ipairs(backends) do
    local ok = true
    for _, tag in ipairs(required) do
      if not b.tags[tag] then
        ok = false
        break
      end
    end
    if ok then
      out[#out + 1] = b
    end
  end
  return out
end


-- Backends whose id is not in the set `excluded` ({ [id] = true }).
function _M.without(backends, excluded)
  if not excluded or next(excluded) == nil then
    return backends
  end
  local out = {}
  for _, b in ipairs(backends) do
    if not excluded[b.id] then
      out[#out + 1] = b
    end
  end
  return out
end


-- Why nothing was placed when every candidate was at a cap (the C fallback says the same:
-- POLICY_BUILTIN_FULL_REASON in c/policy_builtin.h).
_M.FULL = "the cluster is full (every eligible server is at its max_meetings or max_attendees cap)"
local DEFAULT_BASE = 15


-- The attendees a backend is taken to hold: every meeting at least attendee_base, and the
-- reported participants plus the seats reserved for young meetings (b.reserved).
function _M.attendees(b, attendee_base)
  local floor_ = (b.meetings + (b.pending or 0)) * (attendee_base or DEFAULT_BASE)
  local r = b.reserved or 0
  return max(floor_, b.participants + (r > 0 and r or 0))
end


-- True unless b has reached a cap: meetings + pending >= max_meetings, or
-- lb.attendees(b, attendee_base) >= max_attendees. No cap (nil) never fills.
function _M.has_room(b, attendee_base)
  local mm, ma = b.max_meetings, b.max_attendees
  if mm and b.meetings + (b.pending or 0) >= mm then
    return false
  end
  if ma and _M.attendees(b, attendee_base) >= ma then
    return false
  end
  return true
end


-- Backends below their caps (the input itself when none is full). The array C passes says
-- `uncapped = true` when no backend in it has a cap: then there is nothing to check.
function _M.with_room(backends, attendee_base)
  if backends.uncapped then
    return backends
  end
  local has_room = _M.has_room
  for i = 1, #backends do
    local b = backends[i]
    -- most nodes have no cap: no call for them (policies run without the JIT)
    if (b.max_meetings or b.max_attendees) and not has_room(b, attendee_base) then
      local out = {}
      for j = 1, #backends do
        local b = backends[j]
        if j < i or (j > i and _M.has_room(b, attendee_base)) then
          out[#out + 1] = b
        end
      end
      return out
    end
  end
  return backends
end


-- The backends a request may use at all: those with every tag in the frontend's
-- required_tags, minus the ones in req.excluded, minus those at a cap (max_meetings,
-- max_attendees; attendee_base as in lb.attendees, default 15). Every built-in policy
-- starts here. When none is left, a second value says why: lb.FULL when there were
-- candidates but all of them were full, else a reason about tags and exclusions.
function _M.eligible(req, backends, attendee_base)
  local settings = req.frontend and req.frontend.settings or {}
  local pool = _M.without(_M.with_tags(backends, settings.required_tags), req.excluded)
  if #pool == 0 then
    return pool, "no eligible backend (required tags or all excluded)"
  end
  local roomy = _M.with_room(pool, attendee_base)
  if #roomy == 0 then
    return roomy, _M.FULL
  end
  return roomy
end


-- The expected size of the meeting being placed: req.expected_size (from the create's
-- meta_bbb-meeting-size-hint, maxParticipants or the meeting ID's history; see
-- req.expected_source), else default.
function _M.expected_size(req, default)
  local n = req.expected_size
  if type(n) == "number" and n >= 0 then
    return n
  end
  return default or DEFAULT_BASE
end


-- Backends for which pred(b) is truthy.
function _M.where(backends, pred)
  local out = {}
  for _, b in ipairs(backends) do
    if pred(b) then
      out[#out + 1] = b
    end
  end
  return out
end


local function before(a, b)
  return a.order < b.order or (a.order == b.order and a.id < b.id)
end


-- The backend with the smallest keyfn(b, arg); ties go to the lowest order, then the lowest
-- id. Passing arg (lb.least(bs, lb.load, base)) saves a closure call per backend.
function _M.least(backends, keyfn, arg)
  local best, best_key
  for i = 1, #backends do
    local b = backends[i]
    local k = keyfn(b, arg)
    if best == nil or k < best_key or (k == best_key and before(b, best)) then
      best, best_key = b, k
    end
  end
  return best
end


-- The backend with the lowest order, then the lowest id (nil for an empty list).
function _M.first(backends)
  local best
  for _, b in ipairs(backends) do
    if best == nil or before(b, best) then
      best = b
    end
  end
  return best
end


-- Weighted random pick: backend b is chosen with probability weightfn(b) / sum of weights.
-- Weights that are zero, negative or not numbers are never picked; nil when none is positive.
-- Infinite weights win outright (uniformly among themselves).
function _M.wrandom(backends, weightfn)
  local pool, weights, total = {}, {}, 0
  local inf = {}
  for _, b in ipairs(backends) do
    local w = weightfn(b)
    if type(w) == "number" and w > 0 then   -- NaN fails w > 0
      if w == huge then
        inf[#inf + 1] = b
      else
        local n = #pool + 1
        pool[n], weights[n] = b, w
        total = total + w
      end
    end
  end
  if #inf > 0 then
    return inf[host.random(1, #inf)]
  end
  if #pool == 0 then
    return nil
  end
  -- a point in (0, total), drawn with 2^30 steps of resolution
  local target = (host.random(0, 1073741823) + 0.5) / 1073741824 * total
  local sum = 0
  for i = 1, #pool do
    sum = sum + weights[i]
    if target < sum then
      return pool[i]
    end
  end
  return pool[#pool]                        -- rounding at the very top end
end


local TWO32 = 4294967296


-- (h * m) mod 2^32 for 32-bit h and m, exact in doubles: m is split into 16-bit halves.
local function mul32(h, m)
  local hi, lo = floor(m / 65536), m % 65536
  return ((h * hi) % 65536 * 65536 + h * lo) % TWO32
end


-- The 32-bit finaliser of MurmurHash3: spreads FNV-1a's weak last bytes over all bits, so
-- ids that differ only at the end ("node-1", "node-2") still get an even share of keys.
local function mix32(h)
  h = bxor(h, rshift(h, 16)) % TWO32
  h = mul32(h, 0x85ebca6b)
  h = bxor(h, rshift(h, 13)) % TWO32
  h = mul32(h, 0xc2b2ae35)
  return bxor(h, rshift(h, 16)) % TWO32
end


-- Rendezvous (highest random weight) hashing: the backend with the largest
-- mix32(hash32(key .. "|" .. id)) wins; equal scores go to the lowest order, then id.
-- Removing a backend moves only the keys it held, each to its next backend by score;
-- adding one takes over only the keys it now wins. Nil for an empty list.
function _M.chash(backends, key)
  key = tostring(key)
  local best, best_h
  for _, b in ipairs(backends) do
    local h = mix32(host.hash32(key .. "|" .. b.id))
    if best == nil or h > best_h or (h == best_h and before(b, best)) then
      best, best_h = b, h
    end
  end
  return best
end


local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end


-- Parses scalelite's tag syntax: "sip;gpu!" gives
-- { { tag = "sip", required = false }, { tag = "gpu", required = true } }.
-- Items are trimmed; empty items are skipped. The special tag "none" (untagged servers) is
-- left out of the list and reported as the second result, true. nil or "" gives {}, false.
function _M.parse_tags(s)
  local out, none = {}, false
  if s == nil then
    return out, none
  end
  for item in (tostring(s) .. ";"):gmatch("([^;]*);") do
    item = trim(item)
    local required = false
    if item:sub(-1) == "!" then
      required = true
      item = trim(item:sub(1, -2))
    end
    if item == "none" then
      none = true
    elseif item ~= "" then
      out[#out + 1] = { tag = item, required = required }
    end
  end
  return out, none
end


-- The load (policies/README.md, "The load"):
--   load_factor * max((meetings + pending) * attendee_base, participants + reserved)
--   + cpu_weight * cpu        (only when cpu_weight > 0 and the node reports its cpu)
-- c/policy_builtin.c computes the same (policy_builtin_load_of).
function _M.load(b, attendee_base, cpu_weight)
  -- lb.attendees, inlined: this runs for every backend on every create
  local m = (b.meetings + (b.pending or 0)) * attendee_base
  local a, r = b.participants, b.reserved
  if r and r > 0 then
    a = a + r
  end
  local load = b.load_factor * (m > a and m or a)
  if cpu_weight and cpu_weight > 0 then
    local cpu = b.cpu
    if cpu and cpu >= 0 then
      load = load + cpu_weight * cpu
    end
  end
  return load
end


-- Reads a number option with bounds; raises with the option's name (used in configure only).
function _M.number_opt(opts, name, default, min, max)
  local v = opts and opts[name]
  if v == nil then
    return default
  end
  if type(v) ~= "number" or v ~= v or v < min or v > max then
    error("option " .. name .. " must be a number from " .. tostring(min)
      .. " to " .. tostring(max), 2)
  end
  return v
end


-- Reads a string option; `pattern` (a Lua pattern, optional) must match the whole value.
function _M.string_opt(opts, name, default, pattern)
  local v = opts and opts[name]
  if v == nil then
    return default
  end
  if type(v) ~= "string" or (pattern and not v:find("^" .. pattern .. "$")) then
    error("option " .. name .. " must be a string"
      .. (pattern and (" matching " .. pattern) or ""), 2)
  end
  return v
end


-- Reads a string option that must be one of the strings in `allowed`.
function _M.enum_opt(opts, name, default, allowed)
  local v = opts and opts[name]
  if v == nil then
    return default
  end
  for _, a in ipairs(allowed) do
    if v == a then
      return v
    end
  end
  error("option " .. name .. " must be one of: " .. concat(allowed, ", "), 2)
end


-- Reads a boolean option (true or false, nothing else).
function _M.bool_opt(opts, name, default)
  local v = opts and opts[name]
  if v == nil then
    return default
  end
  if type(v) ~= "boolean" then
    error("option " .. name .. " must be true or false", 2)
  end
  return v
end


-- True when i is an integer index into an array of n backends.
function _M.is_index(i, n)
  return type(i) == "number" and i == floor(i) and i >= 1 and i <= n
end


return _M
