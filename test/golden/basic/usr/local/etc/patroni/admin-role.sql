-- Creates or updates the "admin" role. Written by cook; the password is a SCRAM-SHA-256 verifier.
DO $cook$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'admin') THEN
    ALTER ROLE admin WITH LOGIN CREATEDB NOSUPERUSER PASSWORD 'SCRAM-SHA-256$4096:Hy+HC0kj78JPhCEhQiR+vA==$ZvGU7+4iI/jS+suYwHH7BaQ/j+OtrYXL+BTPNUySI+c=:usvO8LsTONJrBWbXUbdXpTsGRmCgCrOCf2MZRzpHuk8=';
  ELSE
    CREATE ROLE admin WITH LOGIN CREATEDB NOSUPERUSER PASSWORD 'SCRAM-SHA-256$4096:Hy+HC0kj78JPhCEhQiR+vA==$ZvGU7+4iI/jS+suYwHH7BaQ/j+OtrYXL+BTPNUySI+c=:usvO8LsTONJrBWbXUbdXpTsGRmCgCrOCf2MZRzpHuk8=';
  END IF;
  -- Up to PostgreSQL 15, CREATEROLE lets a role grant itself any role but a superuser, among them
  -- pg_execute_server_program: a shell as the postgres user. 16 confines it to the roles it creates.
  IF pg_catalog.current_setting('server_version_num')::int >= 160000 THEN
    ALTER ROLE admin WITH CREATEROLE;
  ELSE
    ALTER ROLE admin WITH NOCREATEROLE;
  END IF;
END
$cook$;
