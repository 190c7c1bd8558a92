-- 0016: tell every b3scaled instance when recordings change (LISTEN b3scale_recordings), so
-- the getRecordings answers it keeps (B3SCALE_RECORDINGS_CACHE_MS) are dropped at once. One
-- notification per transaction: Postgres folds identical ones.
CREATE FUNCTION b3s_notify_recordings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('b3scale_recordings', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER recordings_notify AFTER INSERT OR UPDATE OR DELETE ON recordings
    FOR EACH ROW EXECUTE FUNCTION b3s_notify_recordings();
CREATE TRIGGER recording_formats_notify AFTER INSERT OR UPDATE OR DELETE ON recording_formats
    FOR EACH ROW EXECUTE FUNCTION b3s_notify_recordings();
