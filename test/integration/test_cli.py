"""The command line and the operator contract: configuration errors name the variable, `version`,
concurrent `migrate` under its advisory lock, and /readyz refusing a schema behind the binary."""
import concurrent.futures
import os
import re
import subprocess

import pytest

import client
import harness


@pytest.fixture(scope="module")
def stack():
    st = harness.Stack("cli").setup()
    yield st
    problems = st.teardown()
    assert not problems, problems


def test_version_prints_the_version(stack):
    r = stack.cli("version")
    assert re.match(r"^oscred \d+\.\d+\.\d+ \(commit [^)]+\)$", r.stdout.strip()), r.stdout


@pytest.mark.parametrize("var,value,command", [
    ("OSCRED_DATABASE_URL", "", "serve"),
    ("OSCRED_KEYS_FILE", "", "serve"),
    ("OSCRED_LISTEN", "no-port", "serve"),
    ("OSCRED_TOKEN_TTL", "soon", "serve"),
    ("OSCRED_DATABASE_PREPARED", "maybe", "serve"),
    ("OSCRED_LOG_LEVEL", "loud", "migrate"),
    ("OSCRED_BOOTSTRAP_PASSWORD", "", "bootstrap"),
])
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(stack, var, value, command):
    r = stack.cli(command, check=False, **{var: value})
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and var in lines[0], r.stderr


@pytest.mark.parametrize("var,value,secret,commands", [
    ("OSCRED_DATABASE_URL", "postgresql://oscred:pa%zzss@127.0.0.1/oscred", "zzss", ("serve", "migrate")),
    ("OSCRED_DATABASE_LISTEN_URL", "host=127.0.0.1 password=hunter two", "two", ("serve",)),
], ids=["uri_with_a_raw_percent", "keywords_with_a_space"])
def test_a_connection_string_libpq_cannot_read_is_refused_without_quoting_it(stack, var, value, secret, commands):
    """libpq's own complaint quotes what it could not read, here part of the password: oscred refuses the
    setting at start-up, naming the variable and not its value."""
    for command in commands:
        r = stack.cli(command, check=False, **{var: value})
        assert r.returncode == 2, (command, r.returncode, r.stdout, r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and var in lines[0], r.stderr
        assert secret not in r.stdout + r.stderr, r.stderr


def test_a_bad_listen_url_concerns_serve_only(stack):
    """OSCRED_DATABASE_LISTEN_URL is serve's alone: migrate, which never listens, runs with it set to anything."""
    r = stack.cli("migrate", check=False, OSCRED_DATABASE_LISTEN_URL="host=127.0.0.1 password=hunter two")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)


def test_keygen_fails_when_the_key_ring_cannot_be_written(stack):
    """`oscred keygen > keys.json` on a full disk must not exit 0 with an empty file."""
    with open("/dev/full", "w") as full:
        r = subprocess.run([stack.binary, "keygen"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=30,
                           env=stack.env())
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "cannot write the key ring" in r.stderr, r.stderr


def test_an_unreadable_key_ring_stops_serve(stack):
    r = stack.cli("serve", check=False, OSCRED_KEYS_FILE=stack.workdir + "/missing.json")
    assert r.returncode == 2 and "OSCRED_KEYS_FILE" in r.stderr, (r.returncode, r.stderr)


def test_concurrent_migrations_apply_each_version_once(stack):
    stack.pg.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: stack.cli("migrate", check=False), range(4)))
    assert all(r.returncode == 0 for r in results), [(r.returncode, r.stderr) for r in results]
    assert sum("(was 0)" in r.stdout for r in results) == 1, [r.stdout for r in results]
    rows = stack.pg.psql("SELECT version, name FROM schema_migrations ORDER BY version").split()
    assert rows == ["1|init", "2|keys_deleted_with_audit"], rows
    stack.bootstrap("default")
    stack.bootstrap("other")


def test_migrating_a_schema_1_database_keeps_its_keys_and_stops_the_cascade(stack):
    """An existing database at schema 1 (made here from migrations/0001_init.sql as `oscred migrate` of that
    release left it), with a user holding a key: migrating brings it to the binary's level, the key survives,
    and the key's foreign key no longer cascades (migrations/0002_keys_deleted_with_audit.sql)."""
    stack.pg.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    with open(os.path.join(harness.source_root(), "migrations", "0001_init.sql"), encoding="utf-8") as f:
        init = f.read()
    stack.pg.psql("BEGIN; %s; CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                  "applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO schema_migrations (version, name) "
                  "VALUES (1, 'init'); COMMIT" % init)
    d, u, ak = "d" * 32, "e" * 32, "AKUPGRADE00000000001"
    stack.pg.psql("INSERT INTO domains (id, name, account_id) VALUES ('%s', 'up', '100000000099'); "
                  "INSERT INTO principals (id, domain_id, kind, name, key_count) VALUES ('%s', '%s', 'user', 'u', 1); "
                  "INSERT INTO access_keys (access_key, owner_id, kid, sealed) VALUES ('%s', '%s', 'k', '\\x00')"
                  % (d, u, d, ak, u))
    r = stack.cli("migrate")
    assert "(was 1)" in r.stdout, r.stdout
    assert stack.pg.psql("SELECT owner_id FROM access_keys WHERE access_key = '%s'" % ak).strip() == u
    assert stack.pg.psql("SELECT confdeltype FROM pg_constraint WHERE conname = 'access_keys_owner_id_fkey'"
                         ).strip() == "a"  # NO ACTION
    stack.pg.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    stack.cli("migrate")
    stack.bootstrap("default")
    stack.bootstrap("other")


def test_readyz_is_503_while_the_schema_is_behind_the_binary(stack):
    srv = stack.new_server("ready")
    assert client.get(srv.base_url, "/readyz").status_code == 200
    latest = stack.pg.psql("SELECT max(version) FROM schema_migrations").strip()
    stack.pg.psql("UPDATE schema_migrations SET version = -version")
    try:
        r = client.get(srv.base_url, "/readyz")
        assert r.status_code == 503, r.text
        assert r.json()["checks"]["schema"] == "behind"
    finally:
        stack.pg.psql("UPDATE schema_migrations SET version = -version")
    assert stack.pg.psql("SELECT max(version) FROM schema_migrations").strip() == latest
    assert client.get(srv.base_url, "/readyz").status_code == 200
