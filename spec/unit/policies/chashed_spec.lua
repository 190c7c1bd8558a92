-- policies/chashed.lua on plain tables.
local fx = require("support.policy_fixtures")

local backend = fx.backend

local function request(meeting_id, settings, excluded)
  return fx.request(settings, excluded, { meeting_id = meeting_id })
end

-- the same backends in a new array, reindexed (as C builds it for each call)
local function reindexed(list)
  local out = {}
  for i, b in ipairs(list) do
    local c = {}
    for k, v in pairs(b) do c[k] = v end
    c.index = i
    out[i] = c
  end
  return out
end

describe("chashed", function()
  local P

  before_each(function()
    package.loaded["chashed"] = nil
    P = require("chashed")
  end)

  fx.contract(function() return P end, { name = "chashed" })

  it("maps the same meeting ID to the same backend, whatever the load or list order", function()
    local bs = { backend(1), backend(2), backend(3), backend(4) }
    for k = 1, 100 do
      local m = "meeting-" .. k
      local id = bs[P.select(request(m), bs)].id
      local shuffled = reindexed({ bs[3], bs[1], bs[4], bs[2] })
      shuffled[1].meetings = 50
      assert.equal(id, shuffled[P.select(request(m), shuffled)].id)
    end
  end)

  it("moves a meeting only when its backend is excluded or gone", function()
    local bs = { backend(1), backend(2), backend(3), backend(4) }
    local moved = 0
    for k = 1, 400 do
      local m = "meeting-" .. k
      local first = bs[P.select(request(m), bs)]
      local again = bs[P.select(request(m, {}, { [first.id] = true }), bs)]
      assert.are_not.equal(first, again)
      -- the id of another backend being excluded changes nothing
      local other = first.index % #bs + 1
      assert.equal(first, bs[P.select(request(m, {}, { [bs[other].id] = true }), bs)])
      -- removing another backend changes nothing either
      local rest = {}
      for _, b in ipairs(bs) do if b ~= bs[other] then rest[#rest + 1] = b end end
      rest = reindexed(rest)
      assert.equal(first.id, rest[P.select(request(m), rest)].id)
      if first ~= bs[1] then moved = moved + 1 end
    end
    assert.is_true(moved > 0)
  end)

  it("spreads meetings between half and twice the fair share", function()
    local bs = { backend(1), backend(2), backend(3), backend(4), backend(5) }
    local counts = { 0, 0, 0, 0, 0 }
    for k = 1, 10000 do
      local i = P.select(request("room-" .. k), bs)
      counts[i] = counts[i] + 1
    end
    for i = 1, 5 do
      assert.is_true(counts[i] > 1000 and counts[i] < 4000, "backend " .. i .. ": " .. counts[i])
    end
  end)

  it("breaks ties by order then id (the same id listed twice)", function()
    local bs = { backend(1, { id = "x", order = 2 }), backend(2, { id = "x", order = 1 }) }
    assert.equal(2, P.select(request("m"), bs))
  end)
end)
