"""JSON log lines on stdout (issue item 3; notes/ecosystem.md §2 "Logs", "Request ids").

Dedicated servers on the shared database, each with its own stdout file, so every line read here is theirs.
"""
import base64
import re
import signal

import pytest

import client
import opsutil

DURATION_KEYS = ("duration_ms", "dur_ms", "duration_s", "duration_seconds", "duration")
CALLER_KEYS = ("caller_id", "user_id", "principal_id")


def _one(rec, keys, what):
    found = [k for k in keys if k in rec]
    assert found, "access line without %s (looked for %s): %s" % (what, "/".join(keys), rec)
    return rec[found[0]]


@pytest.fixture(scope="module")
def info_srv(stack):
    srv = stack.new_server("logs-info", OSCRED_LOG_LEVEL="info")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def user(info_srv, stack):
    """A user with a token and one access key, made through the info-level server."""
    base = info_srv.base_url
    t = stack.tenants["default"]
    admin = client.Actor.login(base, t["user"], t["password"], t["domain"])
    name, pw = client.unique_name("logs"), client.new_password()
    r = client.create_user(base, admin.token, name, pw)
    assert r.status_code == 201, r.text
    actor = client.Actor.login(base, name, pw, t["domain"])
    key = client.new_key(base, actor.token, actor.id, description="logs")
    return {"actor": actor, "key": key, "admin": admin}


def test_one_json_access_line_per_request_with_its_fields(info_srv, user):
    base, actor, key = info_srv.base_url, user["actor"], user["key"]
    ak = key["access"]
    made = [  # (response, expected route template, expected caller id or None)
        (client.show_credential(base, actor.token, ak), client.CREDS + "/{access_key}", actor.id),
        (client.list_credentials(base, actor.token), client.CREDS, actor.id),
        (opsutil.sdk_show(base, ak, key["secret"]), client.CREDS + "/{access_key}", actor.id),
        (client.show_credential(base, actor.token, "NOSUCHKEY00000000000"), client.CREDS + "/{access_key}",
         actor.id),
        (client.show_credential(base, "not-a-token", ak), client.CREDS + "/{access_key}", None),
        (client.get_user(base, user["admin"].token, actor.id), "/v3/users/{user_id}", user["admin"].id),
    ]
    ids = [r.headers["X-Request-Id"] for r, _, _ in made]
    assert len(set(ids)) == len(ids), ids
    opsutil.wait_for_log(info_srv, lambda rec: rec.get("request_id") == ids[-1], timeout=5,
                         what="the access line of the last request")
    records, bad = opsutil.log_records(info_srv)
    assert not bad, "stdout lines that are not JSON objects: %s" % bad[:3]
    for r, template, caller in made:
        rid = r.headers["X-Request-Id"]
        lines = [rec for rec in records if rec.get("request_id") == rid]
        assert len(lines) == 1, "%d log lines for %s %s (%s): %s" % (len(lines), r.request.method,
                                                                     r.request.path_url, rid, lines)
        rec = lines[0]
        assert rec.get("event") == "request" and rec.get("level") == "info", rec
        assert rec.get("ts"), rec
        assert rec.get("method") == r.request.method, rec
        route = re.sub(r":([A-Za-z_]+)", r"{\1}", rec.get("route", ""))
        assert route == template, "route %r is not the template %r: %s" % (rec.get("route"), template, rec)
        assert ak not in rec["route"] and actor.id not in rec["route"], rec
        assert rec.get("status") == r.status_code, rec
        duration = _one(rec, DURATION_KEYS, "a duration")
        assert isinstance(duration, (int, float)) and duration >= 0, rec
        assert rec.get("remote") == "127.0.0.1", rec
        if caller is None:
            assert not any(rec.get(k) for k in CALLER_KEYS), "refused request logged with a caller: %s" % rec
        else:
            assert _one(rec, CALLER_KEYS, "the caller id") == caller, rec


def test_request_id_header_is_in_the_error_body_and_the_log(info_srv, user):
    r = client.show_credential(info_srv.base_url, user["actor"].token, "NOSUCHKEY00000000001")
    body = client.assert_iam_error(r, 404)
    rec = opsutil.wait_for_log(info_srv, lambda x: x.get("request_id") == body["request_id"], timeout=5,
                               what="the access line of the 404")
    assert rec["request_id"] == r.headers["X-Request-Id"]


def test_start_up_and_shutdown_are_logged(server_factory):
    srv = server_factory("logs-life", OSCRED_LOG_LEVEL="info")
    started = opsutil.wait_for_log(srv, lambda rec: "start" in str(rec.get("event", "")), timeout=5,
                                   what="a start-up line")
    assert started.get("level") == "info" and started.get("ts"), started
    assert srv.stop(signal.SIGTERM) == 0, srv.log_tail()
    records, bad = opsutil.log_records(srv)
    assert not bad, bad[:3]
    events = [str(rec.get("event", "")) for rec in records]
    start_at = events.index(started["event"])
    assert any(re.search(r"stop|shut", e) for e in events[start_at + 1:]), \
        "no shutdown line after SIGTERM; events: %s" % events


def test_log_level_warn_suppresses_request_lines(server_factory, stack, user):
    srv = server_factory("logs-warn", OSCRED_LOG_LEVEL="warn")
    base, actor, key = srv.base_url, user["actor"], user["key"]
    assert client.show_credential(base, actor.token, key["access"]).status_code == 200
    assert client.show_credential(base, "not-a-token", key["access"]).status_code == 401
    assert client.get(base, "/v3/nothing-here").status_code == 404
    assert opsutil.sdk_show(base, key["access"], key["secret"]).status_code == 200
    assert srv.stop(signal.SIGTERM) == 0, srv.log_tail()  # every line is written by now
    records, bad = opsutil.log_records(srv)
    assert not bad, bad[:3]
    assert not [rec for rec in records if rec.get("event") == "request"], records
    assert all(rec.get("level") in ("warn", "error") for rec in records), records


# -- the secret sweep ---------------------------------------------------------------------------------------------

def _forms(value):
    raw = value.encode()
    return {value, raw.hex(), base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def _leaks(text, values):
    return sorted({v for v in values if any(f in text for f in _forms(v))})


@pytest.fixture(scope="module")
def sweep(stack):
    """A debug-level server (the most verbose) driven through every path that carries a secret."""
    srv = stack.new_server("logs-sweep", OSCRED_LOG_LEVEL="debug")
    base = srv.base_url
    t = stack.tenants["default"]
    admin = client.Actor.login(base, t["user"], t["password"], t["domain"])
    name, pw = client.unique_name("sweep"), client.new_password()
    r = client.create_user(base, admin.token, name, pw)
    assert r.status_code == 201, r.text
    uid = r.json()["user"]["id"]
    token = client.login(base, name, pw, t["domain"])
    keys = [client.new_key(base, token, uid, description="sweep %d" % i) for i in range(2)]
    new_pw = client.new_password()
    assert client.update_user(base, admin.token, uid, password=new_pw).status_code == 200
    token2 = client.login(base, name, new_pw, t["domain"])
    unscoped = client.login(base, name, new_pw, t["domain"], scoped=False)
    wrong = client.new_password()
    assert client.issue_token(base, client.password_auth(wrong, name=name, domain_name=t["domain"])).status_code == 401
    # Tokens in X-Subject-Token (validate, revoke) and X-Auth-Token.
    assert client.validate_token(base, token2, unscoped).status_code == 200
    assert client.revoke_token(base, token2, unscoped).status_code == 204
    assert client.validate_token(base, token2, unscoped).status_code == 404
    # SDK-HMAC: good, tampered, and a signed update with a body.
    ak, sk = keys[0]["access"], keys[0]["secret"]
    assert opsutil.sdk_show(base, ak, sk).status_code == 200
    assert opsutil.sdk_show(base, ak, sk, tamper=True).status_code == 401
    r = opsutil.sdk_request("PUT", base, client.CREDS + "/" + keys[1]["access"], ak, sk,
                            json_body={"credential": {"status": "inactive", "description": "swept"}})
    assert r.status_code == 200, r.text
    assert opsutil.sdk_show(base, keys[1]["access"], keys[1]["secret"]).status_code == 401  # inactive key
    # SigV4: good, wrong secret, and CreateAccessKey, whose response carries a new secret.
    assert opsutil.sigv4_request(base, ak, sk, "ListAccessKeys").status_code == 200
    assert opsutil.sigv4_request(base, ak, sk, "ListAccessKeys", secret_for_signing="z" * 40).status_code == 403
    assert client.delete_credential(base, token2, keys[1]["access"]).status_code == 204
    r = opsutil.sigv4_request(base, ak, sk, "CreateAccessKey")
    assert r.status_code == 200, r.text
    m = re.search(r"<SecretAccessKey>([A-Za-z0-9]{40})</SecretAccessKey>", r.text)
    assert m, r.text
    aws_secret = client.remember_secret(m.group(1))
    srv.stop()  # every line is written
    return {"server": srv, "passwords": {pw, new_pw, wrong}, "secrets": {k["secret"] for k in keys} | {aws_secret},
            "tokens": {token, unscoped, token2, admin.token}}


def test_sweep_logged_its_requests(sweep):
    assert len(opsutil.request_records(sweep["server"])) >= 15, "the sweep's access lines are missing"


def test_no_secret_key_or_password_in_any_log_line(sweep, stack):
    text = sweep["server"].log + stack.log_text()
    values = sweep["passwords"] | sweep["secrets"] | set(client.SECRETS_SEEN)
    assert not _leaks(text, values), "secret keys or passwords in logs: %s" % _leaks(text, values)


def test_no_token_in_any_log_line(sweep, stack):
    text = sweep["server"].log + stack.log_text()
    tokens = sweep["tokens"] | set(client.TOKENS_SEEN)
    leaked = [t for t in tokens if t in text]
    assert not leaked, "tokens in logs: %s" % leaked[:3]


def test_no_authorization_header_or_signature_in_any_log_line(sweep, stack):
    text = sweep["server"].log + stack.log_text()
    assert opsutil.SIGNATURES_SEEN and opsutil.AUTHORIZATIONS_SEEN
    leaked = [a for a in opsutil.AUTHORIZATIONS_SEEN if a in text]
    assert not leaked, "Authorization values in logs: %s" % leaked[:2]
    leaked = [s for s in opsutil.SIGNATURES_SEEN | {"0" * 64, "1" * 64} if s in text]
    assert not leaked, "signatures (sent or expected) in logs: %s" % leaked[:3]
    assert "SDK-HMAC-SHA256 Access=" not in text and "AWS4-HMAC-SHA256 Credential=" not in text
