-- Who gets a kept getMeetings list gzipped (c/gzip.c): an Accept-Encoding that names gzip,
-- x-gzip or * with a q that is not zero, as RFC 9110 reads it.
local core = require("support.ffi")

describe("Accept-Encoding", function()
  local function ok(v) return core.C.b3s_ffi_gzip_accepted(v) == 1 end

  it("accepts gzip as HTTP client libraries ask for it", function()
    assert.is_true(ok("gzip"))
    assert.is_true(ok("gzip, deflate"))
    assert.is_true(ok("gzip;q=1.0,deflate;q=0.6,identity;q=0.3")) -- Ruby's Net::HTTP
    assert.is_true(ok("deflate, GZIP"))
    assert.is_true(ok("br;q=1, gzip;q=0.5"))
    assert.is_true(ok("x-gzip"))
    assert.is_true(ok("*"))
    assert.is_true(ok("gzip ; q=0.001"))
  end)

  it("refuses what does not name it, or names it with q=0", function()
    assert.is_false(ok(nil))
    assert.is_false(ok(""))
    assert.is_false(ok("identity"))
    assert.is_false(ok("deflate, br"))
    assert.is_false(ok("gzip;q=0"))
    assert.is_false(ok("gzip;q=0.000"))
    assert.is_false(ok("gzipped"))
    assert.is_false(ok("xgzip, gzi"))
    assert.is_false(ok("gzip;q="))
  end)
end)
