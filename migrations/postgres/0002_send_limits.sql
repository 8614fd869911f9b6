-- When the user was last sent a code by SMS: the resend cooldown is checked against it.
ALTER TABLE users ADD COLUMN last_sms_at BIGINT;

-- SMS sends per phone number and UTC day. Incremented in the transaction that queues the SMS, and only while
-- under the cap, so the cap holds across server processes.
CREATE TABLE sms_daily (
    phone TEXT NOT NULL,
    day TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (phone, day)
);
