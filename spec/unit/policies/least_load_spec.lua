-- policies/least_load.lua on plain tables, without the C core.
local lb = require("b3scale.policy")

local function backend(i, t)
  t = t or {}
  return {
    index = i, order = i, id = t.id or ("id-" .. i), host = "h" .. i,
    tags = t.tags or {}, load_factor = t.load_factor or 1, meetings = t.meetings or 0,
    pending = t.pending or 0, participants = t.participants or 0,
  }
end

local function request(settings, excluded)
  return { action = "create", meeting_id = "m", attempt = 1, excluded = excluded or {},
    frontend = { key = "fe", settings = settings or {} }, params = {} }
end

describe("least_load", function()
  local P

  before_each(function()
    package.loaded["least_load"] = nil
    P = require("least_load")
    P.configure({})
  end)

  it("declares the contract fields", function()
    assert.equal("least_load", P.name)
    assert.equal(1, P.api_version)
  end)

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

  it("honours required tags", function()
    local bs = { backend(1), backend(2, { tags = { sip = true }, meetings = 5 }) }
    assert.equal(2, P.select(request({ required_tags = { "sip" } }), bs))
  end)

  it("never returns an excluded backend", function()
    local bs = { backend(1), backend(2, { meetings = 9 }) }
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

  it("always returns an index in range", function()
    math.randomseed(7)
    for _ = 1, 200 do
      local bs = {}
      for i = 1, math.random(1, 8) do
        bs[i] = backend(i, { meetings = math.random(0, 5), participants = math.random(0, 90) })
      end
      assert.is_true(lb.is_index(P.select(request(), bs), #bs))
    end
  end)

  it("rejects a bad attendee_base option by name", function()
    assert.has_error(function() P.configure({ attendee_base = -1 }) end)
    assert.has_error(function() P.configure({ attendee_base = "x" }) end)
  end)
end)
