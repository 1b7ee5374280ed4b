"""@aws-sdk/client-iam (JS v3, pinned in test/integration/js) against oscred's AWS IAM Query API (aws-iam.md).

js/aws_sdk.mjs runs a plan of IAM commands with one client per (key, region) and reports, per step, the output or
the error as the SDK surfaces it: e.name, e.Error.Code, e.$metadata.httpStatusCode / requestId / attempts.
JS v3 signs 8 headers including x-amz-content-sha256 (spec §4 T2) and reads the request id from the
x-amzn-RequestId header only; it also resets its clock from the response Date header (spec §8), so `attempts == 1`
on a refused request shows the server's Date is right.
"""
import datetime

import pytest

import client
from realclients import (
    AWS_REQUEST_ID_RE, MSG_BAD_SIGNATURE, MSG_BAD_TOKEN, MSG_LIMIT, MSG_NO_KEY, MSG_NO_USER, NodePlan, aws_name,
    describe_steps, new_principal, wrong_secret)


@pytest.fixture(scope="module")
def aws_js(base, js_clients, client_home):
    runner = NodePlan(js_clients, "aws_sdk.mjs", client_home)

    def run(key, steps, region="us-east-1"):
        plan = {"endpoint": base, "region": region,
                "credentials": {"accessKeyId": key.access, "secretAccessKey": key.secret}, "steps": steps}
        results = runner.run(plan)
        return plan, results

    return run


def _ok(plan, results, i):
    r = results[i]
    assert r["ok"], "step %d failed:\n%s" % (i, describe_steps(plan, results))
    assert r["status"] == 200, r
    assert r["requestId"] and AWS_REQUEST_ID_RE.match(r["requestId"]), r
    return r["output"]


def _err(plan, results, i, name, code, status, message=None, attempts=1):
    r = results[i]
    where = "step %d:\n%s" % (i, describe_steps(plan, results))
    assert not r["ok"], where
    assert not r.get("local"), "not a service error: " + where
    assert (r["error"], r["code"], r["status"]) == (name, code, status), where
    assert r["type"] == "Sender", where
    if message is not None:
        assert r["message"] == message, where
    assert r["requestId"] and AWS_REQUEST_ID_RE.match(r["requestId"]), where
    assert r["attempts"] == attempts, "attempts (a retry can mean clock skew from a bad Date header): " + where
    return r


def _near_now(iso):
    t = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) < 120, iso


def test_access_key_lifecycle(base, admin, aws_js, aws_admin):
    name = aws_name("js")
    steps = [
        {"command": "CreateUser", "input": {"UserName": name}},                                     # 0
        {"command": "CreateAccessKey", "input": {"UserName": name}},                                # 1
        {"command": "ListAccessKeys", "input": {"UserName": name}},                                 # 2
        {"command": "UpdateAccessKey", "input": {"UserName": name, "Status": "Inactive",
                                                 "AccessKeyId": "${1.AccessKey.AccessKeyId}"}},     # 3
        {"command": "ListAccessKeys", "input": {"UserName": name}},                                 # 4
        {"command": "UpdateAccessKey", "input": {"UserName": name, "Status": "Active",
                                                 "AccessKeyId": "${1.AccessKey.AccessKeyId}"}},     # 5
        {"command": "GetAccessKeyLastUsed", "input": {"AccessKeyId": "${1.AccessKey.AccessKeyId}"}},  # 6
        {"command": "DeleteAccessKey", "input": {"UserName": name,
                                                 "AccessKeyId": "${1.AccessKey.AccessKeyId}"}},     # 7
        {"command": "ListAccessKeys", "input": {"UserName": name}},                                 # 8
        {"command": "DeleteUser", "input": {"UserName": name}},                                     # 9
    ]
    plan, res = aws_js(aws_admin.key, steps)
    user = _ok(plan, res, 0)["User"]
    assert user["UserName"] == name and user["Path"] == "/" and client.ID_RE.match(user["UserId"]), user
    _near_now(user["CreateDate"])

    ak = _ok(plan, res, 1)["AccessKey"]
    client.remember_secret(ak["SecretAccessKey"])
    assert (ak["UserName"], ak["Status"]) == (name, "Active"), ak
    assert client.AK_RE.match(ak["AccessKeyId"]) and client.SK_RE.match(ak["SecretAccessKey"]), ak["AccessKeyId"]
    _near_now(ak["CreateDate"])

    listed = _ok(plan, res, 2)
    assert listed["IsTruncated"] is False, listed
    assert [(m["UserName"], m["AccessKeyId"], m["Status"]) for m in listed["AccessKeyMetadata"]] == \
        [(name, ak["AccessKeyId"], "Active")]
    assert listed["AccessKeyMetadata"][0]["CreateDate"] == ak["CreateDate"]
    _ok(plan, res, 3)
    assert [m["Status"] for m in _ok(plan, res, 4)["AccessKeyMetadata"]] == ["Inactive"]
    _ok(plan, res, 5)
    last = _ok(plan, res, 6)
    assert last["UserName"] == name and last["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}, last
    _ok(plan, res, 7)
    assert _ok(plan, res, 8)["AccessKeyMetadata"] == []
    _ok(plan, res, 9)
    client.assert_iam_error(client.show_credential(base, admin.token, ak["AccessKeyId"]), 404)


def test_service_errors(base, other_admin, aws_js, aws_admin, foreign):
    name, ghost_user = aws_name("js"), aws_name("ghost")
    ghost_key = "AKZZ" + client.random_id().upper()[:16]
    alien = foreign["user"]
    steps = [
        {"command": "CreateUser", "input": {"UserName": name}},                                        # 0
        {"command": "CreateAccessKey", "input": {"UserName": name}},                                   # 1
        {"command": "CreateAccessKey", "input": {"UserName": name}},                                   # 2
        {"command": "CreateAccessKey", "input": {"UserName": name}},                                   # 3 limit
        {"command": "DeleteAccessKey", "input": {"UserName": name, "AccessKeyId": ghost_key}},         # 4
        {"command": "ListAccessKeys", "input": {"UserName": ghost_user}},                              # 5
        {"command": "ListAccessKeys", "input": {"UserName": alien.name}},                              # 6 foreign
        {"command": "UpdateAccessKey", "input": {"AccessKeyId": alien.key.access, "Status": "Inactive"}},  # 7
        {"command": "GetAccessKeyLastUsed", "input": {"AccessKeyId": alien.key.access}},               # 8
        {"command": "ListAccessKeys", "input": {"UserName": name}},                                    # 9
    ]
    plan, res = aws_js(aws_admin.key, steps, region="eu-west-1")
    _ok(plan, res, 0)
    for i in (1, 2):
        client.remember_secret(_ok(plan, res, i)["AccessKey"]["SecretAccessKey"])
    # JS v3 classifies LimitExceededException as throttling (@smithy/core retry constants) and tries 3 times;
    # every attempt must get the same answer and none may create a key.
    _err(plan, res, 3, "LimitExceededException", "LimitExceeded", 409, MSG_LIMIT, attempts=3)
    _err(plan, res, 4, "NoSuchEntityException", "NoSuchEntity", 404, MSG_NO_KEY % ghost_key)
    _err(plan, res, 5, "NoSuchEntityException", "NoSuchEntity", 404, MSG_NO_USER % ghost_user)
    _err(plan, res, 6, "NoSuchEntityException", "NoSuchEntity", 404, MSG_NO_USER % alien.name)
    _err(plan, res, 7, "NoSuchEntityException", "NoSuchEntity", 404, MSG_NO_KEY % alien.key.access)
    _err(plan, res, 8, "NoSuchEntityException", "NoSuchEntity", 404, MSG_NO_KEY % alien.key.access)
    assert len(_ok(plan, res, 9)["AccessKeyMetadata"]) == 2
    assert client.key_snapshot(base, other_admin.token, alien.id) == [(alien.key.access, "active", "")]


def test_authentication_errors(base, admin, aws_js, aws_admin):
    u = new_principal(base, admin, prefix="jsauth")
    bad = aws_admin.key.with_secret(wrong_secret(aws_admin.key.secret))
    plan, res = aws_js(bad, [{"command": "ListUsers", "input": {}},
                             {"command": "GetUser", "input": {}, "region": "eu-west-1"}])
    _err(plan, res, 0, "SignatureDoesNotMatch", "SignatureDoesNotMatch", 403, MSG_BAD_SIGNATURE)
    _err(plan, res, 1, "SignatureDoesNotMatch", "SignatureDoesNotMatch", 403, MSG_BAD_SIGNATURE)

    mine = {"accessKeyId": u.key.access, "secretAccessKey": u.key.secret}
    steps = [
        {"command": "GetUser", "input": {}, "credentials": mine},                                      # 0
        {"command": "UpdateAccessKey", "input": {"UserName": u.name, "AccessKeyId": u.key.access,
                                                 "Status": "Inactive"}},                               # 1 admin
        {"command": "GetUser", "input": {}, "credentials": mine},                                      # 2
        {"command": "CreateAccessKey", "input": {}, "credentials": mine},                              # 3
        {"command": "UpdateAccessKey", "input": {"UserName": u.name, "AccessKeyId": u.key.access,
                                                 "Status": "Active"}},                                 # 4 admin
        {"command": "ListAccessKeys", "input": {}, "credentials": mine},                               # 5
    ]
    plan, res = aws_js(aws_admin.key, steps)
    assert _ok(plan, res, 0)["User"]["UserName"] == u.name
    _ok(plan, res, 1)
    _err(plan, res, 2, "InvalidClientTokenId", "InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    _err(plan, res, 3, "InvalidClientTokenId", "InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    _ok(plan, res, 4)
    assert [m["AccessKeyId"] for m in _ok(plan, res, 5)["AccessKeyMetadata"]] == [u.key.access]
    assert client.key_snapshot(base, admin.token, u.id) == [(u.key.access, "active", "")]
