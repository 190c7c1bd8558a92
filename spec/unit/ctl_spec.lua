-- b3scalectl (lua/b3scalectl/*): argument parsing, host normalisation, durations, tables,
-- JSON encoding and HS384 tokens checked against openssl.
local main  = require("b3scalectl.main")
local jwt   = require("b3scalectl.jwt")
local json  = require("b3scalectl.json")
local util  = require("b3scalectl.util")
local tbl   = require("b3scalectl.table")
local http  = require("b3scalectl.http")
local cjson = require("cjson")

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- HMAC-SHA384 of input under secret, base64url, computed by the openssl command line
local function openssl_sig(input, secret)
  local p = assert(io.popen("printf '%s' " .. shq(input) .. " | openssl dgst -sha384 -hmac " .. shq(secret) ..
    " -binary | base64 -w0 | tr '+/' '-_' | tr -d '='"))
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

-- parse; returns the result or the usage error (message string, "usage")
local function parse(...)
  local ok, r = pcall(main.parse, { ... })
  if ok then return r end
  assert(http.is_error(r), tostring(r))
  return r.message, r.kind
end

-- runs main.main with captured output; returns code, stdout, stderr
local function run(argv, env)
  local out, err = {}, {}
  local code = main.main(argv, {
    out = function(s) out[#out + 1] = s end,
    err = function(s) err[#err + 1] = s end,
    getenv = function(k) return (env or {})[k] end,
  })
  return code, table.concat(out), table.concat(err)
end

describe("b3scalectl argument parsing", function()
  it("finds commands, positional arguments and flags in any order", function()
    local p = parse("set", "backend", "bbb1.example.org", "--secret", "s3", "--tags=a,b", "--load-factor", "2")
    assert.same({ "set", "backend" }, p.cmd.words)
    assert.same({ "bbb1.example.org" }, p.args)
    assert.same({ secret = "s3", tags = "a,b", ["load-factor"] = "2" }, p.flags)
    assert.is_false(p.json)

    p = parse("--json", "--api", "http://x:1", "show", "meetings", "--backend", "h", "--frontend=k")
    assert.same({ "show", "meetings" }, p.cmd.words)
    assert.is_true(p.json)
    assert.equal("http://x:1", p.api)
    assert.same({ backend = "h", frontend = "k" }, p.flags)

    p = parse("delete", "backend", "-f", "h", "--json")
    assert.same({ force = true }, p.flags)
    assert.is_true(p.json)
    p = parse("-b", "http://y:2", "show", "backends")
    assert.equal("http://y:2", p.api)
  end)

  it("accepts b3scale's aliases", function()
    assert.same({ "set", "backend" }, parse("add", "backend", "h").cmd.words)
    assert.same({ "delete", "frontend" }, parse("rm", "frontend", "k").cmd.words)
    assert.same({ "disable", "backend" }, parse("dis", "backend", "h").cmd.words)
    assert.same({ "auth", "create_access_token" },
      parse("auth", "create-access-token", "--sub", "a", "--scopes", "b3scale").cmd.words)
    assert.same({ "migrate" }, parse("migrate").cmd.words)
    assert.same({ "db", "migrate" }, parse("db", "migrate").cmd.words)
  end)

  it("reports usage errors", function()
    local cases = {
      { { }, "missing command" },
      { { "frobnicate" }, "unknown command frobnicate" },
      { { "show" }, "show: missing subcommand" },
      { { "show", "nodes" }, "show: unknown subcommand nodes" },
      { { "show", "backend" }, "show backend: missing <host>" },
      { { "show", "backends", "extra" }, "show backends: unexpected argument extra" },
      { { "show", "backends", "--bogus" }, "unknown flag --bogus" },
      { { "show", "backends", "--force" }, "show backends: unknown flag --force" },
      { { "set", "backend", "h", "--secret" }, "flag --secret needs a value" },
      { { "delete", "backend", "h", "--force=yes" }, "flag --force takes no value" },
      { { "auth", "create_access_token", "--sub", "x" }, "--scopes is required" },
      { { "show", "backends", "-x" }, "unknown flag -x" },
    }
    for _, c in ipairs(cases) do
      local msg, kind = parse(unpack(c[1]))
      assert.equal("usage", kind, table.concat(c[1], " "))
      assert.truthy(msg:find(c[2], 1, true), msg .. " should mention " .. c[2])
      assert.falsy(msg:find("\n"), "one line")
    end
  end)

  it("asks for help anywhere, exit 0", function()
    assert.same({ help = {} }, parse("--help"))
    assert.same({ help = {} }, parse("-h"))
    assert.same({ help = { "show" } }, parse("show", "--help"))
    assert.same({ help = { "set", "backend" } }, parse("set", "backend", "-h"))
    assert.same({ help = { "set", "backend" } }, parse("help", "set", "backend"))
    assert.same({ help = { "set", "backend" } }, parse("set", "backend", "--bogus", "-h"))
    for _, cmd in ipairs(main.COMMANDS) do
      local argv = {}
      for _, w in ipairs(cmd.words) do argv[#argv + 1] = w end
      argv[#argv + 1] = "--help"
      local code, out, err = run(argv)
      assert.equal(0, code, table.concat(argv, " "))
      assert.equal("", err)
      assert.truthy(out:find("usage: b3scalectl", 1, true))
      assert.truthy(out:find(main.synopsis(cmd), 1, true))
    end
    local code, out = run({ "--help" })
    assert.equal(0, code)
    for _, cmd in ipairs(main.COMMANDS) do
      assert.truthy(out:find(table.concat(cmd.words, " "), 1, true))
    end
  end)

  it("exits 2 with one line for a usage error and 1 without credentials", function()
    local code, out, err = run({ "show", "backend" })
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("^b3scalectl: [^\n]+\n$", err)

    code, out, err = run({ "show", "backends" }, {})
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("^b3scalectl: [^\n]*B3SCALE_API_TOKEN[^\n]*B3SCALE_API_JWT_SECRET[^\n]*\n$", err)

    code, _, err = run({ "--api", "ftp://x", "show", "backends" }, { B3SCALE_API_JWT_SECRET = "x" })
    assert.equal(2, code)
    assert.matches("--api", err)
  end)
end)

describe("b3scalectl helpers", function()
  it("writes CSV fields a spreadsheet shows as they are, never runs as a formula", function()
    local usage = require("b3scalectl.commands.usage")
    assert.equal('"a,b ""c"""', usage.csv_field('a,b "c"'))
    assert.equal("'=HYPERLINK(1)", usage.csv_field("=HYPERLINK(1)"))
    assert.equal("\"'+1,2\"", usage.csv_field("+1,2"))
    assert.equal("'-x", usage.csv_field("-x"))
    assert.equal("'@SUM(A1)", usage.csv_field("@SUM(A1)"))
    assert.equal("room-1", usage.csv_field("room-1"))
    assert.equal("30", usage.csv_field(30))
  end)

  it("normalises backend hosts", function()
    local n = util.normalise_host
    assert.equal("https://bbb1.example.org/bigbluebutton/api/", n("https://bbb1.example.org"))
    assert.equal("https://bbb1.example.org/bigbluebutton/api/", n("https://bbb1.example.org/"))
    assert.equal("https://bbb1.example.org/bigbluebutton/api/", n("bbb1.example.org"))
    assert.equal("http://127.0.0.1:8091/bigbluebutton/api/", n("http://127.0.0.1:8091/bigbluebutton/api"))
    assert.equal("http://127.0.0.1:8091/bigbluebutton/api/", n(" http://127.0.0.1:8091/bigbluebutton/api/ "))
    assert.equal("https://h/custom/path/", n("HTTPS://h/custom/path"))
    assert.same({ "https://h/bigbluebutton/api/", "https://h/" }, util.host_candidates("https://h"))
    assert.same({ "http://h/x/" }, util.host_candidates("http://h/x"))
  end)

  it("parses durations", function()
    local d = util.parse_duration
    assert.equal(0, d("0"))
    assert.equal(5400, d("90m"))
    assert.equal(86400, d("24h"))
    assert.equal(7 * 86400, d("7d"))
    assert.equal(5400, d("1h30m"))
    assert.equal(3600, d("3600"))
    assert.equal(30, d("30s"))
    assert.equal(604800, d("1w"))
    for _, bad in ipairs({ "", "h", "1x", "-5m", "1.5h", "5 m" }) do
      assert.is_nil(d(bad), bad)
    end
  end)

  it("splits comma lists into JSON arrays", function()
    assert.equal('["a","b"]', json.encode(util.csv("a, b,")))
    assert.equal("[]", json.encode(util.csv("")))
  end)

  it("encodes JSON deterministically, keeping empty arrays, null and raw text", function()
    assert.equal('{"a":[],"b":{"c":null},"n":1.5,"s":"x\\"\\n","t":true,"z":[1,2]}',
      json.encode({ z = { 1, 2 }, a = json.array(), b = json.raw('{"c":null}'), n = 1.5, s = 'x"\n', t = true }))
    local v = json.decode('{"tags":[],"o":{},"x":null}')
    assert.equal('{"o":{},"tags":[],"x":null}', json.encode(v))
    assert.is_true(json.is_array(v.tags))
    assert.is_nil((json.decode("{bad")))
    -- round trip through cjson agrees
    local s = json.encode({ k = "é\t\1", list = { 1, "two", false } })
    assert.same({ k = "é\t\1", list = { 1, "two", false } }, cjson.decode(s))
  end)

  it("renders aligned tables without trailing blanks", function()
    local t = tbl.render({ "HOST", "STATE", "LAST ERROR" }, { { "http://a/", "ready/init", nil }, { "h", "x", "boom" } })
    assert.equal("HOST       STATE       LAST ERROR\n" ..
                 "http://a/  ready/init  -\n" ..
                 "h          x           boom\n", t)
  end)

  it("describes HTTP errors in one line with the fields", function()
    assert.equal("validation failed: bbb.secret: is required; settings: unknown field, x (HTTP 400)",
      http.describe(400, '{"error":"validation_error","message":"validation failed",' ..
        '"fields":{"settings":["unknown field","x"],"bbb.secret":["is required"]}}'))
    assert.equal("not found (HTTP 404)", http.describe(404, '{"error":"not_found","message":"not found"}'))
    assert.equal("HTTP 502: Bad Gateway", http.describe(502, "Bad Gateway\n<html>"))
  end)
end)

describe("b3scalectl tokens", function()
  it("base64url-encodes without padding and decodes back", function()
    local cases = { [""] = "", f = "Zg", fo = "Zm8", foo = "Zm9v", foob = "Zm9vYg",
                    fooba = "Zm9vYmE", foobar = "Zm9vYmFy", ["\251\255\254"] = "-__-" }
    for raw, enc in pairs(cases) do
      assert.equal(enc, jwt.b64url(raw))
      assert.equal(raw, jwt.b64url_decode(enc))
    end
  end)

  it("signs HS384 exactly as openssl computes it (known vector)", function()
    local secret = "s3cr3t-'quoted' key"
    local claims = '{"exp":1700000300,"iat":1700000000,"jti":"00ff","scope":"b3scale:admin","sub":"b3scalectl"}'
    local token = jwt.encode(claims, secret)
    local h, p, sig = token:match("^([^.]+)%.([^.]+)%.([^.]+)$")
    assert.equal("eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9", h)   -- {"alg":"HS384","typ":"JWT"}
    assert.equal(claims, jwt.b64url_decode(p))
    assert.equal(openssl_sig(h .. "." .. p, secret), sig)
    assert.equal(64, #sig)                                     -- 48 bytes, unpadded
    -- and a table of claims encodes with sorted keys, so the same token
    assert.equal(token, jwt.encode({ sub = "b3scalectl", scope = "b3scale:admin", iat = 1700000000,
      exp = 1700000300, jti = "00ff" }, secret))
  end)

  it("mints admin tokens per call with a short expiry and a random jti", function()
    local now = os.time()
    local t1 = main.token(function(k) return ({ B3SCALE_API_JWT_SECRET = "sec" })[k] end)
    local t2 = main.token(function(k) return ({ B3SCALE_API_JWT_SECRET = "sec" })[k] end)
    local hdr, c = jwt.decode_unverified(t1)
    assert.same({ alg = "HS384", typ = "JWT" }, hdr)
    assert.equal("b3scalectl", c.sub)
    assert.equal("b3scale:admin", c.scope)
    assert.is_true(math.abs(c.iat - now) <= 2)
    assert.equal(c.iat + 300, c.exp)
    assert.matches("^%x+$", c.jti)
    assert.equal(24, #c.jti)
    local _, c2 = jwt.decode_unverified(t2)
    assert.are_not.equal(c.jti, c2.jti)
    local h, p, sig = t1:match("^([^.]+)%.([^.]+)%.([^.]+)$")
    assert.equal(openssl_sig(h .. "." .. p, "sec"), sig)
    -- B3SCALE_API_TOKEN wins
    assert.equal("given", main.token(function(k)
      return ({ B3SCALE_API_TOKEN = "given", B3SCALE_API_JWT_SECRET = "sec" })[k]
    end))
  end)

  it("auth create_access_token prints a token with the scopes and expiry asked for", function()
    local code, out, err = run({ "auth", "create_access_token", "--sub", "acme", "--scopes", "b3scale, b3scale:node",
      "--expires", "90m" }, { B3SCALE_API_JWT_SECRET = "sec" })
    assert.equal(0, code, err)
    local token = out:match("^(%S+)\n$")
    assert.truthy(token, out)
    local _, c = jwt.decode_unverified(token)
    assert.equal("acme", c.sub)
    assert.equal("b3scale b3scale:node", c.scope)
    assert.equal(c.iat + 5400, c.exp)
    local h, p, sig = token:match("^([^.]+)%.([^.]+)%.([^.]+)$")
    assert.equal(openssl_sig(h .. "." .. p, "sec"), sig)

    -- default 24h; --expires 0: no exp; --secret beats the environment
    code, out = run({ "auth", "create_access_token", "--sub", "a", "--scopes", "b3scale" }, { B3SCALE_API_JWT_SECRET = "sec" })
    assert.equal(0, code)
    _, c = jwt.decode_unverified(out:match("%S+"))
    assert.equal(c.iat + 86400, c.exp)
    code, out = run({ "auth", "create_access_token", "--sub", "a", "--scopes", "b3scale", "--expires", "0",
      "--secret", "other" }, { B3SCALE_API_JWT_SECRET = "sec" })
    assert.equal(0, code)
    token = out:match("%S+")
    _, c = jwt.decode_unverified(token)
    assert.is_nil(c.exp)
    h, p, sig = token:match("^([^.]+)%.([^.]+)%.([^.]+)$")
    assert.equal(openssl_sig(h .. "." .. p, "other"), sig)

    code, out, err = run({ "auth", "create_access_token", "--sub", "a", "--scopes", "b3scale", "--expires", "soon" },
      { B3SCALE_API_JWT_SECRET = "sec" })
    assert.equal(2, code)
    assert.matches("^b3scalectl: %-%-expires: bad duration", err)
    code, out, err = run({ "auth", "create_access_token", "--sub", "a", "--scopes", "b3scale" }, {})
    assert.equal(1, code)
    assert.matches("B3SCALE_API_JWT_SECRET", err)
  end)

  it("auth authorize_node_agent prints a ref and a node token", function()
    local code, out = run({ "auth", "authorize_node_agent" }, { B3SCALE_API_JWT_SECRET = "sec" })
    assert.equal(0, code)
    local ref = out:match("ref:%s+(%S+)")
    assert.matches("^node%-%x%x%x%x%x%x%x%x$", ref)
    local _, c = jwt.decode_unverified(out:match("token:%s+(%S+)"))
    assert.equal(ref, c.sub)
    assert.equal("b3scale:node", c.scope)
    code, out = run({ "--json", "auth", "authorize_node_agent", "--ref", "bbb7", "--expires", "7d" },
      { B3SCALE_API_JWT_SECRET = "sec" })
    assert.equal(0, code)
    local v = cjson.decode(out)
    assert.equal("bbb7", v.ref)
    _, c = jwt.decode_unverified(v.token)
    assert.equal("bbb7", c.sub)
    assert.equal(c.iat + 7 * 86400, c.exp)
  end)
end)
