-- Creates or updates the "monitor" role postgres_exporter logs in as: LOGIN and the pg_monitor role only,
-- no superuser. Written by cook; the password is a SCRAM-SHA-256 verifier.
DO $cook$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'monitor') THEN
    ALTER ROLE monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD 'SCRAM-SHA-256$4096:qJrHik5QFVgzHxC4ovO+0A==$//gvtImlO6jPUBEQnF/BvLQ0WJhlumvgdXff8BMH5Dg=:oW5gpbLdJlLf1urbC4QCEJbtsVtvsOR52n9dbCoWju8=';
  ELSE
    CREATE ROLE monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD 'SCRAM-SHA-256$4096:qJrHik5QFVgzHxC4ovO+0A==$//gvtImlO6jPUBEQnF/BvLQ0WJhlumvgdXff8BMH5Dg=:oW5gpbLdJlLf1urbC4QCEJbtsVtvsOR52n9dbCoWju8=';
  END IF;
END
$cook$;
GRANT pg_monitor TO monitor;
