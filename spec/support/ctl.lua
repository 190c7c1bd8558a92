-- bin/b3scalectl as an operator runs it, for the integration specs: exit status, stdout and
-- stderr of a run against a daemon, with the daemon's JWT secret (an admin token is minted
-- per call) unless the env of a call says otherwise.
local h = require("helpers")
local cjson = h.cjson
local assert = require("luassert")

local _M = {}


-- A runner for the daemon at r.url (set once the daemon runs) with JWT secret `secret`.
function _M.new(secret)
  local r = {}

  -- runs bin/b3scalectl with args; env merged over the defaults (URL and secret of the
  -- daemon); returns exit code, stdout, stderr
  function r.run(args, env)
    local errf = h.tmpdir() .. "/ctl-" .. h.random_hex(4) .. ".err"
    local e = { B3SCALE_API_TOKEN = false, B3SCALE_API_URL = r.url,
                B3SCALE_API_JWT_SECRET = secret, CTL_ERR = errf }
    for k, v in pairs(env or {}) do e[k] = v end
    local argv = { "sh", "-c", 'exec bin/b3scalectl "$@" 2>"$CTL_ERR"', "b3scalectl" }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    local code, out = h.run(argv, e, 30)
    local err = h.read_file(errf) or ""
    os.remove(errf)
    return code, out, err
  end

  -- like run but asserts success and returns stdout
  function r.ok(args, env)
    local code, out, err = r.run(args, env)
    assert.equal(0, code, table.concat(args, " ") .. " failed: " .. err .. out)
    assert.equal("", err)
    return out
  end

  -- ok with --json: the decoded value and the text
  function r.ok_json(args, env)
    local a = { "--json" }
    for _, x in ipairs(args) do a[#a + 1] = x end
    local out = r.ok(a, env)
    return cjson.decode(out), out
  end

  -- asserts a failure with exactly one line on stderr and nothing on stdout; returns the line
  function r.fails(code_wanted, args, env)
    local code, out, err = r.run(args, env)
    assert.equal(code_wanted, code, table.concat(args, " ") .. ": " .. out .. err)
    assert.equal("", out, "nothing on stdout")
    assert.matches("^b3scalectl: [^\n]+\n$", err)
    return err
  end

  return r
end


return _M
