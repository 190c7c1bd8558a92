-- policies/least_load.lua on plain tables, without the C core.
local fx = require("support.policy_fixtures")

local backend, request = fx.backend, fx.request

describe("least_load", function()
  local P

  before_each(function()
    package.loaded["least_load"] = nil
    P = require("least_load")
    P.configure({})
  end)

  fx.contract(function() return P end, { name = "least_load" })

  it("picks the backend with the smallest load", function()
    local bs = { backend(1, { meetings = 3 }), backend(2, { meetings = 1 }), backend(3, { meetings = 2 }) }
    assert.equal(2, P.select(request(), bs))
  end)

  it("weighs participants against meetings times attendee_base", function()
    -- b1: max(1*15, 40) = 40; b2: max(2*15, 0) = 30
    local bs = { backend(1, { meetings = 1, participants = 40 }), backend(2, { meetings = 2 }) }
    assert.equal(2, P.select(request(), bs))
  end)

  it("counts pending placements and the load factor", function()
    local bs = { backend(1, { pending = 2 }), backend(2, { meetings = 1, load_factor = 1.5 }) }
    assert.equal(2, P.select(request(), bs))
    bs[2].load_factor = 3
    assert.equal(1, P.select(request(), bs))
  end)

  it("breaks ties by order, then id", function()
    local bs = { backend(1), backend(2) }
    assert.equal(1, P.select(request(), bs))
    bs[1].order, bs[2].order = 2, 1
    assert.equal(2, P.select(request(), bs))
    bs[1].order, bs[2].order = 1, 1
    bs[1].id, bs[2].id = "b", "a"
    assert.equal(2, P.select(request(), bs))
  end)

  it("rejects a bad attendee_base option by name", function()
    assert.has_error(function() P.configure({ attendee_base = -1 }) end)
    assert.has_error(function() P.configure({ attendee_base = "x" }) end)
  end)
end)
