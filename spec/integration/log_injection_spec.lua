-- Request data in the daemon's logs (review 1.1 and 3.5): a crafted path neither overflows
-- the JSON logger nor forges a line or a field, in JSON or in text.
local h = require("helpers")
local cjson = h.cjson

local JWT_SECRET = "log-injection-jwt-secret-0123456789abcdef"
local FORGED_KEY = "x\nts=2026-01-01T00:00:00.000Z lvl=error subsys=forged event=pwned"
local FORGE_PATH = "/bbb/x%0Ats=2026-01-01T00:00:00.000Z%20lvl=error%20subsys=forged%20event=pwned"
  .. "/api/create"
-- the review's reproduction: 681 control bytes, a space, a 60-byte "key=", 200 more
local OVERFLOW_PATH = "/api/v1/" .. ("%01"):rep(681) .. "%20" .. ("a"):rep(60) .. "=" .. ("%01"):rep(200)
local OVERFLOW_DECODED = "/api/v1/" .. ("\1"):rep(681) .. " " .. ("a"):rep(60) .. "=" .. ("\1"):rep(200)

local parse_text = require("support.logline").parse

-- every line of the daemon's log, parsed; fails on the first one that does not parse
local function events(d, json)
  local out = {}
  for line in (h.read_file(d.log) or ""):gmatch("([^\n]*)\n") do
    assert.is_true(#line < 4096, "line of " .. #line .. " bytes")
    assert.is_nil(line:find(json and "[%z\1-\31]" or "[%z\1-\31\127]"), "raw control byte: " .. line)
    local ev, err
    if json then
      local ok, v = pcall(cjson.decode, line)
      ev, err = ok and type(v) == "table" and v or nil, tostring(v)
    else
      ev, err = parse_text(line)
    end
    assert(ev, "log line does not parse (" .. tostring(err) .. "): " .. line)
    out[#out + 1] = ev
  end
  return out
end

for _, format in ipairs({ "json", "text" }) do
  describe("logs of crafted requests (" .. format .. ")", function()
    local db, d

    setup(function()
      db = h.new_db("loginj" .. format)
      h.migrate(db)
      d = h.daemon({ db = db, env = { B3SCALE_LOG_FORMAT = format, B3SCALE_LOG_LEVEL = "info",
        B3SCALE_API_JWT_SECRET = JWT_SECRET } })
    end)

    teardown(function()
      if d then assert.equal(0, h.stop(d)) end
      h.cleanup()
    end)

    it("stays up, and every line parses with the expected fields only", function()
      local st = h.get(d.url .. OVERFLOW_PATH)
      assert.equal(401, st)
      st = h.get(d.url .. FORGE_PATH)
      assert.equal(200, st)                      -- a BBB checksumError answer
      assert.equal(200, (h.get(d.url .. "/healthz")))
      assert.truthy(h.alive(d.handle))
      assert.truthy(h.wait_until(function()
        local n = 0
        for _, ev in ipairs(events(d, format == "json")) do
          if ev.subsys == "access" then n = n + 1 end
        end
        return n >= 2
      end, 5))

      local auth, admin_access, forged_access = nil, nil, nil
      for _, ev in ipairs(events(d, format == "json")) do
        assert.not_equal("forged", ev.subsys)
        assert.is_nil(ev.event == "pwned" or nil, "a forged event field")
        assert.is_string(ev.ts)
        assert.is_nil(ev.ts:find("^2026%-01%-01"), "a forged timestamp")
        for k in pairs(ev) do
          assert.is_nil(k:find("^aaaa"), "a member made from the path: " .. k)
        end
        if ev.event == "auth_failed" then auth = ev end
        if ev.subsys == "access" and ev.api == "admin" then admin_access = ev end
        if ev.subsys == "access" and ev.call == "create" then forged_access = ev end
      end

      assert.is_table(auth, "no auth_failed line")
      assert.equal("GET", auth.method)
      assert.equal("missing or malformed token", auth.reason)
      assert.equal("/api/v1/\1\1\1", auth.path:sub(1, 11))
      -- text holds it whole; JSON (\u0001 is six bytes) cuts it to fit the line
      if format == "text" then
        assert.equal(OVERFLOW_DECODED, auth.path)
      else
        assert.matches("%.%.%.%(truncated%)$", auth.path)
        assert.equal(OVERFLOW_DECODED:sub(1, #auth.path - 14), auth.path:sub(1, -15))
      end
      assert.is_table(admin_access, "no admin access line")
      assert.equal("401", admin_access.status)
      assert.equal("127.0.0.1", admin_access.client)

      assert.is_table(forged_access, "no access line for the forged key")
      assert.equal(FORGED_KEY, forged_access.frontend)
      assert.equal("info", forged_access.lvl)
      assert.equal("checksumError", forged_access.outcome)
    end)
  end)
end
