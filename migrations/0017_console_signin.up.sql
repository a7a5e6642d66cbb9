-- One-time sign-in links to the admin console (issue 14): `crier
-- signin-link` (and `make dev`) store a code's SHA-256 here; the first
-- request that presents the code deletes the row and gets a session signed
-- with CRIER_JWT_SECRET for the subject and roles it names. Only the hash is
-- kept, so the table holds nothing a reader could sign in with.
CREATE TABLE console_signin_codes (
    code_hash   bytea PRIMARY KEY,
    subject     text NOT NULL,
    name        text NOT NULL,
    roles       text[] NOT NULL,
    -- How long the session it opens lasts.
    session_ttl interval NOT NULL CHECK (session_ttl > interval '0'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- The code is refused after this, used or not.
    expires_at  timestamptz NOT NULL
);
CREATE INDEX console_signin_codes_expires ON console_signin_codes (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON console_signin_codes TO crier_app;
