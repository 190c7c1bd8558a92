-- The XML reader on node answers (c/xml_dom.c through libb3scale.so): a node is trusted with
-- its meetings, not with the balancer's memory. No DTD, bounded depth, elements and size.
local f = require("support.ffi")

local function parse(xml)
  return f.rewrite_ids(xml, "fe")
end

describe("node answers", function()
  it("are read and rewritten as before", function()
    local out = parse("<response><returncode>SUCCESS</returncode><meetingID>fe~r</meetingID></response>")
    assert.truthy(out and out:find("<meetingID>r</meetingID>", 1, true), out)
  end)

  it("are refused when they carry a DOCTYPE (no entity expansion)", function()
    local laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
      .. '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
      .. '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
      .. "<response><returncode>&lol3;</returncode></response>"
    local out, rc = parse(laughs)
    assert.is_nil(out)
    assert.is_true(rc < 0)
    out, rc = parse('<!DOCTYPE response SYSTEM "file:///etc/passwd"><response/>')
    assert.is_nil(out)
    assert.is_true(rc < 0)
  end)

  it("are refused past the nesting limit", function()
    local out = parse(string.rep("<a>", 100) .. string.rep("</a>", 100))
    assert.is_nil(out)
  end)

  it("are refused past the element limit", function()
    local out = parse("<r>" .. string.rep("<m/>", 1000001) .. "</r>")
    assert.is_nil(out)
  end)
end)
