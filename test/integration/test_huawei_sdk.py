"""The official Huawei Cloud Node SDK (@huaweicloud/huaweicloud-sdk-iam v3 + -core, pinned in test/integration/js)
against /v3.0/OS-CREDENTIAL with SDK-HMAC-SHA256 AK/SK signatures (spec huawei-keystone.md §2, §4, §5).

js/huawei_sdk.cjs builds GlobalCredentials (withAk/withSk, optionally withDomainId) and
IamClient.newBuilder().withCredential(cred).withEndpoint(BASE).build(), runs a plan of SDK calls and writes each
result, or the SDK's exception (httpStatusCode, errorCode, errorMsg, requestId), to a file: the SDK logs every
failed response to stdout itself (§4.7).
"""
import datetime

import pytest

import client
from realclients import (
    NodePlan, describe_steps, new_principal, new_user, poll, wrong_secret)

CREATE_FIELDS = {"access", "secret", "create_time", "user_id", "description", "status"}
LIST_FIELDS = {"user_id", "access", "status", "create_time", "description"}
SHOW_FIELDS = LIST_FIELDS | {"last_use_time"}


@pytest.fixture(scope="module")
def hw(base, js_clients, client_home):
    runner = NodePlan(js_clients, "huawei_sdk.cjs", client_home)

    def run(key, steps, domain_id=None):
        cred = {"ak": key.access, "sk": key.secret}
        if domain_id is not None:
            cred["domainId"] = domain_id
        plan = {"endpoint": base, "credentials": cred, "steps": steps}
        return plan, runner.run(plan)

    return run


def _ok(plan, results, i, status):
    r = results[i]
    assert r["ok"], "step %d failed:\n%s" % (i, describe_steps(plan, results))
    assert r["status"] == status, "step %d:\n%s" % (i, describe_steps(plan, results))
    return r["output"]


def _err(plan, results, i, status, error_code=None, error_msg=None):
    r = results[i]
    where = "step %d:\n%s" % (i, describe_steps(plan, results))
    assert not r["ok"], where
    assert r["name"] == ("ClientRequestException" if status < 500 else "ServerResponseException"), where
    assert r["status"] == status, where
    if error_code is not None:
        codes = error_code if isinstance(error_code, tuple) else (error_code,)
        assert r["errorCode"] in codes, where
    if error_msg is not None:
        assert r["errorMsg"] == error_msg, where
    # The SDK takes requestId from X-Request-Id (§4.7); oscred's are req-<uuid>.
    assert r["requestId"] and client.REQUEST_ID_RE.match(r["requestId"]), where
    return r


def _cred(output):
    assert set(output) == {"credential", "httpStatusCode"}, output
    return output["credential"]


def test_own_key_manages_own_keys(base, admin, hw):
    u = new_principal(base, admin, prefix="hw")
    steps = [
        {"method": "createPermanentAccessKey", "input": {"user_id": u.id, "description": "made by the SDK"}},  # 0
        {"method": "listPermanentAccessKeys", "input": {}},                                                 # 1
        {"method": "showPermanentAccessKey", "input": {"access_key": "${0.credential.access}"}},            # 2
        {"method": "updatePermanentAccessKey", "input": {"access_key": "${0.credential.access}",
                                                         "status": "inactive"}},                            # 3
        {"method": "updatePermanentAccessKey", "input": {"access_key": "${0.credential.access}",
                                                         "status": "active", "description": "renamed"}},    # 4
        {"method": "listPermanentAccessKeys", "input": {"user_id": u.id}},                                  # 5
        {"method": "deletePermanentAccessKey", "input": {"access_key": "${0.credential.access}"}},          # 6
        {"method": "showPermanentAccessKey", "input": {"access_key": "${0.credential.access}"}},            # 7
    ]
    plan, res = hw(u.key, steps)
    made = _cred(_ok(plan, res, 0, 201))
    client.remember_secret(made.get("secret"))
    assert set(made) == CREATE_FIELDS, made
    assert client.AK_RE.match(made["access"]) and client.SK_RE.match(made["secret"]), made["access"]
    assert (made["user_id"], made["status"], made["description"]) == (u.id, "active", "made by the SDK")
    assert client.TIME_RE.match(made["create_time"]), made

    listed = _ok(plan, res, 1, 200)
    assert set(listed) == {"credentials", "httpStatusCode"}, listed
    assert all(set(c) == LIST_FIELDS for c in listed["credentials"]), listed
    assert sorted(c["access"] for c in listed["credentials"]) == sorted([u.key.access, made["access"]])
    assert made["secret"] not in str(listed)

    shown = _cred(_ok(plan, res, 2, 200))
    assert set(shown) == SHOW_FIELDS, shown
    assert (shown["access"], shown["user_id"], shown["status"]) == (made["access"], u.id, "active")
    assert shown["create_time"] == made["create_time"]

    assert _cred(_ok(plan, res, 3, 200))["status"] == "inactive"
    upd = _cred(_ok(plan, res, 4, 200))
    assert (upd["status"], upd["description"]) == ("active", "renamed"), upd
    assert {c["access"]: c["status"] for c in _ok(plan, res, 5, 200)["credentials"]} == \
        {u.key.access: "active", made["access"]: "active"}
    assert _ok(plan, res, 6, 204) == {"httpStatusCode": 204}
    _err(plan, res, 7, 404, "IAM.0004")
    assert client.key_snapshot(base, admin.token, u.id) == [(u.key.access, "active", "")]


def test_admin_key_manages_another_users_keys_with_domain_id(base, admin, hw, aws_admin):
    v = new_user(base, admin, prefix="hwv")
    steps = [
        {"method": "createPermanentAccessKey", "input": {"user_id": v.id}},                       # 0
        {"method": "listPermanentAccessKeys", "input": {"user_id": v.id}},                        # 1
        {"method": "updatePermanentAccessKey", "input": {"access_key": "${0.credential.access}",
                                                         "status": "inactive"}},                  # 2
        {"method": "showPermanentAccessKey", "input": {"access_key": "${0.credential.access}"}},  # 3
    ]
    plan, res = hw(aws_admin.key, steps, domain_id=aws_admin.domain_id)
    made = _cred(_ok(plan, res, 0, 201))
    client.remember_secret(made.get("secret"))
    assert (made["user_id"], made["status"], made["description"]) == (v.id, "active", ""), made
    assert [c["access"] for c in _ok(plan, res, 1, 200)["credentials"]] == [made["access"]]
    assert _cred(_ok(plan, res, 2, 200))["status"] == "inactive"
    assert _cred(_ok(plan, res, 3, 200))["status"] == "inactive"
    assert client.key_snapshot(base, admin.token, v.id) == [(made["access"], "inactive", "")]

    plan, res = hw(aws_admin.key, [{"method": "deletePermanentAccessKey", "input": {"access_key": made["access"]}}])
    assert _ok(plan, res, 0, 204) == {"httpStatusCode": 204}
    assert client.key_snapshot(base, admin.token, v.id) == []


def test_signed_use_is_recorded_as_last_use(base, admin, hw):
    u = new_principal(base, admin, prefix="hwlu")
    before = client.key_state(base, admin.token, u.key.access)
    assert before["last_use_time"] == before["create_time"], before  # never used (§2.3)
    plan, res = hw(u.key, [{"method": "listPermanentAccessKeys", "input": {}}])
    _ok(plan, res, 0, 200)

    def used():
        s = client.key_state(base, admin.token, u.key.access)
        return s if s["last_use_time"] != s["create_time"] else None

    after = poll(used, 15, "last_use_time of %s after an SDK-signed request" % u.key.access)
    t = datetime.datetime.strptime(after["last_use_time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert t > datetime.datetime.strptime(after["create_time"], "%Y-%m-%dT%H:%M:%S.%fZ"), after


def test_errors(base, admin, other_admin, hw, aws_admin, foreign):
    u = new_principal(base, admin, prefix="hwerr")
    ghost = "AKZZ" + client.random_id().upper()[:16]
    alien = foreign["user"]
    adm = {"ak": aws_admin.key.access, "sk": aws_admin.key.secret}
    steps = [
        {"method": "showPermanentAccessKey", "input": {"access_key": ghost}},                          # 0
        {"method": "deletePermanentAccessKey", "input": {"access_key": ghost}},                        # 1
        {"method": "createPermanentAccessKey", "input": {"user_id": u.id}},                            # 2
        {"method": "createPermanentAccessKey", "input": {"user_id": u.id}},                            # 3 third
        {"method": "showPermanentAccessKey", "input": {"access_key": alien.key.access}},               # 4
        {"method": "updatePermanentAccessKey", "input": {"access_key": alien.key.access,
                                                         "status": "inactive"}},                       # 5
        {"method": "deletePermanentAccessKey", "input": {"access_key": alien.key.access}},             # 6
        # An administrator of this domain does not see the other domain either (DESIGN.md: 404, no oracle).
        {"method": "createPermanentAccessKey", "input": {"user_id": alien.id}, "credentials": adm},     # 7
        {"method": "listPermanentAccessKeys", "input": {"user_id": alien.id}, "credentials": adm},     # 8
        {"method": "showPermanentAccessKey", "input": {"access_key": alien.key.access},
         "credentials": adm},                                                                          # 9
        {"method": "deletePermanentAccessKey", "input": {"access_key": alien.key.access},
         "credentials": adm},                                                                          # 10
    ]
    plan, res = hw(u.key, steps)
    _err(plan, res, 0, 404, "IAM.0004")
    _err(plan, res, 1, 404, "IAM.0004")
    client.remember_secret(_cred(_ok(plan, res, 2, 201)).get("secret"))
    # The documented Keystone-style body {"error": {"code": 400, "message": "akSkNumExceed", ...}}: the SDK reads
    # error.code (the number 400) as errorCode and error.message as errorMsg (§2.1, §4.7).
    _err(plan, res, 3, 400, 400, "akSkNumExceed")
    for i in (4, 5, 6, 7, 8, 9, 10):
        _err(plan, res, i, 404, "IAM.0004")
    assert len(client.key_snapshot(base, admin.token, u.id)) == 2
    assert client.key_snapshot(base, other_admin.token, alien.id) == [(alien.key.access, "active", "")]


def test_signature_failures_are_401(base, admin, other_admin, hw, aws_admin, foreign):
    u = new_principal(base, admin, prefix="hwsig")
    list_own = [{"method": "listPermanentAccessKeys", "input": {}}]

    plan, res = hw(u.key.with_secret(wrong_secret(u.key.secret)), list_own)
    _err(plan, res, 0, 401, "APIGW.0301")

    # X-Domain-Id must name the key owner's domain (§5.2): another real domain, or a made-up id.
    for domain_id in (foreign["admin"].domain_id, client.random_id()):
        plan, res = hw(u.key, list_own, domain_id=domain_id)
        _err(plan, res, 0, 401, "APIGW.0301")
    plan, res = hw(u.key, list_own, domain_id=u.domain_id)
    _ok(plan, res, 0, 200)

    # An inactive key does not sign (§5.5), and the refused request has no effect; once active again it does.
    assert client.update_credential(base, admin.token, u.key.access, status="inactive").status_code == 200
    plan, res = hw(u.key, list_own + [{"method": "createPermanentAccessKey", "input": {"user_id": u.id}}])
    _err(plan, res, 0, 401, "APIGW.0301", client.MSG_BAD_AKSK)
    _err(plan, res, 1, 401, "APIGW.0301", client.MSG_BAD_AKSK)
    assert client.key_snapshot(base, admin.token, u.id) == [(u.key.access, "inactive", "")]
    assert client.update_credential(base, admin.token, u.key.access, status="active").status_code == 200
    plan, res = hw(u.key, list_own)
    _ok(plan, res, 0, 200)

    # A deleted key is refused the same way.
    assert client.delete_credential(base, admin.token, u.key.access).status_code == 204
    plan, res = hw(u.key, list_own)
    _err(plan, res, 0, 401, "APIGW.0301", client.MSG_BAD_AKSK)
