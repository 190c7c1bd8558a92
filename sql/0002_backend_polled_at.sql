-- 0002: when a backend's counters were last refreshed from the node, so placements made
-- since then can be counted as pending (a burst of creates must not all land on one node).
ALTER TABLE backends ADD COLUMN polled_at timestamptz;
