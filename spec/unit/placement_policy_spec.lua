-- Size-aware load and caps in lua/b3scale/policy.lua and the built-in policies, on plain
-- tables: reservations (b.reserved) weigh in the load, caps make a node ineligible, the CPU
-- term is off unless asked for, and req.expected_size is filled for the policy.
local lb = require("b3scale.policy")

local function node(i, t)
  local b = { index = i, order = i, id = "id-" .. i, host = "h" .. i, tags = {}, load_factor = 1,
    meetings = 0, pending = 0, participants = 0 }
  for k, v in pairs(t or {}) do b[k] = v end
  return b
end

local function request(fields)
  local req = { action = "create", meeting_id = "m", attempt = 1, excluded = {},
    frontend = { key = "fe", settings = {} }, params = {}, now = 0 }
  for k, v in pairs(fields or {}) do req[k] = v end
  return req
end

local function fresh(name)
  package.loaded[name] = nil
  local P = require(name)
  if P.configure then P.configure({}) end
  return P
end

describe("lb.attendees and lb.load", function()
  it("count reported participants plus reservations, every meeting at least attendee_base", function()
    assert.equal(300, lb.attendees(node(1, { meetings = 1, participants = 0, reserved = 300 }), 15))
    -- ten 5-person meetings that reported: the floor (10 x 15) wins
    assert.equal(150, lb.attendees(node(1, { meetings = 10, participants = 50 }), 15))
    assert.equal(60, lb.attendees(node(1, { meetings = 1, participants = 40, reserved = 20 }), 15))
    assert.equal(30, lb.attendees(node(1, { pending = 2 })))      -- default base 15
    -- a reservation is never negative
    assert.equal(40, lb.attendees(node(1, { participants = 40, reserved = -5 }), 0))
  end)

  it("multiply by load_factor and add cpu_weight x cpu only when asked and known", function()
    local b = node(1, { meetings = 1, reserved = 100, load_factor = 2, cpu = 0.5 })
    assert.equal(200, lb.load(b, 15))
    assert.equal(200, lb.load(b, 15, 0))
    assert.equal(250, lb.load(b, 15, 100))
    b.cpu = nil
    assert.equal(200, lb.load(b, 15, 100))
  end)

  it("stay b3scale's formula when nothing is reserved", function()
    local b = node(1, { meetings = 2, pending = 1, participants = 20, load_factor = 1.5 })
    assert.equal(1.5 * 45, lb.load(b, 15))
  end)
end)

describe("caps", function()
  it("has_room: a node at max_meetings or max_attendees is full; nil caps never fill", function()
    assert.is_true(lb.has_room(node(1, { meetings = 100, participants = 5000 })))
    assert.is_false(lb.has_room(node(1, { meetings = 2, pending = 1, max_meetings = 3 })))
    assert.is_true(lb.has_room(node(1, { meetings = 2, max_meetings = 3 })))
    assert.is_false(lb.has_room(node(1, { meetings = 1, reserved = 200, max_attendees = 200 }), 15))
    assert.is_true(lb.has_room(node(1, { meetings = 1, reserved = 199, max_attendees = 200 }), 15))
    -- every meeting counts attendee_base toward max_attendees
    assert.is_false(lb.has_room(node(1, { meetings = 7, max_attendees = 100 }), 15))
    assert.is_true(lb.has_room(node(1, { meetings = 7, max_attendees = 100 }), 10))
  end)

  it("with_room keeps order and returns the input itself when nothing is full", function()
    local bs = { node(1), node(2, { meetings = 1, max_meetings = 1 }), node(3) }
    local out = lb.with_room(bs)
    assert.same({ "id-1", "id-3" }, { out[1].id, out[2].id })
    assert.equal(2, #out)
    local all = { node(1), node(2) }
    assert.equal(all, lb.with_room(all))
  end)

  it("eligible says why nothing is left: tags and exclusions, or a full cluster", function()
    local bs = { node(1, { max_meetings = 1, meetings = 1 }), node(2, { tags = { sip = true } }) }
    local pool, why = lb.eligible(request({ frontend = { settings = { required_tags = { "gpu" } } } }), bs)
    assert.equal(0, #pool)
    assert.matches("required tags", why)
    pool, why = lb.eligible(request({ excluded = { ["id-2"] = true } }), bs)
    assert.equal(0, #pool)
    assert.equal(lb.FULL, why)
    assert.matches("the cluster is full", why)
    pool, why = lb.eligible(request(), bs)
    assert.same({ "id-2" }, { pool[1].id })
    assert.is_nil(why)
  end)

  for _, name in ipairs({ "least_load", "first_available", "wrandom", "chashed", "scalelite_compat" }) do
    it(name .. " never places on a full node and says the cluster is full", function()
      local P = fresh(name)
      local bs = { node(1, { meetings = 5, max_meetings = 5 }), node(2, { meetings = 40 }),
        node(3, { participants = 10, reserved = 300, max_attendees = 300 }) }
      for k = 1, 50 do
        assert.equal(2, P.select(request({ meeting_id = "m" .. k }), bs))
      end
      bs[2].max_attendees = 600                  -- 40 meetings x 15 = 600: full too
      local i, why = P.select(request(), bs)
      assert.is_nil(i)
      assert.equal(lb.FULL, why)
    end)
  end
end)

describe("least_load, size-aware", function()
  it("prefers the node without the big reservation over the one with more meetings", function()
    local P = fresh("least_load")
    -- node 1: one meeting reserved at 300; node 2: ten small meetings (floor 150)
    local bs = { node(1, { meetings = 1, reserved = 300 }), node(2, { meetings = 10, participants = 50 }) }
    assert.equal(2, P.select(request(), bs))
    -- without the reservation, the meeting count decides
    bs[1].reserved = 0
    assert.equal(1, P.select(request(), bs))
  end)

  it("adds the CPU term only with cpu_weight", function()
    local P = fresh("least_load")
    local bs = { node(1, { meetings = 1, cpu = 0.9 }), node(2, { meetings = 2, cpu = 0.1 }) }
    assert.equal(1, P.select(request(), bs))           -- 15 vs 30: CPU ignored
    P.configure({ cpu_weight = 100 })                  -- 15 + 90 vs 30 + 10
    assert.equal(2, P.select(request(), bs))
    assert.has_error(function() P.configure({ cpu_weight = -1 }) end,
      "option cpu_weight must be a number from 0 to 1000000")
  end)
end)

describe("the expected size", function()
  it("lb.expected_size takes req.expected_size, else the default", function()
    assert.equal(300, lb.expected_size(request({ expected_size = 300 }), 15))
    assert.equal(15, lb.expected_size(request()))
    assert.equal(20, lb.expected_size(request(), 20))
  end)

  it("dispatch fills it with the policy's attendee_base when C knows nothing", function()
    local dispatch = require("b3scale.dispatch")
    local src = [[
local P = { name = "probe", api_version = 1, attendee_base = 7 }
function P.select(req, backends) return 1 end
return P
]]
    assert(dispatch.init({ probe = src }, { probe = "@policies/probe.lua" }, "probe"))
    local req = request()
    local got = { dispatch.select(req, { node(1) }, "{}") }
    assert.same({ "probe", 1 }, { got[1], got[2] })
    assert.same({ 7, "default" }, { req.expected_size, req.expected_source })
    req = request({ expected_size = 300, expected_source = "hint" })
    dispatch.select(req, { node(1) }, "{}")
    assert.same({ 300, "hint" }, { req.expected_size, req.expected_source })
  end)
end)
