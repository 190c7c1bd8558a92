-- show meetings
local tbl  = require("b3scalectl.table")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")

return {
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
