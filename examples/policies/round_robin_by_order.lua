-- round_robin_by_order: an example custom policy with module-level state.
-- Takes eligible backends in turn, in the operator's order (order, then id). The counter is
-- per Lua state (each worker thread has one, and a reload starts it again), so the rotation
-- is only roughly fair; that is fine because correctness never depends on it.
local lb = require("b3scale.policy")

local sort = table.sort

local P = {
  name = "round_robin_by_order",
  api_version = 1,
}

local turn = 0                                       -- quality-only state


function P.select(req, backends)
  local pool = lb.where(lb.eligible(req, backends), function() return true end)
  if #pool == 0 then
    return nil, "no eligible backend"
  end
  sort(pool, function(a, b)                          -- sorts our copy of the list only
    return a.order < b.order or (a.order == b.order and a.id < b.id)
  end)
  turn = turn % #pool + 1
  return pool[turn].index
end


return P
