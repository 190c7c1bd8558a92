-- frontend commands: show, set, enable/disable, delete
local json = require("b3scalectl.json")
local tbl  = require("b3scalectl.table")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")
local jwt  = require("b3scalectl.jwt")

-- a rotated secret: 24 bytes from /dev/urandom (the kernel's CSPRNG), 48 hex characters
local SECRET_BYTES = 24

local function active_of(f)
    if f.active == true then return "yes" elseif f.active == false then return "no" end
    return nil
end

local function settings_of(f)
    local s = f.settings
    if s == nil or s == json.null then return "{}" end
    return json.encode(s)
end

local function bbb_url(ctx, key)
    return ctx.api .. "/bbb/" .. key .. "/bigbluebutton/api/"
end

-- --settings: a JSON object, kept verbatim (explicit nulls clear keys in a merge patch)
local function settings_flag(s)
    local v, err = json.decode(s)
    if v == nil then util.usage("--settings: invalid JSON: " .. tostring(err)) end
    if type(v) ~= "table" or json.is_array(v) then util.usage("--settings must be a JSON object") end
    return json.raw(s)
end

local function set_active(active, verb)
    return function(ctx, args)
        local f = util.find_frontend(ctx, args[1])
        local _, raw = ctx.client().patch("/api/v1/frontends/" .. http.urlencode(f.id), { active = active })
        util.reply(ctx, raw, "%s frontend %s\n", verb, util.frontend_key(f))
    end
end

return {
    {
        words = { "show", "frontends" },
        summary = "list the frontends (no secrets)",
        help = "Lists the frontends visible to the token: KEY, ACTIVE, ACCOUNT, SETTINGS.\n" ..
               "Secrets are not shown (see show frontend <key>).",
        run = function(ctx)
            local _, raw, list = ctx.client().get("/api/v1/frontends")
            if ctx.json then return util.print_json(ctx, raw) end
            if type(list) ~= "table" or #list == 0 then return ctx.out("no frontends\n") end
            local rows = {}
            for _, f in ipairs(list) do
                rows[#rows + 1] = { util.frontend_key(f), active_of(f), util.show(f.account_ref), settings_of(f) }
            end
            ctx.out(tbl.render({ "KEY", "ACTIVE", "ACCOUNT", "SETTINGS" }, rows))
        end,
    },
    {
        words = { "show", "frontend" }, args = { "key" },
        summary = "one frontend with its BBB API URL and secret",
        help = "Shows one frontend, including what its tenant configures: the BBB API URL\n" ..
               "(<api>/bbb/<key>/bigbluebutton/api/) and the secret.",
        run = function(ctx, args)
            local f = util.find_frontend(ctx, args[1])
            local raw, v = util.get_raw(ctx, "frontends", f)
            if ctx.json then return util.print_json(ctx, raw) end
            f = v or f
            local key = util.frontend_key(f)
            ctx.out(tbl.kv({
                { "key", key },
                { "id", util.show(f.id) },
                { "active", active_of(f) },
                { "account", util.show(f.account_ref) },
                { "API URL", bbb_url(ctx, key) },
                { "secret", type(f.bbb) == "table" and util.show(f.bbb.secret) or nil },
                { "previous secret", type(f.bbb) == "table" and f.bbb.previous_secret ~= nil
                    and util.show(f.bbb.previous_secret) .. " (rotation: still verifies)" or nil },
                { "settings", settings_of(f) },
                { "created", util.show(f.created_at) },
                { "updated", util.show(f.updated_at) },
            }))
        end,
    },
    {
        words = { "set", "frontend" }, args = { "key" },
        flags = { "secret", "settings", "account-ref", "rotate-secret", "drop-previous-secret",
            "force" },
        flag_help = {
            secret = "the frontend's BBB secret; required to create",
            ["rotate-secret"] = "new random secret; the current one keeps verifying as previous_secret",
            ["drop-previous-secret"] = "end a rotation: only the current secret verifies",
            force = "with --rotate-secret: rotate even while a previous secret is set (it stops working)",
            settings = "JSON object merged into the settings (null removes a key)",
            ["account-ref"] = "the account (token sub) that owns it; '' clears it",
        },
        summary = "create a frontend, or change what is given",
        help = "Creates the frontend when the key is new (--secret is required then), otherwise\n" ..
               "changes only what is given. --settings is sent as a JSON merge patch: objects\n" ..
               "merge, arrays and values replace, null removes a key. See docs/frontend-settings.md.\n" ..
               "--rotate-secret sets a new random secret and prints it; checksums made with the\n" ..
               "old one keep verifying until --drop-previous-secret, so the tenant can switch\n" ..
               "without downtime.",
        run = function(ctx, args, flags)
            local rotate, drop = flags["rotate-secret"] == true, flags["drop-previous-secret"] == true
            if rotate and (flags.secret ~= nil or drop) then
                util.usage("--rotate-secret makes the new secret itself: give neither --secret" ..
                    " nor --drop-previous-secret with it")
            end
            if flags.force and not rotate then util.usage("--force goes with --rotate-secret") end
            local settings = flags.settings ~= nil and settings_flag(flags.settings) or nil
            local account
            if flags["account-ref"] ~= nil then
                account = flags["account-ref"] == "" and json.null or flags["account-ref"]
            end
            local c = ctx.client()
            local found = util.find_or_nil(util.find_frontend, ctx, args[1])
            if not found and (rotate or drop) then
                util.fail("not_found", "no frontend with key " .. args[1] .. " (create it with --secret)")
            end
            if not found then
                local body = { bbb = { key = args[1] } }
                if flags.secret ~= nil then body.bbb.secret = flags.secret end
                if settings then body.settings = settings end
                if account ~= nil and account ~= json.null then body.account_ref = account end
                local _, raw = c.post("/api/v1/frontends", body)
                return util.reply(ctx, raw, "created frontend %s (API URL %s)\n", args[1], bbb_url(ctx, args[1]))
            end
            local patch, n = {}, 0
            local cur_bbb = type(found.bbb) == "table" and found.bbb or {}
            local new_secret
            if rotate then
                if type(cur_bbb.secret) ~= "string" then
                    util.fail("forbidden", "the token does not show the frontend's secret")
                end
                if cur_bbb.previous_secret ~= nil and not flags.force then
                    util.fail("conflict", "frontend " .. args[1] .. " is being rotated already;" ..
                        " end it with --drop-previous-secret (or give --force: its previous" ..
                        " secret stops working)")
                end
                new_secret = jwt.random_hex(SECRET_BYTES)
                patch.bbb = { secret = new_secret, previous_secret = cur_bbb.secret }
                n = n + 1
            end
            if flags.secret ~= nil then patch.bbb = { secret = flags.secret }; n = n + 1 end
            if drop then
                patch.bbb = patch.bbb or {}
                patch.bbb.previous_secret = json.null
                n = n + 1
            end
            if settings then patch.settings = settings; n = n + 1 end
            if account ~= nil then patch.account_ref = account; n = n + 1 end
            if n == 0 then
                return util.reply(ctx, util.get_raw(ctx, "frontends", found), "frontend %s exists;" ..
                    " nothing to change (give --secret, --settings, --account-ref, --rotate-secret or" ..
                    " --drop-previous-secret)\n",
                    util.frontend_key(found))
            end
            local _, raw = c.patch("/api/v1/frontends/" .. http.urlencode(found.id), patch)
            if rotate then
                return util.reply(ctx, raw, "rotated the secret of frontend %s\nnew secret: %s\n" ..
                    "the previous secret keeps working until: b3scalectl set frontend %s" ..
                    " --drop-previous-secret\n", util.frontend_key(found), new_secret, args[1])
            end
            if drop and n == 1 then
                return util.reply(ctx, raw, "ended the secret rotation of frontend %s: only its" ..
                    " current secret verifies\n", util.frontend_key(found))
            end
            util.reply(ctx, raw, "updated frontend %s\n", util.frontend_key(found))
        end,
    },
    {
        words = { "enable", "frontend" }, args = { "key" },
        summary = "accept the frontend's calls again",
        help = "Sets the frontend active: its BBB API calls are served.",
        run = set_active(true, "enabled"),
    },
    {
        words = { "disable", "frontend" }, args = { "key" },
        summary = "refuse the frontend's calls",
        help = "Sets the frontend inactive: its BBB API calls are refused.",
        run = set_active(false, "disabled"),
    },
    {
        words = { "delete", "frontend" }, args = { "key" },
        summary = "delete a frontend and its meeting records",
        help = "Deletes the frontend and its meeting records.",
        run = function(ctx, args)
            local f = util.find_frontend(ctx, args[1])
            local _, raw = ctx.client().delete("/api/v1/frontends/" .. http.urlencode(f.id))
            util.reply(ctx, raw, "deleted frontend %s\n", util.frontend_key(f))
        end,
    },
}
