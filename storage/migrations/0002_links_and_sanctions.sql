-- 0002: one-time codes that prove two accounts belong to one person, and the sanctions in
-- force (a mute or ban that must be re-applied when the member rejoins or links a new account).

-- Only a hash of the code is kept: the database never holds a usable code.
CREATE TABLE link_codes (
    code_hash    TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    platform_id  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
CREATE INDEX link_codes_by_account ON link_codes (platform, platform_id, created_at);

-- Failed attempts to redeem a code, per account: a code cannot be guessed by trying many.
CREATE TABLE link_attempts (
    id           INTEGER PRIMARY KEY,
    platform     TEXT NOT NULL,
    platform_id  TEXT NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX link_attempts_by_account ON link_attempts (platform, platform_id, at);

CREATE TABLE sanctions (
    id          INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (id),
    case_id     INTEGER REFERENCES cases (id),
    kind        TEXT NOT NULL CHECK (kind IN ('mute', 'ban')),
    until       TEXT,            -- NULL: until lifted
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    lifted_at   TEXT
);
CREATE INDEX sanctions_in_force ON sanctions (member_id, kind) WHERE lifted_at IS NULL;
