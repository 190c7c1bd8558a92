-- least_load: the default placement policy.
-- Among backends that carry every tag in the frontend's `required_tags` and are below their
-- caps (max_meetings, max_attendees), pick the smallest load:
--   load_factor * max((meetings + pending) * attendee_base, participants + reserved)
--   + cpu_weight * cpu
-- (`reserved`: seats held for young meetings by their expected size; policies/README.md);
-- ties go to the lowest order (registration order), then the lowest id.
local lb = require("b3scale.policy")

local P = {
  name = "least_load",
  api_version = 1,
  attendee_base = 15,
  cpu_weight = 0,
}


function P.configure(opts)
  P.attendee_base = lb.number_opt(opts, "attendee_base", 15, 0, 100000)
  P.cpu_weight = lb.number_opt(opts, "cpu_weight", 0, 0, 1e6)
end


function P.select(req, backends)
  local pool, why = lb.eligible(req, backends, P.attendee_base)
  if #pool == 0 then
    if why == lb.FULL then
      return nil, why
    end
    return nil, "no backend provides the required tags"
  end
  local function load(b)
    return lb.load(b, P.attendee_base, P.cpu_weight)
  end
  local best = P.cpu_weight > 0 and lb.least(pool, load) or lb.least(pool, lb.load, P.attendee_base)
  -- the explanation: the load of every backend compared (recorded with the meeting)
  local scores = {}
  for _, b in ipairs(pool) do
    scores[b.index] = load(b)
  end
  return best.index, { reason = "least load " .. scores[best.index] .. " of " .. #pool
    .. " eligible", scores = scores }
end


return P
