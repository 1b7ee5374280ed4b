"""boto3 (Debian python3-boto3 1.26.27 / botocore 1.29.27) against oscred's AWS IAM Query API (spec aws-iam.md).

Clients are built with endpoint_url=BASE and an oscred key, nothing else (realclients.boto). Errors are checked
as boto3 users see them: ClientError with response Error.Code/Message/Type, the HTTP status, and
ResponseMetadata.RequestId equal to the x-amzn-RequestId header.
"""
import datetime
import threading
import urllib.parse

import pytest
import requests

import client
from realclients import (
    AWS_REQUEST_ID_RE, MSG_BAD_SIGNATURE, MSG_BAD_STATUS, MSG_BAD_TOKEN, MSG_DELETE_CONFLICT, MSG_EXISTS,
    MSG_EXPIRED, MSG_LIMIT, UUID_RE, MSG_NO_KEY, MSG_NO_USER, Key, access_denied_message, aws_name, new_principal, parse_xml,
    poll, xml_find, xml_findall, wrong_secret)


def _meta_ok(resp):
    """Success: HTTP 200 and RequestId (from the body) == the x-amzn-RequestId header."""
    meta = resp["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200, meta
    rid = meta.get("RequestId")
    assert rid and AWS_REQUEST_ID_RE.match(rid), meta
    assert meta["HTTPHeaders"].get("x-amzn-requestid") == rid, meta
    return resp


def _fails(call, code, status, message=None, exc_name=None):
    """call() raises ClientError with this code/status (/message); RequestId == x-amzn-RequestId."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    with pytest.raises(ClientError) as info:
        call()
    e = info.value
    err, meta = e.response["Error"], e.response["ResponseMetadata"]
    assert err.get("Code") == code, e.response
    assert meta["HTTPStatusCode"] == status, e.response
    assert err.get("Type") == ("Sender" if status < 500 else "Receiver"), e.response
    if message is not None:
        assert err.get("Message") == message, e.response
    rid = meta.get("RequestId")
    assert rid and AWS_REQUEST_ID_RE.match(rid), e.response
    assert meta["HTTPHeaders"].get("x-amzn-requestid") == rid, e.response
    if exc_name is not None:
        assert type(e).__name__ == exc_name, (type(e).__name__, e.response)
    return e


def _new_user(iam, path=None, tags=None, prefix="b3"):
    name = aws_name(prefix)
    kw = {"UserName": name}
    if path:
        kw["Path"] = path
    if tags:
        kw["Tags"] = tags
    return name, _meta_ok(iam.create_user(**kw))["User"]


def _new_key(iam, user_name=None):
    resp = _meta_ok(iam.create_access_key(**({"UserName": user_name} if user_name else {})))
    ak = resp["AccessKey"]
    return Key(ak["AccessKeyId"], ak["SecretAccessKey"], ak["UserName"]), ak


def _key_ids(iam, user_name=None):
    resp = _meta_ok(iam.list_access_keys(**({"UserName": user_name} if user_name else {})))
    return [(m["AccessKeyId"], m["Status"]) for m in resp["AccessKeyMetadata"]]


def _missing_ak():
    return "AKZZ" + client.random_id().upper()[:16]


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


# -- users ----------------------------------------------------------------------------------------------------

def test_user_create_get_list_delete(boto, aws_admin):
    iam = boto(aws_admin.key)
    tags = [{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "dev"}]
    name, user = _new_user(iam, path="/eng/", tags=tags)
    assert user["UserName"] == name and user["Path"] == "/eng/"
    assert user["Arn"].endswith(":user/eng/" + name) and user["Arn"].startswith("arn:aws:iam::"), user
    assert client.ID_RE.match(user["UserId"]), user
    assert isinstance(user["CreateDate"], datetime.datetime)
    assert abs((_utc_now() - user["CreateDate"]).total_seconds()) < 120
    assert sorted((t["Key"], t["Value"]) for t in user["Tags"]) == [("env", "dev"), ("team", "a")]

    got = _meta_ok(iam.get_user(UserName=name))["User"]
    assert {k: got[k] for k in ("UserName", "Path", "Arn", "UserId", "CreateDate")} == \
        {k: user[k] for k in ("UserName", "Path", "Arn", "UserId", "CreateDate")}

    listed = _meta_ok(iam.list_users(PathPrefix="/eng/"))
    assert name in {u["UserName"] for u in listed["Users"]}
    assert listed["IsTruncated"] is False and "Marker" not in listed

    _meta_ok(iam.delete_user(UserName=name))
    _fails(lambda: iam.get_user(UserName=name), "NoSuchEntity", 404, MSG_NO_USER % name, "NoSuchEntityException")


def test_request_id_is_a_uuid_in_header_and_body(boto, aws_admin):
    """aws-iam.md §1: `x-amzn-RequestId: <uuid>`, the same id as ResponseMetadata/RequestId (botocore reads the
    body, JS v3 the header), on successes and on errors."""
    iam = boto(aws_admin.key)
    meta = _meta_ok(iam.get_user())["ResponseMetadata"]
    assert UUID_RE.match(meta["RequestId"]), meta
    e = _fails(lambda: iam.get_user(UserName=aws_name("ghost")), "NoSuchEntity", 404)
    assert UUID_RE.match(e.response["ResponseMetadata"]["RequestId"]), e.response


def test_duplicate_user(boto, aws_admin):
    iam = boto(aws_admin.key)
    name, _ = _new_user(iam)
    _fails(lambda: iam.create_user(UserName=name), "EntityAlreadyExists", 409, MSG_EXISTS % name,
           "EntityAlreadyExistsException")


def test_user_exists_waiter(boto, aws_admin):
    iam = boto(aws_admin.key)
    name = aws_name("wait")
    waiter = iam.get_waiter("user_exists")
    done = {}
    saw_missing = threading.Event()

    def after_get_user(parsed, **_):
        if parsed.get("Error", {}).get("Code") == "NoSuchEntity":
            saw_missing.set()

    iam.meta.events.register("after-call.iam.GetUser", after_get_user)

    def wait():
        try:
            waiter.wait(UserName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 15})
            done["ok"] = True
        except Exception as e:  # noqa: BLE001 - reported below
            done["error"] = e

    t = threading.Thread(target=wait)
    t.start()
    # The waiter's first GetUser answers NoSuchEntity (which it retries on); then the user appears.
    assert saw_missing.wait(30), "the waiter's GetUser never answered NoSuchEntity"
    _meta_ok(iam.create_user(UserName=name))
    t.join(timeout=30)
    assert not t.is_alive(), "user_exists waiter still running"
    assert done == {"ok": True}, done

    from botocore.exceptions import WaiterError  # noqa: PLC0415

    ghost = aws_name("ghost")
    with pytest.raises(WaiterError) as info:
        waiter.wait(UserName=ghost, WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert info.value.last_response["Error"]["Code"] == "NoSuchEntity", info.value.last_response


def test_list_users_paginator(boto, aws_admin):
    iam = boto(aws_admin.key)
    prefix = "/pg%s/" % client.random_id()[:8]
    names = sorted(_new_user(iam, path=prefix)[0] for _ in range(3))
    pages = list(iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 1}))
    assert [len(p["Users"]) for p in pages] == [1, 1, 1], pages
    assert [p["IsTruncated"] for p in pages] == [True, True, False], pages
    assert all("Marker" in p for p in pages[:-1]) and "Marker" not in pages[-1], pages
    assert sorted(u["UserName"] for p in pages for u in p["Users"]) == names
    for p in pages:
        _meta_ok(p)
    first_two = iam.get_paginator("list_users").paginate(
        PathPrefix=prefix, PaginationConfig={"PageSize": 1, "MaxItems": 2}).build_full_result()
    assert len(first_two["Users"]) == 2 and "NextToken" in first_two, first_two


# -- access keys ----------------------------------------------------------------------------------------------

def test_access_key_lifecycle(base, admin, boto, aws_admin):
    iam = boto(aws_admin.key)
    name, user = _new_user(iam)
    assert _meta_ok(iam.list_access_keys(UserName=name))["AccessKeyMetadata"] == []
    new, raw = _new_key(iam, name)
    assert raw["UserName"] == name and raw["Status"] == "Active"
    assert client.AK_RE.match(new.access) and client.SK_RE.match(new.secret)
    assert isinstance(raw["CreateDate"], datetime.datetime)

    listed = _meta_ok(iam.list_access_keys(UserName=name))
    assert listed["IsTruncated"] is False and "Marker" not in listed
    assert [(m["UserName"], m["AccessKeyId"], m["Status"], m["CreateDate"]) for m in listed["AccessKeyMetadata"]] \
        == [(name, new.access, "Active", raw["CreateDate"])]
    assert "SecretAccessKey" not in listed["AccessKeyMetadata"][0]
    assert client.key_state(base, admin.token, new.access)["user_id"] == user["UserId"]

    _meta_ok(iam.update_access_key(UserName=name, AccessKeyId=new.access, Status="Inactive"))
    assert _key_ids(iam, name) == [(new.access, "Inactive")]
    _meta_ok(iam.update_access_key(UserName=name, AccessKeyId=new.access, Status="Active"))
    assert _key_ids(iam, name) == [(new.access, "Active")]

    _fails(lambda: iam.delete_user(UserName=name), "DeleteConflict", 409, MSG_DELETE_CONFLICT,
           "DeleteConflictException")
    _meta_ok(iam.delete_access_key(UserName=name, AccessKeyId=new.access))
    assert _key_ids(iam, name) == []
    _fails(lambda: iam.delete_access_key(UserName=name, AccessKeyId=new.access), "NoSuchEntity", 404,
           MSG_NO_KEY % new.access, "NoSuchEntityException")
    _meta_ok(iam.delete_user(UserName=name))


def test_get_access_key_last_used(boto, aws_admin):
    iam = boto(aws_admin.key)
    name, _ = _new_user(iam)
    alice, _ = _new_key(iam, name)
    before = _meta_ok(iam.get_access_key_last_used(AccessKeyId=alice.access))
    assert before["UserName"] == name
    assert before["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}, before

    t0 = _utc_now().replace(microsecond=0) - datetime.timedelta(seconds=2)
    _meta_ok(boto(alice, region="eu-west-1").get_user())

    def used():
        r = iam.get_access_key_last_used(AccessKeyId=alice.access)
        return r if "LastUsedDate" in r["AccessKeyLastUsed"] else None

    after = poll(used, 15, "LastUsedDate of %s" % alice.access)
    last = after["AccessKeyLastUsed"]
    assert (last["ServiceName"], last["Region"]) == ("iam", "eu-west-1"), after
    assert t0 <= last["LastUsedDate"] <= _utc_now() + datetime.timedelta(seconds=5), (t0, last)


def test_list_access_keys_paginator(boto, aws_admin):
    iam = boto(aws_admin.key)
    name, _ = _new_user(iam)
    made = sorted(_new_key(iam, name)[0].access for _ in range(2))
    pages = list(iam.get_paginator("list_access_keys").paginate(UserName=name, PaginationConfig={"PageSize": 1}))
    assert [len(p["AccessKeyMetadata"]) for p in pages] == [1, 1], pages
    assert pages[0]["IsTruncated"] is True and pages[0].get("Marker"), pages[0]
    assert pages[1]["IsTruncated"] is False and "Marker" not in pages[1], pages[1]
    assert sorted(m["AccessKeyId"] for p in pages for m in p["AccessKeyMetadata"]) == made
    # The marker is opaque but must survive a round trip; a garbage one is a ValidationError.
    _fails(lambda: iam.list_access_keys(UserName=name, MaxItems=1, Marker="not-a-marker"), "ValidationError", 400)


def test_list_access_keys_marker_survives_deleting_keys(boto, aws_admin):
    """Rotation pages through a user's keys while deleting them: a marker is a position, not a key that must
    still exist (aws-iam.md §2: markers are opaque)."""
    iam = boto(aws_admin.key)
    name, _ = _new_user(iam)
    first, second = (_new_key(iam, name)[0].access for _ in range(2))
    page = iam.list_access_keys(UserName=name, MaxItems=1)
    assert [m["AccessKeyId"] for m in page["AccessKeyMetadata"]] == [first] and page["IsTruncated"], page
    iam.delete_access_key(UserName=name, AccessKeyId=second)
    rest = iam.list_access_keys(UserName=name, MaxItems=1, Marker=page["Marker"])
    assert rest["AccessKeyMetadata"] == [] and rest["IsTruncated"] is False, rest
    iam.delete_access_key(UserName=name, AccessKeyId=first)
    rest = iam.list_access_keys(UserName=name, MaxItems=1, Marker=page["Marker"])
    assert rest["AccessKeyMetadata"] == [] and rest["IsTruncated"] is False, rest
    third = _new_key(iam, name)[0].access
    rest = iam.list_access_keys(UserName=name, MaxItems=1, Marker=page["Marker"])
    assert [m["AccessKeyId"] for m in rest["AccessKeyMetadata"]] == [third], rest


def test_errors(base, admin, other_admin, boto, aws_admin, foreign):
    iam = boto(aws_admin.key)
    name, _ = _new_user(iam)
    k1, _ = _new_key(iam, name)
    _new_key(iam, name)
    _fails(lambda: iam.create_access_key(UserName=name), "LimitExceeded", 409, MSG_LIMIT, "LimitExceededException")

    ghost_key, ghost_user = _missing_ak(), aws_name("ghost")
    _fails(lambda: iam.update_access_key(UserName=name, AccessKeyId=ghost_key, Status="Inactive"),
           "NoSuchEntity", 404, MSG_NO_KEY % ghost_key, "NoSuchEntityException")
    _fails(lambda: iam.get_access_key_last_used(AccessKeyId=ghost_key), "NoSuchEntity", 404, MSG_NO_KEY % ghost_key)
    _fails(lambda: iam.list_access_keys(UserName=ghost_user), "NoSuchEntity", 404, MSG_NO_USER % ghost_user)

    alien = foreign["user"]
    _fails(lambda: iam.list_access_keys(UserName=alien.name), "NoSuchEntity", 404, MSG_NO_USER % alien.name)
    _fails(lambda: iam.delete_access_key(AccessKeyId=alien.key.access), "NoSuchEntity", 404,
           MSG_NO_KEY % alien.key.access)
    assert client.key_snapshot(base, other_admin.token, alien.id) == [(alien.key.access, "active", "")]

    _fails(lambda: iam.update_access_key(UserName=name, AccessKeyId=k1.access, Status="Bogus"),
           "ValidationError", 400, MSG_BAD_STATUS)
    assert (k1.access, "Active") in _key_ids(iam, name)


def test_plain_user_access_denied(base, admin, boto):
    bob = new_principal(base, admin, prefix="bob")
    alice = new_principal(base, admin, prefix="alice")
    iam = boto(bob.key)
    arn = _meta_ok(iam.get_user())["User"]["Arn"]
    _fails(lambda: iam.list_access_keys(UserName=alice.name), "AccessDenied", 403,
           access_denied_message(arn, "ListAccessKeys", alice.name))
    _fails(lambda: iam.delete_access_key(UserName=alice.name, AccessKeyId=alice.key.access), "AccessDenied", 403,
           access_denied_message(arn, "DeleteAccessKey", alice.name))
    assert client.key_snapshot(base, admin.token, alice.id) == [(alice.key.access, "active", "")]


def test_authentication_failures(base, admin, boto, aws_admin):
    bad = boto(aws_admin.key.with_secret(wrong_secret(aws_admin.key.secret)))
    _fails(bad.list_users, "SignatureDoesNotMatch", 403, MSG_BAD_SIGNATURE)

    u = new_principal(base, admin, prefix="dave")
    mine = boto(u.key)
    _meta_ok(mine.get_user())
    _meta_ok(boto(aws_admin.key).update_access_key(UserName=u.name, AccessKeyId=u.key.access, Status="Inactive"))
    _fails(mine.get_user, "InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    _meta_ok(boto(aws_admin.key).delete_access_key(UserName=u.name, AccessKeyId=u.key.access))
    _fails(mine.get_user, "InvalidClientTokenId", 403, MSG_BAD_TOKEN)


def test_user_rotates_own_key(base, admin, boto):
    u = new_principal(base, admin, prefix="rot")
    first = boto(u.key)
    second_key, raw = _new_key(first)
    assert raw["UserName"] == u.name
    second = boto(second_key)
    _meta_ok(second.update_access_key(AccessKeyId=u.key.access, Status="Inactive"))
    _meta_ok(second.delete_access_key(AccessKeyId=u.key.access))
    _fails(first.get_user, "InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    assert _key_ids(second) == [(second_key.access, "Active")]
    assert client.key_snapshot(base, admin.token, u.id) == [(second_key.access, "active", "")]


# -- presigned URLs -------------------------------------------------------------------------------------------

def _xml_error(r):
    root = parse_xml(r.content)
    return xml_find(root, "Error/Code").text, xml_find(root, "Error/Message").text, root


def test_presigned_list_access_keys(boto, aws_admin):
    iam = boto(aws_admin.key)
    name, _ = _new_user(iam)
    key, _ = _new_key(iam, name)

    url = iam.generate_presigned_url("list_access_keys", Params={"UserName": name}, HttpMethod="GET")
    assert "X-Amz-Signature=" in url and "Action=ListAccessKeys" in url, url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Type", "").startswith("text/xml"), r.headers
    root = parse_xml(r.content)
    assert root.tag.endswith("ListAccessKeysResponse"), r.text
    ids = [xml_find(m, "AccessKeyId").text for m in xml_findall(root, "ListAccessKeysResult/AccessKeyMetadata/member")]
    assert ids == [key.access], r.text
    rid = xml_find(root, "ResponseMetadata/RequestId").text
    assert rid == r.headers.get("x-amzn-RequestId"), (rid, r.headers)

    # boto3's default presigned URL for IAM is signed for POST (aws-iam.md §7): it works with POST only.
    post_url = iam.generate_presigned_url("list_access_keys", Params={"UserName": name})
    r = requests.post(post_url, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.get(post_url, timeout=30)
    assert r.status_code == 403 and _xml_error(r)[0] == "SignatureDoesNotMatch", r.text

    # Tampering with a signed parameter breaks the signature.
    tampered = url.replace("UserName=" + urllib.parse.quote(name, safe=""), "UserName=" + aws_admin.name)
    assert tampered != url
    r = requests.get(tampered, timeout=30)
    assert r.status_code == 403 and _xml_error(r)[0] == "SignatureDoesNotMatch", r.text


def test_presigned_url_expires(boto, aws_admin):
    iam = boto(aws_admin.key)
    url = iam.generate_presigned_url("list_access_keys", Params={"UserName": aws_admin.name}, ExpiresIn=1,
                                     HttpMethod="GET")

    def expired():
        r = requests.get(url, timeout=30)
        assert r.status_code in (200, 403), r.text
        return [r] if r.status_code == 403 else None  # (a 403 Response is falsy)

    r, = poll(expired, 10, "the 1-second presigned URL to expire", interval=0.25)
    code, message, _ = _xml_error(r)
    assert (code, message) == ("AccessDenied", MSG_EXPIRED), r.text
    assert r.headers.get("x-amzn-RequestId"), r.headers
