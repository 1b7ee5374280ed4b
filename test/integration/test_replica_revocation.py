"""Two `oscred serve` processes on one database agree on what is revoked (DESIGN.md "Authorization", "Keys, tokens,
passwords", "Tests that prove, not pretend"):

- signed requests read their key from PostgreSQL on every request, so a key deactivated or deleted on replica A (or
  whose owner is disabled or deleted there) is refused on replica B by the very next request: no polling;
- tokens verify against each replica's principal cache, kept current through LISTEN/NOTIFY, so a user disabled or
  deleted on A has its token refused on B within one second. The deadline is measured from the moment A's 2xx
  arrived and is not widened for the sanitizer build: a notification takes milliseconds to arrive.

Service accounts have no tokens (DESIGN.md model), so for them only their keys are checked.
"""
import os
import signal
import time

import pytest

import client
import harness
import opsutil
import sa_client as sc
from realclients import MSG_BAD_TOKEN, Key, new_principal, poll

TOKEN_DEADLINE = 1.0  # seconds from the 2xx on replica A
KNOWN_DEADLINE = 1.5  # a user created on A reaching B's cache, only to set the stage (test_tokens.py uses 1.5 too)


@pytest.fixture
def replicas(base, second_server):
    return base, second_server.base_url


def _sigv4(b, key):
    return sc.aws_query(b, key, "ListAccessKeys")


def _sdk(b, key):
    return opsutil.sdk_request("GET", b, client.CREDS, key.access, key.secret)


def assert_key_works(b, key):
    _sigv4(b, key).ok()
    r = _sdk(b, key)
    assert r.status_code == 200, r.text


def assert_key_refused(b, key):
    """Both schemes refuse the key, each in its own words (DESIGN.md: 401 APIGW.0301; InvalidClientTokenId)."""
    _sigv4(b, key).fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    client.assert_aksk_refused(_sdk(b, key))


def _known_on(b, token):
    t0 = time.monotonic()
    while not client.token_works(b, token):
        assert time.monotonic() - t0 < KNOWN_DEADLINE, "token never accepted on the second replica"
        time.sleep(0.02)


def refused_within(b, token, t_ok, deadline=TOKEN_DEADLINE):
    """Polls `token` on b until it is refused; fails if that takes longer than `deadline` after t_ok (the
    monotonic time A's 2xx arrived). Returns the delay. Once refused, it stays refused."""
    while client.token_works(b, token):
        waited = time.monotonic() - t_ok
        assert waited < deadline, "token still accepted on the second replica %.3fs after the change" % waited
        time.sleep(0.01)
    delay = time.monotonic() - t_ok
    for _ in range(3):
        assert not client.token_works(b, token)
    return delay


def _user_with_key(base, admin):
    p = new_principal(base, admin, prefix="repl")
    return p.actor, p.key


# -- keys: refused at once ---------------------------------------------------------------------------------------

def test_key_deactivated_on_one_replica_is_refused_on_the_other_at_once(replicas, admin):
    a, b = replicas
    u, key = _user_with_key(a, admin)
    assert_key_works(b, key)

    r = client.update_credential(a, admin.token, key.access, status="inactive")
    assert r.status_code == 200, r.text
    assert_key_refused(b, key)
    assert_key_refused(a, key)

    # Re-activation is seen at once too, and so is a key deactivating itself (through SigV4, on A).
    r = client.update_credential(a, admin.token, key.access, status="active")
    assert r.status_code == 200, r.text
    assert_key_works(b, key)
    sc.aws_query(a, key, "UpdateAccessKey", {"AccessKeyId": key.access, "Status": "Inactive"}).ok()
    assert_key_refused(b, key)

    # A key deactivated by SDK-HMAC on B is refused on A.
    c = client.new_key(a, admin.token, u.id)
    other = Key(c["access"], c["secret"], u.name, u.id)
    assert_key_works(a, other)
    r = opsutil.sdk_request("PUT", b, client.CREDS + "/" + other.access, other.access, other.secret,
                            json_body={"credential": {"status": "inactive"}})
    assert r.status_code == 200, r.text
    assert_key_refused(a, other)
    # Tokens are independent of keys (huawei-keystone.md §5.7).
    assert client.token_works(b, u.token)


def test_key_deleted_on_one_replica_is_refused_on_the_other_at_once(replicas, admin):
    a, b = replicas
    _, key = _user_with_key(a, admin)
    assert_key_works(b, key)
    assert client.delete_credential(a, admin.token, key.access).status_code == 204
    assert_key_refused(b, key)


# -- users: keys at once, tokens within a second --------------------------------------------------------------------

def test_user_deleted_on_one_replica_token_and_keys_refused_on_the_other(replicas, admin):
    a, b = replicas
    u, key = _user_with_key(a, admin)
    _known_on(b, u.token)
    assert_key_works(b, key)

    r = client.delete_user(a, admin.token, u.id)
    t_ok = time.monotonic()
    assert r.status_code == 204, r.text
    refused_within(b, u.token, t_ok)
    assert_key_refused(b, key)
    assert not client.token_works(a, u.token)
    # Gone on both: the admin's token on B cannot find the user.
    client.assert_keystone_error(client.get_user(b, admin.token, u.id), 404)


def test_user_disabled_on_one_replica_token_and_keys_refused_on_the_other(replicas, admin):
    a, b = replicas
    u, key = _user_with_key(a, admin)
    _known_on(b, u.token)
    assert_key_works(b, key)

    r = client.update_user(a, admin.token, u.id, enabled=False)
    t_ok = time.monotonic()
    assert r.status_code == 200, r.text
    assert_key_refused(b, key)  # the key's owner is read with the key: refused by the first request
    refused_within(b, u.token, t_ok)

    # Enabling again on B brings the key back at once and the old token back on A (it was not revoked).
    r = client.update_user(b, admin.token, u.id, enabled=True)
    t_ok = time.monotonic()
    assert r.status_code == 200, r.text
    assert_key_works(a, key)
    while not client.token_works(a, u.token):
        assert time.monotonic() - t_ok < TOKEN_DEADLINE, "re-enabled user's token still refused on A"
        time.sleep(0.01)


def test_the_deadline_holds_repeatedly(replicas, admin, make_user):
    """Ten users disabled on A, one at a time: every token is refused on B within the deadline."""
    a, b = replicas
    delays = []
    for _ in range(10):
        u = make_user(prefix="repl-many")
        _known_on(b, u.token)
        r = client.update_user(a, admin.token, u.id, enabled=False)
        t_ok = time.monotonic()
        assert r.status_code == 200, r.text
        delays.append(refused_within(b, u.token, t_ok))
    assert max(delays) < TOKEN_DEADLINE, delays


# -- service accounts: keys at once ---------------------------------------------------------------------------------

def test_service_account_deleted_on_one_replica_keys_refused_on_the_other_at_once(replicas, admin):
    a, b = replicas
    sa = sc.new_sa(a, admin, roles=("security_admin",), prefix="repl-del")
    k1, k2 = sc.sa_key(a, admin.token, sa), sc.sa_key(a, admin.token, sa)
    for k in (k1, k2):
        assert_key_works(b, k)

    assert sc.delete_sa(a, admin.token, sa["id"]).status_code == 204
    for k in (k1, k2):
        assert_key_refused(b, k)
        assert_key_refused(a, k)
    assert sc.get_sa(b, admin.token, sa["id"]).status_code == 404


def test_service_account_deleted_by_aws_on_one_replica_key_refused_on_the_other(replicas, admin, aws_admin):
    """DeleteRole needs the role's keys gone first; a key deleted through AWS on A is refused on B at once, and
    the role's name is free again on B."""
    a, b = replicas
    sa = sc.new_sa(a, admin, prefix="repl-role")
    key = sc.sa_key(a, admin.token, sa)
    assert_key_works(b, key)
    sc.aws_query(a, aws_admin.key, "DeleteAccessKey", {"UserName": sa["name"], "AccessKeyId": key.access}).ok()
    assert_key_refused(b, key)
    sc.aws_query(a, aws_admin.key, "DeleteRole", {"RoleName": sa["name"]}).ok()
    sc.aws_query(b, aws_admin.key, "GetRole", {"RoleName": sa["name"]}).fails("NoSuchEntity", 404)


def test_service_accounts_get_no_token_on_either_replica(replicas, admin):
    a, b = replicas
    sa = sc.new_sa(a, admin, prefix="repl-notoken")
    for x in (a, b):
        body = client.password_auth(client.new_password(), name=sa["name"], domain_name=admin.domain_name)
        client.assert_keystone_error(client.issue_token(x, body), 401)


REFRESH_ROLE = "oscred_refresh"


def test_a_change_whose_refresh_read_failed_still_reaches_the_cache(stack, base, admin, make_user):
    """A replica learns of a change by notification and reads the principal again; when that read fails, the
    notification is spent, so the replica reloads its cache (and keeps trying each second until a reload
    succeeds) instead of serving the old state for good. The replica's pooled connections use a role that
    is refused SELECT on principals for a moment; its notifications arrive over a connection of its own."""
    srv = opsutil.server_with_role(stack, "refresh", REFRESH_ROLE)
    try:
        u = make_user(prefix="refresh")
        poll(lambda: client.token_works(srv.base_url, u.token), KNOWN_DEADLINE, "the user's token on the replica")
        stack.pg.psql("REVOKE SELECT ON principals FROM %s" % REFRESH_ROLE)
        try:
            assert client.update_user(base, admin.token, u.id, enabled=False).status_code == 200
            opsutil.wait_for_log(srv, lambda rec: rec.get("event") == "cache.refresh_failed"
                                 and rec.get("principal_id") == u.id, 10, "the replica's failed refresh")
        finally:
            stack.pg.psql("GRANT SELECT ON principals TO %s" % REFRESH_ROLE)
        poll(lambda: not client.token_works(srv.base_url, u.token), 10, "the disabled user's token refused")
    finally:
        srv.stop()


def _listener_pids(stack):
    out = stack.pg.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'oscred-listener'")
    return {int(x) for x in out.split()}


def test_a_replica_whose_listening_backend_stops_answering_reconnects_and_catches_up(stack, server_factory, base,
                                                                                    admin, make_user):
    """The listening connection's backend freezes (SIGSTOP: the connection stays open, nothing answers, as behind
    a network that drops packets): the replica's heartbeat gets no answer within its bound, so it drops the
    connection, listens on a new one and reloads its cache; a user disabled meanwhile is refused there too."""
    before = _listener_pids(stack)
    srv = server_factory("frozen-listener")
    pid = harness.wait_until(lambda: (_listener_pids(stack) - before or {None}).pop(), 10,
                             what="the new replica's listening backend")
    u = make_user(prefix="frozen")
    poll(lambda: client.token_works(srv.base_url, u.token), KNOWN_DEADLINE, "the user's token on the replica")
    os.kill(pid, signal.SIGSTOP)
    try:
        assert client.update_user(base, admin.token, u.id, enabled=False).status_code == 200
        # 5 s between heartbeats, 3 s for an answer, then a new connection and a full reload.
        poll(lambda: not client.token_works(srv.base_url, u.token), 20, "the disabled user's token refused")
        opsutil.wait_for_log(srv, lambda rec: rec.get("event") == "db.listen_lost", 5, "the lost listener")
    finally:
        os.kill(pid, signal.SIGCONT)
