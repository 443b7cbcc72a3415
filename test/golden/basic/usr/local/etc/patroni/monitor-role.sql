-- Creates or updates the "monitor" role postgres_exporter logs in as: LOGIN and the pg_monitor role only,
-- no superuser. Written by cook; the password is a SCRAM-SHA-256 verifier.
DO $cook$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'monitor') THEN
    ALTER ROLE monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD 'SCRAM-SHA-256$4096:qJrHik5QFVgzHxC4ovO+0A==$//gvtImlO6jPUBEQnF/BvLQ0WJhlumvgdXff8BMH5Dg=:oW5gpbLdJlLf1urbC4QCEJbtsVtvsOR52n9dbCoWju8=';
  ELSE
    CREATE ROLE monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD 'SCRAM-SHA-256$4096:qJrHik5QFVgzHxC4ovO+0A==$//gvtImlO6jPUBEQnF/BvLQ0WJhlumvgdXff8BMH5Dg=:oW5gpbLdJlLf1urbC4QCEJbtsVtvsOR52n9dbCoWju8=';
  END IF;
  -- Granted once: a second GRANT would only print a NOTICE (post-bootstrap runs quietly).
  IF NOT EXISTS (
    SELECT FROM pg_catalog.pg_auth_members m
      JOIN pg_catalog.pg_roles r ON r.oid = m.member
      JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
    WHERE r.rolname = 'monitor' AND g.rolname = 'pg_monitor'
  ) THEN
    GRANT pg_monitor TO monitor;
  END IF;
END
$cook$;
