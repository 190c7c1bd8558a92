-- The logger (c/log.c) through the LuaJIT FFI on build/libb3scale.so: fields come from the
-- format string, each value is formatted and escaped on its own, so request data can add
-- neither a field nor a line, and a line never outgrows LOG_LINE_MAX.
local ffi = require("ffi")
local bit = require("bit")
local h = require("helpers")
local cjson = require("cjson")
local unistd = require("posix.unistd")
local fcntl = require("posix.fcntl")

pcall(ffi.cdef, "int log_setup(const char *level, const char *format);")
pcall(ffi.cdef, "void log_msg(int lvl, const char *subsys, const char *fmt, ...);")

local C = ffi.load("./build/libb3scale.so")
local LINE_MAX = 4096
local ERROR, WARN, INFO, DEBUG = 0, 1, 2, 3

local function int(n) return ffi.cast("int", n) end

-- everything fn writes to fd 2, with stderr restored whatever happens
local seq = 0
local function capture(fn)
  seq = seq + 1
  local path = string.format("%s/log_spec_%d.txt", h.tmpdir(), seq)
  local fd = assert(fcntl.open(path, bit.bor(fcntl.O_WRONLY, fcntl.O_CREAT, fcntl.O_TRUNC), 420))
  local saved = assert(unistd.dup(2))
  assert(unistd.dup2(fd, 2))
  unistd.close(fd)
  local ok, err = pcall(fn)
  unistd.dup2(saved, 2)
  unistd.close(saved)
  assert(ok, err)
  return h.read_file(path)
end

-- the lines of the output; asserts every one ends in "\n" and has no raw control byte
-- (JSON may carry DEL raw: it is no control character there)
local function lines_of(out, json)
  assert.equal("\n", out:sub(-1), "output does not end a line: " .. out)
  local t = {}
  for l in out:gmatch("([^\n]*)\n") do
    assert.is_nil(l:find(json and "[%z\1-\31]" or "[%z\1-\31\127]"), "raw control byte in: " .. l)
    assert.is_true(#l + 1 <= LINE_MAX, "line of " .. (#l + 1) .. " bytes")
    t[#t + 1] = l
  end
  return t
end

-- one text line as key=value pairs: returns the values by key and the keys in order
local logline = require("support.logline")
local function parse_text(line)
  local vals, keys = logline.parse(line)
  assert(vals, tostring(keys) .. " in: " .. line)
  return vals, keys
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local function keyset(list)
  local ks = {}
  for _, k in ipairs(list) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

-- one call in both formats: returns the parsed text line and the decoded JSON line
local function both(subsys, fmt, ...)
  local args = { ... }
  local n = select("#", ...)
  local res = {}
  for _, format in ipairs({ "text", "json" }) do
    assert.equal(0, C.log_setup("debug", format))
    local out = capture(function() C.log_msg(INFO, subsys, fmt, unpack(args, 1, n)) end)
    local ls = lines_of(out, format == "json")
    assert.equal(1, #ls, format .. " wrote " .. #ls .. " lines:\n" .. out)
    res[format] = ls[1]
  end
  local text, tkeys = parse_text(res.text)
  local json = cjson.decode(res.json)
  return text, json, tkeys, res
end

describe("log", function()
  teardown(function()
    C.log_setup("info", "text")
  end)

  it("keeps the documented shapes: ts lvl subsys first, then the format's keys in order", function()
    local text, json, keys, raw = both("access", "call=%s frontend=%s status=%d client=%s",
      "create", "fe", int(200), "127.0.0.1")
    assert.same({ "ts", "lvl", "subsys", "call", "frontend", "status", "client" }, keys)
    assert.matches("^ts=%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ lvl=info subsys=access "
      .. "call=create frontend=fe status=200 client=127%.0%.0%.1$", raw.text)
    assert.matches('^{"ts":"[^"]+Z","lvl":"info","subsys":"access","call":"create",'
      .. '"frontend":"fe","status":"200","client":"127.0.0.1"}$', raw.json)
    assert.equal("200", json.status)   -- numbers stay JSON strings
    assert.equal("create", text.call)
  end)

  it("keeps a value quoted in the format quoted in text", function()
    local text, json, _, raw = both("db", 'event=timeout error="%s"', "timeout")
    assert.matches(' event=timeout error="timeout"$', raw.text)
    assert.equal("timeout", text.error)
    assert.equal("timeout", json.error)
  end)

  it("survives the review's overflow payload: no crash, no extra member, one line", function()
    local payload = ("\1"):rep(681) .. " " .. ("a"):rep(60) .. "=" .. ("\1"):rep(200)
    local path = "/api/v1/" .. payload
    local text, json, keys = both("admin", 'event=auth_failed method=%s path=%s reason="%s"',
      "GET", path, "invalid token")
    assert.same({ "ts", "lvl", "subsys", "event", "method", "path", "reason" }, keys)
    assert.same({ "event", "lvl", "method", "path", "reason", "subsys", "ts" }, sorted_keys(json))
    assert.equal(path, text.path)                -- fits in text (\x01 is 4 bytes)
    assert.equal("invalid token", text.reason)
    -- 881 control bytes are 5 kB as \u0001: the path is cut, the fields after it are not
    assert.equal("/api/v1/\1\1\1", json.path:sub(1, 11))
    assert.matches("%.%.%.%(truncated%)$", json.path)
    assert.equal(path:sub(1, #json.path - #"...(truncated)"), json.path:sub(1, -15))
    assert.equal("invalid token", json.reason)
    assert.equal("auth_failed", json.event)
  end)

  it("lets no value forge a line or a field", function()
    local forged = "x\nts=2026-01-01T00:00:00.000Z lvl=error subsys=forged event=pwned"
    local text, json, keys, raw = both("access", "call=%s frontend=%s backend=%s", "create",
      forged, "-")
    assert.same({ "ts", "lvl", "subsys", "call", "frontend", "backend" }, keys)
    assert.equal(forged, text.frontend)
    assert.equal("access", text.subsys)
    assert.equal("info", text.lvl)
    assert.same({ "backend", "call", "frontend", "lvl", "subsys", "ts" }, sorted_keys(json))
    assert.equal(forged, json.frontend)
    assert.equal("access", json.subsys)
    assert.matches(' frontend="x\\nts=2026%-01%-01T00:00:00%.000Z lvl=error subsys=forged '
      .. 'event=pwned" backend=%-$', raw.text)
    -- the same inside a value quoted in the format
    text, json, keys = both("poller", 'event=db_error error="%s"', 'a" lvl=error subsys=forged x="')
    assert.same({ "ts", "lvl", "subsys", "event", "error" }, keys)
    assert.equal('a" lvl=error subsys=forged x="', text.error)
    assert.equal('a" lvl=error subsys=forged x="', json.error)
    assert.equal("poller", json.subsys)
  end)

  it("escapes quotes, backslashes, control bytes, DEL and bytes that are not UTF-8", function()
    local v = 'say "hi" C:\\dir\ttab\rcr\127del\1 Jürgen \255\254 \194\133nel'
    local text, json, _, raw = both("t", "v=%s", v)
    assert.equal(v, text.v)
    local want = [[ v="say \"hi\" C:\\dir\ttab\rcr\x7fdel\x01 Jürgen \xff\xfe \xc2\x85nel"]]
    assert.equal(want, raw.text:sub(-#want))
    assert.equal('say "hi" C:\\dir\ttab\rcr\127del\1 Jürgen \239\191\189\239\191\189 \194\133nel',
      json.v)
    -- a value that needs no quotes keeps none; an empty one is ""
    text, json, _, raw = both("t", "a=%s b=%s c=%s", "plain/ok:1,2", "", "k=v")
    assert.matches(' a=plain/ok:1,2 b="" c="k=v"$', raw.text)
    assert.equal("", text.b)
    assert.equal("", json.b)
    assert.equal("k=v", json.c)
  end)

  it("formats each conversion by its own type", function()
    local text, json = both("t",
      "p=%.*s l=%ld z=%zu f=%.1f d=%d u=%u ll=%lld x=%#x xx=%04X o=%o hh=%hhd c=%c g=%g e=%.2e "
      .. "w=%5s|m=%-4d| n=%s pct=100%% listen=%s%s%s:%u",
      int(3), "abcdef", ffi.cast("long", -1234567890123LL), ffi.cast("size_t", 1099511627776ULL),
      3.14159, int(-7), ffi.cast("unsigned int", 4000000000), ffi.cast("long long", -9007199254740993LL),
      int(255), int(171), int(8), int(300), int(65), 0.5, 12345.678, "ab", int(3), nil,
      "[", "::1", "]", ffi.cast("unsigned int", 8090))
    local want = {
      p = "abc", l = "-1234567890123", z = "1099511627776", f = "3.1", d = "-7", u = "4000000000",
      ll = "-9007199254740993", x = "0xff", xx = "00AB", o = "10", hh = "44", c = "A", g = "0.5",
      e = "1.23e+04", w = "   ab|m=3   |", n = "(null)", pct = "100%", listen = "[::1]:8090",
    }
    for k, v in pairs(want) do
      assert.equal(v, text[k], "text " .. k)
      assert.equal(v, json[k], "json " .. k)
    end
  end)

  it("reads a value's bytes as data, never as a format", function()
    local text, json = both("t", "a=%s b=%d c=%s", "%s%n%d %s=%x", int(5), "ok")
    assert.equal("%s%n%d %s=%x", text.a)
    assert.equal("5", text.b)
    assert.equal("ok", text.c)
    assert.equal("%s%n%d %s=%x", json.a)
    assert.equal("ok", json.c)
  end)

  it("puts format text that is no key=value into msg", function()
    local text, json, keys = both("agent", 'event=report_refused error="%s"%s', "nf",
      ' hint="register it"')
    assert.same({ "ts", "lvl", "subsys", "event", "error", "msg" }, keys)
    assert.equal('hint="register it"', text.msg)
    assert.equal('hint="register it"', json.msg)
    text, json, keys = both("t", "starting up %s now n=%d", "fast", int(2))
    assert.same({ "ts", "lvl", "subsys", "msg", "n" }, keys)
    assert.equal("starting up fast now", json.msg)
    assert.equal("2", text.n)
    -- empty free text leaves no msg field
    local _, _, k2 = both("agent", 'event=report_refused error="%s"%s', "nf", "")
    assert.same({ "ts", "lvl", "subsys", "event", "error" }, k2)
  end)

  it("stops reading arguments at a conversion it does not know", function()
    local text, json = both("t", "a=%s b=%m c=%s", "one", "two")
    assert.equal("one", text.a)
    assert.equal("", text.b)
    assert.equal("%m c=%s", text.msg)
    assert.equal("%m c=%s", json.msg)
  end)

  it("cuts a 100 kB value instead of overflowing, and keeps the fields after it", function()
    local big = ("v"):rep(100000)
    local text, json, keys, raw = both("t", "event=big value=%s n=%d tail=%s", big, int(7), "end")
    assert.same({ "ts", "lvl", "subsys", "event", "value", "n", "tail" }, keys)
    for _, t in ipairs({ text, json }) do
      assert.matches("^v+%.%.%.%(truncated%)$", t.value)
      assert.is_true(#t.value > 1000)
      assert.equal("7", t.n)
      assert.equal("end", t.tail)
    end
    assert.is_true(#raw.text < LINE_MAX and #raw.json < LINE_MAX)
    -- multi-byte characters are cut whole (no U+FFFD appears in JSON)
    text, json = both("t", "value=%s", ("é"):rep(60000))
    assert.matches("^[é]+%.%.%.%(truncated%)$", text.value)
    assert.matches("^[é]+%.%.%.%(truncated%)$", json.value)
    assert.is_nil(json.value:find("\239\191\189", 1, true))
    -- many long values share the line; every key survives
    local fmt, args = {}, {}
    for i = 1, 10 do
      fmt[#fmt + 1] = "k" .. i .. '="%s"'
      args[#args + 1] = ("\1"):rep(1500)
    end
    text, json, keys = both("t", table.concat(fmt, " "), unpack(args))
    assert.equal(13, #keys)
    for i = 1, 10 do
      assert.is_string(json["k" .. i])
      assert.is_string(text["k" .. i])
    end
  end)

  it("writes nothing below the level and rejects unknown names", function()
    assert.equal(0, C.log_setup("warn", "text"))
    local out = capture(function()
      C.log_msg(INFO, "t", "event=hidden")
      C.log_msg(DEBUG, "t", "event=hidden")
      C.log_msg(WARN, "t", "event=shown")
      C.log_msg(ERROR, "t", "event=shown2")
    end)
    local ls = lines_of(out)
    assert.equal(2, #ls)
    assert.matches(" lvl=warn subsys=t event=shown$", ls[1])
    assert.matches(" lvl=error subsys=t event=shown2$", ls[2])
    assert.equal(-22, C.log_setup("loud", nil))
    assert.equal(-22, C.log_setup(nil, "xml"))
  end)
end)
