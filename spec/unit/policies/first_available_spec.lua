-- policies/first_available.lua on plain tables, without the C core.
local fx = require("support.policy_fixtures")

local backend, request = fx.backend, fx.request

describe("first_available", function()
  local P

  before_each(function()
    package.loaded["first_available"] = nil
    P = require("first_available")
    P.configure({})
  end)

  fx.contract(function() return P end, { name = "first_available" })

  it("fills the lowest order first while it is under capacity", function()
    -- default capacity 150 = 10 meetings x 15
    local bs = { backend(1, { order = 2 }), backend(2, { order = 1, meetings = 9 }) }
    assert.equal(2, P.select(request(), bs))
    bs[2].meetings = 10                       -- load 150: not below capacity
    assert.equal(1, P.select(request(), bs))
  end)

  it("counts pending placements, participants and the load factor", function()
    local bs = { backend(1, { meetings = 8, pending = 2 }), backend(2) }
    assert.equal(2, P.select(request(), bs))
    bs[1].pending, bs[1].participants = 0, 151
    assert.equal(2, P.select(request(), bs))
    bs[1].participants, bs[1].load_factor = 0, 2   -- 8 * 15 * 2 = 240
    assert.equal(2, P.select(request(), bs))
  end)

  it("falls back to the least loaded backend when all are at capacity", function()
    local bs = { backend(1, { meetings = 12 }), backend(2, { meetings = 11 }),
      backend(3, { meetings = 20 }) }
    assert.equal(2, P.select(request(), bs))
  end)

  it("takes the capacity option", function()
    P.configure({ capacity = 30 })
    local bs = { backend(1, { meetings = 2 }), backend(2, { meetings = 1 }) }
    assert.equal(2, P.select(request(), bs))
  end)

  it("breaks ties by order then id", function()
    local bs = { backend(1, { order = 1, id = "b" }), backend(2, { order = 1, id = "a" }) }
    assert.equal(2, P.select(request(), bs))
    bs[1].meetings, bs[2].meetings = 20, 20   -- fallback ties too
    assert.equal(2, P.select(request(), bs))
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() P.configure({ capacity = -1 }) end,
      "option capacity must be a number from 0 to 1000000000")
    assert.has_error(function() P.configure({ attendee_base = "x" }) end)
  end)
end)
