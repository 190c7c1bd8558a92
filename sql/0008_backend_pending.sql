-- What "pending" means, once: meeting rows placed on a backend since its counters were last
-- refreshed (by a poll or its agent). They weigh in the load before the node reports them.
-- Placement, /metrics and the status page all read it from here.
CREATE VIEW backend_pending AS
SELECT b.id AS backend_id,
       (SELECT count(*) FROM meetings m
         WHERE m.backend_id = b.id
           AND (b.counters_at IS NULL OR m.created_at > b.counters_at)) AS pending
  FROM backends b;
