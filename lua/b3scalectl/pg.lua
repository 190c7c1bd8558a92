-- Read-only access to another PostgreSQL database (b3scale's, for `import b3scale`) through
-- libpq and the LuaJIT FFI: libpq.so.5 is there wherever b3scaled runs, since it links it.
--
--   local db, err = pg.connect(url)          -- the session and every transaction read-only
--   local rows, err = db:query(sql, ...)     -- rows as { column = text or nil }, in order
--   db:close()
--
-- The URL, and the password in it, never appear in an error message: libpq's messages are
-- scrubbed of both. Parameters go separately from the SQL (PQexecParams), as text.
local ffi = require("ffi")

local _M = {}

-- declared one by one, tolerant of identical earlier declarations in the same process
for _, decl in ipairs({
    "typedef struct pg_conn PGconn;",
    "typedef struct pg_result PGresult;",
    [[PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values,
                                int expand_dbname);]],
    "int PQstatus(const PGconn *conn);",
    "char *PQerrorMessage(const PGconn *conn);",
    "void PQfinish(PGconn *conn);",
    [[PGresult *PQexecParams(PGconn *conn, const char *command, int nParams,
                             const unsigned int *paramTypes, const char *const *paramValues,
                             const int *paramLengths, const int *paramFormats,
                             int resultFormat);]],
    "int PQresultStatus(const PGresult *res);",
    "char *PQresultErrorMessage(const PGresult *res);",
    "int PQntuples(const PGresult *res);",
    "int PQnfields(const PGresult *res);",
    "char *PQfname(const PGresult *res, int field_num);",
    "char *PQgetvalue(const PGresult *res, int tup_num, int field_num);",
    "int PQgetisnull(const PGresult *res, int tup_num, int field_num);",
    "void PQclear(PGresult *res);",
}) do
    pcall(ffi.cdef, decl)
end

local CONNECTION_OK = 0
local PGRES_COMMAND_OK, PGRES_TUPLES_OK = 1, 2
local CONNECT_TIMEOUT = "10"          -- seconds
local STATEMENT_TIMEOUT = "60s"

local lib
local function libpq()
    if lib then return lib end
    for _, name in ipairs({ "libpq.so.5", "pq", "libpq.so" }) do
        local ok, l = pcall(ffi.load, name)
        if ok then lib = l; return l end
    end
    return nil, "cannot load libpq (install libpq5)"
end

-- what must not show in a message: the URL itself, its password (as written and decoded)
-- and a password=... keyword
local function secrets_of(url)
    local list = { url }
    local pw = url:match("^%a[%w+.-]*://[^/@]-:([^/@]*)@")
    if pw and pw ~= "" then
        list[#list + 1] = pw
        list[#list + 1] = (pw:gsub("%%(%x%x)", function(x) return string.char(tonumber(x, 16)) end))
    end
    for v in url:gmatch("password=([^&%s]+)") do list[#list + 1] = v end
    return list
end

local function scrub(msg, secrets)
    msg = tostring(msg or ""):gsub("%s+$", ""):gsub("%s*\n%s*", "; ")
    table.sort(secrets, function(a, b) return #a > #b end)
    for _, s in ipairs(secrets) do
        if #s > 0 then
            local from = 1
            while true do
                local i, j = msg:find(s, from, true)
                if not i then break end
                msg = msg:sub(1, i - 1) .. "***" .. msg:sub(j + 1)
                from = i + 3
            end
        end
    end
    return msg
end

local DB = {}
DB.__index = DB

-- Runs one statement with text parameters (nil: NULL); rows as a list of tables keyed by
-- column name (NULL: absent), or nil and a scrubbed message.
function DB:query(sql, ...)
    if not self.conn then return nil, "not connected" end
    local n = select("#", ...)
    local vals = ffi.new("const char *[?]", n + 1)
    local keep = {}
    for i = 1, n do
        local v = select(i, ...)
        if v ~= nil then
            keep[i] = tostring(v)
            vals[i - 1] = keep[i]
        end
    end
    local res = self.lib.PQexecParams(self.conn, sql, n, nil, vals, nil, nil, 0)
    if res == nil then
        return nil, scrub(ffi.string(self.lib.PQerrorMessage(self.conn)), self.secrets)
    end
    local st = self.lib.PQresultStatus(res)
    if st ~= PGRES_TUPLES_OK and st ~= PGRES_COMMAND_OK then
        local msg = ffi.string(self.lib.PQresultErrorMessage(res))
        self.lib.PQclear(res)
        return nil, scrub(msg, self.secrets)
    end
    local rows = {}
    local nr, nf = self.lib.PQntuples(res), self.lib.PQnfields(res)
    local names = {}
    for f = 0, nf - 1 do names[f] = ffi.string(self.lib.PQfname(res, f)) end
    for r = 0, nr - 1 do
        local row = {}
        for f = 0, nf - 1 do
            if self.lib.PQgetisnull(res, r, f) == 0 then
                row[names[f]] = ffi.string(self.lib.PQgetvalue(res, r, f))
            end
        end
        rows[#rows + 1] = row
    end
    self.lib.PQclear(res)
    return rows
end

function DB:close()
    if self.conn then
        self.lib.PQfinish(self.conn)
        self.conn = nil
    end
end

-- Connects to url (a postgresql:// URL or a libpq keyword string) with the session made
-- read-only and a read-only transaction open: nothing this connection runs can write.
-- Returns the handle, or nil and a message without the URL or its password.
function _M.connect(url)
    local l, err = libpq()
    if not l then return nil, err end
    local secrets = secrets_of(url)
    -- the URL last: options it carries itself win over these defaults
    local keys = ffi.new("const char *[4]", { "connect_timeout", "application_name", "dbname" })
    local vals = ffi.new("const char *[4]", { CONNECT_TIMEOUT, "b3scalectl-import", url })
    local conn = l.PQconnectdbParams(keys, vals, 1)
    if conn == nil then return nil, "out of memory" end
    if l.PQstatus(conn) ~= CONNECTION_OK then
        local msg = scrub(ffi.string(l.PQerrorMessage(conn)), secrets)
        l.PQfinish(conn)
        return nil, msg
    end
    local db = setmetatable({ lib = l, conn = conn, secrets = secrets }, DB)
    for _, sql in ipairs({
        "SET default_transaction_read_only = on",
        "SET statement_timeout = '" .. STATEMENT_TIMEOUT .. "'",
        "BEGIN READ ONLY",
    }) do
        local ok, qerr = db:query(sql)
        if not ok then
            db:close()
            return nil, qerr
        end
    end
    return db
end

_M.scrub = scrub
_M.secrets_of = secrets_of

return _M
