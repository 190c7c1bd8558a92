-- b3scale.admin.frontends: /api/v1/frontends (tenants). The `b3scale` scope sees only
-- frontends whose account_ref is its sub; anything else is 404, so existence never leaks.
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")
local settings = require("b3scale.admin.settings")

local type = type

local COLUMNS = "f.id::text AS id, f.key, f.secret, f.previous_secret,"
  .. " f.settings::text AS settings, "
  .. "f.active::text AS active, f.account_ref, " .. db.ts("f.created_at") .. ", "
  .. db.ts("f.updated_at")
local TOP = { key = true, bbb = true, settings = true, active = true, account_ref = true }
-- previous_secret: set while the secret is rotated (docs/admin-api.md); checksums made with
-- it verify too, until it is removed (null)
local BBB = { key = true, secret = true, previous_secret = true }
local READ_ONLY = { id = true, created_at = true, updated_at = true }
local KEY_PATTERN = "^[A-Za-z0-9_-]+$"
local CONFLICT = "a frontend with this key already exists"


-- bbb as stored: previous_secret only while a rotation runs
local function bbb_of(row)
  return { key = row.key, secret = row.secret, previous_secret = db.val(row.previous_secret) }
end


local function present(row)
  return {
    id = row.id, key = row.key, bbb = bbb_of(row),
    settings = json.decode(row.settings) or json.raw(row.settings), active = db.bool(row.active),
    account_ref = db.val(row.account_ref) or json.null,
    created_at = row.created_at, updated_at = row.updated_at,
  }
end


-- Checks a whole frontend object; returns the record to store, or nil and a response.
local function validate(obj)
  local f = errors.fields()
  f:unknown(obj, TOP)
  local bbb = obj.bbb
  if bbb == nil then
    bbb = {}
  elseif f:kind("bbb", bbb, "object") then
    f:unknown(bbb, BBB, "bbb.")
  else
    bbb = {}
  end
  local key = bbb.key
  if obj.key ~= nil and key ~= nil and obj.key ~= key then
    f:add("key", "does not match bbb.key")
  end
  key = key or obj.key
  if key == nil then
    f:add("bbb.key", "is required")
  elseif f:kind("bbb.key", key, "string") and (#key > 64 or not key:find(KEY_PATTERN)) then
    f:add("bbb.key", "must match ^[A-Za-z0-9_-]{1,64}$")
  end
  local secret = bbb.secret
  if secret == nil then
    f:add("bbb.secret", "is required")
  elseif f:kind("bbb.secret", secret, "string") then
    secret = secret:match("^%s*(.-)%s*$")
    if secret == "" then
      f:add("bbb.secret", "must not be empty")
    end
  end
  local prev = bbb.previous_secret
  if prev == json.null then
    prev = nil
  elseif prev ~= nil and f:kind("bbb.previous_secret", prev, "string") then
    prev = prev:match("^%s*(.-)%s*$")
    if prev == "" then
      f:add("bbb.previous_secret", "must not be empty (use null to end the rotation)")
    elseif prev == secret then
      f:add("bbb.previous_secret", "must differ from bbb.secret")
    end
  end
  local s = obj.settings
  if s == nil then
    s = {}
  else
    settings.check_frontend(f, s)
  end
  if obj.active ~= nil then
    f:kind("active", obj.active, "boolean")
  end
  local ref = obj.account_ref
  if ref ~= nil and ref ~= json.null and f:kind("account_ref", ref, "string") and ref == "" then
    f:add("account_ref", "must not be empty (use null)")
  end
  if not f:empty() then
    return nil, f:response()
  end
  return {
    key = key, secret = secret, previous_secret = prev, settings = json.encode(s),
    active = obj.active ~= false, account_ref = (ref ~= json.null) and ref or nil,
  }
end


local function owner(ctx)
  return (not ctx.admin) and ctx.sub or nil
end


local function find(ctx, id, lock)
  if not errors.is_uuid(id) then
    return nil, errors.not_found("frontend")
  end
  return db.first("frontend", "SELECT " .. COLUMNS .. " FROM frontends f WHERE f.id = $1::uuid"
    .. " AND ($2::text IS NULL OR f.account_ref = $2)" .. (lock and " FOR UPDATE" or ""),
    id, owner(ctx))
end


function _M.list(ctx)
  local q = ctx.query
  local ref = owner(ctx) or q.account_ref
  return db.listing(present, "SELECT " .. COLUMNS .. " FROM frontends f"
    .. " WHERE ($1::text IS NULL OR f.key = $1) AND ($2::text IS NULL OR f.account_ref = $2)"
    .. " ORDER BY f.key", q.key, ref)
end


function _M.create(ctx)
  local rec, err = errors.body_record(ctx.req, validate)
  if not rec then
    return err
  end
  return db.tx(function()
    local rows, qerr = db.write(CONFLICT, "INSERT INTO frontends AS f"
      .. " (key, secret, settings, active, account_ref, previous_secret)"
      .. " VALUES ($1, $2, $3::jsonb, $4, $5, $6)"
      .. " RETURNING " .. COLUMNS, rec.key, rec.secret, rec.settings, rec.active,
      rec.account_ref, rec.previous_secret)
    if not rows then
      return qerr
    end
    return errors.ok(present(rows[1]), 201)
  end)
end


function _M.show(ctx)
  return errors.shown(present, find(ctx, ctx.params.id))
end


-- The stored object a merge patch applies to (read-only fields kept apart).
local function stored_object(row)
  local s = json.decode(row.settings) or {}
  return {
    bbb = bbb_of(row), settings = s,
    active = db.bool(row.active), account_ref = db.val(row.account_ref),
  }
end


function _M.update(ctx)
  local patch, err = errors.body_object(ctx.req)
  if not patch then
    return err
  end
  return db.tx(function()
    local row, ferr = find(ctx, ctx.params.id, true)
    if not row then
      return ferr
    end
    local f = errors.fields()
    f:read_only(patch, present(row), READ_ONLY)
    if patch.key ~= nil then
      if type(patch.bbb) == "table" and patch.bbb.key ~= nil and patch.bbb.key ~= patch.key then
        f:add("key", "does not match bbb.key")
      elseif json.is_object(patch.bbb) then
        patch.bbb.key = patch.key
      elseif patch.bbb == nil then
        patch.bbb = { key = patch.key }
      end
      patch.key = nil
    end
    if not f:empty() then
      return f:response()
    end
    local rec, verr = validate(json.merge_patch(stored_object(row), patch))
    if not rec then
      return verr
    end
    if not ctx.admin and (rec.account_ref ~= db.val(row.account_ref) or rec.key ~= row.key) then
      return errors.forbidden("only b3scale:admin may change account_ref or the key")
    end
    local rows, qerr = db.write(CONFLICT, "UPDATE frontends AS f SET key = $2,"
      .. " secret = $3, settings = $4::jsonb, active = $5, account_ref = $6,"
      .. " previous_secret = $7, updated_at = now()"
      .. " WHERE f.id = $1::uuid RETURNING " .. COLUMNS, row.id, rec.key, rec.secret,
      rec.settings, rec.active, rec.account_ref, rec.previous_secret)
    if not rows then
      return qerr
    end
    return errors.ok(present(rows[1]))
  end)
end


function _M.destroy(ctx)
  local id = ctx.params.id
  if not errors.is_uuid(id) then
    return errors.not_found("frontend")
  end
  return db.tx(function()
    local row, err = db.first("frontend", "DELETE FROM frontends AS f WHERE f.id = $1::uuid"
      .. " RETURNING " .. COLUMNS, id)
    if not row then
      return err
    end
    local out = present(row)
    out.deleted = true
    return errors.ok(out)
  end)
end


return _M
