-- Fixtures for the policy specs: backends and requests as the C core hands them to a policy's
-- select(), and the behaviour every policy owes (contract), checked the same way for each.
local lb = require("b3scale.policy")
local assert = require("luassert")

local _M = {}


-- Backend i (its index); t overrides order, id, tags, load_factor and the counters.
function _M.backend(i, t)
  t = t or {}
  return {
    index = i, order = t.order or i, id = t.id or ("id-" .. i), host = "h" .. i,
    tags = t.tags or {}, load_factor = t.load_factor or 1, meetings = t.meetings or 0,
    pending = t.pending or 0, participants = t.participants or 0,
  }
end


-- A create request from frontend "fe" with these settings and excluded ids; fields overrides
-- any other field (meeting_id, params, ...).
function _M.request(settings, excluded, fields)
  local req = { action = "create", meeting_id = "m", attempt = 1, excluded = excluded or {},
    frontend = { key = "fe", settings = settings or {} }, params = {}, now = 0 }
  for k, v in pairs(fields or {}) do
    req[k] = v
  end
  return req
end


-- Registers, inside a describe whose before_each loads the policy, the checks every policy
-- must pass. get() returns the loaded policy. opts: name (the declared P.name, checked with
-- api_version 1 when given), configs (option tables the range check runs under, default {{}}).
function _M.contract(get, opts)
  opts = opts or {}
  local backend, request = _M.backend, _M.request
  local it = getfenv(2).it            -- busted gives `it` to the spec file, not to modules

  if opts.name then
    it("declares the contract fields", function()
      local P = get()
      assert.equal(opts.name, P.name)
      assert.equal(1, P.api_version)
    end)
  end

  it("contract: honours required tags, however loaded the tagged backend is", function()
    local P = get()
    local bs = { backend(1), backend(2, { tags = { sip = true }, meetings = 30 }), backend(3) }
    for k = 1, 200 do
      assert.equal(2, P.select(request({ required_tags = { "sip" } }, nil,
        { meeting_id = "m" .. k }), bs))
    end
  end)

  it("contract: never returns an excluded backend, however idle it is", function()
    local P = get()
    local bs = { backend(1), backend(2, { meetings = 30 }) }
    for k = 1, 200 do
      assert.equal(2, P.select(request({}, { ["id-1"] = true }, { meeting_id = "m" .. k }), bs))
    end
  end)

  it("contract: returns nil and a reason when nothing is eligible", function()
    local P = get()
    local cases = {
      { request({ required_tags = { "gpu" } }), { backend(1) } },
      { request({}, { ["id-1"] = true }), { backend(1) } },
      { request({}, { ["id-1"] = true, ["id-2"] = true }), { backend(1), backend(2) } },
      { request(), {} },
    }
    for n, case in ipairs(cases) do
      local i, reason = P.select(case[1], case[2])
      assert.is_nil(i, "case " .. n)
      assert.is_string(reason, "case " .. n)
    end
  end)

  it("contract: the index is always in range", function()
    local P = get()
    math.randomseed(11)
    for _, config in ipairs(opts.configs or { {} }) do
      if P.configure then P.configure(config) end
      for k = 1, 300 do
        local bs = {}
        for i = 1, math.random(1, 8) do
          bs[i] = backend(i, { order = math.random(1, 3), meetings = math.random(0, 15),
            pending = math.random(0, 3), participants = math.random(0, 90),
            load_factor = math.random(0, 3) })
        end
        assert.is_true(lb.is_index(P.select(request(nil, nil, { meeting_id = "m" .. k }), bs),
          #bs))
      end
    end
  end)
end


-- The source of a policy called `name` that always picks the backend whose host has this
-- port (a bbbsim's), for specs that must know where a meeting goes.
function _M.steer_source(name, port)
  return ([[
local P = { name = "NAME", api_version = 1 }
function P.select(req, backends)
  for _, b in ipairs(backends) do
    if b.host:find(":PORT/", 1, true) then return b.index end
  end
  return nil, "target not available"
end
return P
]]):gsub("NAME", name):gsub("PORT", tostring(port))
end


return _M
