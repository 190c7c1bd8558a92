-- Query strings and meeting ID namespacing through the real C code (query.c, bbb_ids.c).
local core = require("support.ffi")

describe("query parsing and encoding", function()
  it("decodes + and %XX", function()
    assert.equal("Test Meeting", core.query_get("name=Test+Meeting", "name"))
    assert.equal("a&b=c", core.query_get("x=a%26b%3Dc", "x"))
    assert.equal("ü", core.query_get("x=%C3%BC", "x"))
  end)

  it("keeps a broken escape literally instead of failing", function()
    assert.equal("100%", core.query_get("p=100%", "p"))
    assert.equal("%zz", core.query_get("p=%zz", "p"))
  end)

  it("returns the first of repeated keys and handles empty values and pairs", function()
    assert.equal("1", core.query_get("a=1&a=2", "a"))
    assert.equal("", core.query_get("a=&b=2", "a"))
    assert.equal("", core.query_get("flag&b=2", "flag"))
    assert.equal("2", core.query_get("&&b=2&", "b"))
    assert.is_nil(core.query_get("a=1", "b"))
  end)

  it("re-encodes with %20, RFC 3986 unreserved kept, and drops the checksum", function()
    assert.equal("name=Test%20Meeting&meetingID=a~b.c-d_e",
      core.reencode("name=Test+Meeting&checksum=abc&meetingID=a~b.c-d_e"))
    assert.equal("x=%2B%26%3D%2F%3F", core.reencode("x=%2B%26%3D%2F%3F"))
    assert.equal("", core.reencode("checksum=1"))
  end)
end)

describe("meeting ID namespacing", function()
  it("round-trips through encode and decode", function()
    for _, id in ipairs({ "room-1", "a~b", "with space", "ü", "~", "x" }) do
      local ns = assert(core.ids_encode("moodle", id))
      assert.equal("moodle~" .. id, ns)
      assert.equal(id, core.ids_decode(ns, "moodle"))
    end
  end)

  it("does not decode another frontend's IDs or unprefixed ones", function()
    local ns = core.ids_encode("moodle", "room-1")
    assert.is_nil(core.ids_decode(ns, "greenlight"))
    assert.is_nil(core.ids_decode(ns, "mood"))
    assert.is_nil(core.ids_decode("room-1", "moodle"))
  end)

  it("refuses an ID that would be longer than BBB accepts", function()
    assert.is_string(core.ids_encode("k", ("x"):rep(254)))
    local ok, rc = core.ids_encode("k", ("x"):rep(255))
    assert.is_nil(ok)
    assert.is_true(rc < 0)
  end)

  it("maps meetingID and parentMeetingID back in an answer, nothing else", function()
    local xml = "<response><returncode>SUCCESS</returncode><meetingID>fe~room</meetingID>"
      .. "<internalMeetingID>fe~room</internalMeetingID>"
      .. "<parentMeetingID>bbb-none</parentMeetingID>"
      .. "<meetings><meeting><meetingID> fe~a&amp;b </meetingID></meeting>"
      .. "<meeting><meetingID>other~x</meetingID></meeting></meetings></response>"
    local out = assert(core.rewrite_ids(xml, "fe"))
    assert.matches("<meetingID>room</meetingID>", out, 1, true)
    assert.matches("<internalMeetingID>fe~room</internalMeetingID>", out, 1, true)
    assert.matches("<parentMeetingID>bbb-none</parentMeetingID>", out, 1, true)
    assert.matches("<meetingID>a&amp;b</meetingID>", out, 1, true)
    assert.matches("<meetingID>other~x</meetingID>", out, 1, true)
  end)
end)
