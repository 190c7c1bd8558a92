-- spec/support/ffi.lua: loads build/libb3scale.so with c/ffi_api.h as the cdef, so the
-- declarations specs use can never drift from the header.
local ffi = require("ffi")
local h = require("helpers")

local _M = {}

local header = assert(h.read_file("c/ffi_api.h"))
  :gsub("/%*.-%*/", "")
  :gsub("#[^\n]*", "")
ffi.cdef(header)

_M.C = ffi.load("./build/libb3scale.so")
_M.ffi = ffi

local ALGS = { sha1 = 0, sha256 = 1, sha384 = 2, sha512 = 3 }

function _M.checksum(alg, call, query, secret)
  local hex = ffi.new("char[129]")
  assert(_M.C.b3s_ffi_checksum(ALGS[alg], call, query, secret, hex) == 0)
  return ffi.string(hex)
end

function _M.verify(call, raw, secret)
  return _M.C.b3s_ffi_verify(call, raw, secret)
end

local function with_buf(fn, cap)
  cap = cap or 65536
  local out = ffi.new("char[?]", cap)
  local rc = fn(out, cap)
  if rc ~= 0 then
    return nil, rc
  end
  return ffi.string(out)
end

function _M.ids_encode(key, mid)
  return with_buf(function(out, cap) return _M.C.b3s_ffi_ids_encode(key, mid, out, cap) end)
end

function _M.ids_decode(nsid, key)
  local p = _M.C.b3s_ffi_ids_decode(nsid, key)
  if p == nil then
    return nil
  end
  return ffi.string(p)
end

function _M.reencode(raw)
  return with_buf(function(out, cap) return _M.C.b3s_ffi_query_reencode(raw, out, cap) end)
end

function _M.query_get(raw, key)
  return with_buf(function(out, cap) return _M.C.b3s_ffi_query_get(raw, key, out, cap) end)
end

function _M.rewrite_ids(xml, key)
  return with_buf(function(out, cap) return _M.C.b3s_ffi_rewrite_ids(xml, key, out, cap) end)
end

return _M
