-- Checksums through the real C code (bbb_checksum.c) with the vectors of bbb-api.md §2.
local core = require("support.ffi")

local SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
local Q = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
local VECTORS = {
  sha1 = "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17",
  sha256 = "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e",
  sha384 = "891ac633df39d0a1b4f8d597f3e190833216c4b29c4fb51ea3ca72757eeb958d6e7b49a845cf29f5c6019c7d29d029d1",
  sha512 = "de73ad61d11a5c801b68d4bd6ec5248546085cefb0b25c85f3c46249ea93a3a4b120f92c0a8a58d7512cb77821884951a3b01245f3435dbbef49fff3cc3988b4",
}
local OK, MISSING, MISMATCH = 0, -2, -13

describe("bbb_checksum", function()
  for alg, hex in pairs(VECTORS) do
    it("computes the documented " .. alg .. " vector", function()
      assert.equal(hex, core.checksum(alg, "create", Q, SECRET))
    end)

    it("verifies a " .. alg .. " checksum chosen by its length", function()
      assert.equal(OK, core.verify("create", Q .. "&checksum=" .. hex, SECRET))
    end)
  end

  it("computes the empty-query vectors", function()
    assert.equal("2027baa7771026e9e93392f55031535d1444c41f",
      core.checksum("sha1", "getMeetings", "", SECRET))
    assert.equal("a5370c5f3d97d56d53b435684cdbc429c2898a3bf9f435518b4279e1e0dbfc8c",
      core.checksum("sha256", "getMeetings", "", SECRET))
  end)

  it("accepts uppercase hex", function()
    assert.equal(OK, core.verify("create", Q .. "&checksum=" .. VECTORS.sha256:upper(), SECRET))
  end)

  it("accepts the checksum first, in the middle or last", function()
    local hex = VECTORS.sha1
    assert.equal(OK, core.verify("create", "checksum=" .. hex .. "&" .. Q, SECRET))
    local a, b = Q:match("^(name=[^&]+&meetingID=abc123)&(.*)$")
    assert.equal(OK, core.verify("create", a .. "&checksum=" .. hex .. "&" .. b, SECRET))
  end)

  it("treats ?checksum=X and ?&checksum=X as an empty query", function()
    local hex = core.checksum("sha1", "getMeetings", "", SECRET)
    assert.equal(OK, core.verify("getMeetings", "checksum=" .. hex, SECRET))
    assert.equal(OK, core.verify("getMeetings", "&checksum=" .. hex, SECRET))
  end)

  it("hashes the raw query: %20 and + are different strings", function()
    local hex = core.checksum("sha256", "create", "name=A+B", SECRET)
    assert.equal(OK, core.verify("create", "name=A+B&checksum=" .. hex, SECRET))
    assert.equal(MISMATCH, core.verify("create", "name=A%20B&checksum=" .. hex, SECRET))
  end)

  it("rejects a wrong checksum, a wrong secret and a wrong call", function()
    local hex = VECTORS.sha256
    assert.equal(MISMATCH, core.verify("create", Q .. "&checksum=" .. hex:sub(1, 63) .. "0", SECRET))
    assert.equal(MISMATCH, core.verify("create", Q .. "&checksum=" .. hex, SECRET .. "x"))
    assert.equal(MISMATCH, core.verify("join", Q .. "&checksum=" .. hex, SECRET))
  end)

  it("reports a missing checksum apart from a wrong one", function()
    assert.equal(MISSING, core.verify("create", Q, SECRET))
    assert.equal(MISSING, core.verify("create", "", SECRET))
  end)

  it("rejects lengths that match no algorithm and non-hex characters", function()
    assert.equal(MISMATCH, core.verify("create", Q .. "&checksum=abc", SECRET))
    assert.equal(MISMATCH, core.verify("create", Q .. "&checksum=" .. ("z"):rep(40), SECRET))
    assert.equal(MISMATCH, core.verify("create", Q .. "&checksum=", SECRET))
  end)

  it("rejects a request with two checksum parameters even when both are right", function()
    local hex = VECTORS.sha1
    assert.equal(MISMATCH,
      core.verify("create", Q .. "&checksum=" .. hex .. "&checksum=" .. hex, SECRET))
  end)

  it("does not take a parameter that merely ends in checksum for the checksum", function()
    local hex = core.checksum("sha1", "create", "xchecksum=1", SECRET)
    assert.equal(MISSING, core.verify("create", "xchecksum=1", SECRET))
    assert.equal(OK, core.verify("create", "xchecksum=1&checksum=" .. hex, SECRET))
  end)
end)
