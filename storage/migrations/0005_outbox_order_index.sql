-- 0005: claiming keeps actions on one member in one space in order (an earlier pending row
-- holds back a later one); this index makes that check a lookup, not a scan.
CREATE INDEX actions_pending_by_target ON actions (platform, space_id, target_platform_id, id)
    WHERE state = 'pending';
