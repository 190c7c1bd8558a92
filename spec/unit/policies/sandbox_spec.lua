-- Every built-in and example policy loads in the strict policy environment of
-- b3scale.dispatch and answers a call made the way C makes it.
local dispatch = require("b3scale.dispatch")
local lb = require("b3scale.policy")
local host = require("b3scale.host")
local h = require("helpers")

local BUILTIN = { "least_load", "first_available", "wrandom", "chashed", "scalelite_compat" }
local EXAMPLES = { "prefer_tagged", "round_robin_by_order" }

local function backends()
  local out = {}
  for i = 1, 3 do
    out[i] = { index = i, order = i, id = "id-" .. i, host = "h" .. i,
      tags = i == 3 and { sip = true } or {}, load_factor = 1, meetings = i, pending = 0,
      participants = 0, video = 0, voice = 0, listeners = 0 }
  end
  return out
end

local function request(excluded)
  return { action = "create", meeting_id = "m", attempt = 1, excluded = excluded or {},
    frontend = { key = "fe" }, params = { ["meta_server-tag"] = "sip" }, now = 0 }
end

describe("policies in the sandbox", function()
  local sources, chunknames = {}, {}

  setup(function()
    host.seed(1)
    for _, n in ipairs(BUILTIN) do
      sources[n] = assert(h.read_file("policies/" .. n .. ".lua"))
      chunknames[n] = "@policies/" .. n .. ".lua"
    end
    for _, n in ipairs(EXAMPLES) do
      sources[n] = assert(h.read_file("examples/policies/" .. n .. ".lua"))
      chunknames[n] = "@examples/policies/" .. n .. ".lua"
    end
    assert(dispatch.init(sources, chunknames, "least_load",
      '{"first_available":{"capacity":60},"wrandom":{"capacity":300},'
      .. '"prefer_tagged":{"tag":"sip"}}'))
  end)

  it("every policy passes the reload smoke test", function()
    assert(dispatch.smoke())
  end)

  it("a bad option rejects the load, naming the option", function()
    local ok, err = dispatch.init(sources, chunknames, "least_load",
      '{"wrandom":{"capacity":"lots"}}')
    assert.is_nil(ok)
    assert.matches("option capacity", err)
    assert(dispatch.init(sources, chunknames, "least_load", nil))
  end)

  for _, name in ipairs({ "least_load", "first_available", "wrandom", "chashed",
      "scalelite_compat", "prefer_tagged", "round_robin_by_order" }) do
    it(name .. " loads and returns an index in range", function()
      local bs = backends()
      local got, i = dispatch.select(request(), bs, '{"policy":"' .. name .. '"}')
      assert.equal(name, got)
      assert.is_true(lb.is_index(i, #bs))
      local _, j = dispatch.select(request({ ["id-1"] = true, ["id-2"] = true, ["id-3"] = true }),
        bs, '{"policy":"' .. name .. '"}')
      assert.is_nil(j)
    end)
  end
end)
