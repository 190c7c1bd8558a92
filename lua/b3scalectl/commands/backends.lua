-- backend commands: show, set, enable/disable, delete, end meetings
local tbl  = require("b3scalectl.table")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")
local json = require("b3scalectl.json")

local function tags_of(b)
    local t = type(b.settings) == "table" and b.settings.tags
    if type(t) ~= "table" or #t == 0 then return nil end
    local out = {}
    for _, x in ipairs(t) do out[#out + 1] = tostring(x) end
    return table.concat(out, ",")
end

-- "max meetings/max attendees" ("-" for no cap), nil when neither is set
local function caps_of(b)
    local m, a = tonumber(b.max_meetings), tonumber(b.max_attendees)
    if not m and not a then return nil end
    return (m and string.format("%d", m) or "-") .. "/" .. (a and string.format("%d", a) or "-")
end

-- --max-meetings / --max-attendees: a whole number >= 1, or none (also 0 or '') for no cap
local function cap_flag(flags, name)
    local v = flags[name]
    if v == nil then return nil end
    if v == "" or v == "none" or v == "0" then return json.null end
    local n = tonumber(v)
    if not n or n ~= math.floor(n) or n < 1 then
        util.usage("--" .. name .. " must be a whole number >= 1, or none, got " .. v)
    end
    return n
end

-- admin/node state, plus this instance's circuit when it fails calls fast
local function state_of(b)
    local s = (util.show(b.admin_state) or "?") .. "/" .. (util.show(b.node_state) or "?")
    local c = type(b.circuit) == "table" and b.circuit.state
    if c and c ~= "closed" then s = s .. " (circuit " .. c:gsub("_", "-") .. ")" end
    return s
end

local function backend_rows(list)
    local rows = {}
    for _, b in ipairs(list) do
        rows[#rows + 1] = {
            util.backend_host(b), state_of(b), util.show(b.meetings_count),
            util.show(b.attendees_count), util.show(b.load_factor), caps_of(b), tags_of(b),
            util.show(b.last_error),
        }
    end
    return tbl.render({ "HOST", "STATE", "MEETINGS", "ATTENDEES", "LOAD FACTOR", "CAPS", "TAGS",
        "LAST ERROR" }, rows)
end

local function backend_detail(b)
    return tbl.kv({
        { "host", util.backend_host(b) },
        { "id", util.show(b.id) },
        { "admin state", util.show(b.admin_state) },
        { "node state", util.show(b.node_state) },
        { "circuit", type(b.circuit) == "table" and string.format("%s, %s in flight, %s failed fast",
            util.show(b.circuit.state) or "?", util.show(b.circuit.inflight) or "0",
            util.show(b.circuit.rejected) or "0") or nil },
        { "load factor", util.show(b.load_factor) },
        { "max meetings", util.show(b.max_meetings) or "none" },
        { "max attendees", util.show(b.max_attendees) or "none" },
        { "tags", tags_of(b) },
        { "settings", util.show(b.settings) },
        { "meetings", util.show(b.meetings_count) },
        { "attendees", util.show(b.attendees_count) },
        { "video", util.show(b.video_count) },
        { "voice", util.show(b.voice_count) },
        { "listeners", util.show(b.listener_count) },
        { "last error", util.show(b.last_error) },
        { "agent ref", util.show(b.agent_ref) },
        { "created", util.show(b.created_at) },
        { "updated", util.show(b.updated_at) },
    })
end

local function set_state(state, verb)
    return function(ctx, args)
        local b = util.find_backend(ctx, args[1])
        local _, raw, v = ctx.client().patch("/api/v1/backends/" .. http.urlencode(b.id),
            { admin_state = state })
        util.reply(ctx, raw, "%s backend %s (admin state %s)\n", verb, util.backend_host(v or b),
            util.show((v or {}).admin_state) or state)
    end
end

return {
    {
        words = { "show", "backends" },
        summary = "list the backends (no secrets)",
        help = "Lists every backend: HOST, STATE (admin state/node state), MEETINGS, ATTENDEES,\n" ..
               "LOAD FACTOR, CAPS (max meetings/max attendees, - for none), TAGS and LAST ERROR.\n" ..
               "Secrets are never shown.",
        run = function(ctx)
            local _, raw, list = ctx.client().get("/api/v1/backends")
            if ctx.json then return util.print_json(ctx, raw) end
            if type(list) ~= "table" or #list == 0 then return ctx.out("no backends\n") end
            ctx.out(backend_rows(list))
        end,
    },
    {
        words = { "show", "backend" }, args = { "host" },
        summary = "one backend in detail (no secret)",
        help = "Shows one backend, looked up by its host (as given to `set backend`) or id.",
        run = function(ctx, args)
            local b = util.find_backend(ctx, args[1])
            local raw, v = util.get_raw(ctx, "backends", b)
            if ctx.json then return util.print_json(ctx, raw) end
            ctx.out(backend_detail(v or b))
        end,
    },
    {
        words = { "set", "backend" }, args = { "host" },
        flags = { "secret", "tags", "load-factor", "max-meetings", "max-attendees" },
        flag_help = {
            secret = "the node's shared secret (bbb-conf --secret); required to create",
            tags = "comma-separated tags (replaces the list; '' clears it)",
            ["load-factor"] = "placement weight, >= 0 (default 1)",
            ["max-meetings"] = "no new meetings once the node has this many; none clears it",
            ["max-attendees"] = "no new meetings once the node has this many attendees (with" ..
                " reservations); none clears it",
        },
        summary = "create a backend, or change what is given",
        help = "Creates the backend when no backend has this host (--secret is required then;\n" ..
               "it starts in admin state ready, or init with a node agent's token), otherwise\n" ..
               "changes only what is given (admin token).\n" ..
               "The host is normalised: https:// is assumed without a scheme, a bare\n" ..
               "https://bbb1.example.org becomes https://bbb1.example.org/bigbluebutton/api/,\n" ..
               "and it always ends in /.",
        run = function(ctx, args, flags)
            local lf
            if flags["load-factor"] ~= nil then
                lf = tonumber(flags["load-factor"])
                if not lf then util.usage("--load-factor must be a number, got " .. flags["load-factor"]) end
            end
            local mm, ma = cap_flag(flags, "max-meetings"), cap_flag(flags, "max-attendees")
            local c = ctx.client()
            local found = util.find_or_nil(util.find_backend, ctx, args[1])
            if not found then
                local body = { bbb = { host = util.normalise_host(args[1]) }, admin_state = "ready" }
                if flags.secret ~= nil then body.bbb.secret = flags.secret end
                if flags.tags ~= nil then body.settings = { tags = util.csv(flags.tags) } end
                if lf then body.load_factor = lf end
                if mm ~= nil then body.max_meetings = mm end
                if ma ~= nil then body.max_attendees = ma end
                local _, raw, v = c.post("/api/v1/backends", body)
                v = v or {}
                -- a node agent's token registers its backend disabled: an admin enables it
                local note = ""
                if v.admin_state == "init" then
                    note = string.format("; admin state init: an admin enables it with" ..
                        " `b3scalectl enable backend %s`", util.backend_host(v))
                end
                return util.reply(ctx, raw, "created backend %s (id %s)%s\n",
                    util.backend_host(v.bbb and v or body), util.show(v.id) or "?", note)
            end
            local patch, n = {}, 0
            if flags.secret ~= nil then patch.bbb = { secret = flags.secret }; n = n + 1 end
            if flags.tags ~= nil then patch.settings = { tags = util.csv(flags.tags) }; n = n + 1 end
            if lf then patch.load_factor = lf; n = n + 1 end
            if mm ~= nil then patch.max_meetings = mm; n = n + 1 end
            if ma ~= nil then patch.max_attendees = ma; n = n + 1 end
            if n == 0 then
                return util.reply(ctx, util.get_raw(ctx, "backends", found), "backend %s exists;" ..
                    " nothing to change (give --secret, --tags, --load-factor, --max-meetings or" ..
                    " --max-attendees)\n",
                    util.backend_host(found))
            end
            local _, raw, v = c.patch("/api/v1/backends/" .. http.urlencode(found.id), patch)
            util.reply(ctx, raw, "updated backend %s\n", util.backend_host(v or found))
        end,
    },
    {
        words = { "enable", "backend" }, args = { "host" },
        summary = "admin state ready: takes new meetings",
        help = "Sets the backend's admin state to ready: it takes new meetings again.",
        run = set_state("ready", "enabled"),
    },
    {
        words = { "disable", "backend" }, args = { "host" },
        summary = "admin state stopped: no new meetings",
        help = "Sets the backend's admin state to stopped: running meetings stay, new ones go elsewhere.",
        run = set_state("stopped", "disabled"),
    },
    {
        words = { "delete", "backend" }, args = { "host" }, flags = { "force" },
        flag_help = { force = "remove it now, with its meeting records" },
        summary = "decommission (or with --force remove) a backend",
        help = "Without --force the backend is decommissioned: it takes no new meetings and is\n" ..
               "removed once its meetings are gone (at once when it has none). With --force it\n" ..
               "is removed now together with its meeting records.",
        run = function(ctx, args, flags)
            local b = util.find_backend(ctx, args[1])
            local path = "/api/v1/backends/" .. http.urlencode(b.id) .. (flags.force and "?force=true" or "")
            local _, raw, v = ctx.client().delete(path)
            if ctx.json then return util.print_json(ctx, raw) end
            v = v or {}
            if v.deleted == true then
                ctx.out(string.format("deleted backend %s\n", util.backend_host(b)))
            else
                ctx.out(string.format("decommissioned backend %s: no new meetings; it is removed " ..
                    "once its meetings are gone (--force removes it now)\n", util.backend_host(b)))
            end
        end,
    },
    {
        words = { "end", "meetings" }, args = { "host" },
        summary = "end every meeting on a backend",
        help = "Ends every meeting on the backend (BBB end on the node) and removes the records.\n" ..
               "Prints how many were ended; exits 1 when some could not be ended.",
        run = function(ctx, args)
            local b = util.find_backend(ctx, args[1])
            local _, raw, v = ctx.client().post("/api/v1/commands",
                { action = "end_all_meetings", params = { backend_id = b.id } })
            local res = type(v) == "table" and type(v.result) == "table" and v.result or {}
            local failed = type(res.failed) == "table" and res.failed or {}
            if ctx.json then
                util.print_json(ctx, raw)
            else
                ctx.out(string.format("ended %s meeting(s) on %s\n", util.show(res.ended) or "0",
                    util.backend_host(b)))
                for _, f in ipairs(failed) do
                    ctx.out(string.format("  not ended: %s: %s\n", util.show(f.meeting_id) or "?",
                        util.show(f.error) or "?"))
                end
            end
            if #failed > 0 then
                util.fail("partial", string.format("%d meeting(s) on %s could not be ended",
                    #failed, util.backend_host(b)))
            end
        end,
    },
}
