-- b3scale.policy: helpers for policy authors (filters, pickers, option readers).
-- Filters return arrays of the same backend tables C passed in, so `b.index` stays valid.
local _M = {}

local floor = math.floor
local type, tostring, error = type, tostring, error


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


-- The backend with the smallest keyfn(b); ties go to the lowest order, then the lowest id.
function _M.least(backends, keyfn)
  local best, best_key
  for _, b in ipairs(backends) do
    local k = keyfn(b)
    if best == nil or k < best_key
        or (k == best_key and (b.order < best.order
          or (b.order == best.order and b.id < best.id))) then
      best, best_key = b, k
    end
  end
  return best
end


-- b3scale's load formula: load_factor * max((meetings + pending) * attendee_base, participants).
function _M.load(b, attendee_base)
  local meetings = b.meetings + (b.pending or 0)
  return b.load_factor * math.max(meetings * attendee_base, b.participants)
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


function _M.is_index(i, n)
  return type(i) == "number" and i == floor(i) and i >= 1 and i <= n
end


return _M
