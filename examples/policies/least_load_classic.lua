-- least_load_classic: least_load as it was before expected sizes and caps, for
-- `b3scaled simulate --compare` (docs/simulate.md): the load is
--   load_factor * max((meetings + pending) * attendee_base, participants)
-- with no reservation for a meeting's expected size and no per-node cap.
local lb = require("b3scale.policy")

local P = { name = "least_load_classic", api_version = 1, attendee_base = 15 }


function P.configure(opts)
  P.attendee_base = lb.number_opt(opts, "attendee_base", 15, 0, 100000)
end


local function load(b)
  local m = (b.meetings + (b.pending or 0)) * P.attendee_base
  return b.load_factor * (m > b.participants and m or b.participants)
end


function P.select(req, backends)
  local pool = lb.without(lb.with_tags(backends, req.frontend.settings.required_tags), req.excluded)
  if #pool == 0 then
    return nil, "no backend provides the required tags"
  end
  return lb.least(pool, load).index
end


return P
