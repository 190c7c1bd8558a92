-- show meetings, show meeting <id>
local tbl  = require("b3scalectl.table")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")

-- "placed by <policy> (fallback...): <reason>" and one line per candidate
local function reason_lines(r)
    if type(r) ~= "table" then return { { "placement", "(not recorded)" } } end
    local head = "by " .. (util.show(r.policy) or "?")
    if r.by == "fallback" then
        head = "by the built-in fallback (" .. (util.show(r.error) or "the policy failed") .. ")"
    end
    local out = { { "placed", head }, { "reason", util.show(r.reason) } }
    if type(r.candidates) == "table" then
        for i, c in ipairs(r.candidates) do
            local line = (util.show(c.host) or "?")
            if c.score ~= nil then line = line .. "  score " .. util.show(c.score) end
            if c.host == r.chosen then line = line .. "  (chosen)" end
            if c.excluded == true then line = line .. "  (excluded: failed this create)" end
            out[#out + 1] = { "candidate", line }
        end
        local total = tonumber(r.candidates_total)
        if total and total > #r.candidates then
            out[#out + 1] = { "candidates", string.format("%d more not recorded", total - #r.candidates) }
        end
    end
    return out
end

return {
    {
        words = { "show", "meeting" }, args = { "id" },
        summary = "one meeting in detail, with why it was placed there",
        help = "Shows one meeting record (the ID column of `show meetings`): its frontend, node,\n" ..
               "state, and the placement reason: the policy, its explanation, and the candidates\n" ..
               "it saw with the score it gave each.",
        run = function(ctx, args)
            local id = args[1]
            if not tostring(id):match("^%d+$") then
                util.usage("show meeting: the id is the number in the ID column of `show meetings`")
            end
            local _, raw, m = ctx.client().get("/api/v1/meetings/" .. http.urlencode(id))
            if ctx.json then return util.print_json(ctx, raw) end
            m = type(m) == "table" and m or {}
            local rows = {
                { "id", util.show(m.id) },
                { "frontend", util.show(m.frontend_key) },
                { "meeting id", util.show(m.meeting_id) },
                { "backend", util.show(m.backend_host) },
                { "node meeting id", util.show(m.backend_meeting_id) },
                { "running", m.running == true and "yes" or (m.running == false and "no" or nil) },
                { "participants", util.show(m.participants) },
                { "created", util.show(m.created_at) },
            }
            for _, r in ipairs(reason_lines(m.placement_reason)) do rows[#rows + 1] = r end
            ctx.out(tbl.kv(rows))
        end,
    },
    {
        words = { "show", "meetings" }, flags = { "backend", "frontend" },
        flag_help = {
            backend = "only the meetings on this backend (host)",
            frontend = "only the meetings of this frontend (key)",
        },
        summary = "list meetings",
        help = "Lists the meetings b3scaled placed: ID, FRONTEND, MEETING ID (the frontend's),\n" ..
               "BACKEND, RUNNING, PARTICIPANTS, CREATED.",
        run = function(ctx, _, flags)
            local q = {}
            if flags.backend then
                local b = util.find_backend(ctx, flags.backend)
                q[#q + 1] = "backend_id=" .. http.urlencode(b.id)
            end
            if flags.frontend then
                local f = util.find_frontend(ctx, flags.frontend)
                q[#q + 1] = "frontend_id=" .. http.urlencode(f.id)
            end
            local path = "/api/v1/meetings" .. (#q > 0 and ("?" .. table.concat(q, "&")) or "")
            local _, raw, list = ctx.client().get(path)
            if ctx.json then return util.print_json(ctx, raw) end
            if type(list) ~= "table" or #list == 0 then return ctx.out("no meetings\n") end
            local rows = {}
            for _, m in ipairs(list) do
                rows[#rows + 1] = {
                    util.show(m.id), util.show(m.frontend_key), util.show(m.meeting_id),
                    util.show(m.backend_host), m.running == true and "yes" or (m.running == false and "no" or nil),
                    util.show(m.participants), util.show(m.created_at),
                }
            end
            ctx.out(tbl.render({ "ID", "FRONTEND", "MEETING ID", "BACKEND", "RUNNING", "PARTICIPANTS", "CREATED" }, rows))
        end,
    },
}
