-- lua/b3scale/params.lua: the default create/join parameter rules, on plain tables.
local params = require("b3scale.params")

local function create_req(settings, p, body, content_type)
  return {
    frontend = { key = "fe", settings = settings },
    meeting_id = "m1",
    params = p or { meetingID = "m1", name = "Room" },
    body = body,
    content_type = content_type,
  }
end

local function join_req(settings, p, frontend_attendees, meeting_attendees)
  return {
    frontend = { key = "fe", settings = settings },
    meeting_id = "m1",
    params = p or { meetingID = "m1", fullName = "Ada", role = "VIEWER" },
    frontend_attendees = frontend_attendees or 0,
    meeting_attendees = meeting_attendees or 0,
  }
end

local function deep_copy(t)
  if type(t) ~= "table" then
    return t
  end
  local out = {}
  for k, v in pairs(t) do
    out[k] = deep_copy(v)
  end
  return out
end

local function presentation(url, filename)
  return '<modules><module name="presentation"><document url="' .. url .. '" filename="'
    .. filename .. '"/></module></modules>'
end


describe("b3scale.params", function()

  describe("to_bbb_string", function()
    it("keeps strings as they are", function()
      assert.equal("abc", params.to_bbb_string("abc"))
      assert.equal("", params.to_bbb_string(""))
      assert.equal("42.0", params.to_bbb_string("42.0"))
    end)

    it("writes booleans as true/false", function()
      assert.equal("true", params.to_bbb_string(true))
      assert.equal("false", params.to_bbb_string(false))
    end)

    it("writes integral numbers without a fraction", function()
      assert.equal("42", params.to_bbb_string(42))
      assert.equal("42", params.to_bbb_string(42.0))
      assert.equal("-7", params.to_bbb_string(-7))
      assert.equal("0", params.to_bbb_string(0))
      assert.equal("0", params.to_bbb_string(-0))
      assert.equal("9007199254740992", params.to_bbb_string(2 ^ 53))
      assert.equal("100000000000000000000", params.to_bbb_string(1e20))
    end)

    it("writes fractions in their short form", function()
      assert.equal("1.5", params.to_bbb_string(1.5))
      assert.equal("0.1", params.to_bbb_string(0.1))
    end)

    it("gives nil for values BBB cannot take", function()
      assert.is_nil(params.to_bbb_string(nil))
      assert.is_nil(params.to_bbb_string({}))
      assert.is_nil(params.to_bbb_string({ "a" }))
      assert.is_nil(params.to_bbb_string(function() end))
      assert.is_nil(params.to_bbb_string(0 / 0))
      assert.is_nil(params.to_bbb_string(math.huge))
      assert.is_nil(params.to_bbb_string(-math.huge))
    end)
  end)


  describe("merge_list", function()
    it("puts the first list's items first and appends new ones", function()
      assert.equal("chat,polls,captions", params.merge_list("chat,polls", "polls,captions"))
    end)

    it("drops duplicates, blank items and surrounding spaces", function()
      assert.equal("chat,polls", params.merge_list(" chat ,,chat, ", "polls,,polls"))
    end)

    it("treats nil and non-strings as empty lists", function()
      assert.equal("chat", params.merge_list(nil, "chat"))
      assert.equal("chat", params.merge_list("chat", nil))
      assert.equal("chat", params.merge_list("chat", 5))
      assert.equal("", params.merge_list(nil, nil))
      assert.equal("", params.merge_list("", ",, ,"))
    end)

    it("compares items case-sensitively, as BBB does", function()
      assert.equal("chat,Chat", params.merge_list("chat", "Chat"))
    end)
  end)


  describe("create", function()
    it("passes params, body and content type through without settings", function()
      local r = params.create(create_req({}, { meetingID = "m1", name = "R" }, "<x/>", "text/xml"))
      assert.same({ meetingID = "m1", name = "R" }, r.params)
      assert.equal("<x/>", r.body)
      assert.equal("text/xml", r.content_type)
    end)

    it("copes with missing or malformed settings, frontend and params", function()
      for _, req in ipairs({
        { frontend = { key = "fe" } },
        { frontend = { key = "fe", settings = "nope" } },
        { frontend = "nope" },
        {},
      }) do
        local r = params.create(req)
        assert.same({}, r.params)
        assert.is_nil(r.body)
      end
    end)

    it("returns a new params map and leaves the request untouched", function()
      local settings = {
        create_default_params = { record = "true", disabledFeatures = "polls" },
        create_override_params = { welcome = "Hi" },
        default_presentation = { url = "https://h/a.pdf", force = true },
      }
      local req = create_req(settings, { meetingID = "m1", disabledFeatures = "chat" }, "<x/>")
      local before = deep_copy(req)
      local r = params.create(req)
      assert.are_not.equal(req.params, r.params)
      assert.same(before, req)
      assert.equal("true", r.params.record)
    end)

    it("does not modify the shared settings table", function()
      local settings = {
        create_default_params = { duration = 42, disabledFeatures = "chat" },
        create_override_params = { disabledFeatures = "polls", muteOnStart = true },
        default_presentation = { url = " https://h/a.pdf ", force = false },
      }
      local before = deep_copy(settings)
      params.create(create_req(settings))
      params.create(create_req(settings))
      assert.same(before, settings)
    end)

    describe("create_default_params", function()
      it("fills parameters the request does not carry", function()
        local r = params.create(create_req({ create_default_params = { record = "true" } }))
        assert.equal("true", r.params.record)
        assert.equal("Room", r.params.name)
      end)

      it("does not beat a value the request carries, even an empty one", function()
        local s = { create_default_params = { name = "Default", welcome = "Hello" } }
        local r = params.create(create_req(s, { meetingID = "m1", name = "Mine", welcome = "" }))
        assert.equal("Mine", r.params.name)
        assert.equal("", r.params.welcome)
      end)

      it("converts numbers and booleans to BBB strings", function()
        local s = { create_default_params = { duration = 42, muteOnStart = true, record = false,
          userCameraCap = 2.0, ratio = 0.5 } }
        local r = params.create(create_req(s))
        assert.equal("42", r.params.duration)
        assert.equal("true", r.params.muteOnStart)
        assert.equal("false", r.params.record)
        assert.equal("2", r.params.userCameraCap)
        assert.equal("0.5", r.params.ratio)
      end)

      it("ignores objects, arrays and null values", function()
        local null = setmetatable({}, { __tostring = function() return "null" end })
        local s = { create_default_params = { groups = { { id = "a" } }, tags = { "a" },
          nothing = null, ok = "1" } }
        local r = params.create(create_req(s))
        assert.is_nil(r.params.groups)
        assert.is_nil(r.params.tags)
        assert.is_nil(r.params.nothing)
        assert.equal("1", r.params.ok)
      end)

      it("ignores a value decoded from JSON null (cjson.null)", function()
        local cjson = require("cjson.safe")
        local s = cjson.decode('{"create_default_params": {"welcome": null, "record": "true"}}')
        local r = params.create(create_req(s))
        assert.is_nil(r.params.welcome)
        assert.equal("true", r.params.record)
      end)

      it("keeps a JSON string value such as groups as it is", function()
        local groups = '[{"id":"g1","name":"A","roster":[]}]'
        local r = params.create(create_req({ create_default_params = { groups = groups } }))
        assert.equal(groups, r.params.groups)
      end)

      it("is ignored when it is not an object", function()
        for _, bad in ipairs({ "record=true", 42, true, { "record", "true" } }) do
          local r = params.create(create_req({ create_default_params = bad }))
          assert.same({ meetingID = "m1", name = "Room" }, r.params)
        end
      end)

      it("never sets meetingID, checksum or an empty name", function()
        local s = { create_default_params = { meetingID = "x", checksum = "y", [""] = "z" } }
        local r = params.create(create_req(s, { name = "Room" }))
        assert.same({ name = "Room" }, r.params)
      end)
    end)

    describe("create_override_params", function()
      it("replaces the request's values", function()
        local s = { create_override_params = { name = "Forced", record = false } }
        local r = params.create(create_req(s, { meetingID = "m1", name = "Mine", record = "true" }))
        assert.equal("Forced", r.params.name)
        assert.equal("false", r.params.record)
      end)

      it("adds values the request does not carry", function()
        local r = params.create(create_req({ create_override_params = { maxParticipants = 50 } }))
        assert.equal("50", r.params.maxParticipants)
      end)

      it("beats create_default_params for the same key", function()
        local s = {
          create_default_params = { welcome = "default", duration = 10 },
          create_override_params = { welcome = "override" },
        }
        local r = params.create(create_req(s))
        assert.equal("override", r.params.welcome)
        assert.equal("10", r.params.duration)
      end)

      it("is ignored when it is not an object, and so are bad values", function()
        local r = params.create(create_req({ create_override_params = "name=x" }))
        assert.equal("Room", r.params.name)
        r = params.create(create_req({ create_override_params = { name = { "x" } } }))
        assert.equal("Room", r.params.name)
      end)

      it("never replaces meetingID or checksum", function()
        local s = { create_override_params = { meetingID = "other", checksum = "0" } }
        local r = params.create(create_req(s, { meetingID = "m1", checksum = "abc" }))
        assert.equal("m1", r.params.meetingID)
        assert.equal("abc", r.params.checksum)
      end)
    end)

    describe("disabledFeatures", function()
      local function disabled(settings, sent)
        local p = { meetingID = "m1", disabledFeatures = sent }
        return params.create(create_req(settings, p)).params.disabledFeatures
      end

      it("passes the request's list through untouched without operator lists", function()
        assert.equal(" chat,,chat", disabled({}, " chat,,chat"))
        assert.is_nil(disabled({}, nil))
      end)

      it("unions the defaults with the request's list, request first", function()
        local s = { create_default_params = { disabledFeatures = "polls,chat" } }
        assert.equal("chat,captions,polls", disabled(s, "chat,captions"))
      end)

      it("adds the defaults when the request sends none", function()
        local s = { create_default_params = { disabledFeatures = "polls,,polls" } }
        assert.equal("polls", disabled(s, nil))
      end)

      it("unions an override too, so the client's own list survives", function()
        local s = { create_override_params = { disabledFeatures = "snapshotOfCurrentSlide" } }
        assert.equal("chat,snapshotOfCurrentSlide", disabled(s, "chat"))
      end)

      it("merges request, defaults and overrides in that order without duplicates", function()
        local s = {
          create_default_params = { disabledFeatures = "polls, captions" },
          create_override_params = { disabledFeatures = "chat,layouts" },
        }
        assert.equal("chat,polls,captions,layouts", disabled(s, "chat,,polls"))
      end)

      it("treats an empty override as adding nothing", function()
        local s = {
          create_default_params = { disabledFeatures = "polls" },
          create_override_params = { disabledFeatures = "" },
        }
        assert.equal("chat,polls", disabled(s, "chat"))
      end)

      it("drops the parameter when the merged list is empty", function()
        local s = { create_override_params = { disabledFeatures = "" } }
        assert.is_nil(disabled(s, " , "))
        assert.is_nil(disabled(s, nil))
      end)

      it("ignores an operator list that is not a string", function()
        local s = { create_default_params = { disabledFeatures = { "chat" } } }
        assert.equal("polls", disabled(s, "polls"))
      end)

      it("removes operator-disabled features from the request's disabledFeaturesExclude", function()
        local s = {
          create_default_params = { disabledFeatures = "chat" },
          create_override_params = { disabledFeatures = "polls" },
        }
        local p = { meetingID = "m1", disabledFeaturesExclude = "chat,captions,polls" }
        local r = params.create(create_req(s, p))
        assert.equal("chat,polls", r.params.disabledFeatures)
        assert.equal("captions", r.params.disabledFeaturesExclude)
      end)

      it("drops disabledFeaturesExclude when nothing is left in it", function()
        local s = { create_override_params = { disabledFeatures = "chat" } }
        local p = { meetingID = "m1", disabledFeaturesExclude = "chat" }
        assert.is_nil(params.create(create_req(s, p)).params.disabledFeaturesExclude)
      end)

      it("leaves disabledFeaturesExclude alone without operator lists", function()
        local p = { meetingID = "m1", disabledFeaturesExclude = "chat" }
        local s = { create_default_params = { record = "true" } }
        assert.equal("chat", params.create(create_req(s, p)).params.disabledFeaturesExclude)
      end)

      it("keeps an operator's own disabledFeaturesExclude, minus its disabled features", function()
        local s = { create_override_params = { disabledFeatures = "chat",
          disabledFeaturesExclude = "chat,polls" } }
        local r = params.create(create_req(s))
        assert.equal("chat", r.params.disabledFeatures)
        assert.equal("polls", r.params.disabledFeaturesExclude)
      end)
    end)

    describe("default_presentation", function()
      it("adds the presentation body when the request has none", function()
        local s = { default_presentation = { url = "https://cdn.example.org/slides/welcome.pdf" } }
        local r = params.create(create_req(s))
        assert.equal(presentation("https://cdn.example.org/slides/welcome.pdf", "welcome.pdf"),
          r.body)
        assert.equal("application/xml", r.content_type)
      end)

      it("treats an empty or blank body as no body", function()
        local s = { default_presentation = { url = "https://h/a.pdf" } }
        assert.equal(presentation("https://h/a.pdf", "a.pdf"),
          params.create(create_req(s, nil, "")).body)
        assert.equal(presentation("https://h/a.pdf", "a.pdf"),
          params.create(create_req(s, nil, " \r\n")).body)
      end)

      it("keeps the request's body and content type when force is false", function()
        local s = { default_presentation = { url = "https://h/a.pdf", force = false } }
        local r = params.create(create_req(s, nil, "<modules/>", "application/xml; charset=utf-8"))
        assert.equal("<modules/>", r.body)
        assert.equal("application/xml; charset=utf-8", r.content_type)
      end)

      it("keeps the request's body when force is absent", function()
        local s = { default_presentation = { url = "https://h/a.pdf" } }
        assert.equal("<modules/>", params.create(create_req(s, nil, "<modules/>")).body)
      end)

      it("replaces the request's body when force is true", function()
        local s = { default_presentation = { url = "https://h/a.pdf", force = true } }
        local r = params.create(create_req(s, nil, "<modules/>", "text/xml"))
        assert.equal(presentation("https://h/a.pdf", "a.pdf"), r.body)
        assert.equal("application/xml", r.content_type)
      end)

      it("takes only the boolean true as force", function()
        local s = { default_presentation = { url = "https://h/a.pdf", force = "true" } }
        assert.equal("<modules/>", params.create(create_req(s, nil, "<modules/>")).body)
      end)

      it("is off when the url is empty, blank, missing or not a string", function()
        for _, dp in ipairs({ { url = "" }, { url = "  " }, { force = true },
            { url = 5, force = true }, "https://h/a.pdf", true }) do
          local r = params.create(create_req({ default_presentation = dp }, nil, nil))
          assert.is_nil(r.body)
          assert.is_nil(r.content_type)
        end
      end)

      it("trims the url", function()
        local s = { default_presentation = { url = "  https://h/a.pdf\n" } }
        assert.equal(presentation("https://h/a.pdf", "a.pdf"), params.create(create_req(s)).body)
      end)

      it("names the file after the path, without query string or fragment", function()
        local s = { default_presentation = { url = "https://h/d/deck.pdf?token=a&v=2#page=3" } }
        assert.equal(presentation("https://h/d/deck.pdf?token=a&amp;v=2#page=3", "deck.pdf"),
          params.create(create_req(s)).body)
      end)

      it("escapes XML special characters in url and file name", function()
        local s = { default_presentation = { url = [[https://h/a&b<c>"d'.pdf?x=1&y=<2>]] } }
        local url = "https://h/a&amp;b&lt;c&gt;&quot;d&apos;.pdf?x=1&amp;y=&lt;2&gt;"
        assert.equal(presentation(url, "a&amp;b&lt;c&gt;&quot;d&apos;.pdf"),
          params.create(create_req(s)).body)
      end)

      it("keeps unicode in url and file name", function()
        local s = { default_presentation = { url = "https://h/präsentation/Übersicht ✓.pdf" } }
        assert.equal(presentation("https://h/präsentation/Übersicht%20✓.pdf", "Übersicht ✓.pdf"),
          params.create(create_req(s)).body)
      end)

      it("percent-decodes the file name when the result is safe", function()
        assert.equal("My Slides.pdf", params.presentation_filename("https://h/My%20Slides.pdf"))
        assert.equal("Übersicht.pdf", params.presentation_filename("https://h/%C3%9Cbersicht.pdf"))
        assert.equal("a%2Fb.pdf", params.presentation_filename("https://h/a%2Fb.pdf"))
        assert.equal("a%FF.pdf", params.presentation_filename("https://h/a%FF.pdf"))
        assert.equal("a%0A.pdf", params.presentation_filename("https://h/a%0A.pdf"))
      end)

      it("falls back to default.pdf when the url has no file name", function()
        for _, url in ipairs({ "https://h", "https://h/", "https://h/d/", "https://h/?f=a.pdf",
            "https://h/d/..", "https://h/." }) do
          assert.equal("default.pdf", params.presentation_filename(url))
        end
      end)

      it("percent-encodes spaces and control bytes in the url", function()
        local body = params.presentation_body("https://h/a b\tc.pdf")
        assert.equal(presentation("https://h/a%20b%09c.pdf", "a%20b%09c.pdf"), body)
      end)

      it("is applied together with the parameter rules", function()
        local s = {
          create_default_params = { record = true },
          default_presentation = { url = "https://h/a.pdf" },
        }
        local r = params.create(create_req(s))
        assert.equal("true", r.params.record)
        assert.equal(presentation("https://h/a.pdf", "a.pdf"), r.body)
      end)
    end)
  end)


  describe("join", function()
    it("passes the params through without settings", function()
      local r, key = params.join(join_req({}))
      assert.is_nil(key)
      assert.same({ meetingID = "m1", fullName = "Ada", role = "VIEWER" }, r.params)
    end)

    it("copes with missing or malformed settings and params", function()
      assert.same({}, params.join({ frontend = {} }).params)
      assert.same({}, params.join({ frontend = { settings = 1 } }).params)
      assert.same({}, params.join({}).params)
    end)

    it("returns a new params map and leaves the request untouched", function()
      local s = { join_override_params = { role = "VIEWER" },
        join_default_params = { guest = true } }
      local req = join_req(s, { meetingID = "m1", role = "MODERATOR" })
      local before = deep_copy(req)
      local r = params.join(req)
      assert.are_not.equal(req.params, r.params)
      assert.same(before, req)
    end)

    it("fills join_default_params only where the request has no value", function()
      local s = { join_default_params = { ["userdata-bbb_auto_join_audio"] = true,
        fullName = "Guest" } }
      local r = params.join(join_req(s))
      assert.equal("true", r.params["userdata-bbb_auto_join_audio"])
      assert.equal("Ada", r.params.fullName)
    end)

    it("lets join_override_params beat the request and the defaults", function()
      local s = {
        join_default_params = { redirect = "true", excludeFromDashboard = "false" },
        join_override_params = { redirect = false, role = "VIEWER" },
      }
      local r = params.join(join_req(s, { meetingID = "m1", role = "MODERATOR" }))
      assert.equal("false", r.params.redirect)
      assert.equal("VIEWER", r.params.role)
      assert.equal("false", r.params.excludeFromDashboard)
    end)

    it("treats disabledFeatures as an ordinary parameter", function()
      local s = { join_default_params = { disabledFeatures = "chat" },
        join_override_params = { disabledFeaturesExclude = "polls" } }
      local r = params.join(join_req(s, { meetingID = "m1", disabledFeatures = "polls" }))
      assert.equal("polls", r.params.disabledFeatures)
      assert.equal("polls", r.params.disabledFeaturesExclude)
    end)

    it("ignores malformed join settings and values", function()
      local s = { join_default_params = "x", join_override_params = { role = { "x" }, n = 0 / 0 } }
      local r = params.join(join_req(s))
      assert.same({ meetingID = "m1", fullName = "Ada", role = "VIEWER" }, r.params)
    end)

    it("never sets meetingID or checksum", function()
      local s = { join_override_params = { meetingID = "x", checksum = "y" } }
      local r = params.join(join_req(s))
      assert.equal("m1", r.params.meetingID)
      assert.is_nil(r.params.checksum)
    end)

    describe("attendees_limit", function()
      local function join_with(limit, n)
        return params.join(join_req({ attendees_limit = limit }, nil, n))
      end

      it("admits a join below the limit", function()
        local r, key = join_with({ limit = 10 }, 9)
        assert.is_nil(key)
        assert.equal("Ada", r.params.fullName)
      end)

      it("rejects a join at the limit with maxParticipantsReached", function()
        local r, key, message = join_with({ limit = 10 }, 10)
        assert.is_nil(r)
        assert.equal("maxParticipantsReached", key)
        assert.equal("The frontend's attendee limit has been reached.", message)
      end)

      it("rejects a join above the limit", function()
        local r, key = join_with({ limit = 10 }, 11)
        assert.is_nil(r)
        assert.equal("maxParticipantsReached", key)
      end)

      it("accepts a plain number as the limit", function()
        assert.is_nil((join_with(3, 3)))
        assert.is_table(join_with(3, 2))
      end)

      it("is off for a limit of 0 or below", function()
        assert.is_table(join_with({ limit = 0 }, 1000))
        assert.is_table(join_with(0, 1000))
        assert.is_table(join_with({ limit = -5 }, 1000))
      end)

      it("is off when absent or malformed", function()
        assert.is_table(join_with(nil, 1000))
        assert.is_table(join_with({}, 1000))
        assert.is_table(join_with({ limit = "10" }, 1000))
        assert.is_table(join_with("10", 1000))
        assert.is_table(join_with({ limit = 0 / 0 }, 1000))
      end)

      it("counts the frontend's attendees, not the meeting's", function()
        local r = params.join(join_req({ attendees_limit = { limit = 5 } }, nil, 4, 100))
        assert.is_table(r)
        local r2, key = params.join(join_req({ attendees_limit = { limit = 5 } }, nil, 5, 0))
        assert.is_nil(r2)
        assert.equal("maxParticipantsReached", key)
      end)

      it("treats a missing attendee count as zero", function()
        local req = join_req({ attendees_limit = { limit = 1 } })
        req.frontend_attendees = nil
        assert.is_table(params.join(req))
      end)

      it("is checked before any parameter rule", function()
        local s = { attendees_limit = { limit = 1 }, join_override_params = { role = "VIEWER" } }
        local r, key = params.join(join_req(s, nil, 1))
        assert.is_nil(r)
        assert.equal("maxParticipantsReached", key)
      end)
    end)
  end)
end)
