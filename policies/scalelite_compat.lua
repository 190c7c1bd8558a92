-- scalelite_compat: scalelite's server-tag rules, then the lowest load.
-- The create's `meta_server-tag` is a ";" list of tags; a "!" makes the list required; the
-- tag "none" stands for untagged backends. A backend counts as untagged when it has no tag
-- beyond the frontend's required_tags (which are applied first, as in every policy).
--   no tag asked for     -> untagged backends only
--   tags asked for       -> backends with any of them (or untagged ones if "none" is listed);
--                           if there are none: required -> nil, "serverTagUnavailable: ...";
--                           optional -> untagged backends
-- Among the candidates, the smallest lb.load (ties: lowest order, then id).
local lb = require("b3scale.policy")

local ipairs, pairs = ipairs, pairs

local P = {
  name = "scalelite_compat",
  api_version = 1,
  attendee_base = 15,
}


function P.configure(opts)
  P.attendee_base = lb.number_opt(opts, "attendee_base", 15, 0, 100000)
end


local function set_of(list)
  local s = {}
  if type(list) == "table" then
    for _, tag in ipairs(list) do
      s[tag] = true
    end
  end
  return s
end


function P.select(req, backends)
  local pool, why = lb.eligible(req, backends, P.attendee_base)
  if #pool == 0 then
    return nil, why
  end

  local base = set_of(req.frontend.settings.required_tags)
  local function untagged(b)
    for tag in pairs(b.tags) do
      if not base[tag] then
        return false
      end
    end
    return true
  end

  local raw = req.params and req.params["meta_server-tag"]
  local items, none = lb.parse_tags(raw)
  local candidates
  if #items == 0 and not none then
    candidates = lb.where(pool, untagged)
    if #candidates == 0 then
      return nil, "serverTagUnavailable: no untagged server available"
    end
  else
    local wanted, required = {}, false
    for _, it in ipairs(items) do
      wanted[it.tag] = true
      required = required or it.required
    end
    candidates = lb.where(pool, function(b)
      for tag in pairs(b.tags) do
        if wanted[tag] then
          return true
        end
      end
      return none and untagged(b)
    end)
    if #candidates == 0 and not required then
      candidates = lb.where(pool, untagged)
    end
    if #candidates == 0 then
      return nil, "serverTagUnavailable: there is no available server with the required tag="
        .. tostring(raw)
    end
  end

  local best = lb.least(candidates, function(b)
    return lb.load(b, P.attendee_base)
  end)
  -- the explanation: the tag rule that applied and the loads compared
  local scores = {}
  for _, b in ipairs(candidates) do
    scores[b.index] = lb.load(b, P.attendee_base)
  end
  return best.index, { scores = scores, reason = (raw and raw ~= ""
    and "meta_server-tag=" .. tostring(raw) or "no server tag: untagged backends")
    .. ", least load of " .. #candidates }
end


return P
