"""The real aws CLI (Debian awscli 2.9.19) against oscred's AWS IAM Query API (spec aws-iam.md; DESIGN.md).

Every command is `/usr/bin/aws iam ... --endpoint-url BASE --output json`, signed with an oscred key through the
environment and nothing else of this machine's configuration (realclients.AwsCli). Errors are checked the way a
person sees them: exit 254 and the exact `An error occurred (Code) when calling the Op operation: Message` line
(aws-iam.md §3). The CLI takes ~0.5 s to start, so independent commands run concurrently (aws_cli.many) and setup
that is not about the CLI goes through REST.
"""
import datetime
import re

import pytest

import client
from realclients import (
    MSG_BAD_SIGNATURE, MSG_BAD_STATUS, MSG_BAD_TOKEN, MSG_DELETE_CONFLICT, MSG_EXISTS, MSG_LIMIT, MSG_NO_KEY,
    MSG_NO_USER, ACCOUNT_RE, ISO_Z_RE, Key, access_denied_message, aws_name, new_principal, poll, user_id_of,
    wrong_secret)

REGIONS = ("us-east-1", "eu-west-1")


def _parse_time(s):
    """The CLI prints botocore's datetimes as ISO-8601 with +00:00 (a Z form is accepted too)."""
    assert ISO_Z_RE.match(s), s
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _near_now(s, slack=120):
    t = _parse_time(s)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - t).total_seconds()) < slack, (s, now)
    return t


def _missing_ak():
    return "AKZZ" + client.random_id().upper()[:16]


def _create_user(cli, key, *extra):
    name = aws_name("cli")
    return name, cli(key, "create-user", "--user-name", name, *extra).ok()["User"]


def _create_key(cli, key, user_name=None):
    args = ["create-access-key"] + (["--user-name", user_name] if user_name else [])
    ak = cli(key, *args).ok()["AccessKey"]
    return Key(ak["AccessKeyId"], ak["SecretAccessKey"], ak["UserName"]), ak


def _list_keys(cli, key, user_name=None, region="us-east-1"):
    args = ["list-access-keys"] + (["--user-name", user_name] if user_name else [])
    return cli(key, *args, region=region).ok()["AccessKeyMetadata"]


# -- users ----------------------------------------------------------------------------------------------------

def test_create_get_list_delete_user_with_path_and_tags(base, admin, aws_cli, aws_admin):
    k = aws_admin.key
    name = aws_name("alice")
    user = aws_cli(k, "create-user", "--user-name", name, "--path", "/eng/",
                   "--tags", "Key=team,Value=a", "Key=env,Value=dev").ok()["User"]
    assert user["UserName"] == name
    assert user["Path"] == "/eng/"
    assert re.match(r"^arn:aws:iam::%s:user/eng/%s$" % (ACCOUNT_RE, re.escape(name)), user["Arn"]), user
    assert client.ID_RE.match(user["UserId"]), user  # UserId = the principal id (DESIGN.md)
    _near_now(user["CreateDate"])
    assert sorted((t["Key"], t["Value"]) for t in user["Tags"]) == [("env", "dev"), ("team", "a")]
    # The same principal on the Keystone surface.
    assert user_id_of(base, admin, name) == user["UserId"]

    got, everyone, eng = aws_cli.many((k, "get-user", "--user-name", name), (k, "list-users"),
                                      (k, "list-users", "--path-prefix", "/eng/"))
    got = got.ok()["User"]
    for field in ("UserName", "Path", "Arn", "UserId"):
        assert got[field] == user[field], (got, user)
    assert _parse_time(got["CreateDate"]) == _parse_time(user["CreateDate"])
    assert sorted((t["Key"], t["Value"]) for t in got.get("Tags", [])) == [("env", "dev"), ("team", "a")]

    everyone = everyone.ok()["Users"]
    mine = [u for u in everyone if u["UserName"] == name]
    assert len(mine) == 1, everyone
    assert (mine[0]["Arn"], mine[0]["Path"], mine[0]["UserId"]) == (user["Arn"], "/eng/", user["UserId"])
    assert aws_admin.name in {u["UserName"] for u in everyone}  # users made through REST are IAM users too

    eng = eng.ok()["Users"]
    assert name in {u["UserName"] for u in eng}
    assert all(u["Path"].startswith("/eng/") for u in eng), eng
    assert aws_admin.name not in {u["UserName"] for u in eng}

    assert aws_cli(k, "delete-user", "--user-name", name).ok() is None
    aws_cli(k, "get-user", "--user-name", name).fails_with("NoSuchEntity", "GetUser", MSG_NO_USER % name)


def test_get_user_without_name_is_the_signer_in_any_region(aws_cli, aws_admin):
    results = aws_cli.many(*[(aws_admin.key, "get-user", {"region": r}) for r in REGIONS])
    for me in results:
        me = me.ok()["User"]
        assert me["UserName"] == aws_admin.name
        assert me["UserId"] == aws_admin.id
        assert me["Path"] == "/"
        assert re.match(r"^arn:aws:iam::%s:user/%s$" % (ACCOUNT_RE, re.escape(aws_admin.name)), me["Arn"]), me
    assert results[0].json == results[1].json


def test_duplicate_user_is_entity_already_exists(aws_cli, aws_admin):
    k = aws_admin.key
    name, _ = _create_user(aws_cli, k)
    same, rest_made, other_case = aws_cli.many((k, "create-user", "--user-name", name),
                                               (k, "create-user", "--user-name", aws_admin.name),
                                               (k, "create-user", "--user-name", name.upper()))
    same.fails_with("EntityAlreadyExists", "CreateUser", MSG_EXISTS % name)
    # One namespace with the Keystone surface: a user made through REST holds its name too.
    rest_made.fails_with("EntityAlreadyExists", "CreateUser", MSG_EXISTS % aws_admin.name)
    # Names are unique ignoring case (role-keys.md D3); only the code is pinned for the other spelling.
    assert other_case.rc == 254 and "(EntityAlreadyExists)" in (other_case.error_line() or ""), other_case.describe()


def test_missing_user_is_no_such_entity(aws_cli, aws_admin):
    k = aws_admin.key
    ghost = aws_name("ghost")
    ops = (("get-user", "GetUser"), ("list-access-keys", "ListAccessKeys"),
           ("create-access-key", "CreateAccessKey"), ("delete-user", "DeleteUser"))
    results = aws_cli.many(*[(k, cmd, "--user-name", ghost) for cmd, _ in ops])
    for (_, op), r in zip(ops, results):
        r.fails_with("NoSuchEntity", op, MSG_NO_USER % ghost)


# -- access keys ----------------------------------------------------------------------------------------------

def test_access_key_lifecycle_for_another_user(base, admin, aws_cli, aws_admin):
    k = aws_admin.key
    name, user = _create_user(aws_cli, k)

    new, raw = _create_key(aws_cli, k, name)
    assert set(raw) == {"UserName", "AccessKeyId", "Status", "SecretAccessKey", "CreateDate"}, raw
    assert raw["UserName"] == name and raw["Status"] == "Active"
    assert client.AK_RE.match(new.access), raw
    assert client.SK_RE.match(new.secret), "secret is not 40 x [A-Za-z0-9]"
    _near_now(raw["CreateDate"])

    listed = _list_keys(aws_cli, k, name)
    assert len(listed) == 1, listed
    assert set(listed[0]) == {"UserName", "AccessKeyId", "Status", "CreateDate"}, listed
    assert (listed[0]["UserName"], listed[0]["AccessKeyId"], listed[0]["Status"]) == (name, new.access, "Active")
    assert _parse_time(listed[0]["CreateDate"]) == _parse_time(raw["CreateDate"])
    # The same key on the OS-CREDENTIAL surface, owned by the same principal.
    assert client.key_state(base, admin.token, new.access)["user_id"] == user["UserId"]

    r = aws_cli(k, "update-access-key", "--user-name", name, "--access-key-id", new.access, "--status", "Inactive")
    assert r.ok() is None
    assert [x["Status"] for x in _list_keys(aws_cli, k, name)] == ["Inactive"]
    assert client.key_state(base, admin.token, new.access)["status"] == "inactive"
    aws_cli(k, "update-access-key", "--user-name", name, "--access-key-id", new.access, "--status", "Active").ok()
    assert client.key_state(base, admin.token, new.access)["status"] == "active"

    aws_cli(k, "delete-user", "--user-name", name).fails_with("DeleteConflict", "DeleteUser", MSG_DELETE_CONFLICT)
    assert user_id_of(base, admin, name) == user["UserId"]  # still there

    assert aws_cli(k, "delete-access-key", "--user-name", name, "--access-key-id", new.access).ok() is None
    client.assert_iam_error(client.show_credential(base, admin.token, new.access), 404)
    listed, again = aws_cli.many((k, "list-access-keys", "--user-name", name),
                                 (k, "delete-access-key", "--user-name", name, "--access-key-id", new.access))
    assert listed.ok()["AccessKeyMetadata"] == []
    again.fails_with("NoSuchEntity", "DeleteAccessKey", MSG_NO_KEY % new.access)
    assert aws_cli(k, "delete-user", "--user-name", name).ok() is None


@pytest.mark.parametrize("region", REGIONS)
def test_get_access_key_last_used(base, admin, aws_cli, aws_admin, region):
    k = aws_admin.key
    alice = new_principal(base, admin, prefix="alice")  # key made through REST: never used yet

    before = aws_cli(k, "get-access-key-last-used", "--access-key-id", alice.key.access).ok()
    assert before == {"UserName": alice.name, "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}, before

    t0 = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(seconds=2)
    assert [x["AccessKeyId"] for x in _list_keys(aws_cli, alice.key, region=region)] == [alice.key.access]

    def used():
        out = aws_cli(k, "get-access-key-last-used", "--access-key-id", alice.key.access).ok()
        return out if "LastUsedDate" in out["AccessKeyLastUsed"] else None

    after = poll(used, 15, "LastUsedDate of %s after a signed request" % alice.key.access)
    assert after["UserName"] == alice.name
    last = after["AccessKeyLastUsed"]
    assert (last["ServiceName"], last["Region"]) == ("iam", region), after
    assert _near_now(last["LastUsedDate"]) >= t0, (last, t0)


def test_missing_key_is_no_such_entity(base, admin, aws_cli, aws_admin):
    k = aws_admin.key
    u, other = new_principal(base, admin, prefix="mk"), new_principal(base, admin, prefix="mko")
    ghost = _missing_ak()
    r = aws_cli.many(
        (k, "update-access-key", "--user-name", u.name, "--access-key-id", ghost, "--status", "Inactive"),
        (k, "delete-access-key", "--access-key-id", ghost),
        (k, "get-access-key-last-used", "--access-key-id", ghost),
        # A key that exists but belongs to someone else than the named user is "not found" for that user.
        (k, "delete-access-key", "--user-name", u.name, "--access-key-id", other.key.access))
    r[0].fails_with("NoSuchEntity", "UpdateAccessKey", MSG_NO_KEY % ghost)
    r[1].fails_with("NoSuchEntity", "DeleteAccessKey", MSG_NO_KEY % ghost)
    r[2].fails_with("NoSuchEntity", "GetAccessKeyLastUsed", MSG_NO_KEY % ghost)
    r[3].fails_with("NoSuchEntity", "DeleteAccessKey", MSG_NO_KEY % other.key.access)
    assert client.key_snapshot(base, admin.token, other.id) == [(other.key.access, "active", "")]


def test_third_key_is_limit_exceeded(base, admin, aws_cli, aws_admin):
    k = aws_admin.key
    u = new_principal(base, admin, prefix="lim")  # one key already
    second, _ = _create_key(aws_cli, k, u.name)
    aws_cli(k, "create-access-key", "--user-name", u.name).fails_with("LimitExceeded", "CreateAccessKey", MSG_LIMIT)
    assert client.key_snapshot(base, admin.token, u.id) == sorted([(u.key.access, "active", ""),
                                                                   (second.access, "active", "")])
    # Inactive keys count too.
    aws_cli(k, "update-access-key", "--user-name", u.name, "--access-key-id", second.access, "--status",
            "Inactive").ok()
    aws_cli(k, "create-access-key", "--user-name", u.name).fails_with("LimitExceeded", "CreateAccessKey", MSG_LIMIT)
    assert len(client.key_snapshot(base, admin.token, u.id)) == 2


def test_bogus_status_is_validation_error(base, admin, aws_cli, aws_admin):
    u = new_principal(base, admin, prefix="val")
    aws_cli(aws_admin.key, "update-access-key", "--user-name", u.name, "--access-key-id", u.key.access,
            "--status", "Bogus").fails_with("ValidationError", "UpdateAccessKey", MSG_BAD_STATUS)
    assert client.key_snapshot(base, admin.token, u.id) == [(u.key.access, "active", "")]


# -- tenancy and policy ---------------------------------------------------------------------------------------

def test_another_domains_user_and_key_do_not_exist(base, other_admin, aws_cli, aws_admin, foreign):
    k = aws_admin.key
    alien = foreign["user"]
    ak = alien.key.access
    by_name = (("get-user", "GetUser"), ("list-access-keys", "ListAccessKeys"),
               ("create-access-key", "CreateAccessKey"), ("delete-user", "DeleteUser"))
    by_key = ((("get-access-key-last-used", "--access-key-id", ak), "GetAccessKeyLastUsed"),
              (("update-access-key", "--access-key-id", ak, "--status", "Inactive"), "UpdateAccessKey"),
              (("delete-access-key", "--access-key-id", ak), "DeleteAccessKey"))
    results = aws_cli.many(*([(k, cmd, "--user-name", alien.name) for cmd, _ in by_name]
                             + [(k,) + args for args, _ in by_key] + [(k, "list-users")]))
    for (_, op), r in zip(by_name, results):
        r.fails_with("NoSuchEntity", op, MSG_NO_USER % alien.name)
    for (_, op), r in zip(by_key, results[len(by_name):]):
        r.fails_with("NoSuchEntity", op, MSG_NO_KEY % ak)
    assert alien.name not in {u["UserName"] for u in results[-1].ok()["Users"]}
    assert client.key_snapshot(base, other_admin.token, alien.id) == [(ak, "active", "")]


def test_plain_user_may_not_act_on_another_user(base, admin, aws_cli):
    bob = new_principal(base, admin, prefix="bob")
    alice = new_principal(base, admin, prefix="alice")
    me = aws_cli(bob.key, "get-user").ok()["User"]
    assert me["UserName"] == bob.name
    arn = me["Arn"]
    ghost = aws_name("ghost")
    named = (
        (("list-access-keys", "--user-name", alice.name), "ListAccessKeys", alice.name),
        (("create-access-key", "--user-name", alice.name), "CreateAccessKey", alice.name),
        (("update-access-key", "--user-name", alice.name, "--access-key-id", alice.key.access,
          "--status", "Inactive"), "UpdateAccessKey", alice.name),
        (("delete-access-key", "--user-name", alice.name, "--access-key-id", alice.key.access), "DeleteAccessKey",
         alice.name),
        (("get-user", "--user-name", alice.name), "GetUser", alice.name),
        (("delete-user", "--user-name", alice.name), "DeleteUser", alice.name),
        # Whether or not the name exists (DESIGN.md: no existence oracle for a caller who manages only itself).
        (("list-access-keys", "--user-name", ghost), "ListAccessKeys", ghost),
    )
    # Alice's key addressed by its id alone: refused, and untouched. Which refusal is open: aws-iam.md §2 reads
    # "UserName omitted = bob, whose keys do not include it" (NoSuchEntity); DESIGN.md reads "a key of the
    # caller's domain the caller may not administer" (AccessDenied).
    by_key = (("update-access-key", "--access-key-id", alice.key.access, "--status", "Inactive"),
              ("delete-access-key", "--access-key-id", alice.key.access))
    results = aws_cli.many(*([(bob.key,) + args for args, _, _ in named] + [(bob.key,) + args for args in by_key]
                             + [(bob.key, "list-access-keys", "--user-name", bob.name)]))
    for (_, op, target), r in zip(named, results):
        r.fails_with("AccessDenied", op, access_denied_message(arn, op, target))
    for r in results[len(named):len(named) + len(by_key)]:
        assert r.rc == 254, r.describe()
        assert re.match(r"^An error occurred \((NoSuchEntity|AccessDenied)\) when calling the \w+ operation: ",
                        r.error_line() or ""), r.describe()
    # His own name is fine.
    assert [x["AccessKeyId"] for x in results[-1].ok()["AccessKeyMetadata"]] == [bob.key.access]
    assert client.key_snapshot(base, admin.token, alice.id) == [(alice.key.access, "active", "")]


# -- authentication -------------------------------------------------------------------------------------------

def test_wrong_or_unknown_key_is_refused(aws_cli, aws_admin):
    bad = aws_admin.key.with_secret(wrong_secret(aws_admin.key.secret))
    ghost = aws_admin.key.with_secret(aws_admin.key.secret)
    ghost.access = _missing_ak()
    r = aws_cli.many((bad, "list-users"), (bad, "get-user", {"region": "eu-west-1"}), (ghost, "get-user"))
    r[0].fails_with("SignatureDoesNotMatch", "ListUsers", MSG_BAD_SIGNATURE)
    r[1].fails_with("SignatureDoesNotMatch", "GetUser", MSG_BAD_SIGNATURE)
    r[2].fails_with("InvalidClientTokenId", "GetUser", MSG_BAD_TOKEN)


def test_deactivated_and_deleted_keys_are_refused(base, admin, aws_cli):
    u = new_principal(base, admin, prefix="carol")
    assert aws_cli(u.key, "get-user").ok()["User"]["UserName"] == u.name
    assert client.update_credential(base, admin.token, u.key.access, status="inactive").status_code == 200
    got, made = aws_cli.many((u.key, "get-user"), (u.key, "create-access-key"))
    got.fails_with("InvalidClientTokenId", "GetUser", MSG_BAD_TOKEN)
    made.fails_with("InvalidClientTokenId", "CreateAccessKey", MSG_BAD_TOKEN)
    # ... and the refused request had no effect.
    assert client.key_snapshot(base, admin.token, u.id) == [(u.key.access, "inactive", "")]

    assert client.update_credential(base, admin.token, u.key.access, status="active").status_code == 200
    assert aws_cli(u.key, "get-user").ok()["User"]["UserName"] == u.name

    assert client.delete_credential(base, admin.token, u.key.access).status_code == 204
    aws_cli(u.key, "list-access-keys").fails_with("InvalidClientTokenId", "ListAccessKeys", MSG_BAD_TOKEN)


def test_user_rotates_own_key_without_user_name(base, admin, aws_cli):
    u = new_principal(base, admin, prefix="rot")
    first = u.key
    second, raw = _create_key(aws_cli, first)  # no --user-name: the signer's own user
    assert raw["UserName"] == u.name and raw["Status"] == "Active"
    assert sorted(x["AccessKeyId"] for x in _list_keys(aws_cli, first)) == sorted([first.access, second.access])

    aws_cli(second, "update-access-key", "--access-key-id", first.access, "--status", "Inactive").ok()
    aws_cli(first, "get-user").fails_with("InvalidClientTokenId", "GetUser", MSG_BAD_TOKEN)
    aws_cli(second, "delete-access-key", "--access-key-id", first.access).ok()
    listed = _list_keys(aws_cli, second)
    assert [(x["AccessKeyId"], x["Status"], x["UserName"]) for x in listed] == [(second.access, "Active", u.name)]
    assert client.key_snapshot(base, admin.token, u.id) == [(second.access, "active", "")]

    # A key may delete itself (huawei-keystone.md §5.9, aws-iam.md §9): that request succeeds, the next fails.
    aws_cli(second, "delete-access-key", "--access-key-id", second.access).ok()
    aws_cli(second, "get-user").fails_with("InvalidClientTokenId", "GetUser", MSG_BAD_TOKEN)
    assert client.key_snapshot(base, admin.token, u.id) == []


def test_admin_created_user_gets_a_working_key(base, admin, aws_cli, aws_admin):
    """The whole AWS onboarding path: CreateUser (no password), CreateAccessKey, and the new key signs."""
    k = aws_admin.key
    name, user = _create_user(aws_cli, k)
    new, _ = _create_key(aws_cli, k, name)
    me = aws_cli(new, "get-user", region="eu-west-1").ok()["User"]
    assert (me["UserName"], me["UserId"]) == (name, user["UserId"])
    # And the key is usable on the other surfaces' REST view of the same user.
    assert client.key_snapshot(base, admin.token, user["UserId"]) == [(new.access, "active", "")]
