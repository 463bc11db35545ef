-- 0004: a new action kind, 'tell' (a private message to a member: a reporter told how their
-- report ended). SQLite cannot change a CHECK constraint in place, so the outbox table is
-- rebuilt with the same columns and rows. No table references actions, so this is safe with
-- foreign keys on.
CREATE TABLE actions_new (
    id                  INTEGER PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,
    case_id             INTEGER REFERENCES cases (id),
    platform            TEXT NOT NULL CHECK (platform IN ('discord', 'matrix', 'test')),
    space_id            TEXT NOT NULL,
    target_platform_id  TEXT,
    kind                TEXT NOT NULL CHECK (kind IN
                            ('warn', 'mute', 'unmute', 'remove', 'ban', 'unban', 'delete',
                             'notify', 'tell')),
    payload             TEXT NOT NULL CHECK (json_valid(payload)),
    state               TEXT NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'done', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at     TEXT NOT NULL,
    claimed_at          TEXT,
    last_error          TEXT,
    result              TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CHECK (state <> 'failed' OR last_error IS NOT NULL)
);
INSERT INTO actions_new SELECT id, idempotency_key, case_id, platform, space_id,
    target_platform_id, kind, payload, state, attempts, next_attempt_at, claimed_at, last_error,
    result, created_at, updated_at FROM actions;
DROP TABLE actions;
ALTER TABLE actions_new RENAME TO actions;
CREATE INDEX actions_due ON actions (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX actions_by_case ON actions (case_id);
