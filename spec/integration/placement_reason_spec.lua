-- Why a meeting is where it is: the policy's explanation and the candidates it saw are
-- stored with the meeting when the create is placed (sql/0024), shown by the admin API and
-- b3scalectl show meeting, and carried on the placement log line; a policy's bad
-- explanation never fails the placement.
local h = require("helpers")
local cjson = h.cjson
local cluster = require("support.cluster")

local SECRET = "reason-fe-secret"
local JWT_SECRET = "reason-jwt-" .. h.random_hex(8)
local ctl = require("support.ctl").new(JWT_SECRET)

local function has(s, needle) return s:find(needle, 1, true) ~= nil end

-- explanations a policy should not give; each must still place the meeting
local WILD = [[
local P = { name = "wild", api_version = 1 }
local bad = setmetatable({}, { __index = function() error("no field for you") end })
function P.select(req, backends)
  local id = req.meeting_id
  if id:find("^huge") then
    return 1, { reason = string.rep("x", 200000), scores = { [1] = 0 / 0, [2] = 1 / 0 } }
  end
  if id:find("^bytes") then return 1, "nul\0and\255bad utf-8\1" end
  if id:find("^func") then return 1, function() end end
  if id:find("^meta") then return 1, bad end
  if id:find("^scores") then return 1, { reason = "odd scores", scores = { "a", {}, 3 } } end
  return 1
end
return P
]]

local function create(d, id)
  local st, body = h.get(h.api_url(h.frontend_api(d, "fe"), "create",
    "name=Room&meetingID=" .. id, SECRET))
  assert.equal(200, st)
  assert.equal("SUCCESS", h.xml_text(body, "returncode"), body)
end

local function reason_of(db, id)
  local text = h.psql(db, "SELECT coalesce(placement_reason::text, 'null') FROM meetings WHERE meeting_id = '" .. id .. "'")
  return cjson.decode(text), text
end

describe("placement reasons", function()
  local db, sims, d, dir

  setup(function()
    db = h.new_db("reason")
    h.migrate(db)
    sims = { h.bbbsim({ name = "r1" }), h.bbbsim({ name = "r2" }) }
    cluster.register(db, sims, "fe", SECRET, "{}")
    dir = h.tmpdir() .. "/reason-pol-" .. h.random_hex(3)
    assert(os.execute("mkdir -p " .. dir .. " && cp policies/*.lua " .. dir) == 0)
    h.write_file(dir .. "/wild.lua", WILD)
    d = h.daemon({ db = db, env = { B3SCALE_POLICY_DIR = dir, B3SCALE_API_JWT_SECRET = JWT_SECRET } })
    ctl.url = d.url
    cluster.settled(d, db)
  end)

  teardown(function()
    if d then h.stop(d) end
    h.cleanup()
  end)

  it("stores the policy, its reason and the candidates with their scores when a create is placed", function()
    create(d, "why-1")
    local r = reason_of(db, "why-1")
    assert.equal("policy", r.by)
    assert.equal("least_load", r.policy)
    assert.matches("^least load %d+ of 2 eligible$", r.reason)
    assert.equal(2, #r.candidates)
    assert.equal(2, r.candidates_total)
    local host = h.psql(db, "SELECT b.host FROM meetings m JOIN backends b ON b.id = m.backend_id WHERE meeting_id = 'why-1'")
    assert.equal(host, r.chosen)
    local hosts = {}
    for _, c in ipairs(r.candidates) do
      hosts[c.host] = true
      assert.equal("number", type(c.score))
    end
    assert.is_true(hosts[sims[1].url] and hosts[sims[2].url])
  end)

  it("shows it in the admin API and in b3scalectl show meeting", function()
    create(d, "why-2")
    local id = h.psql(db, "SELECT id FROM meetings WHERE meeting_id = 'why-2'")
    local m = ctl.ok_json({ "show", "meeting", id })
    assert.equal("least_load", m.placement_reason.policy)
    local out = ctl.ok({ "show", "meeting", id })
    assert.is_true(has(out, "placed:") and has(out, "by least_load"), out)
    assert.matches("reason:%s+least load %d+ of 2 eligible", out)
    assert.matches("candidate:%s+" .. sims[1].url:gsub("%p", "%%%0") .. "%s+score %d+", out)
    assert.is_true(has(out, "(chosen)"), out)
  end)

  it("puts the short reason on the placement log line", function()
    create(d, "why-3")
    assert.truthy(h.wait_until(function()
      return (h.read_file(d.log) or ""):find('by=policy expected=%d+ source=%a+ reason="least load ')
    end, 10))
  end)

  it("places the meeting whatever the explanation: huge, bad bytes, not a string or table, raising", function()
    h.psql(db, "UPDATE frontends SET settings = '{\"policy\": \"wild\"}' WHERE key = 'fe'")
    h.wait_until(function()
      create(d, "probe-" .. h.random_hex(3))
      local p = h.psql(db, "SELECT placement_reason->>'policy' FROM meetings ORDER BY id DESC LIMIT 1")
      return p == "wild"
    end, 10)
    for _, id in ipairs({ "huge-1", "bytes-1", "func-1", "meta-1", "scores-1" }) do
      create(d, id)
      local r, text = reason_of(db, id)
      assert.is_true(#text <= 9216, id)
      assert.equal("policy", r.by, id)
      if id == "huge-1" then
        assert.equal(300, #r.reason)
        assert.is_nil(r.candidates[1].score) -- NaN dropped
      elseif id == "bytes-1" then
        assert.equal("nul and?bad utf-8 ", r.reason)
      elseif id == "func-1" or id == "meta-1" then
        assert.is_nil(r.reason) -- ignored: the candidates are still recorded
        assert.equal("wild", r.policy)
        assert.equal(2, #r.candidates)
      else
        assert.equal("odd scores", r.reason)
        assert.is_nil(r.candidates[1].score)
        assert.is_nil(r.candidates[2].score)
      end
    end
    h.psql(db, "UPDATE frontends SET settings = '{}' WHERE key = 'fe'")
  end)
end)
