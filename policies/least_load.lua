-- least_load: the default placement policy.
-- Among backends that carry every tag in the frontend's `required_tags`, pick the smallest
-- load_factor * max((meetings + pending) * attendee_base, participants);
-- ties go to the lowest order (registration order), then the lowest id.
local lb = require("b3scale.policy")

local P = {
  name = "least_load",
  api_version = 1,
  attendee_base = 15,
}


function P.configure(opts)
  P.attendee_base = lb.number_opt(opts, "attendee_base", 15, 0, 100000)
end


function P.select(req, backends)
  local pool = lb.with_tags(backends, req.frontend.settings.required_tags)
  pool = lb.without(pool, req.excluded)
  if #pool == 0 then
    return nil, "no backend provides the required tags"
  end
  local best = lb.least(pool, lb.load, P.attendee_base)
  -- the explanation: the load of every backend compared (recorded with the meeting)
  local scores = {}
  for _, b in ipairs(pool) do
    scores[b.index] = lb.load(b, P.attendee_base)
  end
  return best.index, { reason = "least load " .. scores[best.index] .. " of " .. #pool
    .. " eligible", scores = scores }
end


return P
