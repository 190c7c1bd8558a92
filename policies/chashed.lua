-- chashed: consistent hashing of the meeting ID.
-- Among eligible backends (required tags, not excluded, below their caps), the one that wins rendezvous
-- hashing of req.meeting_id (lb.chash): the same meeting ID lands on the same backend while
-- that backend is eligible; otherwise on the next one in that ID's hash order.
local lb = require("b3scale.policy")

local P = {
  name = "chashed",
  api_version = 1,
}


function P.select(req, backends)
  local pool, why = lb.eligible(req, backends)
  if #pool == 0 then
    return nil, why
  end
  local best = lb.chash(pool, req.meeting_id)
  -- the explanation: the meeting ID's hash order (1 = preferred) over the first few
  local scores, rest = {}, pool
  for rank = 1, 8 do
    local b = rank == 1 and best or lb.chash(rest, req.meeting_id)
    if not b then
      break
    end
    scores[b.index] = rank
    rest = lb.where(rest, function(x) return x ~= b end)
  end
  return best.index, { reason = "rendezvous hash of the meeting ID over " .. #pool
    .. " eligible", scores = scores }
end


return P
