-- How many times a job's lease expired without a result (issue 24). A job whose worker or tester
-- dies is claimed again when its lease ends; a job that kills whoever runs it, or whose report
-- the server refuses (a log too large for its body limit), was claimed again every lease,
-- forever. After a configured number of expired leases the next claim ends it as failed, with
-- the reason in last_error and, for a check, as an `error` check on its series.
ALTER TABLE jobs ADD COLUMN lost_leases BIGINT NOT NULL DEFAULT 0;
