-- examples/policies/*.lua: the custom policies operators copy.
local lb = require("b3scale.policy")

local function load_example(name)
  return assert(loadfile("examples/policies/" .. name .. ".lua"))()
end

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

describe("prefer_tagged", function()
  local P

  before_each(function()
    P = load_example("prefer_tagged")
    P.configure({})
  end)

  it("declares the contract fields", function()
    assert.equal("prefer_tagged", P.name)
    assert.equal(1, P.api_version)
  end)

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

  it("never returns an excluded backend and returns nil when none is left", function()
    local bs = { backend(1), backend(2) }
    for _ = 1, 5 do
      assert.equal(2, P.select(request({}, { ["id-1"] = true }), bs))
    end
    local i, reason = P.select(request({}, { ["id-1"] = true, ["id-2"] = true }), bs)
    assert.is_nil(i)
    assert.is_string(reason)
  end)

  it("the index is always in range", function()
    math.randomseed(4)
    for _ = 1, 200 do
      local bs = {}
      for i = 1, math.random(1, 6) do bs[i] = backend(i, { order = math.random(1, 3) }) end
      assert.is_true(lb.is_index(P.select(request(), bs), #bs))
    end
  end)
end)
