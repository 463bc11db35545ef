-- 0007: two new action kinds, 'pause-dms' and 'resume-dms' (Discord's incident action that
-- pauses DMs between members, taken by a moderator's command and renewed by timers). SQLite
-- cannot change a CHECK constraint in place, so the outbox table is rebuilt with the same
-- columns, rows and indexes (as 0004 did). No table references actions.
CREATE TABLE actions_new (
    id                  INTEGER PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,
    case_id             INTEGER REFERENCES cases (id),
    platform            TEXT NOT NULL CHECK (platform IN ('discord', 'matrix', 'test')),
    space_id            TEXT NOT NULL,
    target_platform_id  TEXT,
    kind                TEXT NOT NULL CHECK (kind IN
                            ('warn', 'mute', 'unmute', 'remove', 'ban', 'unban', 'delete',
                             'notify', 'tell', 'pause-dms', 'resume-dms')),
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
CREATE INDEX actions_pending_by_target ON actions (platform, space_id, target_platform_id, id)
    WHERE state = 'pending';

-- Before 0007 the Discord connection kept a long DM pause on by itself, from the key-value
-- store ('discord:dms-paused-until:<guild>' = the wanted end). The core's timers renew it
-- now: a pause still wanted gets a renewal timer due at once (it applies the pause again and
-- schedules the next while the end is further than Discord accepts).
INSERT INTO timers (key, kind, due_at, payload, created_at)
SELECT 'renew-dm-pause:' || substr(key, 26) || ':upgrade:1', 'renew-dm-pause',
       strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now'),
       json_object('space_id', substr(key, 26), 'until', value,
                   'reason', 'a DM pause set before an upgrade', 'step', 1),
       strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')
FROM kv WHERE key LIKE 'discord:dms-paused-until:%' AND value <> '';
DELETE FROM kv WHERE key LIKE 'discord:dms-paused-until:%';
