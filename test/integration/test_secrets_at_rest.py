"""No plaintext secret keys or passwords at rest or in logs (DESIGN.md: a full pg_dump and every log line).

This module runs after the others (conftest orders it), so the scans cover every secret key and password the
session created or sent, plus the ones made here.
"""
import base64

import pytest

import client
import opsutil


def _encodings(secret):
    """The secret as text, and the ways a careless store would hold its bytes (bytea hex, base64)."""
    raw = secret.encode()
    return {
        "plain": secret,
        "hex": raw.hex(),
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def _leaks(text, secrets):
    found = []
    for s in sorted(secrets):
        for how, enc in _encodings(s).items():
            if enc in text:
                found.append("%s (%s)" % (s, how))
    return found


@pytest.fixture(scope="module")
def fresh_secrets(base, admin, server):
    """Users, passwords and keys made just for this scan (created, used, changed)."""
    name, pw = client.unique_name("atrest"), client.new_password()
    r = client.create_user(base, admin.token, name, pw)
    assert r.status_code == 201, r.text
    uid = r.json()["user"]["id"]
    token = client.login(base, name, pw, admin.domain_name)
    keys = [client.new_key(base, token, uid, description="at rest %d" % i) for i in range(2)]
    assert client.update_credential(base, token, keys[0]["access"], status="inactive").status_code == 200
    new_pw = client.new_password()
    assert client.update_user(base, admin.token, uid, password=new_pw).status_code == 200
    client.login(base, name, new_pw, admin.domain_name)
    # A failed login with a wrong password must not log the attempted password either.
    wrong = client.new_password()
    r = client.issue_token(base, client.password_auth(wrong, name=name, domain_name=admin.domain_name))
    assert r.status_code == 401
    return {"passwords": {pw, new_pw, wrong}, "secrets": {k["secret"] for k in keys}}


def _all_secrets(stack, fresh):
    bootstrap = {t["password"] for t in stack.tenants.values()}
    return set(client.SECRETS_SEEN) | fresh["passwords"] | fresh["secrets"] | bootstrap


def test_scan_covers_keys_and_passwords(stack, fresh_secrets):
    everything = _all_secrets(stack, fresh_secrets)
    assert any(client.SK_RE.match(s) for s in everything)
    assert fresh_secrets["passwords"] <= everything


def test_pg_dump_holds_no_secret_key_or_password(stack, fresh_secrets):
    dump = stack.pg.dump()
    assert "CREATE TABLE" in dump and "access_keys" in dump  # it is the real database
    leaks = _leaks(dump, _all_secrets(stack, fresh_secrets))
    assert not leaks, "plaintext secrets in pg_dump: %s" % leaks


def test_the_dump_holds_the_access_keys_so_the_scan_is_meaningful(stack, fresh_secrets):
    """AKs are identifiers, stored in clear: finding them proves the dump contains the key rows."""
    dump = stack.pg.dump()
    stored = stack.pg.psql("SELECT access_key FROM access_keys").split()
    assert len(stored) >= 2
    assert all(ak in dump for ak in stored)


def test_logs_hold_no_secret_key_or_password(stack, fresh_secrets):
    logs = stack.log_text()
    assert logs.strip(), "no server output at all: is OSCRED_LOG_LEVEL=debug honoured?"
    leaks = _leaks(logs, _all_secrets(stack, fresh_secrets))
    assert not leaks, "plaintext secrets in oscred logs: %s" % leaks


def test_logs_and_database_hold_no_bearer_token(stack, fresh_secrets):
    tokens = set(client.TOKENS_SEEN)
    assert tokens
    logs = stack.log_text()
    leaked = [t for t in tokens if t in logs]
    assert not leaked, "tokens in oscred logs: %s" % leaked[:3]
    dump = stack.pg.dump()
    leaked = [t for t in tokens if t in dump]
    assert not leaked, "tokens in pg_dump: %s" % leaked[:3]


def test_a_key_whose_secret_cannot_be_opened_is_a_bare_500_and_rotate_secrets_says_so(stack, base, admin, server,
                                                                                       make_user):
    """A key sealed under a kid the ring does not hold (a ring that lost a key; here the row says so): requests
    signed with it get each surface's plain 500, with nothing of the cause; the log names the key and the kid;
    rotate-secrets reports the key and exits 1, changing nothing."""
    u = make_user()
    k = client.new_key(base, admin.token, u.id)
    stack.pg.psql("UPDATE access_keys SET kid = 'lostkid' WHERE access_key = '%s'" % k["access"])
    try:
        body = client.assert_iam_error(opsutil.sdk_show(base, k["access"], k["secret"]), 500, codes=("IAM.0006",))
        assert "lostkid" not in body["error_msg"], body
        r = opsutil.sigv4_request(base, k["access"], k["secret"], "ListAccessKeys")
        assert r.status_code == 500 and "<Code>ServiceFailure</Code>" in r.text, r.text
        assert "lostkid" not in r.text, r.text
        opsutil.wait_for_log(server, lambda rec: rec.get("event") == "signing.secret_unavailable"
                             and rec.get("access_key") == k["access"] and rec.get("kid") == "lostkid", 10,
                             "the log line naming the key")
        r = stack.cli("rotate-secrets", check=False)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert "sealed under a key the ring no longer holds" in r.stderr, r.stderr
        assert any('"rotate.cannot_open"' in line and k["access"] in line for line in r.stdout.splitlines()), r.stdout
        assert stack.pg.psql("SELECT kid FROM access_keys WHERE access_key = '%s'" % k["access"]).strip() == "lostkid"
    finally:
        assert client.delete_credential(base, admin.token, k["access"]).status_code == 204
