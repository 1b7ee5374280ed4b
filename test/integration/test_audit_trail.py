"""The audit trail (DESIGN.md model "audit event", store "each change is one SQL statement … and the audit row";
migrations/0001_init.sql audit_events): every create/update/delete of a user or an access key writes exactly one
row naming the action, the caller, the target and the request, and nothing else does.

Request ids: a response's X-Request-Id is "req-<uuid>" and the audit row stores that same string; the AWS Query
API's x-amzn-RequestId header and <RequestId> element carry the bare <uuid> of the same request
(src/http/resp.c osc_aws_request_id). The rows are read straight from the test PostgreSQL.
"""
import json
import os
import subprocess
import threading

import requests

import client
import harness
import opsutil
import sa_client as sc
from realclients import AWS_REQUEST_ID_RE, Key, UUID_RE

ROW_FIELDS = {"id", "at", "domain_id", "actor_id", "actor_kind", "action", "target_kind", "target_id",
              "request_id", "detail"}


def _rows(stack, where):
    out = stack.pg.psql(
        "SELECT row_to_json(e) FROM (SELECT id, extract(epoch FROM at)::float8 AS at, domain_id, actor_id, "
        "actor_kind, action, target_kind, target_id, request_id, detail FROM audit_events WHERE %s "
        "ORDER BY id) e" % where)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _quote(s):
    assert "'" not in s and "\\" not in s, s
    return "'%s'" % s


def rows_of_request(stack, request_id):
    return _rows(stack, "request_id = %s" % _quote(request_id))


def rows_of_target(stack, target_id):
    return _rows(stack, "target_id = %s" % _quote(target_id))


def db_now(stack):
    return float(stack.pg.psql("SELECT extract(epoch FROM clock_timestamp())::float8").strip())


class Trail:
    """Sends one request between two readings of the database clock and returns the response with its one
    audit row (asserted to be exactly one, and fully checked)."""

    def __init__(self, stack):
        self.stack = stack

    def one(self, send, *, status, domain_id, actor_id, actor_kind, action, target_kind, target_id=None,
            secrets=()):
        before = db_now(self.stack)
        r = send()
        after = db_now(self.stack)
        assert r.status_code == status, "%d %s" % (r.status_code, r.text)
        rid = r.headers["X-Request-Id"]
        assert client.REQUEST_ID_RE.match(rid), rid
        rows = rows_of_request(self.stack, rid)
        assert len(rows) == 1, "request %s wrote %d audit rows: %r" % (rid, len(rows), rows)
        row = rows[0]
        assert set(row) == ROW_FIELDS, row
        want = {"domain_id": domain_id, "actor_id": actor_id, "actor_kind": actor_kind, "action": action,
                "target_kind": target_kind, "request_id": rid}
        if target_id is not None:
            want["target_id"] = target_id
        assert {k: row[k] for k in want} == want, row
        assert before <= row["at"] <= after, (before, row["at"], after)
        text = json.dumps(row)
        for s in secrets:
            assert s not in text, "a secret reached the audit trail: %r" % row
        return r, row

    def none(self, send, status):
        """The request fails with `status` and leaves no audit row."""
        r = send()
        assert r.status_code == status, "%d %s" % (r.status_code, r.text)
        rid = r.headers["X-Request-Id"]
        assert rows_of_request(self.stack, rid) == [], "failed request %s left an audit row" % rid
        return r


def signed(method, base, path, key, headers):
    """A SDK-HMAC-SHA256-signed request without a body whose extra headers are signed too (as the SDK does)."""
    h = opsutil.sdk_hmac_headers(method, base, path, key.access, key.secret, extra=headers)
    r = requests.request(method, base + path, headers=h, timeout=30, allow_redirects=False)
    client.check_response(method, path, r)
    return r


def _trail(stack):
    return Trail(stack)


# -- REST ------------------------------------------------------------------------------------------------------

def test_rest_user_and_key_life_cycle_each_write_one_row(stack, base, admin, make_user):
    t = _trail(stack)
    d, me = admin.domain_id, admin.id
    name, pw = client.unique_name("audit"), client.new_password()

    r, row = t.one(lambda: client.create_user(base, admin.token, name, pw), status=201, domain_id=d, actor_id=me,
                   actor_kind="user", action="user.create", target_kind="user", secrets=(pw,))
    uid = r.json()["user"]["id"]
    assert row["target_id"] == uid
    seen = [row]

    for fields in ({"enabled": False}, {"enabled": True}):
        _, row = t.one(lambda: client.update_user(base, admin.token, uid, **fields), status=200, domain_id=d,
                       actor_id=me, actor_kind="user", action="user.update", target_kind="user", target_id=uid)
        seen.append(row)
    pw2 = client.new_password()
    _, row = t.one(lambda: client.update_user(base, admin.token, uid, password=pw2), status=200, domain_id=d,
                   actor_id=me, actor_kind="user", action="user.update", target_kind="user", target_id=uid,
                   secrets=(pw, pw2))
    seen.append(row)

    r, row = t.one(lambda: client.create_credential(base, admin.token, uid, "audited"), status=201, domain_id=d,
                   actor_id=me, actor_kind="user", action="credential.create", target_kind="access_key")
    cred = r.json()["credential"]
    assert row["target_id"] == cred["access"]
    assert cred["secret"] not in json.dumps(row)
    key_rows = [row]
    _, row = t.one(lambda: client.update_credential(base, admin.token, cred["access"], status="inactive"),
                   status=200, domain_id=d, actor_id=me, actor_kind="user", action="credential.update",
                   target_kind="access_key", target_id=cred["access"])
    key_rows.append(row)
    _, row = t.one(lambda: client.update_credential(base, admin.token, cred["access"], description="renamed"),
                   status=200, domain_id=d, actor_id=me, actor_kind="user", action="credential.update",
                   target_kind="access_key", target_id=cred["access"])
    key_rows.append(row)
    _, row = t.one(lambda: client.delete_credential(base, admin.token, cred["access"]), status=204, domain_id=d,
                   actor_id=me, actor_kind="user", action="credential.delete", target_kind="access_key",
                   target_id=cred["access"])
    key_rows.append(row)

    _, row = t.one(lambda: client.delete_user(base, admin.token, uid), status=204, domain_id=d, actor_id=me,
                   actor_kind="user", action="user.delete", target_kind="user", target_id=uid)
    seen.append(row)

    # The trail outlives what it describes, in order, one distinct request per row.
    assert rows_of_target(stack, uid) == seen
    assert rows_of_target(stack, cred["access"]) == key_rows
    assert [x["action"] for x in seen] == ["user.create"] + ["user.update"] * 3 + ["user.delete"]
    ids = [x["request_id"] for x in seen + key_rows]
    assert len(set(ids)) == len(ids), ids

    # Requests that change nothing leave nothing.
    t.none(lambda: client.update_user(base, admin.token, uid, enabled=False), 404)
    t.none(lambda: client.delete_user(base, admin.token, uid), 404)
    t.none(lambda: client.delete_credential(base, admin.token, cred["access"]), 404)
    assert rows_of_target(stack, uid) == seen


def _deleted_with_owner(stack, r, owner_id, owner_kind, keys, *, domain_id, actor_id):
    """The owner's delete request wrote one row per key it took with it, then the owner's own row."""
    assert r.status_code == 204, "%d %s" % (r.status_code, r.text)
    rows = rows_of_request(stack, r.headers["X-Request-Id"])
    common = {"domain_id": domain_id, "actor_id": actor_id, "actor_kind": "user",
              "request_id": r.headers["X-Request-Id"]}
    want = [dict(common, action="credential.delete", target_kind="access_key", target_id=k) for k in sorted(keys)]
    want.append(dict(common, action=owner_kind + ".delete", target_kind=owner_kind, target_id=owner_id))
    got = [{k: row[k] for k in want[0]} for row in rows]
    got[:-1] = sorted(got[:-1], key=lambda x: x["target_id"])
    assert got == want, rows


def test_deleting_an_owner_audits_each_key_it_takes_with_it(stack, base, admin, make_user):
    u = make_user(prefix="audit-owner")
    keys = [client.new_key(base, admin.token, u.id)["access"] for _ in range(2)]
    r = client.delete_user(base, admin.token, u.id)
    _deleted_with_owner(stack, r, u.id, "user", keys, domain_id=admin.domain_id, actor_id=admin.id)
    for k in keys:
        assert [x["action"] for x in rows_of_target(stack, k)] == ["credential.create", "credential.delete"]
        assert client.show_credential(base, admin.token, k).status_code == 404

    sa = sc.new_sa(base, admin, prefix="audit-owner-sa")
    key = sc.sa_key(base, admin.token, sa)
    r = sc.delete_sa(base, admin.token, sa["id"])
    _deleted_with_owner(stack, r, sa["id"], "service_account", [key.access], domain_id=admin.domain_id,
                        actor_id=admin.id)


def test_a_key_created_while_its_owner_is_deleted_goes_with_it_and_is_audited(stack, server_factory, admin,
                                                                              make_user):
    """A key committed while the owner's delete waits for the owner's row lock is outside that statement's
    snapshot: it must not be left behind without its owner, nor disappear without an audit row."""
    srv = server_factory("owner-race", OSCRED_DATABASE_TIMEOUT="20")
    u = make_user(prefix="audit-race")
    first = client.new_key(srv.base_url, admin.token, u.id)["access"]
    late = "Z" + os.urandom(10).hex().upper()[:19]
    hold_s = 3
    # What CreateAccessKey's statement does, in a transaction that stays open while the delete arrives.
    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", stack.pg.url, "-c",
         "BEGIN; UPDATE principals SET key_count = key_count + 1 WHERE id = '%s'; "
         "INSERT INTO access_keys (access_key, owner_id, kid, sealed) VALUES ('%s', '%s', 'k', '\\x00'); "
         "SELECT pg_sleep(%d); COMMIT;" % (u.id, late, u.id, hold_s)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        harness.wait_until(lambda: opsutil.lock_waiters_and_holders(stack.pg, hold_s)[1] == 1, timeout=10,
                           what="the transaction creating a key")
        answer = {}
        t = threading.Thread(target=lambda: answer.update(r=client.delete_user(srv.base_url, admin.token, u.id)))
        t.start()
        harness.wait_until(lambda: opsutil.lock_waiters_and_holders(stack.pg, hold_s)[0] >= 1, timeout=10,
                           what="the delete waiting for the owner's row")
        t.join(timeout=hold_s + 30)
        assert not t.is_alive(), "the delete was never answered"
    finally:
        _, err = holder.communicate(timeout=hold_s + 30)
    assert holder.returncode == 0, err
    _deleted_with_owner(stack, answer["r"], u.id, "user", [first, late], domain_id=admin.domain_id,
                        actor_id=admin.id)
    assert stack.pg.psql("SELECT count(*) FROM access_keys WHERE owner_id = '%s'" % u.id).strip() == "0"


def test_refused_changes_leave_no_row(stack, base, admin, make_user):
    t = _trail(stack)
    plain, victim = make_user(prefix="audit-plain"), make_user(prefix="audit-victim")
    key = client.new_key(base, admin.token, victim.id)
    t.none(lambda: client.create_user(base, plain.token, client.unique_name(), client.new_password()), 403)
    t.none(lambda: client.update_user(base, plain.token, victim.id, enabled=False), 403)
    t.none(lambda: client.delete_user(base, plain.token, victim.id), 403)
    t.none(lambda: client.create_credential(base, plain.token, victim.id), 403)
    t.none(lambda: client.update_credential(base, plain.token, key["access"], status="inactive"), 403)
    t.none(lambda: client.delete_credential(base, plain.token, key["access"]), 403)
    t.none(lambda: client.create_user(base, admin.token, victim.name, client.new_password()), 409)
    client.new_key(base, admin.token, victim.id)
    t.none(lambda: client.create_credential(base, admin.token, victim.id), 400)  # the third key
    # Of the victim itself only its creation is on record.
    assert [r["action"] for r in rows_of_target(stack, victim.id)] == ["user.create"]


def test_a_user_changing_its_own_key_by_signature_is_the_actor(stack, base, make_user):
    t = _trail(stack)
    u = make_user(prefix="audit-self")
    r, row = t.one(lambda: client.create_credential(base, u.token, u.id), status=201, domain_id=u.domain_id,
                   actor_id=u.id, actor_kind="user", action="credential.create", target_kind="access_key")
    c = r.json()["credential"]
    key = Key(c["access"], c["secret"], u.name, u.id)
    assert row["target_id"] == key.access
    t.one(lambda: sc.hmac_request("PUT", base, client.CREDS + "/" + key.access, key,
                                  json={"credential": {"description": "signed"}}),
          status=200, domain_id=u.domain_id, actor_id=u.id, actor_kind="user", action="credential.update",
          target_kind="access_key", target_id=key.access)
    # A key may delete itself (huawei-keystone.md §5.9); the row still names the user.
    t.one(lambda: sc.hmac_request("DELETE", base, client.CREDS + "/" + key.access, key), status=204,
          domain_id=u.domain_id, actor_id=u.id, actor_kind="user", action="credential.delete",
          target_kind="access_key", target_id=key.access)


# -- AWS Query API -------------------------------------------------------------------------------------------

def _aws(t, base, key, aws_action, params, **want):
    """One SigV4-signed Query action: its answer's ids relate to the audit row's as src/http/resp.c says."""
    holder = {}

    def send():
        ans = sc.aws_query(base, key, aws_action, params)
        holder["ans"] = ans
        return ans.r

    r, row = t.one(send, status=200, **want)
    ans = holder["ans"]
    amzn = r.headers["x-amzn-RequestId"]
    assert UUID_RE.match(amzn) and AWS_REQUEST_ID_RE.match(amzn), amzn
    assert ans.text_of("ResponseMetadata/RequestId") == amzn, ans.text
    assert r.headers["X-Request-Id"] == "req-" + amzn
    assert row["request_id"] == "req-" + amzn
    return ans, row


def test_aws_query_changes_are_audited_under_the_answers_request_id(stack, base, admin, aws_admin):
    t = _trail(stack)
    d, me = admin.domain_id, aws_admin.id
    name = sc.sa_name("audit-aws")
    common = {"domain_id": d, "actor_id": me, "actor_kind": "user"}

    ans, row = _aws(t, base, aws_admin.key, "CreateUser", {"UserName": name}, action="user.create",
                    target_kind="user", **common)
    uid = ans.text_of("CreateUserResult/User/UserId")
    assert row["target_id"] == uid
    ans, row = _aws(t, base, aws_admin.key, "CreateAccessKey", {"UserName": name}, action="credential.create",
                    target_kind="access_key", **common)
    key = sc.key_from(ans)
    assert row["target_id"] == key.access and key.secret not in json.dumps(row)
    _aws(t, base, aws_admin.key, "UpdateAccessKey", {"UserName": name, "AccessKeyId": key.access,
                                                     "Status": "Inactive"},
         action="credential.update", target_kind="access_key", target_id=key.access, **common)
    _aws(t, base, aws_admin.key, "DeleteAccessKey", {"UserName": name, "AccessKeyId": key.access},
         action="credential.delete", target_kind="access_key", target_id=key.access, **common)
    _aws(t, base, aws_admin.key, "DeleteUser", {"UserName": name}, action="user.delete", target_kind="user",
         target_id=uid, **common)
    assert [r["action"] for r in rows_of_target(stack, uid)] == ["user.create", "user.delete"]

    # An AWS error changes nothing and is not audited; its ids relate the same way.
    ans = sc.aws_query(base, aws_admin.key, "DeleteUser", {"UserName": name}).fails("NoSuchEntity", 404)
    amzn = ans.r.headers["x-amzn-RequestId"]
    assert ans.text_of("RequestId") == amzn and ans.r.headers["X-Request-Id"] == "req-" + amzn
    assert rows_of_request(stack, "req-" + amzn) == []


def test_a_service_account_caller_is_audited_as_one(stack, base, admin):
    t = _trail(stack)
    sa = sc.new_sa(base, admin, roles=("admin",), prefix="audit-sa")
    key = sc.sa_key(base, admin.token, sa)
    common = {"domain_id": admin.domain_id, "actor_id": sa["id"], "actor_kind": "service_account"}
    name = sc.sa_name("audit-by-sa")
    ans, row = _aws(t, base, key, "CreateUser", {"UserName": name}, action="user.create", target_kind="user",
                    **common)
    uid = ans.text_of("CreateUserResult/User/UserId")
    t.one(lambda: sc.hmac_request("POST", base, client.CREDS, key, json={"credential": {"user_id": uid}}),
          status=201, action="credential.create", target_kind="access_key", **common)

    # Revoking a user's token by a signed request: the revoking service account is the actor.
    pw = client.new_password()
    assert client.update_user(base, admin.token, uid, password=pw).status_code == 200
    tok = client.login(base, name, pw, admin.domain_name)
    token_id = client.validate_token(base, tok, tok).json()["token"]["audit_ids"][0]

    def revoke():
        return signed("DELETE", base, client.TOKENS, key, {"X-Subject-Token": tok})

    t.one(revoke, status=204, action="token.revoke", target_kind="token", target_id=token_id, **common)
    assert not client.token_works(base, tok)
