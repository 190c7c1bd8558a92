-- lua/b3scale/policy.lua and lua/b3scale/host.lua on plain tables.
local lb = require("b3scale.policy")
local host = require("b3scale.host")

local backend = require("support.policy_fixtures").backend

local function ids(list)
  local out = {}
  for i, b in ipairs(list) do
    out[i] = b.id
  end
  return out
end


describe("b3scale.host", function()
  it("hash32 is FNV-1a 32 bits", function()
    assert.equal(2166136261, host.hash32(""))
    assert.equal(3826002220, host.hash32("a"))
    assert.equal(0xe40c292c, host.hash32("a"))
    assert.equal(3214735720, host.hash32("foobar"))
    assert.equal(0xbf9cf968, host.hash32("foobar"))
  end)

  it("hash32 stays an exact non-negative 32-bit integer on long and high-byte input", function()
    -- reference value computed with exact integer arithmetic
    assert.equal(783964881, host.hash32(string.rep("\255", 100)))
    for _, s in ipairs({ "x", "meeting-1|id-2", string.rep("abc", 1000) }) do
      local h = host.hash32(s)
      assert.is_true(h >= 0 and h < 2 ^ 32 and h == math.floor(h))
    end
  end)

  it("random is repeatable after seed and stays in range", function()
    host.seed(42)
    local a = {}
    for i = 1, 20 do a[i] = host.random(3, 9) end
    host.seed(42)
    for i = 1, 20 do
      local v = host.random(3, 9)
      assert.equal(a[i], v)
      assert.is_true(v >= 3 and v <= 9)
    end
  end)

  it("random rejects bad bounds", function()
    assert.has_error(function() host.random(5, 1) end)
    assert.has_error(function() host.random(1.5, 2) end)
  end)

  it("now is epoch seconds and log accepts a message", function()
    assert.is_true(host.now() > 1.6e9)
    assert.has_no.errors(function() host.log("info", "hello") end)
  end)

  it("the policy module calls host functions through the table, so C can replace them", function()
    local saved = host.now
    host.now = function() return 123.5 end
    assert.equal(123.5, lb.now())
    host.now = saved
  end)
end)


describe("b3scale.policy filters", function()
  local bs

  before_each(function()
    bs = { backend(1, { tags = { sip = true } }), backend(2),
      backend(3, { tags = { sip = true, gpu = true } }) }
  end)

  it("where keeps the same tables, in order", function()
    local out = lb.where(bs, function(b) return b.index ~= 2 end)
    assert.same({ "id-1", "id-3" }, ids(out))
    assert.equal(bs[3], out[2])
  end)

  it("with_tags requires every tag", function()
    assert.same({ "id-3" }, ids(lb.with_tags(bs, { "sip", "gpu" })))
    assert.equal(bs, lb.with_tags(bs, {}))
    assert.equal(bs, lb.with_tags(bs, nil))
  end)

  it("without drops excluded ids", function()
    assert.same({ "id-2" }, ids(lb.without(bs, { ["id-1"] = true, ["id-3"] = true })))
  end)

  it("eligible applies the frontend's required tags and the excluded set", function()
    local req = { frontend = { settings = { required_tags = { "sip" } } },
      excluded = { ["id-1"] = true } }
    assert.same({ "id-3" }, ids(lb.eligible(req, bs)))
  end)
end)


describe("b3scale.policy pickers", function()
  it("first breaks ties by order then id", function()
    local bs = { backend(1, { order = 2 }), backend(2, { order = 1, id = "b" }),
      backend(3, { order = 1, id = "a" }) }
    assert.equal(bs[3], lb.first(bs))
    assert.is_nil(lb.first({}))
  end)

  it("least breaks ties by order then id", function()
    local bs = { backend(1, { order = 1, id = "z" }), backend(2, { order = 1, id = "a" }) }
    assert.equal(bs[2], lb.least(bs, function() return 0 end))
    assert.is_nil(lb.least({}, function() return 0 end))
  end)

  it("wrandom gives each backend between half and twice its fair share", function()
    host.seed(1)
    local bs = { backend(1), backend(2), backend(3), backend(4) }
    local w = { 1, 2, 3, 4 }
    local counts = { 0, 0, 0, 0 }
    local n = 10000
    for _ = 1, n do
      local b = lb.wrandom(bs, function(x) return w[x.index] end)
      counts[b.index] = counts[b.index] + 1
    end
    for i = 1, 4 do
      local fair = n * w[i] / 10
      assert.is_true(counts[i] > fair / 2 and counts[i] < fair * 2,
        "backend " .. i .. " got " .. counts[i] .. " of fair " .. fair)
    end
  end)

  it("wrandom never picks zero, negative or NaN weights", function()
    host.seed(2)
    local bs = { backend(1), backend(2), backend(3), backend(4) }
    local w = { 0, -5, 0 / 0, 0.001 }
    for _ = 1, 500 do
      assert.equal(4, lb.wrandom(bs, function(x) return w[x.index] end).index)
    end
  end)

  it("wrandom returns nil when no weight is positive", function()
    local bs = { backend(1), backend(2) }
    assert.is_nil(lb.wrandom(bs, function() return 0 end))
    assert.is_nil(lb.wrandom({}, function() return 1 end))
  end)

  it("wrandom lets infinite weights win", function()
    host.seed(3)
    local bs = { backend(1), backend(2) }
    for _ = 1, 100 do
      assert.equal(2, lb.wrandom(bs, function(x) return x.index == 2 and math.huge or 1 end).index)
    end
  end)

  it("chash maps a key to the same backend regardless of list order", function()
    local bs = { backend(1), backend(2), backend(3), backend(4), backend(5) }
    local rev = { bs[5], bs[4], bs[3], bs[2], bs[1] }
    for k = 1, 100 do
      assert.equal(lb.chash(bs, "m" .. k), lb.chash(rev, "m" .. k))
    end
    assert.is_nil(lb.chash({}, "m"))
  end)

  it("chash moves only the keys of a removed backend", function()
    local bs = { backend(1), backend(2), backend(3), backend(4), backend(5) }
    local rest = { bs[1], bs[2], bs[4], bs[5] }
    local moved = 0
    for k = 1, 1000 do
      local before = lb.chash(bs, "meeting-" .. k)
      local after = lb.chash(rest, "meeting-" .. k)
      if before ~= bs[3] then
        assert.equal(before, after)
      else
        moved = moved + 1
      end
    end
    assert.is_true(moved > 100 and moved < 400, "moved " .. moved)   -- about 1000 / 5
  end)

  it("chash spreads keys between half and twice the fair share", function()
    local bs = { backend(1), backend(2), backend(3), backend(4) }
    local counts = { 0, 0, 0, 0 }
    for k = 1, 10000 do
      local b = lb.chash(bs, "meeting-" .. k)
      counts[b.index] = counts[b.index] + 1
    end
    for i = 1, 4 do
      assert.is_true(counts[i] > 1250 and counts[i] < 5000, "backend " .. i .. ": " .. counts[i])
    end
  end)
end)


describe("b3scale.policy parse_tags", function()
  it("reads scalelite's ; list with ! for required", function()
    local t, none = lb.parse_tags("sip;gpu!")
    assert.same({ { tag = "sip", required = false }, { tag = "gpu", required = true } }, t)
    assert.is_false(none)
  end)

  it("trims spaces and skips empty items", function()
    assert.same({ { tag = "a", required = false }, { tag = "b", required = true } },
      (lb.parse_tags("  a ;; b ! ;")))
  end)

  it("treats none, empty and nil as no tag", function()
    local t, none = lb.parse_tags("none")
    assert.same({}, t)
    assert.is_true(none)
    t, none = lb.parse_tags("")
    assert.same({}, t)
    assert.is_false(none)
    assert.same({}, (lb.parse_tags(nil)))
    assert.same({}, (lb.parse_tags("!")))
  end)

  it("reports none next to other tags", function()
    local t, none = lb.parse_tags("none;sip")
    assert.same({ { tag = "sip", required = false } }, t)
    assert.is_true(none)
  end)
end)


describe("b3scale.policy option readers", function()
  it("return the default when the option is absent", function()
    assert.equal(5, lb.number_opt({}, "n", 5, 0, 10))
    assert.equal("x", lb.string_opt({}, "s", "x"))
    assert.equal("a", lb.enum_opt(nil, "e", "a", { "a", "b" }))
    assert.is_true(lb.bool_opt({}, "b", true))
  end)

  it("return valid values", function()
    assert.equal("fast", lb.string_opt({ s = "fast" }, "s", "x", "%a+"))
    assert.equal("b", lb.enum_opt({ e = "b" }, "e", "a", { "a", "b" }))
    assert.is_false(lb.bool_opt({ b = false }, "b", true))
  end)

  it("raise an error naming the option", function()
    assert.has_error(function() lb.string_opt({ s = 1 }, "s", "x") end,
      "option s must be a string")
    assert.has_error(function() lb.string_opt({ s = "a b" }, "s", "x", "%a+") end,
      "option s must be a string matching %a+")
    assert.has_error(function() lb.enum_opt({ e = "c" }, "e", "a", { "a", "b" }) end,
      "option e must be one of: a, b")
    assert.has_error(function() lb.bool_opt({ b = "yes" }, "b", true) end,
      "option b must be true or false")
    assert.has_error(function() lb.number_opt({ n = 11 }, "n", 5, 0, 10) end,
      "option n must be a number from 0 to 10")
  end)

  it("is_index accepts only integers in range", function()
    assert.is_true(lb.is_index(1, 1))
    assert.is_false(lb.is_index(0, 1))
    assert.is_false(lb.is_index(2, 1))
    assert.is_false(lb.is_index(1.5, 2))
    assert.is_false(lb.is_index("1", 2))
  end)
end)
