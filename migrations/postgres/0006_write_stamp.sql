-- A counter that every write to the projections moves on (a group-commit batch, a rebuild). A process that
-- keeps rows in memory reads it first on each lookup: if only its own writer moved it since, its memory is
-- current; if anything else did (another process, a rebuild), it reads the database instead.
-- (The index of 0005 now serves queries::REPLACE_QUEUED_JOB, which rewrites a user's queued job.)
CREATE TABLE write_stamp (
    id INTEGER PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO write_stamp (id, n) VALUES (1, 0);
