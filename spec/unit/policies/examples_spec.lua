-- examples/policies/*.lua: the custom policies operators copy.
local fx = require("support.policy_fixtures")

local function load_example(name)
  return assert(loadfile("examples/policies/" .. name .. ".lua"))()
end

local backend, request = fx.backend, fx.request

describe("prefer_tagged", function()
  local P

  before_each(function()
    P = load_example("prefer_tagged")
    P.configure({})
  end)

  fx.contract(function() return P end, { name = "prefer_tagged" })

  it("prefers the least loaded backend with the tag", function()
    local bs = { backend(1), backend(2, { tags = { premium = true }, meetings = 9 }),
      backend(3, { tags = { premium = true }, meetings = 4 }) }
    assert.equal(3, P.select(request(), bs))
  end)

  it("falls back to the other backends when no tagged one is eligible", function()
    local bs = { backend(1, { meetings = 2 }), backend(2, { tags = { premium = true } }),
      backend(3, { meetings = 1 }) }
    assert.equal(3, P.select(request({}, { ["id-2"] = true }), bs))
  end)

  it("takes the tag option and rejects a bad one", function()
    P.configure({ tag = "gpu" })
    local bs = { backend(1), backend(2, { tags = { gpu = true }, meetings = 5 }) }
    assert.equal(2, P.select(request(), bs))
    assert.has_error(function() P.configure({ tag = "a b" }) end)
  end)

  it("honours required tags", function()
    local bs = { backend(1, { tags = { premium = true } }), backend(2, { tags = { sip = true } }) }
    assert.equal(2, P.select(request({ required_tags = { "sip" } }), bs))
    assert.is_nil(P.select(request({ required_tags = { "x" } }), bs))
  end)
end)

describe("round_robin_by_order", function()
  local P

  before_each(function()
    P = load_example("round_robin_by_order")
  end)

  fx.contract(function() return P end, { name = "round_robin_by_order" })

  it("takes eligible backends in turn, in order", function()
    local bs = { backend(1, { order = 3 }), backend(2, { order = 1 }), backend(3, { order = 2 }) }
    local seen = {}
    for k = 1, 6 do seen[k] = P.select(request(), bs) end
    assert.same({ 2, 3, 1, 2, 3, 1 }, seen)
  end)

  it("does not reorder the array it is given", function()
    local bs = { backend(1, { order = 3 }), backend(2, { order = 1 }) }
    P.select(request(), bs)
    assert.equal(1, bs[1].index)
    assert.equal(2, bs[2].index)
  end)

end)
