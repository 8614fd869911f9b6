-- A new code supersedes the user's queued one in the same commit (queries::SUPERSEDE_JOBS); this keeps that
-- lookup to the user's few pending jobs however many settled jobs the table holds.
CREATE INDEX sms_jobs_pending_by_user ON sms_jobs (user_id) WHERE state = 'pending';
