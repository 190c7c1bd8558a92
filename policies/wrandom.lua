-- wrandom: weighted random placement.
-- Among eligible backends (required tags, not excluded, below their caps), pick at random with weight
-- 1 / load_factor (load_factor 0 means "always preferred": weight 1e9). With the option
-- `capacity` set, each weight is also multiplied by the headroom max(0, capacity - load)
-- (bounded load); when no backend has headroom left, least_load's rule decides.
local lb = require("b3scale.policy")

local max = math.max

local ZERO_FACTOR_WEIGHT = 1e9

local P = {
  name = "wrandom",
  api_version = 1,
  capacity = nil,
  attendee_base = 15,
}


function P.configure(opts)
  P.capacity = lb.number_opt(opts, "capacity", nil, 0, 1e9)
  P.attendee_base = lb.number_opt(opts, "attendee_base", 15, 0, 100000)
end


local function weight(b)
  local w = b.load_factor > 0 and 1 / b.load_factor or ZERO_FACTOR_WEIGHT
  if P.capacity then
    w = w * max(0, P.capacity - lb.load(b, P.attendee_base))
  end
  return w
end


function P.select(req, backends)
  local pool, why = lb.eligible(req, backends, P.attendee_base)
  if #pool == 0 then
    return nil, why
  end
  local best = lb.wrandom(pool, weight)
  local why = "weighted random"
  if not best then
    best, why = lb.least(pool, function(b)
      return lb.load(b, P.attendee_base)
    end), "no headroom left: least load"
  end
  -- the explanation: the weights drawn from
  local scores = {}
  for _, b in ipairs(pool) do
    scores[b.index] = weight(b)
  end
  return best.index, { reason = why, scores = scores }
end


return P
