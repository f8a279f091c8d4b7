-- Web accounts: a password (an argon2id PHC string; NULL: the user cannot log in), sessions and
-- failed logins. The web servers keep no state of their own: all of it is here.

ALTER TABLE users ADD COLUMN password_hash TEXT;

-- A login session. The cookie holds a random 256-bit id; only its SHA-256 is stored, so a copy
-- of the database does not give live sessions. csrf is the secret every form of the session
-- carries back.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed logins, by the username tried and by client address, for rate limiting.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    client TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_username ON login_failures(username, at);
CREATE INDEX login_failures_client ON login_failures(client, at);
