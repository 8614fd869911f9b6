-- SMS sends per organization and UTC day, for `limits.max_sms_per_org_per_day`. Incremented in the transaction
-- that queues the SMS, and only while under the budget, so the budget holds across server processes.
CREATE TABLE sms_org_daily (
    org_id TEXT NOT NULL,
    day TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (org_id, day)
);
