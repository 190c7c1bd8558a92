-- The C fallback (c/policy_builtin.c) and policies/least_load.lua must choose alike:
-- the fallback stands in for the policy when Lua fails, so operators see one behaviour.
local core = require("support.ffi")
local ffi = core.ffi

local TAGS = { "", "sip", "gpu", "sip,gpu", "eu" }

local function fixture(rng_n)
  local bs = {}
  for i = 1, rng_n do
    bs[i] = {
      index = i, order = i, id = string.format("b%02d", i - 1), host = "h" .. i,
      load_factor = ({ 0, 0.5, 1, 1, 1, 2 })[math.random(1, 6)],
      meetings = math.random(0, 6), pending = math.random(0, 3),
      participants = math.random(0, 120), tags_csv = TAGS[math.random(1, #TAGS)],
      excluded = math.random() < 0.15,
    }
    bs[i].tags = {}
    for t in bs[i].tags_csv:gmatch("[^,]+") do
      bs[i].tags[t] = true
    end
  end
  return bs
end

local function c_pick(bs, required)
  local n = #bs
  local lf, mt, pd, pc = ffi.new("double[?]", n), ffi.new("long[?]", n), ffi.new("long[?]", n),
    ffi.new("long[?]", n)
  local tags, ex = ffi.new("const char *[?]", n), ffi.new("int[?]", n)
  local keep = {}
  for i, b in ipairs(bs) do
    lf[i - 1], mt[i - 1], pd[i - 1], pc[i - 1] = b.load_factor, b.meetings, b.pending, b.participants
    keep[i] = b.tags_csv
    tags[i - 1] = keep[i]
    ex[i - 1] = b.excluded and 1 or 0
  end
  local rc = core.C.b3s_ffi_builtin_least_load(n, lf, mt, pd, pc, tags, ex, table.concat(required, ","))
  return rc >= 0 and rc + 1 or nil
end

-- the entry with every fact the rule reads (c/placement_ffi.h, loaded as its own cdef)
ffi.cdef((assert(io.open("c/placement_ffi.h")):read("*a"):gsub("/%*.-%*/", ""):gsub("#[^\n]*", "")))
local pffi = ffi.load("./build/libb3scale.so")
local lb = require("b3scale.policy")

local function nums(b)
  return ffi.new("double[8]", b.load_factor, b.meetings, b.pending, b.participants,
    b.reserved or 0, b.max_meetings or 0, b.max_attendees or 0, b.cpu or -1)
end

-- 0-based index + 1, or nil; and the C return code
local function c_pick_full(bs, required)
  local n = #bs
  local x = ffi.new("double[?]", 8 * n)
  local tags, ex = ffi.new("const char *[?]", n), ffi.new("int[?]", n)
  local keep = {}
  for i, b in ipairs(bs) do
    local one = nums(b)
    for k = 0, 7 do x[8 * (i - 1) + k] = one[k] end
    keep[i] = b.tags_csv
    tags[i - 1] = keep[i]
    ex[i - 1] = b.excluded and 1 or 0
  end
  local rc = pffi.placement_ffi_least_load(n, x, tags, ex, table.concat(required, ","))
  return rc >= 0 and rc + 1 or nil, rc
end

describe("the C fallback and least_load.lua", function()
  local P = require("least_load")

  it("pick the same backend on 2,000 seeded fixture sets", function()
    P.configure({})
    math.randomseed(20261127)
    local disagreements = {}
    for case = 1, 2000 do
      local bs = fixture(math.random(1, 8))
      local required = ({ {}, { "sip" }, { "gpu" }, { "sip", "gpu" } })[math.random(1, 4)]
      local excluded = {}
      for _, b in ipairs(bs) do
        if b.excluded then excluded[b.id] = true end
      end
      local req = { action = "create", meeting_id = "m" .. case, attempt = 1, excluded = excluded,
        params = {}, frontend = { key = "fe", settings = { required_tags = required } } }
      local lua_pick = P.select(req, bs)
      local c = c_pick(bs, required)
      if lua_pick ~= c then
        disagreements[#disagreements + 1] = string.format("case %d: lua=%s c=%s", case,
          tostring(lua_pick), tostring(c))
      end
    end
    assert.same({}, disagreements)
  end)

  it("pick the same backend with reservations and caps on 2,000 seeded fixture sets", function()
    P.configure({})
    math.randomseed(20270315)
    local disagreements, full = {}, 0
    for case = 1, 2000 do
      local bs = fixture(math.random(1, 8))
      for _, b in ipairs(bs) do
        b.reserved = math.random() < 0.5 and math.random(0, 400) or 0
        b.max_meetings = math.random() < 0.3 and math.random(1, 8) or nil
        b.max_attendees = math.random() < 0.3 and math.random(1, 300) or nil
        b.cpu = math.random() < 0.5 and math.random() or nil
      end
      local required = ({ {}, { "sip" }, { "gpu" } })[math.random(1, 3)]
      local excluded = {}
      for _, b in ipairs(bs) do
        if b.excluded then excluded[b.id] = true end
      end
      local req = { action = "create", meeting_id = "m" .. case, attempt = 1, excluded = excluded,
        params = {}, frontend = { key = "fe", settings = { required_tags = required } } }
      local lua_pick, why = P.select(req, bs)
      local c, crc = c_pick_full(bs, required)
      if why == lb.FULL then full = full + 1 end
      if lua_pick ~= c or (lua_pick == nil and (why == lb.FULL) ~= (crc == -28)) then
        disagreements[#disagreements + 1] = string.format("case %d: lua=%s (%s) c=%s (%d)", case,
          tostring(lua_pick), tostring(why), tostring(c), crc)
      end
    end
    assert.same({}, disagreements)
    assert.is_true(full > 0, "no fixture set was full: the caps went untested")
  end)

  it("compute the same load and room, CPU term included", function()
    math.randomseed(7)
    for _ = 1, 2000 do
      local b = { load_factor = ({ 0, 0.5, 1, 2 })[math.random(1, 4)], meetings = math.random(0, 9),
        pending = math.random(0, 3), participants = math.random(0, 300),
        reserved = math.random(0, 300), max_meetings = math.random() < 0.5 and math.random(1, 9) or nil,
        max_attendees = math.random() < 0.5 and math.random(1, 400) or nil,
        cpu = math.random() < 0.7 and math.random() or nil }
      local base, w = ({ 0, 10, 15, 22.5 })[math.random(1, 4)], ({ 0, 1, 150 })[math.random(1, 3)]
      local x = nums(b)
      assert.equal(lb.load(b, base, w), pffi.placement_ffi_load(x, base, w))
      assert.equal(lb.has_room(b, base), pffi.placement_ffi_has_room(x, base) == 1)
    end
  end)

  it("both find nothing when no backend has the required tags", function()
    local bs = { { index = 1, order = 1, id = "b00", load_factor = 1, meetings = 0, pending = 0,
      participants = 0, tags = {}, tags_csv = "", excluded = false } }
    local req = { excluded = {}, frontend = { settings = { required_tags = { "gpu" } } } }
    assert.is_nil((P.select(req, bs)))
    assert.is_nil(c_pick(bs, { "gpu" }))
  end)
end)
