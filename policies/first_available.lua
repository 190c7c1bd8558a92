-- first_available: fill backends in the operator's order.
-- Among eligible backends (required tags, not excluded, below their caps), the lowest order (then lowest id)
-- whose load is below `capacity`; when every one is at or above it, least_load's rule.
local lb = require("b3scale.policy")

local P = {
  name = "first_available",
  api_version = 1,
  capacity = 150,
  attendee_base = 15,
}


function P.configure(opts)
  P.capacity = lb.number_opt(opts, "capacity", 150, 0, 1e9)
  P.attendee_base = lb.number_opt(opts, "attendee_base", 15, 0, 100000)
end


function P.select(req, backends)
  local pool, why = lb.eligible(req, backends, P.attendee_base)
  if #pool == 0 then
    return nil, why
  end
  local function load(b)
    return lb.load(b, P.attendee_base)
  end
  local roomy = lb.where(pool, function(b)
    return load(b) < P.capacity
  end)
  local best = lb.first(roomy) or lb.least(pool, load)
  -- the explanation: each backend's load against the capacity
  local scores = {}
  for _, b in ipairs(pool) do
    scores[b.index] = load(b)
  end
  return best.index, { scores = scores, reason = (#roomy > 0
    and "first in order below capacity " .. P.capacity
    or "all at or above capacity " .. P.capacity .. ": least load") }
end


return P
