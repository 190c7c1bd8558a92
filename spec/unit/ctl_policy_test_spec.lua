-- b3scalectl policy test: fixture cases through the daemon's own sandbox (b3scaled
-- simulate --cases), with no daemon and no database: what it prints and its exit status.
local main  = require("b3scalectl.main")
local cjson = require("cjson")

-- build/ is the sanitizer build in sanitized runs (spec/support/run.sh shadows the root)
local BIN = "build/b3scaled"

local function tmp(name, text)
  local path = os.tmpname() .. "-" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local function run(argv, env)
  local out, err = {}, {}
  local e = { B3SCALED = BIN }
  for k, v in pairs(env or {}) do e[k] = v end
  local code = main.main(argv, {
    out = function(s) out[#out + 1] = s end,
    err = function(s) err[#err + 1] = s end,
    getenv = function(k) return e[k] end,
  })
  return code, table.concat(out), table.concat(err)
end

local function backend(i, tags, counters)
  local b = { bbb = { host = "https://n" .. i .. ".example/bigbluebutton/api/" },
    load_factor = 1, settings = { tags = tags or {} } }
  for k, v in pairs(counters or {}) do b[k] = v end
  return b
end

local CASES = {
  policy = "least_load",
  cases = {
    { name = "the emptier node", request = { frontend = { key = "school" }, params = { meetingID = "m1" } },
      backends = { backend(1, {}, { meetings_count = 4, attendees_count = 40 }), backend(2) },
      expect = "https://n2.example/bigbluebutton/api/" },
    { name = "sip required", request = { frontend = { key = "s", settings = { required_tags = { "sip" } } } },
      backends = { backend(1), backend(2, { "sip" }, { meetings_count = 9 }) },
      expect = "https://n2.example/bigbluebutton/api" },
    { name = "nobody has gpu", request = { frontend = { key = "g", settings = { required_tags = { "gpu" } } } },
      backends = { backend(1) }, expect = "none" },
    { name = "excluded after a failure", request = { excluded = { "https://n2.example/bigbluebutton/api/" } },
      backends = { backend(1, {}, { meetings_count = 9 }), backend(2) },
      expect = "https://n1.example/bigbluebutton/api/" },
    { name = "no expectation", backends = { backend(1) } },
  },
}

describe("b3scalectl policy test", function()
  it("prints each choice with its explanation and exits 0 when every expectation holds", function()
    local code, out, err = run({ "policy", "test", tmp("cases.json", cjson.encode(CASES)),
      "--policy-dir", "policies" })
    assert.equal("", err)
    assert.equal(0, code, out)
    assert.matches("ok    the emptier node: placed on https://n2%.example/bigbluebutton/api/\n", out)
    assert.matches("reason: least load 0 of 2 eligible\n", out, 1, true)
    assert.matches("candidates: https://n1.example/bigbluebutton/api/=60, https://n2.example/bigbluebutton/api/=0",
      out, 1, true)
    assert.matches("ok    nobody has gpu: declined (no backend provides the required tags)", out, 1, true)
    assert.matches("ok    excluded after a failure: placed on https://n1.example", out, 1, true)
    assert.matches("n2.example/bigbluebutton/api/ (excluded)", out, 1, true)
    assert.matches("      no expectation: placed on https://n1.example", out, 1, true)
    assert.matches("5 case(s), 4 expectation(s), 0 failed\n", out, 1, true)
  end)

  it("exits 1 and says what was expected when a case fails", function()
    local c = cjson.decode(cjson.encode(CASES))
    c.cases[1].expect = "https://n1.example/bigbluebutton/api/"
    c.cases[3].expect = "https://n1.example/bigbluebutton/api/"
    local code, out = run({ "policy", "test", tmp("cases.json", cjson.encode(c)), "--policy-dir", "policies" })
    assert.equal(1, code)
    assert.matches("FAIL  the emptier node: placed on https://n2.example/bigbluebutton/api/; expected https://n1.example/bigbluebutton/api/",
      out, 1, true)
    assert.matches("FAIL  nobody has gpu: declined", out, 1, true)
    assert.matches("2 failed\n", out, 1, true)
  end)

  it("tests a policy file of the operator's own directory, without the shipped ones", function()
    local dir = os.tmpname() .. "-pol"
    assert(os.execute("mkdir -p " .. dir) == 0)
    local f = assert(io.open(dir .. "/mine.lua", "wb"))
    f:write([[
local P = { name = "mine", api_version = 1 }
function P.select(req, backends)
  return #backends, { reason = "always the last", scores = { [#backends] = 7 } }
end
return P
]])
    f:close()
    local c = { policy = "mine", cases = { { name = "last", backends = { backend(1), backend(2) },
      expect = "https://n2.example/bigbluebutton/api/" } } }
    local code, out = run({ "policy", "test", tmp("c.json", cjson.encode(c)), "--policy-dir", dir })
    assert.equal(0, code, out)
    assert.matches("reason: always the last", out, 1, true)
    assert.matches("n2.example/bigbluebutton/api/=7", out, 1, true)
    -- a broken policy file: the load error with file and line, exit 1
    f = assert(io.open(dir .. "/mine.lua", "wb"))
    f:write("local P = { name = 'mine', api_version = 1 }\nfunction P.select(\nreturn P\n")
    f:close()
    local err
    code, out, err = run({ "policy", "test", tmp("c.json", cjson.encode(c)), "--policy-dir", dir })
    assert.equal(1, code)
    assert.matches("mine.lua:3", err, 1, true)
  end)

  it("--json prints b3scaled's answer as is", function()
    local code, out = run({ "--json", "policy", "test", tmp("cases.json", cjson.encode(CASES)),
      "--policy-dir", "policies" })
    assert.equal(0, code)
    local r = cjson.decode(out)
    assert.equal(5, #r.cases)
    assert.equal("declined", r.cases[3].outcome)
    assert.equal("least_load", r.cases[1].explanation.policy)
  end)
end)
