-- 0024: why each meeting is where it is. Written by the statement that claims (or moves)
-- the meeting's row: { by: "policy"|"fallback", policy, chosen, reason,
-- candidates: [{ host, score, excluded }], candidates_total, error } (docs/admin-api.md).
-- NULL for meetings placed before this migration, adopted ones and restored claims.
ALTER TABLE meetings ADD COLUMN placement_reason jsonb;

-- The explanation text comes from an operator's policy through dispatch.lua, which
-- bounds and cleans it; should it still not parse, the placement goes on without it.
CREATE FUNCTION b3s_jsonb_or_null(t text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN t::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
