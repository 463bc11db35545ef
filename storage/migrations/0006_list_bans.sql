-- 0006: bans that Matrix policy lists caused, one row per (rule, account), so that a rule
-- removed from its list lifts exactly the bans it alone caused. ``case_id`` is the case that
-- banned the account (an earlier list ban's case when the account was banned already).
CREATE TABLE list_bans (
    id                INTEGER PRIMARY KEY,
    rule_key          TEXT NOT NULL,      -- list room | kind | state key
    account_platform  TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    member_id         INTEGER NOT NULL REFERENCES members (id),
    case_id           INTEGER REFERENCES cases (id),
    created_at        TEXT NOT NULL,
    lifted_at         TEXT
);
CREATE INDEX list_bans_by_rule ON list_bans (rule_key) WHERE lifted_at IS NULL;
CREATE INDEX list_bans_by_account ON list_bans (account_platform, account_id);
