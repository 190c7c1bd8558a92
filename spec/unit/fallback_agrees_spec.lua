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

  it("both find nothing when no backend has the required tags", function()
    local bs = { { index = 1, order = 1, id = "b00", load_factor = 1, meetings = 0, pending = 0,
      participants = 0, tags = {}, tags_csv = "", excluded = false } }
    local req = { excluded = {}, frontend = { settings = { required_tags = { "gpu" } } } }
    assert.is_nil((P.select(req, bs)))
    assert.is_nil(c_pick(bs, { "gpu" }))
  end)
end)
