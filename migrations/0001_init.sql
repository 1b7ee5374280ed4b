-- The oscred schema: domains, principals (users and service accounts in one id and name space),
-- role assignments, access keys with their sealed secrets, revoked tokens and the audit trail.

CREATE TABLE domains (
    id          char(32)    PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    name        varchar(64) NOT NULL CHECK (name ~ '^[A-Za-z0-9_+=,.@-]{1,64}$'),
    account_id  char(12)    NOT NULL UNIQUE CHECK (account_id ~ '^[1-9][0-9]{11}$'),
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX domains_name_key ON domains (lower(name));

CREATE TABLE principals (
    id             char(32)     PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    domain_id      char(32)     NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    kind           text         NOT NULL CHECK (kind IN ('user', 'service_account')),
    name           varchar(64)  NOT NULL CHECK (name ~ '^[A-Za-z0-9_+=,.@-]{1,64}$'),
    enabled        boolean      NOT NULL DEFAULT true,
    path           varchar(512) NOT NULL DEFAULT '/',
    created_at     timestamptz  NOT NULL DEFAULT now(),
    password_hash  text         NULL,
    -- Bumped on every password change; tokens carry the epoch they were issued under.
    password_epoch integer      NOT NULL DEFAULT 0,
    -- The 2-key limit lives here: key inserts and deletes move it in the same statement.
    key_count      smallint     NOT NULL DEFAULT 0,
    CONSTRAINT principals_key_limit CHECK (key_count BETWEEN 0 AND 2),
    CONSTRAINT principals_password_kind CHECK (kind = 'user' OR password_hash IS NULL)
);
-- One name space per domain for both kinds, ignoring case; it also serves lookups by name.
CREATE UNIQUE INDEX principals_domain_name_key ON principals (domain_id, lower(name));

CREATE TABLE service_accounts (
    principal_id         char(32)      PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    description          varchar(1000) NOT NULL DEFAULT '',
    trust_policy         text          NULL CHECK (length(trust_policy) <= 131072),
    max_session_duration integer       NOT NULL DEFAULT 3600
        CHECK (max_session_duration BETWEEN 3600 AND 43200)
);

CREATE TABLE principal_tags (
    principal_id char(32)     NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    position     smallint     NOT NULL,
    key          varchar(128) NOT NULL,
    value        varchar(256) NOT NULL DEFAULT '',
    PRIMARY KEY (principal_id, position)
);
CREATE UNIQUE INDEX principal_tags_key ON principal_tags (principal_id, lower(key));

CREATE TABLE role_assignments (
    principal_id char(32) NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    role         text     NOT NULL CHECK (role IN ('admin', 'security_admin')),
    PRIMARY KEY (principal_id, role)
);

CREATE TABLE access_keys (
    access_key        char(20)     PRIMARY KEY CHECK (access_key ~ '^[A-Z0-9]{20}$'),
    owner_id          char(32)     NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    status            text         NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    description       varchar(255) NOT NULL DEFAULT '',
    -- The secret key, AES-256-GCM sealed under ring key `kid` (nonce || ciphertext || tag).
    kid               varchar(32)  NOT NULL,
    sealed            bytea        NOT NULL,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    last_used_at      timestamptz  NULL,
    last_used_service text         NULL,
    last_used_region  text         NULL
);
CREATE INDEX access_keys_owner ON access_keys (owner_id, created_at, access_key);
-- Key rotation re-seals rows whose kid is not the primary, in batches.
CREATE INDEX access_keys_kid ON access_keys (kid);

CREATE TABLE revoked_tokens (
    token_id   char(32)    PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

-- Actor and target are plain values, not foreign keys: the trail outlives what it describes.
CREATE TABLE audit_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    domain_id   char(32)    NOT NULL,
    actor_id    char(32)    NULL,
    actor_kind  text        NULL,
    action      text        NOT NULL,
    target_kind text        NOT NULL,
    target_id   text        NOT NULL,
    request_id  text        NOT NULL,
    detail      jsonb       NULL
);
CREATE INDEX audit_events_domain_at ON audit_events (domain_id, at);

-- Every replica keeps its principal cache and revoked-token set current from these notifications
-- (payload "p:<principal id>" or "t:<token id>:<expiry in microseconds>"). Key changes notify
-- nothing: signed requests read their key from the database every time. The principal trigger
-- watches only the columns authentication depends on, so key_count moves notify nobody.
CREATE FUNCTION oscred_notify_principal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'role_assignments' THEN
        PERFORM pg_notify('oscred', 'p:' || CASE WHEN TG_OP = 'DELETE' THEN OLD.principal_id
                                                 ELSE NEW.principal_id END);
    ELSE
        PERFORM pg_notify('oscred', 'p:' || CASE WHEN TG_OP = 'DELETE' THEN OLD.id
                                                 ELSE NEW.id END);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER principals_notify
    AFTER INSERT OR DELETE OR UPDATE OF enabled, password_epoch, name ON principals
    FOR EACH ROW EXECUTE FUNCTION oscred_notify_principal();
CREATE TRIGGER role_assignments_notify
    AFTER INSERT OR DELETE ON role_assignments
    FOR EACH ROW EXECUTE FUNCTION oscred_notify_principal();

CREATE FUNCTION oscred_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('oscred', 't:' || NEW.token_id || ':' ||
                      (extract(epoch FROM NEW.expires_at) * 1000000)::bigint);
    RETURN NULL;
END $$;

CREATE TRIGGER revoked_tokens_notify
    AFTER INSERT ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION oscred_notify_revoked();
