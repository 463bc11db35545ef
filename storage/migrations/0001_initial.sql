-- 0001: the first schema. Times are UTC ISO 8601 text of one fixed width (written by
-- storage.db.to_db_time), so text comparison in SQL is time comparison.
-- Platform names and action kinds are checked here as well as in Python: a bad row is refused
-- at the door rather than found later by the executor.

-- A member is one person; each of their accounts (one per platform identity) points at them.
-- An account nobody has linked is the only account of its own member.
CREATE TABLE members (
    id          INTEGER PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE accounts (
    platform      TEXT NOT NULL CHECK (platform IN ('discord', 'matrix', 'test')),
    platform_id   TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    member_id     INTEGER NOT NULL REFERENCES members (id),
    first_seen_at TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (platform, platform_id)
) WITHOUT ROWID;
CREATE INDEX accounts_by_member ON accounts (member_id);

-- AUTOINCREMENT: case numbers are shown to moderators and quoted in notes; a number must never
-- be given to a second case, even after the highest one is deleted.
-- dedupe_key: the same event delivered twice (a reconnect replays it) must not open two cases.
CREATE TABLE cases (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key          TEXT UNIQUE,
    member_id           INTEGER NOT NULL REFERENCES members (id),
    subject_platform    TEXT NOT NULL,
    subject_platform_id TEXT NOT NULL,
    origin_kind         TEXT NOT NULL CHECK (origin_kind IN ('rule', 'moderator', 'report')),
    origin              TEXT NOT NULL,   -- a rule id, or a moderator's account key
    reason              TEXT NOT NULL,
    evidence            TEXT NOT NULL DEFAULT '',  -- a short excerpt, for moderators only
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at          TEXT NOT NULL,
    closed_at           TEXT,
    closed_by           TEXT,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX cases_by_member ON cases (member_id, created_at);
CREATE INDEX cases_open ON cases (created_at) WHERE status = 'open';

CREATE TABLE case_notes (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    author      TEXT NOT NULL,   -- an account key
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX case_notes_by_case ON case_notes (case_id, id);

-- The outbox: one row per (action, account, space). idempotency_key is UNIQUE so that
-- enqueueing the same action again finds the existing row instead of acting twice.
-- A claimed row stays 'pending' with next_attempt_at moved forward by a lease: if the worker
-- dies while carrying it out, the row becomes due again when the lease runs out.
CREATE TABLE actions (
    id                  INTEGER PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,
    case_id             INTEGER REFERENCES cases (id),
    platform            TEXT NOT NULL CHECK (platform IN ('discord', 'matrix', 'test')),
    space_id            TEXT NOT NULL,
    target_platform_id  TEXT,   -- the account acted upon, when there is one
    kind                TEXT NOT NULL CHECK (kind IN
                            ('warn', 'mute', 'unmute', 'remove', 'ban', 'unban', 'delete',
                             'notify')),
    payload             TEXT NOT NULL CHECK (json_valid(payload)),
    state               TEXT NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'done', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at     TEXT NOT NULL,
    claimed_at          TEXT,
    last_error          TEXT,   -- the permanent reason when failed, else the last transient one
    result              TEXT,   -- what the executor reported when done
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CHECK (state <> 'failed' OR last_error IS NOT NULL)
);
CREATE INDEX actions_due ON actions (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX actions_by_case ON actions (case_id);

-- Strikes decay: a strike counts while created_at <= now < expires_at (NULL: never expires).
-- A pardon keeps the row, for the record, and stops it counting.
CREATE TABLE strikes (
    id          INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (id),
    case_id     INTEGER REFERENCES cases (id),
    rule_id     TEXT NOT NULL,
    points      INTEGER NOT NULL CHECK (points > 0),
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    pardoned    INTEGER NOT NULL DEFAULT 0 CHECK (pardoned IN (0, 1)),
    pardoned_at TEXT,
    CHECK (expires_at IS NULL OR expires_at > created_at),
    CHECK (pardoned = (pardoned_at IS NOT NULL))
);
CREATE INDEX strikes_by_member ON strikes (member_id, expires_at) WHERE pardoned = 0;
CREATE INDEX strikes_by_case ON strikes (case_id);

-- Direct messages: a member's default (open: anyone may DM them; closed: only the members
-- they allowed), and the allow list itself.
CREATE TABLE dm_defaults (
    member_id   INTEGER PRIMARY KEY REFERENCES members (id),
    policy      TEXT NOT NULL CHECK (policy IN ('open', 'closed')),
    updated_at  TEXT NOT NULL
);

CREATE TABLE dm_consent (
    member_id          INTEGER NOT NULL REFERENCES members (id),
    allowed_member_id  INTEGER NOT NULL REFERENCES members (id),
    created_at         TEXT NOT NULL,
    PRIMARY KEY (member_id, allowed_member_id),
    CHECK (member_id <> allowed_member_id)
) WITHOUT ROWID;
CREATE INDEX dm_consent_by_allowed ON dm_consent (allowed_member_id);

-- Things that must happen later and survive restarts ("unmute member X at T").
-- key makes scheduling idempotent, like the outbox.
CREATE TABLE timers (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    member_id    INTEGER REFERENCES members (id),
    case_id      INTEGER REFERENCES cases (id),
    due_at       TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    created_at   TEXT NOT NULL,
    fired_at     TEXT,
    cancelled_at TEXT
);
CREATE INDEX timers_due ON timers (due_at, id) WHERE fired_at IS NULL AND cancelled_at IS NULL;

-- Small state: the Matrix sync token, the device id...
CREATE TABLE kv (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;

-- Append-only: the triggers below make UPDATE and DELETE fail, so a bug (or a hand in the
-- sqlite3 shell) cannot rewrite what the moderators did. Details carry ids and rule names,
-- never message text.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    ts       TEXT NOT NULL,
    actor    TEXT NOT NULL,    -- an account key, or 'system'
    event    TEXT NOT NULL,    -- e.g. 'case.opened', 'action.done', 'account.linked'
    subject  TEXT NOT NULL DEFAULT '',
    details  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
