-- The backend tables a policy sees are kept between calls of one Lua state and updated field
-- by field (c/policy_cache.c). Whatever the list does between calls (counters change, nodes
-- come, go, move, change host or tags, lose their agent), the policy must see exactly the
-- current list, as if every table were new.
local core = require("support.ffi")
local h = require("helpers")
local ffi = core.ffi

local FIELDS = { "load_factor", "meetings", "pending", "participants", "video", "voice",
  "listeners", "report_age_ms", "cpu", "mem" }

local function expected(list)
  local out = {}
  for i, b in ipairs(list) do
    local parts = { i, i, b.id, b.host }
    for _, f in ipairs(FIELDS) do
      local v = b[f]
      if (f == "report_age_ms" or f == "cpu" or f == "mem") and v < 0 then
        parts[#parts + 1] = "nil"
      elseif f == "report_age_ms" then
        parts[#parts + 1] = tostring(v - v % 100)   -- in steps of 100 ms
      else
        parts[#parts + 1] = tostring(v)
      end
    end
    local tags = {}
    for t in b.tags:gmatch("[^,]+") do
      tags[#tags + 1] = t
    end
    table.sort(tags)
    parts[#parts + 1] = table.concat(tags, "+")
    out[i] = table.concat(parts, "|")
  end
  return table.concat(out, "\n")
end

local function select(list, gen)
  local n = #list
  local ids, hosts, tags = ffi.new("const char *[?]", n + 1), ffi.new("const char *[?]", n + 1),
    ffi.new("const char *[?]", n + 1)
  local nums = ffi.new("double[?]", 10 * n + 1)
  for i, b in ipairs(list) do
    ids[i - 1], hosts[i - 1], tags[i - 1] = b.id, b.host, b.tags
    for j, f in ipairs(FIELDS) do
      nums[10 * (i - 1) + j - 1] = b[f]
    end
  end
  local reason = ffi.new("char[?]", 1048576)
  local rc = core.C.b3s_ffi_policy_select(n, ids, hosts, tags, nums, gen or 0, reason, 1048576)
  return rc, ffi.string(reason)
end

local serial = 0
local function backend()
  serial = serial + 1
  return { id = string.format("b%04d", serial), host = "http://n" .. serial .. "/bigbluebutton/api/",
    tags = ({ "", "sip", "gpu,sip", "eu" })[math.random(1, 4)], load_factor = 1, meetings = 0,
    pending = 0, participants = 0, video = 0, voice = 0, listeners = 0,
    report_age_ms = math.random(-1, 3) * 500 + math.random(0, 120), cpu = -1, mem = 0.5 }
end

local CHANGES = {
  function(list) -- a counter moves
    local b = list[math.random(1, #list)]
    local f = FIELDS[math.random(2, #FIELDS)]
    b[f] = (f == "cpu" or f == "mem") and math.random(-1, 4) / 4 or math.random(-1, 90)
  end,
  function(list) -- the operator changes a load factor
    list[math.random(1, #list)].load_factor = math.random(0, 4) / 2
  end,
  function(list) -- a node joins, somewhere
    table.insert(list, math.random(1, #list + 1), backend())
  end,
  function(list) -- a node leaves (or stops being eligible)
    if #list > 1 then table.remove(list, math.random(1, #list)) end
  end,
  function(list) -- two nodes swap places
    local i, j = math.random(1, #list), math.random(1, #list)
    list[i], list[j] = list[j], list[i]
  end,
  function(list) -- re-registered with another host or tags
    local b = list[math.random(1, #list)]
    b.host = b.host .. "x"
    b.tags = ({ "", "sip", "gpu,sip", "eu", "eu,,sip" })[math.random(1, 5)]
  end,
  function(list) -- a node that left comes back (its old table may still be cached)
    local b = backend()
    serial = serial - 1
    b.id = string.format("b%04d", math.random(1, serial))
    for _, o in ipairs(list) do
      if o.id == b.id then return end
    end
    list[#list + 1] = b
  end,
}

describe("the backend tables passed to a policy", function()
  local dir

  setup(function()
    dir = h.tmpdir()
    assert(os.execute("cp spec/fixtures/policies/describe.lua " .. dir .. "/"))
    local err = ffi.new("char[1024]")
    local rc = core.C.b3s_ffi_policy_load("lua", dir, "describe", err, 1024)
    assert.equal(0, rc, ffi.string(err))
  end)

  it("always show the current list, over 3,000 calls of changes", function()
    math.randomseed(20261207)
    local list = {}
    for i = 1, 20 do list[i] = backend() end
    local gen = 0
    for call = 1, 3000 do
      -- a snapshot's gen (c/backend_view.c) says only counters changed since the last call
      -- with it; the spec keeps one gen while it changes only counters, and none at times
      local kind = math.random(1, 3)
      if kind == 1 then
        gen = gen + 1
      end
      for _ = 1, math.random(0, 3) do
        CHANGES[kind == 1 and math.random(1, #CHANGES) or 1](list)
      end
      local rc, got = select(list, kind == 3 and 0 or gen)
      assert.equal(-2, rc)
      local want = expected(list)
      if got ~= want then
        assert.equal(want, got, "call " .. call)
      end
    end
  end)

  it("follow a list that empties and fills again", function()
    local rc, got = select({})
    assert.equal(-2, rc)
    assert.equal("", got)
    local list = { backend(), backend() }
    rc, got = select(list)
    assert.equal(expected(list), got)
  end)
end)
