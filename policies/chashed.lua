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
  return lb.chash(pool, req.meeting_id).index
end


return P
