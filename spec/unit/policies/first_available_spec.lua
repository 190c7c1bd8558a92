-- policies/first_available.lua on plain tables, without the C core.
local lb = require("b3scale.policy")

local function backend(i, t)
  t = t or {}
  return {
    index = i, order = t.order or i, id = t.id or ("id-" .. i), host = "h" .. i,
    tags = t.tags or {}, load_factor = t.load_factor or 1, meetings = t.meetings or 0,
    pending = t.pending or 0, participants = t.participants or 0,
  }
end

local function request(settings, excluded)
  return { action = "create", meeting_id = "m", attempt = 1, excluded = excluded or {},
    frontend = { key = "fe", settings = settings or {} }, params = {}, now = 0 }
end

describe("first_available", function()
  local P

  before_each(function()
    package.loaded["first_available"] = nil
    P = require("first_available")
    P.configure({})
  end)

  it("declares the contract fields", function()
    assert.equal("first_available", P.name)
    assert.equal(1, P.api_version)
  end)

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

  it("honours required tags", function()
    local bs = { backend(1), backend(2, { tags = { sip = true }, meetings = 30 }) }
    assert.equal(2, P.select(request({ required_tags = { "sip" } }), bs))
  end)

  it("never returns an excluded backend", function()
    local bs = { backend(1), backend(2, { meetings = 30 }) }
    assert.equal(2, P.select(request({}, { ["id-1"] = true }), bs))
  end)

  it("returns nil and a reason when nothing is eligible", function()
    local i, reason = P.select(request({ required_tags = { "gpu" } }), { backend(1) })
    assert.is_nil(i)
    assert.is_string(reason)
    i, reason = P.select(request(), {})
    assert.is_nil(i)
    assert.is_string(reason)
  end)

  it("the index is always in range", function()
    math.randomseed(11)
    for _ = 1, 300 do
      local bs = {}
      for i = 1, math.random(1, 8) do
        bs[i] = backend(i, { meetings = math.random(0, 15), order = math.random(1, 3) })
      end
      assert.is_true(lb.is_index(P.select(request(), bs), #bs))
    end
  end)

  it("rejects bad options by name", function()
    assert.has_error(function() P.configure({ capacity = -1 }) end,
      "option capacity must be a number from 0 to 1000000000")
    assert.has_error(function() P.configure({ attendee_base = "x" }) end)
  end)
end)
