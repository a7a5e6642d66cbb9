-- The role crier_app is left in place: it belongs to the cluster, and other
-- databases may use it. Its grants on this database's tables are revoked.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM crier_app', current_schema());
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM crier_app', current_schema());
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM crier_app', current_schema());
    END IF;
END
$$;
DROP TRIGGER IF EXISTS audit_log_chain ON audit_log;
DROP FUNCTION IF EXISTS audit_log_chain();
DROP FUNCTION IF EXISTS audit_log_hash(audit_log);
ALTER TABLE audit_log ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE IF EXISTS audit_log_id_seq;
ALTER TABLE audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('audit_log', 'id'), coalesce(max(id), 0) + 1, false) FROM audit_log;
ALTER TABLE audit_log DROP COLUMN IF EXISTS hash, DROP COLUMN IF EXISTS prev_hash, DROP COLUMN IF EXISTS client_request_id;
