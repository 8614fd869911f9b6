-- The daily SMS counts only matter on their own day; the retention pass (notify::retention) deletes those of
-- earlier days, and this finds them without reading every number's counts.
CREATE INDEX sms_daily_by_day ON sms_daily (day);
CREATE INDEX sms_org_daily_by_day ON sms_org_daily (day);
