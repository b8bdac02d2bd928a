-- The approver console (issue 17): sign-ins in progress and signed-in sessions.
--
-- Neither table holds a usable secret. A sign-in is found by the SHA-256 of its `state` (which the browser holds in a
-- cookie and the identity provider echoes); its PKCE verifier is useless without the authorization code, which only
-- the browser ever sees, and the row is deleted when the callback takes it (once) or after ten minutes. A session is
-- found by the SHA-256 of the random value in the browser's cookie: a copy of this table signs nobody in.
CREATE TABLE console_sign_ins (
    state_hash     bytea PRIMARY KEY,
    code_verifier  text NOT NULL,
    nonce          text NOT NULL,
    return_to      text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);

CREATE TABLE console_sessions (
    id_hash        bytea PRIMARY KEY,
    principal_id   text NOT NULL,
    issuer         text NOT NULL,
    groups         text[] NOT NULL,
    email          text,
    manager        text,
    on_call        boolean NOT NULL,
    -- When the person last proved a second factor (the ID token's `auth_time` with `amr` mfa), if they did.
    mfa_at         timestamptz,
    -- `admin` and `auditor`, from `console.admin_groups` and `console.auditor_groups` at sign-in.
    roles          text[] NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);

CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sign_ins_expiry ON console_sign_ins (expires_at);
