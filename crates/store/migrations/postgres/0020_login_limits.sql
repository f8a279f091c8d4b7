-- Login limits per (account, client address) and per client address, as counters that a login
-- reserves before it checks a password (issue 24). The failures of 0010 were counted per
-- username and per address, read, checked and written in three steps: five wrong passwords
-- from anywhere locked the account out for everybody, and 100 simultaneous guesses all read
-- the same count (44 passwords checked against a limit of 5).
--
-- kind 'account': one account name (as typed, known or not) from one client; kind 'client':
-- one client across every account (username ''). A row counts the attempts since window_start;
-- a login adds one to both rows of its request in one transaction (INSERT ... ON CONFLICT DO
-- UPDATE, which takes the row's lock) and checks the password only when neither went past its
-- limit; a successful login gives its attempt back. A row whose window is over starts again
-- at its next attempt, so old rows only take space: they are swept once a day old.
DROP TABLE login_failures;

CREATE TABLE login_limits (
    kind TEXT NOT NULL,
    client TEXT NOT NULL,
    username TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    PRIMARY KEY (kind, client, username)
);
CREATE INDEX login_limits_window ON login_limits(window_start);
