-- policies/wrandom.lua on plain tables, with a seeded host RNG.
local host = require("b3scale.host")
local fx = require("support.policy_fixtures")

local backend, request = fx.backend, fx.request

local N = 10000

local function tally(P, req, bs)
  local counts = {}
  for i = 1, #bs do counts[i] = 0 end
  for _ = 1, N do
    local i = P.select(req, bs)
    counts[i] = counts[i] + 1
  end
  return counts
end

local function assert_fair(counts, shares)
  local total = 0
  for _, s in ipairs(shares) do total = total + s end
  for i, s in ipairs(shares) do
    local fair = N * s / total
    if fair == 0 then
      assert.equal(0, counts[i], "backend " .. i)
    else
      assert.is_true(counts[i] > fair / 2 and counts[i] < fair * 2,
        "backend " .. i .. " got " .. counts[i] .. ", fair share " .. fair)
    end
  end
end

describe("wrandom", function()
  local P

  before_each(function()
    package.loaded["wrandom"] = nil
    P = require("wrandom")
    P.configure({})
    host.seed(1234)
  end)

  fx.contract(function() return P end, { name = "wrandom", configs = { {}, { capacity = 60 } } })

  it("weighs backends by 1 / load_factor", function()
    local bs = { backend(1, { load_factor = 1 }), backend(2, { load_factor = 2 }),
      backend(3, { load_factor = 4 }) }
    assert_fair(tally(P, request(), bs), { 4, 2, 1 })
  end)

  it("ignores load when capacity is not set", function()
    local bs = { backend(1, { meetings = 100 }), backend(2) }
    assert_fair(tally(P, request(), bs), { 1, 1 })
  end)

  it("treats load_factor 0 as always preferred", function()
    local bs = { backend(1), backend(2, { load_factor = 0 }), backend(3) }
    local counts = tally(P, request(), bs)
    assert.is_true(counts[2] >= N - 1)
  end)

  it("multiplies by the headroom under capacity (bounded load)", function()
    P.configure({ capacity = 150 })
    -- headroom: 150 - 0 = 150, 150 - 100 = 50 (participants), 150 - 150 = 0
    local bs = { backend(1), backend(2, { participants = 100 }), backend(3, { meetings = 10 }) }
    assert_fair(tally(P, request(), bs), { 3, 1, 0 })
  end)

  it("falls back to the least loaded backend when none has headroom", function()
    P.configure({ capacity = 30 })
    local bs = { backend(1, { meetings = 4 }), backend(2, { meetings = 3 }), backend(3, { meetings = 5 }) }
    for _ = 1, 50 do
      assert.equal(2, P.select(request(), bs))
    end
  end)

  it("never returns an excluded backend", function()
    local bs = { backend(1), backend(2), backend(3) }
    local counts = tally(P, request({}, { ["id-2"] = true }), bs)
    assert_fair(counts, { 1, 0, 1 })
  end)

  it("breaks ties by order then id in the fallback", function()
    P.configure({ capacity = 10 })
    local bs = { backend(1, { order = 1, id = "b", meetings = 1 }),
      backend(2, { order = 1, id = "a", meetings = 1 }) }
    assert.equal(2, P.select(request(), bs))
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() P.configure({ capacity = "lots" }) end,
      "option capacity must be a number from 0 to 1000000000")
    assert.has_error(function() P.configure({ attendee_base = -2 }) end)
  end)
end)
