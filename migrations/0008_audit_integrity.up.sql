-- Audit integrity: Crier's own request ids, a hash chain over the log, and an
-- application role that can only append to it.

-- request_id is now the id Crier gave the request (the X-Request-Id it
-- answered); client_request_id is the X-Request-Id the client sent, if any,
-- kept only as a hint (any client can send any value).
ALTER TABLE audit_log ADD COLUMN client_request_id text;

-- The chain: each entry holds the hash of the entry before it (NULL for the
-- first) and its own, sha256(prev_hash || the canonical encoding of the
-- entry). `crier audit verify` recomputes it in id order.
ALTER TABLE audit_log ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;

-- audit_log_hash is the one definition of an entry's hash: the insert trigger
-- and `crier audit verify` both call it, so they cannot disagree. The encoding
-- is a JSON array of every column but the hashes, as jsonb prints it (one
-- canonical text for a value), with occurred_at in UTC to the microsecond
-- whatever the session's time zone.
CREATE FUNCTION audit_log_hash(a audit_log) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(coalesce(a.prev_hash, '\x'::bytea) || convert_to(jsonb_build_array(
        a.id, to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        a.actor_id, a.actor_name, a.actor_roles, a.action, a.target_type, a.target_id,
        a.request_id, a.client_request_id, a.before, a.after, a.detail)::text, 'UTF8'))
$$;

-- Ids are given by the trigger, under the chain's lock, so that id order is
-- chain order: an identity column would number an entry before its
-- transaction waits for the lock, and a later id could then link first.
ALTER TABLE audit_log ALTER COLUMN id DROP IDENTITY IF EXISTS;
CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
SELECT setval('audit_log_id_seq', coalesce(max(id), 0) + 1, false) FROM audit_log;

-- audit_log_chain links every new entry to the newest one, whoever inserts
-- it: the values an INSERT gives for id, prev_hash and hash are replaced.
-- The transaction-scoped advisory lock (keys 'crie', 'audt') serialises
-- inserts until commit, so the chain stays linear; it is taken last in every
-- transaction that records a change, and released at its commit or rollback.
-- Under REPEATABLE READ or SERIALIZABLE the newest entry committed after the
-- transaction's snapshot would be invisible and the chain would fork, so
-- those are refused.
CREATE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit_log entries are recorded under READ COMMITTED only, not %',
            upper(current_setting('transaction_isolation'));
    END IF;
    PERFORM pg_advisory_xact_lock(1668442469, 1635083380);
    NEW.id := nextval('audit_log_id_seq');
    SELECT hash INTO NEW.prev_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.hash := audit_log_hash(NEW);
    RETURN NEW;
END
$$;

-- Chain the entries recorded before this migration, in id order.
DO $$
DECLARE
    e    audit_log;
    prev bytea;
BEGIN
    FOR e IN SELECT * FROM audit_log ORDER BY id LOOP
        e.prev_hash := prev;
        prev := audit_log_hash(e);
        UPDATE audit_log SET prev_hash = e.prev_hash, hash = prev WHERE id = e.id;
    END LOOP;
END
$$;

ALTER TABLE audit_log ALTER COLUMN hash SET NOT NULL;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

-- crier_app is the role Crier's processes (api, worker, relay) work as: in
-- production they log in as a role that is a member of it, and only
-- `crier migrate` runs as the tables' owner. It may read and write every
-- table, but only append to audit_log and only read schema_migrations.
-- Every later migration that creates a table grants it to crier_app in the
-- same file (and a sequence it uses: USAGE).
--
-- The role is created when missing, which needs CREATEROLE; where the
-- migrating role lacks it, a database administrator creates crier_app
-- (NOLOGIN) first. Roles belong to the cluster, so databases migrating at
-- once may race to create it: the loser finds it made.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        BEGIN
            CREATE ROLE crier_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO crier_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO crier_app', current_schema());
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO crier_app', current_schema());
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM crier_app;
    END IF;
END
$$;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM crier_app;
