-- 0004: webcam streams per meeting, so attendees can be reported by audio and video.
ALTER TABLE meetings ADD COLUMN video integer NOT NULL DEFAULT 0;
