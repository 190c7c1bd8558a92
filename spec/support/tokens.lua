-- Admin API tokens for the specs. HS384 tokens come from b3scalectl.jwt (what the daemon
-- accepts); only what it never mints lives here: HS256 and alg "none" tokens, for the tests
-- that the daemon refuses them.
local ffi = require("ffi")
local jwt = require("b3scalectl.jwt")
local cjson = require("cjson")
local assert = require("luassert")

local _M = {}

pcall(ffi.cdef, "const struct evp_md_st *EVP_sha256(void);")
pcall(ffi.cdef, "const struct evp_md_st *EVP_sha512(void);")


-- An HS384 token for sub with scope (space-separated), issued now and valid an hour; extra
-- claims are added or override these (exp, nbf, ...).
function _M.hs384(secret, sub, scope, extra)
  local c = { sub = sub, scope = scope, iat = os.time(), exp = os.time() + 3600 }
  for k, v in pairs(extra or {}) do
    c[k] = v
  end
  return jwt.encode(c, secret)
end


local function hmac(alg, key, data)
  local lib = jwt.libcrypto()
  local out = ffi.new("unsigned char[64]")
  local len = ffi.new("unsigned int[1]")
  local md = alg == "HS512" and lib.EVP_sha512() or lib.EVP_sha256()
  assert(lib.HMAC(md, key, #key, data, #data, out, len) ~= nil, "HMAC failed")
  return ffi.string(out, len[0])
end


-- Hex HMAC of data with key: "HS256" (SHA-256) or "HS512", as webhook signatures are checked.
function _M.hmac_hex(alg, key, data)
  return (hmac(alg, key, data):gsub(".", function(c) return string.format("%02x", c:byte()) end))
end


-- claims as an HS256 or HS512 token signed with secret (as BBB nodes sign callbacks).
function _M.sign(alg, secret, claims)
  local input = jwt.b64url(cjson.encode({ alg = alg, typ = "JWT" })) .. "."
    .. jwt.b64url(cjson.encode(claims))
  return input .. "." .. jwt.b64url(hmac(alg, secret, input))
end


-- The claims of token when it is alg and its signature verifies with secret, else nil.
function _M.verify(token, alg, secret)
  local head, body, sig = tostring(token):match("^([^.]+)%.([^.]+)%.([^.]+)$")
  if not head or cjson.decode(jwt.b64url_decode(head)).alg ~= alg then
    return nil
  end
  if jwt.b64url(hmac(alg, secret, head .. "." .. body)) ~= sig then
    return nil
  end
  return cjson.decode(jwt.b64url_decode(body))
end


-- claims as a token with alg "HS256" (signed with secret) or "none" (no signature).
function _M.other_alg(alg, claims, secret)
  local input = jwt.b64url(cjson.encode({ alg = alg, typ = "JWT" })) .. "."
    .. jwt.b64url(cjson.encode(claims))
  if alg == "none" then
    return input .. "."
  end
  assert(alg == "HS256", "tokens.other_alg: HS256 or none")
  return input .. "." .. jwt.b64url(hmac("HS256", secret, input))
end


-- One admin API request against base_url: method, path, token (or false), body (a table is
-- sent as JSON, a string as is). Returns status, the decoded JSON (or the raw body), headers.
function _M.request(base_url, method, path, tok, body)
  local h = require("helpers")
  local headers = {}
  if tok then
    headers.authorization = "Bearer " .. tok
  end
  if type(body) == "table" then
    body = cjson.encode(body)
  end
  if body then
    headers["content-type"] = "application/json"
  end
  local st, raw, hd = h.http(method, base_url .. path, body, headers, 30)
  assert(st, "no answer: " .. tostring(raw))
  local ok, v = pcall(cjson.decode, raw)
  return st, ok and v or raw, hd
end


-- Asserts the status of a request() answer and returns its body.
function _M.must(want, st, body)
  assert.equal(want, st, type(body) == "table" and cjson.encode(body) or tostring(body))
  return body
end


return _M
