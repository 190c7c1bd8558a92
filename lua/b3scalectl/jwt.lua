-- HS384 JSON Web Tokens for the admin API: HMAC-SHA384 from libcrypto through the LuaJIT
-- FFI, base64url without padding, claims encoded with sorted keys (reproducible tokens).
local ffi  = require("ffi")
local bit  = require("bit")
local json = require("b3scalectl.json")

local _M = {}

-- declared one by one and tolerant of earlier identical declarations (other modules in the
-- same process, e.g. spec helpers, may have declared some of these)
for _, decl in ipairs({
    "const struct evp_md_st *EVP_sha384(void);",
    [[unsigned char *HMAC(const struct evp_md_st *evp_md, const void *key, int key_len,
                          const unsigned char *d, size_t n, unsigned char *md,
                          unsigned int *md_len);]],
}) do
    pcall(ffi.cdef, decl)
end

-- libcrypto through the FFI, loaded once (the spec helpers hash with it too)
local crypto
function _M.libcrypto()
    if crypto then return crypto end
    for _, name in ipairs({ "crypto", "libcrypto.so.3", "libcrypto.so" }) do
        local ok, lib = pcall(ffi.load, name)
        if ok then crypto = lib; return lib end
    end
    error("cannot load libcrypto (install libssl3)")
end

-- raw 48-byte HMAC-SHA384 of data under key
function _M.hmac_sha384(key, data)
    local lib = _M.libcrypto()
    local out = ffi.new("unsigned char[64]")
    local len = ffi.new("unsigned int[1]")
    local r = lib.HMAC(lib.EVP_sha384(), key, #key, data, #data, out, len)
    assert(r ~= nil, "HMAC(EVP_sha384()) failed")
    return ffi.string(out, len[0])
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local B64IDX = {}
for i = 1, 64 do B64IDX[B64:byte(i)] = i - 1 end

-- base64url without padding (RFC 7515 §2)
function _M.b64url(s)
    local out = {}
    for i = 1, #s, 3 do
        local a, b, c = s:byte(i, i + 2)
        local n = bit.bor(bit.lshift(a, 16), bit.lshift(b or 0, 8), c or 0)
        local chars = 2 + (b and 1 or 0) + (c and 1 or 0)
        for k = 1, chars do
            local idx = bit.band(bit.rshift(n, 18 - 6 * (k - 1)), 63)
            out[#out + 1] = B64:sub(idx + 1, idx + 1)
        end
    end
    return table.concat(out)
end

-- inverse of b64url (also accepts '+' '/' and padding); nil on a bad character
function _M.b64url_decode(s)
    s = s:gsub("=+$", ""):gsub("%+", "-"):gsub("/", "_")
    local out, n, bits = {}, 0, 0
    for i = 1, #s do
        local v = B64IDX[s:byte(i)]
        if not v then return nil end
        n = bit.bor(bit.lshift(n, 6), v)
        bits = bits + 6
        if bits >= 8 then
            bits = bits - 8
            out[#out + 1] = string.char(bit.band(bit.rshift(n, bits), 255))
            n = bit.band(n, bit.lshift(1, bits) - 1)
        end
    end
    return table.concat(out)
end

local HEADER = '{"alg":"HS384","typ":"JWT"}'

-- signs claims (a table, or an already encoded JSON string) with secret; returns the token
function _M.encode(claims, secret)
    assert(type(secret) == "string" and secret ~= "", "jwt: empty secret")
    local payload = type(claims) == "string" and claims or json.encode(claims)
    local input = _M.b64url(HEADER) .. "." .. _M.b64url(payload)
    return input .. "." .. _M.b64url(_M.hmac_sha384(secret, input))
end

-- splits a token without verifying it: header table, claims table (or nil, message)
function _M.decode_unverified(token)
    local h, p = tostring(token):match("^([%w_-]+)%.([%w_-]+)%.[%w_-]*$")
    if not h then return nil, "malformed token" end
    local header = json.decode(_M.b64url_decode(h) or "")
    local claims = json.decode(_M.b64url_decode(p) or "")
    if type(header) ~= "table" or type(claims) ~= "table" then return nil, "malformed token" end
    return header, claims
end

-- n random bytes from /dev/urandom as lowercase hex
function _M.random_hex(n)
    local f = assert(io.open("/dev/urandom", "rb"))
    local b = f:read(n)
    f:close()
    return (b:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- the claim that marks a token that never expires; b3scaled takes a token without exp only
-- with this claim set to true (and never together with exp)
_M.NOEXP = "b3s_noexp"

-- claims for a token: sub, scopes (list), ttl seconds (nil/0 = never expires: no exp, and
-- b3s_noexp = true instead), now (default os.time())
function _M.claims(sub, scopes, ttl, now)
    now = now or os.time()
    local c = { sub = sub, scope = table.concat(scopes, " "), iat = now, jti = _M.random_hex(12) }
    if ttl and ttl > 0 then
        c.exp = now + ttl
    else
        c[_M.NOEXP] = true
    end
    return c
end

-- a fresh token for sub with scopes, valid ttl seconds (nil/0 = never expires)
function _M.mint(secret, sub, scopes, ttl, now)
    return _M.encode(_M.claims(sub, scopes, ttl, now), secret)
end

return _M
