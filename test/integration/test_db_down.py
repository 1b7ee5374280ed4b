"""PostgreSQL outage: bounded 503s, token validation and /healthz keep working, and the server reconnects by
itself (DESIGN.md: OSCRED_DATABASE_TIMEOUT, tokens verify without the database).

Uses its own PostgreSQL and server so that the outage cannot disturb other tests; conftest runs it last.
The tests run in file order: the last one brings the database back.
"""
import concurrent.futures
import re
import time

import pytest

import client
import harness
import opsutil

DB_TIMEOUT = 2
DEADLINE = DB_TIMEOUT + 2  # the longest a request may take to get its 503
RECOVERY = 30


@pytest.fixture(scope="module")
def outage():
    st = harness.Stack("dbdown", server_env={"OSCRED_DATABASE_TIMEOUT": str(DB_TIMEOUT)})
    try:
        st.setup()
        srv = st.new_server("a")
        base = srv.base_url
        t = st.tenants["default"]
        admin = client.Actor.login(base, t["user"], t["password"], t["domain"])
        name, pw = client.unique_name("dbdown"), client.new_password()
        r = client.create_user(base, admin.token, name, pw)
        assert r.status_code == 201, r.text
        user = r.json()["user"]
        key = client.new_key(base, admin.token, user["id"], description="before outage")
        assert client.get(base, "/readyz").status_code == 200
    except BaseException:
        st.teardown()
        raise
    st.pg.stop()
    yield {"stack": st, "server": srv, "base": base, "admin": admin, "user": user, "password": pw, "key": key}
    problems = st.teardown()
    if problems:
        pytest.fail("sanitizer reports or unclean exits:\n" + "\n".join(problems), pytrace=False)


def _timed(fn):
    t0 = time.monotonic()
    try:
        r = fn()
    except Exception as e:  # a hang past the client timeout is a failure of the bound, report it as such
        raise AssertionError("no answer within %.1fs: %r" % (time.monotonic() - t0, e))
    elapsed = time.monotonic() - t0
    assert elapsed <= DEADLINE, "answered after %.2fs (bound %ds): %d %s" % (elapsed, DEADLINE, r.status_code, r.text)
    return r


def test_credential_requests_get_503_iam_within_the_timeout(outage):
    base, tok, ak, uid = outage["base"], outage["admin"].token, outage["key"]["access"], outage["user"]["id"]
    t = DEADLINE + 5
    calls = [
        lambda: client.request("GET", base, client.CREDS, token=tok, params={"user_id": uid}, timeout=t),
        lambda: client.request("POST", base, client.CREDS, token=tok, json={"credential": {"user_id": uid}}, timeout=t),
        lambda: client.request("GET", base, client.CREDS + "/" + ak, token=tok, timeout=t),
        lambda: client.request("PUT", base, client.CREDS + "/" + ak, token=tok,
                               json={"credential": {"status": "inactive", "description": "during outage"}},
                               timeout=t),
        lambda: client.request("DELETE", base, client.CREDS + "/" + ak, token=tok, timeout=t),
    ]
    for call in calls:
        client.assert_iam_error(_timed(call), 503, codes=("IAM.0006",))


def test_keystone_requests_that_need_the_database_get_503(outage):
    base, admin = outage["base"], outage["admin"]
    t = DEADLINE + 5
    body = client.password_auth(outage["password"], name=outage["user"]["name"], domain_name=admin.domain_name)
    calls = [
        lambda: client.request("POST", base, client.TOKENS, json=body, timeout=t),
        lambda: client.request("GET", base, "/v3/users", token=admin.token, timeout=t),
        lambda: client.request("POST", base, "/v3/users", token=admin.token,
                               json={"user": {"name": client.unique_name("outage"), "password": "x" * 12}},
                               timeout=t),
    ]
    for call in calls:
        r = _timed(call)
        client.assert_keystone_error(r, 503)
        assert "X-Subject-Token" not in r.headers


def test_token_validation_works_without_the_database(outage):
    base, admin = outage["base"], outage["admin"]
    r = _timed(lambda: client.validate_token(base, admin.token, admin.token))
    assert r.status_code == 200, r.text
    assert r.json()["token"]["user"]["id"] == admin.id
    r = _timed(lambda: client.validate_token(base, admin.token, admin.token, method="HEAD"))
    assert r.status_code == 200


def test_healthz_stays_200(outage):
    for _ in range(3):
        r = _timed(lambda: client.get(outage["base"], "/healthz", timeout=DEADLINE + 5))
        assert r.status_code == 200, r.text


def test_readyz_reports_not_ready(outage):
    harness.wait_until(lambda: client.get(outage["base"], "/readyz", timeout=DEADLINE + 5).status_code == 503,
                       timeout=DEADLINE, what="/readyz 503 while PostgreSQL is down")


def _statement_failures(srv):
    return [rec for rec in opsutil.log_records(srv)[0] if rec.get("event") == "db.statement_failed"]


def _unavailable_errors(base):
    text = client.get(base, "/metrics", timeout=10).text
    m = re.search(r'^oscred_db_errors_total\{kind="unavailable"\} (\d+)$', text, re.M)
    assert m, text
    return int(m.group(1))


def test_failures_at_full_rate_get_a_log_line_a_second_each_counted_in_metrics(outage):
    """Every request that needs the database fails during an outage, thousands a second at full load: the log gets
    one db.statement_failed line a second at most, saying how many failures it stands for ("suppressed"), while
    the metric and the access log count every one."""
    base, srv, tok, uid = outage["base"], outage["server"], outage["admin"].token, outage["user"]["id"]
    lines_before = len(_statement_failures(srv))
    errors_before = _unavailable_errors(base)
    sent = 0
    t0 = time.monotonic()
    # Until a line says it stands for earlier failures too: that takes a second's worth of them.
    while not any(int(line.get("suppressed", 0)) for line in _statement_failures(srv)[lines_before:]):
        assert time.monotonic() - t0 < 3 * DEADLINE, "no line with a count of suppressed failures"
        for _ in range(20):
            r = client.request("GET", base, client.CREDS, token=tok, params={"user_id": uid}, timeout=DEADLINE + 5)
            client.assert_iam_error(r, 503, codes=("IAM.0006",))
            sent += 1
    elapsed = time.monotonic() - t0
    new = _statement_failures(srv)[lines_before:]
    assert len(new) <= elapsed + 2, "%d lines for %d failures in %.1fs" % (len(new), sent, elapsed)
    assert len(new) < sent / 2, "%d lines for %d failures" % (len(new), sent)
    assert all(line["level"] == "warn" and line["error"] for line in new), new
    assert _unavailable_errors(base) - errors_before >= sent
    assert opsutil.count_log(srv, lambda rec: rec.get("status") == 503) >= sent  # the access log has each request


def test_server_reconnects_when_the_database_returns(outage):
    base, admin, uid, key = outage["base"], outage["admin"], outage["user"]["id"], outage["key"]
    outage["stack"].pg.start()

    def answers():
        return client.list_credentials(base, admin.token, uid).status_code == 200

    harness.wait_until(answers, timeout=RECOVERY, interval=0.2, what="credential listing after PostgreSQL restart")
    # Nothing attempted during the outage took effect.
    assert client.key_snapshot(base, admin.token, uid) == [(key["access"], "active", "before outage")]
    # Writes, logins and user reads work again.
    client.new_key(base, admin.token, uid, description="after outage")
    assert client.login(base, outage["user"]["name"], outage["password"], admin.domain_name)
    assert client.get_user(base, admin.token, uid).status_code == 200
    harness.wait_until(lambda: client.get(base, "/readyz").status_code == 200, timeout=RECOVERY,
                       what="/readyz 200 after PostgreSQL restart")
    assert outage["server"].running


def test_database_errors_are_counted_in_metrics(outage):
    """The outage's 503s show up as oscred_db_errors_total{kind="unavailable"} (issue: query errors metric)."""
    text = client.get(outage["base"], "/metrics", timeout=10).text
    m = re.search(r'^oscred_db_errors_total\{kind="unavailable"\} (\d+)$', text, re.M)
    assert m, text
    assert int(m.group(1)) > 0


def test_a_restart_costs_no_request_a_503(outage):
    """Once PostgreSQL is back, the pool's connections to the old server are replaced before a statement is sent
    on them: no request fails for them, writes included (they are not retried)."""
    st, base, admin, uid, key = (outage["stack"], outage["base"], outage["admin"], outage["user"]["id"],
                                 outage["key"])

    def burst_served():
        """Several pooled connections in use at once (slots still backing off from the outage above may
        answer 503 for a moment: that is not what this test is about)."""
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda _: client.list_credentials(base, admin.token, uid).status_code,
                                  range(64)))
        return all(c == 200 for c in codes)

    harness.wait_until(burst_served, timeout=RECOVERY, interval=0.5, what="a burst of requests all served")
    opened = int(st.pg.psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND "
                            "application_name <> 'oscred-listener' AND pid <> pg_backend_pid()"))
    assert opened >= 2, "the pool kept only %d connections open" % opened
    st.pg.stop()
    st.pg.start()
    answers = []
    for i in range(2 * opened):
        answers.append(client.update_credential(base, admin.token, key["access"], description="restart %d" % i))
        answers.append(client.list_credentials(base, admin.token, uid))
    assert [r.status_code for r in answers] == [200] * len(answers), [(r.status_code, r.text) for r in answers]
