-- 0003: member reports. The reporter is kept apart from the case: moderators read cases,
-- only the configured admins may read this table (the code of conduct promises that a
-- reporter's identity is not disclosed without permission).
CREATE TABLE reports (
    id                INTEGER PRIMARY KEY,
    case_id           INTEGER NOT NULL UNIQUE REFERENCES cases (id),
    reporter_platform TEXT NOT NULL,
    reporter_id       TEXT NOT NULL,
    reporter_member   INTEGER REFERENCES members (id),
    share_identity    INTEGER NOT NULL DEFAULT 0,   -- the reporter agreed to be named
    created_at        TEXT NOT NULL
);
CREATE INDEX reports_by_reporter ON reports (reporter_platform, reporter_id, created_at);
