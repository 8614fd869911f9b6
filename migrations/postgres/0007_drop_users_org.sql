-- No query looks users up by organization, and the index cost more than its upkeep: on a table that was still
-- small when the connection planned it, Postgres took it for the update of a user row (an index of equal
-- estimated cost to the primary key's) and read every user of the organization on each resend.
DROP INDEX users_org;
