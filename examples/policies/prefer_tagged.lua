-- prefer_tagged: an example custom policy. Copy it to policies/, then pick it with the
-- frontend setting "policy": "prefer_tagged" or B3SCALE_POLICY=prefer_tagged.
-- Places meetings on backends carrying the tag `tag` (option, default "premium") while any
-- of them is eligible, least loaded first; otherwise on the least loaded other backend.
local lb = require("b3scale.policy")

local P = {
  name = "prefer_tagged",
  api_version = 1,
  tag = "premium",
}


function P.configure(opts)
  P.tag = lb.string_opt(opts, "tag", "premium", "[%w_.-]+")
end


local function load(b)
  return lb.load(b, 15)
end


function P.select(req, backends)
  local pool = lb.eligible(req, backends)            -- required tags, minus excluded
  if #pool == 0 then
    return nil, "no eligible backend"
  end
  local tagged = lb.where(pool, function(b) return b.tags[P.tag] end)
  local best = lb.least(tagged, load) or lb.least(pool, load)
  return best.index
end


return P
