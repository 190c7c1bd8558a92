-- policies/scalelite_compat.lua: one scenario per scalelite server-tag rule.
local lb = require("b3scale.policy")

local fx = require("support.policy_fixtures")

local backend = fx.backend

local function request(server_tag, settings, excluded)
  return fx.request(settings, excluded, { params = { ["meta_server-tag"] = server_tag } })
end

describe("scalelite_compat", function()
  local P, bs

  before_each(function()
    package.loaded["scalelite_compat"] = nil
    P = require("scalelite_compat")
    P.configure({})
    -- 1: untagged, busy; 2: untagged, idle; 3: sip; 4: gpu; 5: sip+gpu, busy
    bs = { backend(1, { meetings = 3 }), backend(2), backend(3, { tags = { sip = true } }),
      backend(4, { tags = { gpu = true } }),
      backend(5, { tags = { sip = true, gpu = true }, meetings = 5 }) }
  end)

  fx.contract(function() return P end, { name = "scalelite_compat" })

  it("uses only untagged backends when no tag is asked for", function()
    bs[2].meetings = 9
    assert.equal(1, P.select(request(nil), bs))
    assert.equal(1, P.select(request(""), bs))
    assert.equal(1, P.select(request("!"), bs))
    assert.equal(1, P.select(request("none"), bs))
  end)

  it("fails with serverTagUnavailable when no tag is asked for and all backends are tagged", function()
    local i, reason = P.select(request(nil), { bs[3], bs[4] })
    assert.is_nil(i)
    assert.matches("^serverTagUnavailable", reason)
  end)

  it("uses backends with any of the asked tags, least loaded first", function()
    assert.equal(3, P.select(request("sip"), bs))
    assert.equal(4, P.select(request("gpu"), bs))
    bs[4].meetings = 9
    assert.equal(3, P.select(request("gpu;sip"), bs))
    assert.equal(3, P.select(request(" gpu ; sip "), bs))
  end)

  it("falls back to untagged backends when optional tags match nothing", function()
    assert.equal(2, P.select(request("h264"), bs))
  end)

  it("fails with serverTagUnavailable when required tags match nothing", function()
    local i, reason = P.select(request("h264!"), bs)
    assert.is_nil(i)
    assert.equal("serverTagUnavailable: there is no available server with the required tag=h264!",
      reason)
  end)

  it("uses matching backends for required tags", function()
    assert.equal(4, P.select(request("gpu!"), bs))
    assert.equal(3, P.select(request("h264;sip!"), bs))
  end)

  it("lets none add untagged backends to the asked tags", function()
    bs[3].meetings = 4
    assert.equal(2, P.select(request("none;sip"), bs))
    assert.equal(2, P.select(request("sip;none!"), bs))
    local i = P.select(request("none!"), { bs[3] })
    assert.is_nil(i)
  end)

  it("honours required tags, counting backends with only those tags as untagged", function()
    local fe = { required_tags = { "sip" } }
    -- 3 has only sip: untagged for this frontend; 5 has gpu beyond it
    assert.equal(3, P.select(request(nil, fe), bs))
    assert.equal(5, P.select(request("gpu", fe), bs))
    local i, reason = P.select(request(nil, { required_tags = { "h264" } }), bs)
    assert.is_nil(i)
    assert.is_string(reason)
  end)

  it("never returns an excluded backend", function()
    assert.equal(1, P.select(request(nil, {}, { ["id-2"] = true }), bs))
    assert.equal(2, P.select(request("sip", {}, { ["id-3"] = true, ["id-5"] = true }), bs))
    local i = P.select(request("sip!", {}, { ["id-3"] = true, ["id-5"] = true }), bs)
    assert.is_nil(i)
  end)

  it("breaks ties by order then id", function()
    bs[1].meetings = 0
    assert.equal(1, P.select(request(nil), bs))
    bs[1].order, bs[2].order = 2, 2
    bs[1].id, bs[2].id = "b", "a"
    assert.equal(2, P.select(request(nil), bs))
  end)

  it("uses b3scale's load with the attendee_base option", function()
    -- 1: max(3 * 15, 0) = 45; 2: max(0, 40) = 40
    bs[2].participants = 40
    assert.equal(2, P.select(request(nil), bs))
    P.configure({ attendee_base = 10 })      -- 1: 30
    assert.equal(1, P.select(request(nil), bs))
  end)

  it("the index is always in range", function()
    math.randomseed(3)
    local tags = { "sip", "gpu", "h264" }
    local asks = { nil, "", "sip", "gpu!", "none;h264", "h264!", "sip;gpu" }
    for k = 1, 300 do
      local list = {}
      for i = 1, math.random(1, 8) do
        local t = {}
        if math.random() < 0.5 then t[tags[math.random(1, 3)]] = true end
        list[i] = backend(i, { tags = t, meetings = math.random(0, 5) })
      end
      local i, reason = P.select(request(asks[k % #asks + 1]), list)
      assert.is_true(lb.is_index(i, #list) or (i == nil and type(reason) == "string"))
    end
  end)

  it("rejects a bad attendee_base option by name", function()
    assert.has_error(function() P.configure({ attendee_base = -1 }) end,
      "option attendee_base must be a number from 0 to 100000")
  end)
end)
