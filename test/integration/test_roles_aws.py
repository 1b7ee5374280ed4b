"""Service accounts as AWS IAM roles on the Query API (spec role-keys.md §3-§5; aws-iam.md §1-§3 envelopes).

Three ways in: raw SigV4-signed requests (sa_client.aws_query: exact XML members and encodings), boto3 (what SDK
users see: error codes, exception classes, the role_exists waiter, the ListRoles paginator), and Debian's aws CLI
(the issue's CI flow, the printed error line and exit 254). Every error is followed by a re-read showing that
nothing changed. Policy refusals are compared with the §4 message template at the end of each test (collected),
so that one wrong text does not hide the state checks that follow it.
"""
import base64
import collections
import datetime
import json
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import client
import sa_client as sc
from realclients import (  # noqa: F401 (fixtures)
    MSG_BAD_TOKEN, MSG_DELETE_CONFLICT, MSG_LIMIT, MSG_NO_KEY, MSG_NO_USER, Key, aws_cli, boto, client_home,
    foreign, new_principal, poll)

ROLE_CREATE_MEMBERS = {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument"}
ROLE_LIST_MEMBERS = ROLE_CREATE_MEMBERS | {"Description", "MaxSessionDuration"}
MSG_EXISTS_USER = "User with name %s already exists."  # aws-iam.md §3 (CreateRole naming a user's name: §5.7)


@pytest.fixture(scope="module")
def radm(base, admin):
    """An administrator (admin + security_admin) of domain "default" with one key, for this module."""
    return new_principal(base, admin, roles=("admin", "security_admin"), prefix="radm")


class Soft:
    """Collects mismatching error texts; done() fails with all of them after the state checks ran."""

    def __init__(self):
        self.problems = []

    def eq(self, got, want, what):
        if got != want:
            self.problems.append("%s:\n      got:  %r\n      want: %r" % (what, got, want))

    def prefix(self, got, want, what):
        if not (got or "").startswith(want):
            self.problems.append("%s:\n      got:       %r\n      want start: %r" % (what, got, want))

    def refused(self, ans, message, what, prefix=False):
        """403 AccessDenied with this message (or message prefix)."""
        if (ans.status, ans.code) != (403, "AccessDenied"):
            self.problems.append("%s: want 403 AccessDenied, got %s" % (what, ans.describe()))
        elif prefix:
            self.prefix(ans.message, message, what)
        else:
            self.eq(ans.message, message, what)

    def done(self):
        assert not self.problems, "wrong error texts:\n  - " + "\n  - ".join(self.problems)


def _q(base, key, action, region="us-east-1", **params):
    return sc.aws_query(base, key, action, params, region=region)


def _create_role(base, key, name=None, doc="{}", **params):
    name = name or sc.sa_name("role")
    ans = _q(base, key, "CreateRole", RoleName=name, AssumeRolePolicyDocument=doc, **params).ok()
    return name, ans.find("CreateRoleResult/Role")


def _get_role(base, key, name):
    return _q(base, key, "GetRole", RoleName=name).ok().find("GetRoleResult/Role")


def _role_absent(base, key, name):
    _q(base, key, "GetRole", RoleName=name).fails("NoSuchEntity", 404, sc.MSG_NO_ROLE % name)


def _arn_of(base, key, name):
    return sc._text(_get_role(base, key, name), "Arn")  # noqa: SLF001


def _key_ids(base, key, user_name=None):
    params = {"UserName": user_name} if user_name is not None else {}
    ans = _q(base, key, "ListAccessKeys", **params).ok()
    return [(sc._text(m, "UserName"), sc._text(m, "AccessKeyId"), sc._text(m, "Status"))  # noqa: SLF001
            for m in ans.findall("ListAccessKeysResult/AccessKeyMetadata/member")]


def _role_names(base, key, path_prefix, **params):
    ans = _q(base, key, "ListRoles", PathPrefix=path_prefix, **params).ok()
    return [sc._text(m, "RoleName") for m in ans.findall("ListRolesResult/Roles/member")]  # noqa: SLF001


def _unique_path(tag="p"):
    return "/%s%s/" % (tag, client.random_id()[:10])


# -- CreateRole / GetRole / ListRoles: the wire format -----------------------------------------------------------

def test_create_get_list_role_wire_format(base, admin, radm):
    name, path = sc.sa_name("ci-deployer"), _unique_path("ci")
    doc = '{"Version": "2012-10-17",\n\t"Statement": [], "Sid": "a+b c%20d~e*f/\u00e9"}'
    ans = _q(base, radm.key, "CreateRole", Path=path, RoleName=name, AssumeRolePolicyDocument=doc,
             Description="CI <deployer> & \"co\"", MaxSessionDuration="7200",
             **{"Tags.member.1.Key": "team", "Tags.member.1.Value": "a"}).ok()
    role = ans.find("CreateRoleResult/Role")
    # No Description, MaxSessionDuration or RoleLastUsed in CreateRole's answer (§5.1, as AWS).
    assert set(sc.children(role)) == ROLE_CREATE_MEMBERS | {"Tags"}, ans.text
    t = lambda p: sc._text(role, p)  # noqa: E731,SLF001
    assert (t("Path"), t("RoleName")) == (path, name), ans.text
    assert client.ID_RE.match(t("RoleId")), ans.text
    m = sc.role_arn_re(path, name).match(t("Arn"))
    assert m, ans.text
    created = sc.near_now(sc.iso_z(t("CreateDate")))
    # Stored verbatim, returned percent-encoded (RFC 3986: space %20, never '+').
    encoded = t("AssumeRolePolicyDocument")
    assert encoded == sc.rfc3986(doc), (encoded, sc.rfc3986(doc))
    assert "+" not in encoded and "%20" in encoded
    assert urllib.parse.unquote(encoded) == doc
    assert [(sc._text(x, "Key"), sc._text(x, "Value")) for x in sc.children_elems(role, "Tags")] == [("team", "a")]

    got = _q(base, radm.key, "GetRole", RoleName=name).ok()
    g = got.find("GetRoleResult/Role")
    assert set(sc.children(g)) == ROLE_CREATE_MEMBERS | {"Description", "MaxSessionDuration", "RoleLastUsed",
                                                         "Tags"}, got.text
    for member in ("Path", "RoleName", "RoleId", "Arn", "AssumeRolePolicyDocument"):
        assert sc._text(g, member) == t(member), (member, got.text)  # noqa: SLF001
    assert sc.iso_z(sc._text(g, "CreateDate")) == created  # noqa: SLF001
    assert (sc._text(g, "Description"), sc._text(g, "MaxSessionDuration")) == ('CI <deployer> & "co"', "7200"), \
        got.text
    last = sc.xml_find(g, "RoleLastUsed")
    assert list(last) == [] and not (last.text or "").strip(), got.text  # <RoleLastUsed/> before any use

    listed = _q(base, radm.key, "ListRoles", PathPrefix=path).ok()
    members = listed.findall("ListRolesResult/Roles/member")
    assert len(members) == 1, listed.text
    assert set(sc.children(members[0])) == ROLE_LIST_MEMBERS, listed.text  # no Tags, no RoleLastUsed
    for member in ("Path", "RoleName", "RoleId", "Arn", "AssumeRolePolicyDocument"):
        assert sc._text(members[0], member) == t(member), (member, listed.text)  # noqa: SLF001
    assert (sc._text(members[0], "Description"), sc._text(members[0], "MaxSessionDuration")) == \
        ('CI <deployer> & "co"', "7200")
    assert listed.text_of("ListRolesResult/IsTruncated") == "false" and listed.find("ListRolesResult/Marker") is None

    # The same principal on the Keystone surface (D5).
    r = sc.get_sa(base, admin.token, t("RoleId"))
    assert r.status_code == 200, r.text
    sa = r.json()["service_account"]
    assert (sa["name"], sa["path"], sa["description"], sa["enabled"], sa["domain_id"]) == \
        (name, path, 'CI <deployer> & "co"', True, admin.domain_id), sa
    assert abs((sc.rest_time(sa["created_at"]) - created).total_seconds()) < 1.5, (sa["created_at"], created)


def test_boto3_decodes_the_trust_policy(boto, radm):
    iam = boto(radm.key)
    name = sc.sa_name("b3role")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ci example"},
                                                      "Action": "sts:AssumeRole"}]}
    made = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy), Description="x y",
                           MaxSessionDuration=43200)["Role"]
    assert made["AssumeRolePolicyDocument"] == policy, made
    assert "Description" not in made and "MaxSessionDuration" not in made and "RoleLastUsed" not in made, made
    assert isinstance(made["CreateDate"], datetime.datetime)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == policy, got
    assert (got["Description"], got["MaxSessionDuration"], got["RoleLastUsed"]) == ("x y", 43200, {}), got
    assert got["RoleId"] == made["RoleId"] and got["Arn"] == made["Arn"]
    assert "Tags" not in got, got


def test_role_made_over_rest_in_the_aws_view(base, admin, radm, boto):
    sa = sc.new_sa(base, admin, prefix="restrole", description="made over REST")
    g = _get_role(base, radm.key, sa["name"])
    members = set(sc.children(g))
    assert "AssumeRolePolicyDocument" not in members, members  # §5.2: none was given
    assert {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "MaxSessionDuration", "RoleLastUsed"} <= members
    assert (sc._text(g, "Path"), sc._text(g, "RoleName"), sc._text(g, "RoleId")) == ("/", sa["name"], sa["id"])
    assert sc.role_arn_re("/", sa["name"]).match(sc._text(g, "Arn")), sc._text(g, "Arn")
    assert (sc._text(g, "Description"), sc._text(g, "MaxSessionDuration")) == ("made over REST", "3600")
    got = boto(radm.key).get_role(RoleName=sa["name"])["Role"]
    assert got["RoleLastUsed"] == {} and "AssumeRolePolicyDocument" not in got, got
    listed = boto(radm.key).list_roles(PathPrefix="/")["Roles"]
    mine = [x for x in listed if x["RoleId"] == sa["id"]]
    assert len(mine) == 1 and "AssumeRolePolicyDocument" not in mine[0], mine


def test_create_role_accepts_the_boundaries(base, radm):
    path = _unique_path("lim")
    for seconds in ("3600", "43200"):
        name, _ = _create_role(base, radm.key, Path=path, MaxSessionDuration=seconds)
        assert sc._text(_get_role(base, radm.key, name), "MaxSessionDuration") == seconds  # noqa: SLF001
    long_name = (sc.sa_name("L") + "=,.@_-+" * 10)[:64]
    _create_role(base, radm.key, long_name, Path=path, Description="d" * 1000)
    assert sc._text(_get_role(base, radm.key, long_name), "Description") == "d" * 1000  # noqa: SLF001
    tags = {}
    for i in range(1, 51):
        tags["Tags.member.%d.Key" % i] = "k%d" % i
        tags["Tags.member.%d.Value" % i] = "v" * 256 if i == 1 else ""
    name, role = _create_role(base, radm.key, Path=path, **tags)
    assert len(sc.children_elems(role, "Tags")) == 50
    assert len(_role_names(base, radm.key, path)) == 4


BAD_CREATE = [
    ("no_document", {"AssumeRolePolicyDocument": None}, "ValidationError", 400, sc.MSG_NULL_DOC, None),
    ("policy_json_without_file", {"AssumeRolePolicyDocument": "policy.json"}, "MalformedPolicyDocument", 400,
     sc.MSG_BAD_JSON, None),
    ("array", {"AssumeRolePolicyDocument": "[]"}, "MalformedPolicyDocument", 400, sc.MSG_BAD_JSON, None),
    ("string", {"AssumeRolePolicyDocument": '"{}"'}, "MalformedPolicyDocument", 400, sc.MSG_BAD_JSON, None),
    ("number", {"AssumeRolePolicyDocument": "42"}, "MalformedPolicyDocument", 400, sc.MSG_BAD_JSON, None),
    ("json_null", {"AssumeRolePolicyDocument": "null"}, "MalformedPolicyDocument", 400, sc.MSG_BAD_JSON, None),
    ("truncated", {"AssumeRolePolicyDocument": '{"Version": '}, "MalformedPolicyDocument", 400, sc.MSG_BAD_JSON,
     None),
    ("two_objects", {"AssumeRolePolicyDocument": "{} {}"}, "MalformedPolicyDocument", 400, sc.MSG_BAD_JSON, None),
    ("bad_name", {"RoleName": "bad name"}, "ValidationError", 400, sc.MSG_NAME_PATTERN % "bad name", None),
    ("name_65", {"RoleName": "n" * 65}, "ValidationError", 400, None, "roleName"),
    ("no_name", {"RoleName": None}, "ValidationError", 400, None, "roleName"),
    ("path_without_slash", {"Path": "noslash"}, "ValidationError", 400, None, "path"),
    ("path_without_trailing_slash", {"Path": "/ci"}, "ValidationError", 400, None, "path"),
    ("path_of_two_slashes", {"Path": "//"}, "ValidationError", 400, None, "path"),
    ("trust_policy_beyond_latin1", {"AssumeRolePolicyDocument": '{"a": "\u20ac"}'}, "ValidationError", 400, None,
     "assumeRolePolicyDocument"),
    ("max_session_100000", {"MaxSessionDuration": "100000"}, "ValidationError", 400,
     sc.MSG_MAX_SESSION % "100000", None),
    ("max_session_43201", {"MaxSessionDuration": "43201"}, "ValidationError", 400, None, "maxSessionDuration"),
    ("max_session_3599", {"MaxSessionDuration": "3599"}, "ValidationError", 400, None, "maxSessionDuration"),
    ("max_session_not_a_number", {"MaxSessionDuration": "abc"}, "ValidationError", 400,
     "1 validation error detected: Value 'abc' at 'maxSessionDuration' failed to satisfy constraint: Member must "
     "be an integer between 3600 and 43200", None),
    # Noncharacters are no letter, mark, separator, symbol, number or punctuation; U+FFFE cannot even be put
    # in the XML that would return it.
    ("description_noncharacter", {"Description": "d\ufffe"}, "ValidationError", 400, None, "description"),
    ("description_noncharacter_fdd0", {"Description": "d\ufdd0"}, "ValidationError", 400, None, "description"),
    ("tag_value_noncharacter", {"Tags.member.1.Key": "k", "Tags.member.1.Value": "\uffff"}, "ValidationError", 400,
     None, "tags.1.member.value"),
    ("tag_key_noncharacter", {"Tags.member.1.Key": "k\ufffe", "Tags.member.1.Value": "v"}, "ValidationError", 400,
     None, "tags.1.member.key"),
    ("tag_value_c1_control", {"Tags.member.1.Key": "k", "Tags.member.1.Value": "a\u0085"}, "ValidationError", 400,
     None, "tags.1.member.value"),
    ("description_1001", {"Description": "d" * 1001}, "ValidationError", 400, None, "description"),
    ("permissions_boundary", {"PermissionsBoundary": "arn:aws:iam::123456789012:policy/b"}, "InvalidInput", 400,
     sc.MSG_NO_BOUNDARY, None),
    ("51_tags", {"Tags": 51}, "ValidationError", 400, sc.MSG_TOO_MANY_TAGS, None),
    ("duplicate_tag_keys", {"Tags.member.1.Key": "Team", "Tags.member.1.Value": "a", "Tags.member.2.Key": "team",
                            "Tags.member.2.Value": "b"}, "InvalidInput", 400, sc.MSG_DUP_TAGS, None),
    ("tag_key_129", {"Tags.member.1.Key": "k" * 129, "Tags.member.1.Value": "a"}, "ValidationError", 400, None,
     "tags.1.member.key"),
]


@pytest.mark.parametrize("case,changes,code,status,message,member", BAD_CREATE, ids=[c[0] for c in BAD_CREATE])
def test_create_role_errors_change_nothing(base, admin, radm, case, changes, code, status, message, member):
    name, path = sc.sa_name("badrole"), _unique_path("bad")
    params = {"RoleName": name, "Path": path, "AssumeRolePolicyDocument": "{}"}
    for k, v in changes.items():
        if k == "Tags":
            for i in range(1, v + 1):
                params["Tags.member.%d.Key" % i] = "k%d" % i
                params["Tags.member.%d.Value" % i] = "v"
        elif v is None:
            params.pop(k)
        else:
            params[k] = v
    before = sc.sa_snapshot(base, admin.token)
    ans = sc.aws_query(base, radm.key, "CreateRole", params).fails(code, status, message)
    if member is not None:
        assert ans.message.startswith("1 validation error detected: ") and ("'%s'" % member) in ans.message, \
            ans.describe()
    assert _role_names(base, radm.key, path) == []
    if "RoleName" in params and case not in ("name_65", "bad_name"):
        _role_absent(base, radm.key, params["RoleName"])
    assert sc.sa_snapshot(base, admin.token) == before


# -- names and lookups ---------------------------------------------------------------------------------------------

def test_lookups_ignore_case_and_answers_keep_the_stored_spelling(base, radm):
    name, _ = _create_role(base, radm.key, sc.sa_name("MixedCase"))
    g = _get_role(base, radm.key, name.upper())
    assert sc._text(g, "RoleName") == name  # noqa: SLF001
    k = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name.lower()))
    assert k.owner_name == name
    assert _key_ids(base, radm.key, name.swapcase()) == [(name, k.access, "Active")]
    ans = _q(base, radm.key, "GetAccessKeyLastUsed", AccessKeyId=k.access).ok()
    assert ans.text_of("GetAccessKeyLastUsedResult/UserName") == name
    _q(base, radm.key, "UpdateAccessKey", UserName=name.upper(), AccessKeyId=k.access, Status="Inactive").ok()
    _q(base, radm.key, "DeleteAccessKey", UserName=name.lower(), AccessKeyId=k.access).ok()
    _q(base, radm.key, "DeleteRole", RoleName=name.swapcase()).ok()
    _role_absent(base, radm.key, name)


def test_entity_actions_stay_typed(base, admin, radm):
    """§3.3: a name held by the other kind is not found, with the action's own message."""
    role, _ = _create_role(base, radm.key)
    user = sc.sa_name("typeduser")
    _q(base, radm.key, "CreateUser", UserName=user).ok()
    ghost = sc.sa_name("ghost")
    for name in (ghost, user):
        _q(base, radm.key, "GetRole", RoleName=name).fails("NoSuchEntity", 404, sc.MSG_NO_ROLE % name)
        _q(base, radm.key, "DeleteRole", RoleName=name).fails("NoSuchEntity", 404, sc.MSG_NO_ROLE % name)
    for name in (ghost, role):
        _q(base, radm.key, "GetUser", UserName=name).fails("NoSuchEntity", 404, MSG_NO_USER % name)
        _q(base, radm.key, "DeleteUser", UserName=name).fails("NoSuchEntity", 404, MSG_NO_USER % name)
    # Key actions take either kind; an unknown name is "user" not found (the parameter is UserName).
    for action, extra in (("ListAccessKeys", {}), ("CreateAccessKey", {})):
        _q(base, radm.key, action, UserName=ghost, **extra).fails("NoSuchEntity", 404, MSG_NO_USER % ghost)
    role_key = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=role))
    soft = Soft()
    for action, extra in (("UpdateAccessKey", {"Status": "Inactive"}), ("DeleteAccessKey", {})):
        # §3.2 / aws-iam.md §2: UserName given, no such principal → the user is what is not found.
        ans = _q(base, radm.key, action, UserName=ghost, AccessKeyId=role_key.access, **extra).fails(
            "NoSuchEntity", 404)
        soft.eq(ans.message, MSG_NO_USER % ghost, "%s UserName=<unknown> AccessKeyId=<a role's key>" % action)
    assert _key_ids(base, radm.key, role) == [(role, role_key.access, "Active")]
    assert ghost not in _role_names(base, radm.key, "/")
    _get_role(base, radm.key, role)
    _q(base, radm.key, "GetUser", UserName=user).ok()
    users = [sc._text(m, "UserName") for m in _q(base, radm.key, "ListUsers").ok()  # noqa: SLF001
             .findall("ListUsersResult/Users/member")]
    assert user in users and role not in users
    assert role in _role_names(base, radm.key, "/") and user not in _role_names(base, radm.key, "/")
    soft.done()


def test_names_are_unique_across_users_and_roles(base, admin, radm, make_user):
    role, _ = _create_role(base, radm.key, sc.sa_name("TakenRole"))
    u = make_user(prefix="TakenUser")
    before_sa, before_users = sc.sa_snapshot(base, admin.token), client.user_snapshot(base, admin.token)
    # The exact spelling: the verbatim texts of §5.7.
    _q(base, radm.key, "CreateRole", RoleName=u.name, AssumeRolePolicyDocument="{}").fails(
        "EntityAlreadyExists", 409, MSG_EXISTS_USER % u.name)
    _q(base, radm.key, "CreateUser", UserName=role).fails("EntityAlreadyExists", 409, sc.MSG_ROLE_EXISTS % role)
    _q(base, radm.key, "CreateRole", RoleName=role, AssumeRolePolicyDocument="{}").fails(
        "EntityAlreadyExists", 409, sc.MSG_ROLE_EXISTS % role)
    # Another case: the same answer, naming the holder's kind.
    for spelling in (u.name.upper(), u.name.swapcase()):
        ans = _q(base, radm.key, "CreateRole", RoleName=spelling, AssumeRolePolicyDocument="{}").fails(
            "EntityAlreadyExists", 409)
        assert ans.message.lower() == (MSG_EXISTS_USER % spelling).lower(), ans.describe()
    for spelling in (role.upper(), role.lower()):
        for action, params in (("CreateUser", {"UserName": spelling}),
                               ("CreateRole", {"RoleName": spelling, "AssumeRolePolicyDocument": "{}"})):
            ans = sc.aws_query(base, radm.key, action, params).fails("EntityAlreadyExists", 409)
            assert ans.message.lower() == (sc.MSG_ROLE_EXISTS % spelling).lower(), ans.describe()
    assert sc.sa_snapshot(base, admin.token) == before_sa
    assert client.user_snapshot(base, admin.token) == before_users


def test_tag_errors_of_create_user_and_create_role_leave_the_name_free(base, admin, radm):
    """Tag keys that differ only in the case of a letter beyond ASCII are duplicates too (PostgreSQL's lower()
    folds them, and its unique index refuses the second); a tag without a Value is a validation error. Neither
    may pass for a taken name (409), nor stop the name being used right after."""
    before_sa, before_users = sc.sa_snapshot(base, admin.token), client.user_snapshot(base, admin.token)
    for action, name_param, extra in (("CreateUser", "UserName", {}),
                                      ("CreateRole", "RoleName", {"AssumeRolePolicyDocument": "{}"})):
        name = sc.sa_name("tagerr")
        params = dict(extra, **{name_param: name})
        sc.aws_query(base, radm.key, action, dict(params, **{
            "Tags.member.1.Key": "\u00c9quipe", "Tags.member.1.Value": "a",
            "Tags.member.2.Key": "\u00e9quipe", "Tags.member.2.Value": "b"})).fails("InvalidInput", 400, sc.MSG_DUP_TAGS)
        ans = sc.aws_query(base, radm.key, action, dict(params, **{"Tags.member.1.Key": "team"})).fails(
            "ValidationError", 400)
        assert ans.message == ("1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy "
                               "constraint: Member must not be null"), ans.describe()
        sc.aws_query(base, radm.key, action, dict(params, **{"Tags.member.1.Key": "\u00c9quipe",
                                                            "Tags.member.1.Value": "a"})).ok()
        if action == "CreateUser":
            sc.aws_query(base, radm.key, "DeleteUser", {"UserName": name}).ok()
        else:
            sc.aws_query(base, radm.key, "DeleteRole", {"RoleName": name}).ok()
    assert sc.sa_snapshot(base, admin.token) == before_sa
    assert client.user_snapshot(base, admin.token) == before_users


@pytest.mark.parametrize("value", ["a\x01b", b"caf\xc3", b"\xff\xfe", "tab\there", "x" * 127 + "\u00e9"],
                         ids=["control", "cut_utf8", "not_utf8", "tab", "cut_at_128_bytes"])
def test_error_messages_echoing_any_byte_stay_well_formed_xml(base, radm, value):
    """Validation and refusal messages quote the request's parameters, cut to a length: whatever bytes those
    hold, the answer is XML an SDK parses (sa_client parses it), with the AWS error code."""
    ans = sc.aws_query(base, radm.key, "CreateUser", {"UserName": value}).fails("ValidationError", 400)
    assert ans.message.startswith("1 validation error detected: "), ans.describe()
    sc.aws_query(base, radm.key, "ListAccessKeys", {"UserName": value}).fails("ValidationError", 400)


# -- ListRoles -----------------------------------------------------------------------------------------------------

def test_list_roles_order_markers_and_path_prefix(base, radm):
    path = _unique_path("pg")
    h = client.random_id()[:6]
    made = {}
    for n in ("b-%s" % h, "A-%s" % h, "c-%s" % h):
        made[n] = sc._text(_create_role(base, radm.key, n, Path=path)[1], "RoleId")  # noqa: SLF001
    _q(base, radm.key, "CreateUser", UserName=sc.sa_name("pguser"), Path=path).ok()  # users are not roles
    want = ["A-%s" % h, "b-%s" % h, "c-%s" % h]  # lower(name), then id
    assert _role_names(base, radm.key, path) == want
    assert _role_names(base, radm.key, path[:-3]) == want  # a prefix of the path

    seen, marker, pages = [], None, 0
    while True:
        params = {"PathPrefix": path, "MaxItems": "1"}
        if marker is not None:
            params["Marker"] = marker
        ans = sc.aws_query(base, radm.key, "ListRoles", params).ok()
        members = ans.findall("ListRolesResult/Roles/member")
        assert len(members) == 1, ans.text
        seen.append(sc._text(members[0], "RoleName"))  # noqa: SLF001
        pages += 1
        truncated = ans.text_of("ListRolesResult/IsTruncated")
        marker = ans.text_of("ListRolesResult/Marker")
        if truncated == "false":
            assert marker is None, ans.text
            break
        assert truncated == "true" and marker, ans.text
        assert pages < 5, seen
    assert seen == want

    two = _q(base, radm.key, "ListRoles", PathPrefix=path, MaxItems="2").ok()
    assert [sc._text(m, "RoleName") for m in two.findall("ListRolesResult/Roles/member")] == want[:2]  # noqa
    rest = _q(base, radm.key, "ListRoles", PathPrefix=path, Marker=two.text_of("ListRolesResult/Marker")).ok()
    assert [sc._text(m, "RoleName") for m in rest.findall("ListRolesResult/Roles/member")] == want[2:]  # noqa

    empty = _q(base, radm.key, "ListRoles", PathPrefix=_unique_path("none")).ok()
    roles = empty.find("ListRolesResult/Roles")
    assert roles is not None and list(roles) == [], empty.text  # <Roles/>
    assert empty.text_of("ListRolesResult/IsTruncated") == "false" and \
        empty.find("ListRolesResult/Marker") is None, empty.text


def _marker(raw):
    """A marker in the form oscred gives (base64url of "<name>\n<id>"), with made-up contents."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("action", ["ListRoles", "ListUsers"])
@pytest.mark.parametrize("params,member", [
    ({"Marker": "not-a-marker"}, None),
    ({"Marker": _marker(b"\xff\xfe\n" + b"0" * 32)}, None),
    ({"Marker": _marker(b"\xc3\n" + b"0" * 32)}, None),
    ({"Marker": _marker(b"a\x00b\n" + b"0" * 32)}, None),
    ({"Marker": _marker(b"a b\n" + b"0" * 32)}, None),
    ({"MaxItems": "0"}, "maxItems"),
    ({"MaxItems": "1001"}, "maxItems"),
    ({"PathPrefix": "noslash"}, "pathPrefix"),
], ids=["bad_marker", "marker_not_utf8", "marker_cut_utf8", "marker_nul", "marker_not_a_name", "max_items_0",
        "max_items_1001", "path_prefix"])
def test_list_roles_validation(base, radm, action, params, member):
    ans = sc.aws_query(base, radm.key, action, params).fails("ValidationError", 400)
    if member is not None:
        assert "'%s'" % member in ans.message and ans.message.startswith("1 validation error detected: "), \
            ans.describe()


def test_list_roles_paginator(boto, radm):
    iam = boto(radm.key)
    path = _unique_path("b3pg")
    names = sorted((iam.create_role(RoleName=sc.sa_name("pg"), Path=path, AssumeRolePolicyDocument="{}")
                    ["Role"]["RoleName"] for _ in range(3)), key=str.lower)
    pages = list(iam.get_paginator("list_roles").paginate(PathPrefix=path, PaginationConfig={"PageSize": 1}))
    assert [len(p["Roles"]) for p in pages] == [1, 1, 1], pages
    assert [p["IsTruncated"] for p in pages] == [True, True, False], pages
    assert all(p.get("Marker") for p in pages[:2]) and "Marker" not in pages[2], pages
    assert [r["RoleName"] for p in pages for r in p["Roles"]] == names
    assert all(r["AssumeRolePolicyDocument"] == {} for p in pages for r in p["Roles"])
    two = iam.get_paginator("list_roles").paginate(
        PathPrefix=path, PaginationConfig={"PageSize": 1, "MaxItems": 2}).build_full_result()
    assert [r["RoleName"] for r in two["Roles"]] == names[:2] and "NextToken" in two, two


def test_role_exists_waiter(boto, radm):
    iam = boto(radm.key)
    name = sc.sa_name("waitrole")
    saw_missing = threading.Event()
    done = {}

    def after_get_role(parsed, **_):
        if parsed.get("Error", {}).get("Code") == "NoSuchEntity":
            saw_missing.set()

    iam.meta.events.register("after-call.iam.GetRole", after_get_role)
    waiter = iam.get_waiter("role_exists")

    def wait():
        try:
            waiter.wait(RoleName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 15})
            done["ok"] = True
        except Exception as e:  # noqa: BLE001 - reported below
            done["error"] = e

    t = threading.Thread(target=wait)
    t.start()
    assert saw_missing.wait(30), "the waiter's GetRole never answered NoSuchEntity"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    t.join(timeout=30)
    assert not t.is_alive() and done == {"ok": True}, done

    from botocore.exceptions import WaiterError  # noqa: PLC0415

    with pytest.raises(WaiterError) as info:
        waiter.wait(RoleName=sc.sa_name("ghost"), WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert info.value.last_response["Error"]["Code"] == "NoSuchEntity", info.value.last_response


# -- DeleteRole ----------------------------------------------------------------------------------------------------

def test_delete_role_conflicts_while_it_has_keys(base, admin, radm):
    name, role = _create_role(base, radm.key)
    role_id = sc._text(role, "RoleId")  # noqa: SLF001
    assert sc.grant(base, admin.token, admin.domain_id, role_id, "security_admin").status_code == 204
    k1 = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
    k2 = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
    _q(base, radm.key, "UpdateAccessKey", UserName=name, AccessKeyId=k2.access, Status="Inactive").ok()
    for remaining in ([k1, k2], [k2]):
        _q(base, radm.key, "DeleteRole", RoleName=name).fails("DeleteConflict", 409, MSG_DELETE_CONFLICT)
        _get_role(base, radm.key, name)
        assert sorted(x[1] for x in _key_ids(base, radm.key, name)) == sorted(k.access for k in remaining)
        assert sc.grant_names(base, admin.token, admin.domain_id, role_id) == ["security_admin"]
        _q(base, radm.key, "DeleteAccessKey", UserName=name, AccessKeyId=remaining[0].access).ok()
    ans = _q(base, radm.key, "DeleteRole", RoleName=name).ok()
    assert sc.children(ans.root) == ["ResponseMetadata"], ans.text
    _role_absent(base, radm.key, name)
    _q(base, radm.key, "DeleteRole", RoleName=name).fails("NoSuchEntity", 404, sc.MSG_NO_ROLE % name)
    client.assert_keystone_error(sc.get_sa(base, admin.token, role_id), 404)
    client.assert_keystone_error(sc.list_grants(base, admin.token, admin.domain_id, role_id), 404)
    # Its grants went with it: the same name again is a new principal without them.
    _, again = _create_role(base, radm.key, name)
    new_id = sc._text(again, "RoleId")  # noqa: SLF001
    assert new_id != role_id and sc.grant_names(base, admin.token, admin.domain_id, new_id) == []


@pytest.mark.parametrize("action", ["UpdateRole", "TagRole", "UntagRole", "ListRoleTags", "AttachRolePolicy",
                                    "PutRolePolicy", "UpdateAssumeRolePolicy", "UpdateRoleDescription",
                                    "CreateInstanceProfile", "AddRoleToInstanceProfile", "CreateServiceLinkedRole"])
def test_other_role_actions_are_invalid_action(base, radm, action):
    name, _ = _create_role(base, radm.key, Description="before")
    ans = _q(base, radm.key, action, RoleName=name, Description="after", PolicyDocument="{}", PolicyName="p",
             PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess", InstanceProfileName=sc.sa_name("ip"),
             AWSServiceName="ec2.amazonaws.com", **{"Tags.member.1.Key": "k", "Tags.member.1.Value": "v"})
    ans.fails("InvalidAction", 400, sc.MSG_INVALID_ACTION % action)
    g = _get_role(base, radm.key, name)
    assert sc._text(g, "Description") == "before" and sc.xml_find(g, "Tags") is None  # noqa: SLF001
    assert sc._text(g, "AssumeRolePolicyDocument") == "%7B%7D"  # noqa: SLF001


# -- keys of a role ------------------------------------------------------------------------------------------------

def test_admin_and_security_admin_manage_a_roles_keys(base, admin, radm, boto):
    name, role = _create_role(base, radm.key)
    role_id = sc._text(role, "RoleId")  # noqa: SLF001
    secadm = new_principal(base, admin, roles=("security_admin",), prefix="rsec")
    for actor in (radm, secadm):
        iam = boto(actor.key)
        made = iam.create_access_key(UserName=name)["AccessKey"]
        client.remember_secret(made["SecretAccessKey"])
        assert (made["UserName"], made["Status"]) == (name, "Active"), made
        assert client.AK_RE.match(made["AccessKeyId"]) and client.SK_RE.match(made["SecretAccessKey"])
        listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        assert [(m["UserName"], m["AccessKeyId"], m["Status"]) for m in listed] == \
            [(name, made["AccessKeyId"], "Active")]
        assert client.key_state(base, admin.token, made["AccessKeyId"])["user_id"] == role_id
        last = iam.get_access_key_last_used(AccessKeyId=made["AccessKeyId"])
        assert (last["UserName"], last["AccessKeyLastUsed"]) == (name, {"ServiceName": "N/A", "Region": "N/A"})
        iam.update_access_key(UserName=name, AccessKeyId=made["AccessKeyId"], Status="Inactive")
        assert client.key_state(base, admin.token, made["AccessKeyId"])["status"] == "inactive"
        iam.delete_access_key(UserName=name, AccessKeyId=made["AccessKeyId"])
        assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    # security_admin reads roles but does not create or delete them (§4).
    _get_role(base, secadm.key, name)
    assert name in _role_names(base, secadm.key, "/")
    soft = Soft()
    arn = _q(base, secadm.key, "GetUser").ok().text_of("GetUserResult/User/Arn")
    other = sc.sa_name("nope")
    ans = _q(base, secadm.key, "CreateRole", RoleName=other, AssumeRolePolicyDocument="{}").fails("AccessDenied", 403)
    soft.eq(ans.message, sc.denied(arn, "CreateRole", "role", other), "CreateRole by security_admin")
    ans = _q(base, secadm.key, "DeleteRole", RoleName=name).fails("AccessDenied", 403)
    soft.eq(ans.message, sc.denied(arn, "DeleteRole", "role", name), "DeleteRole by security_admin")
    _get_role(base, radm.key, name)
    _role_absent(base, radm.key, other)
    soft.done()


def test_third_key_of_a_role_is_limit_exceeded(base, admin, radm, boto):
    name, role = _create_role(base, radm.key)
    iam = boto(radm.key)
    made = [iam.create_access_key(UserName=name)["AccessKey"] for _ in range(2)]
    for m in made:
        client.remember_secret(m["SecretAccessKey"])
    iam.update_access_key(UserName=name, AccessKeyId=made[0]["AccessKeyId"], Status="Inactive")
    from botocore.exceptions import ClientError  # noqa: PLC0415

    with pytest.raises(iam.exceptions.LimitExceededException) as info:
        iam.create_access_key(UserName=name)
    assert isinstance(info.value, ClientError)
    assert (info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]) == \
        ("LimitExceeded", MSG_LIMIT)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # Its own key hits the same limit (UserName omitted).
    own = Key(made[1]["AccessKeyId"], made[1]["SecretAccessKey"], name)
    _q(base, own, "CreateAccessKey").fails("LimitExceeded", 409, MSG_LIMIT)
    assert sorted(x[1] for x in _key_ids(base, radm.key, name)) == sorted(m["AccessKeyId"] for m in made)


def test_a_role_key_rotates_itself(base, admin, radm):
    """Seed 004 / §5.5: UserName omitted = the role that owns the signing key."""
    name, role = _create_role(base, radm.key, sc.sa_name("Rotator"))
    first = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
    assert _key_ids(base, first) == [(name, first.access, "Active")]
    second = sc.key_from(_q(base, first, "CreateAccessKey"))
    assert second.owner_name == name
    ans = _q(base, second, "GetAccessKeyLastUsed", AccessKeyId=first.access).ok()
    assert ans.text_of("GetAccessKeyLastUsedResult/UserName") == name
    assert sorted(_key_ids(base, second, name.upper())) == sorted([(name, first.access, "Active"),
                                                                  (name, second.access, "Active")])
    _q(base, second, "UpdateAccessKey", AccessKeyId=first.access, Status="Inactive").ok()
    _q(base, first, "ListAccessKeys").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    _q(base, second, "UpdateAccessKey", UserName=name, AccessKeyId=first.access, Status="Active").ok()
    _q(base, first, "ListAccessKeys").ok()
    _q(base, second, "DeleteAccessKey", AccessKeyId=first.access).ok()
    _q(base, first, "ListAccessKeys").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    # It reads itself (any case) but GetUser without UserName has no user to answer with (§3.6).
    assert sc._text(_get_role(base, second, name.swapcase()), "RoleName") == name  # noqa: SLF001
    _q(base, second, "GetUser").fails("ValidationError", 400, sc.MSG_NON_USER)
    assert client.key_snapshot(base, admin.token, sc._text(role, "RoleId")) == [(second.access, "active", "")]
    # Deleting the signing key: this request succeeds, the next is refused.
    _q(base, second, "DeleteAccessKey", AccessKeyId=second.access).ok()
    _q(base, second, "ListAccessKeys").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    assert _key_ids(base, radm.key, name) == []


# -- policy (§4) -----------------------------------------------------------------------------------------------------

def test_a_role_key_without_grant_may_do_nothing_else(base, admin, radm):
    path = _unique_path("ci")
    name, role = _create_role(base, radm.key, Path=path)
    arn = sc._text(role, "Arn")  # noqa: SLF001
    me = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
    other_role, _ = _create_role(base, radm.key)
    other_role_key = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=other_role))
    victim = new_principal(base, admin, prefix="rvictim")
    ghost, newbie = sc.sa_name("ghost"), sc.sa_name("newbie")
    before_sa, before_users = sc.sa_snapshot(base, admin.token), client.user_snapshot(base, admin.token)

    soft = Soft()
    calls = [
        ("ListUsers", {}, "user", "*"),
        ("ListRoles", {}, "role", "*"),
        ("CreateUser", {"UserName": newbie}, "user", newbie),
        ("CreateRole", {"RoleName": newbie, "AssumeRolePolicyDocument": "{}"}, "role", newbie),
        ("DeleteRole", {"RoleName": name}, "role", name),
        ("DeleteRole", {"RoleName": other_role}, "role", other_role),
        ("DeleteRole", {"RoleName": ghost}, "role", ghost),
        ("GetRole", {"RoleName": other_role}, "role", other_role),
        ("GetRole", {"RoleName": ghost}, "role", ghost),
        ("GetUser", {"UserName": victim.name}, "user", victim.name),
        ("DeleteUser", {"UserName": victim.name}, "user", victim.name),
        ("ListAccessKeys", {"UserName": victim.name}, "user", victim.name),
        ("ListAccessKeys", {"UserName": other_role}, "user", other_role),
        ("ListAccessKeys", {"UserName": ghost}, "user", ghost),
        ("CreateAccessKey", {"UserName": victim.name}, "user", victim.name),
        ("CreateAccessKey", {"UserName": other_role}, "user", other_role),
        ("CreateAccessKey", {"UserName": ghost}, "user", ghost),
        ("UpdateAccessKey", {"UserName": victim.name, "AccessKeyId": victim.key.access, "Status": "Inactive"},
         "user", victim.name),
        ("DeleteAccessKey", {"UserName": other_role, "AccessKeyId": other_role_key.access}, "user", other_role),
    ]
    for action, params, kind, target in calls:
        soft.refused(sc.aws_query(base, me, action, params), sc.denied(arn, action, kind, target),
                     "%s %r" % (action, params))
    # Another principal's key by its id alone: AccessDenied (a key of this domain it may not administer).
    for action, params in (("UpdateAccessKey", {"AccessKeyId": victim.key.access, "Status": "Inactive"}),
                           ("DeleteAccessKey", {"AccessKeyId": other_role_key.access}),
                           ("GetAccessKeyLastUsed", {"AccessKeyId": victim.key.access})):
        soft.refused(sc.aws_query(base, me, action, params),
                     "User: %s is not authorized to perform: iam:%s on resource: " % (arn, action),
                     "%s %r" % (action, params), prefix=True)

    assert sc.sa_snapshot(base, admin.token) == before_sa
    assert client.user_snapshot(base, admin.token) == before_users
    assert client.key_snapshot(base, admin.token, victim.id) == [(victim.key.access, "active", "")]
    assert _key_ids(base, radm.key, other_role) == [(other_role, other_role_key.access, "Active")]
    assert _key_ids(base, me) == [(name, me.access, "Active")]
    _role_absent(base, radm.key, newbie)
    _q(base, radm.key, "GetUser", UserName=newbie).fails("NoSuchEntity", 404, MSG_NO_USER % newbie)
    soft.done()


def test_a_plain_user_is_refused_role_actions_whether_or_not_the_role_exists(base, admin, radm):
    role, _ = _create_role(base, radm.key)
    role_key = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=role))
    u = new_principal(base, admin, prefix="rplain")
    arn = _q(base, u.key, "GetUser").ok().text_of("GetUserResult/User/Arn")
    ghost = sc.sa_name("ghost")
    before = sc.sa_snapshot(base, admin.token)
    soft = Soft()
    for target in (role, ghost):
        for action, params, kind in (
                ("GetRole", {"RoleName": target}, "role"),
                ("DeleteRole", {"RoleName": target}, "role"),
                ("CreateRole", {"RoleName": target, "AssumeRolePolicyDocument": "{}"}, "role"),
                ("ListAccessKeys", {"UserName": target}, "user"),
                ("CreateAccessKey", {"UserName": target}, "user"),
                ("DeleteAccessKey", {"UserName": target, "AccessKeyId": role_key.access}, "user")):
            soft.refused(sc.aws_query(base, u.key, action, params), sc.denied(arn, action, kind, target),
                         "%s %r" % (action, params))
    soft.refused(_q(base, u.key, "ListRoles"), sc.denied(arn, "ListRoles", "role", "*"), "ListRoles")
    soft.refused(_q(base, u.key, "DeleteAccessKey", AccessKeyId=role_key.access),
                 "User: %s is not authorized to perform: iam:DeleteAccessKey on resource: " % arn,
                 "DeleteAccessKey by id", prefix=True)
    assert sc.sa_snapshot(base, admin.token) == before
    assert _key_ids(base, radm.key, role) == [(role, role_key.access, "Active")]
    soft.done()


def test_granted_security_admin_widens_a_role_key_until_revoked(base, admin, radm):
    name, role = _create_role(base, radm.key)
    role_id, arn = sc._text(role, "RoleId"), sc._text(role, "Arn")  # noqa: SLF001
    me = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
    victim = new_principal(base, admin, prefix="rmanaged")
    _q(base, me, "ListUsers").fails("AccessDenied", 403)

    assert sc.grant(base, admin.token, admin.domain_id, role_id, "security_admin").status_code == 204
    users = [sc._text(m, "UserName") for m in _q(base, me, "ListUsers").ok()  # noqa: SLF001
             .findall("ListUsersResult/Users/member")]
    assert victim.name in users
    assert name in _role_names(base, me, "/")
    made = sc.key_from(_q(base, me, "CreateAccessKey", UserName=victim.name))
    assert made.owner_name == victim.name
    _q(base, me, "UpdateAccessKey", UserName=victim.name, AccessKeyId=victim.key.access, Status="Inactive").ok()
    assert sorted(_key_ids(base, me, victim.name)) == sorted([(victim.name, victim.key.access, "Inactive"),
                                                              (victim.name, made.access, "Active")])
    # Still no identity administration, and still no GetUser without a name.
    _q(base, me, "CreateRole", RoleName=sc.sa_name("no"), AssumeRolePolicyDocument="{}").fails("AccessDenied", 403)
    _q(base, me, "GetUser").fails("ValidationError", 400, sc.MSG_NON_USER)

    # Revocation applies to the very next request.
    assert sc.revoke(base, admin.token, admin.domain_id, role_id, "security_admin").status_code == 204
    soft = Soft()
    ans = _q(base, me, "DeleteAccessKey", UserName=victim.name, AccessKeyId=made.access).fails("AccessDenied", 403)
    soft.eq(ans.message, sc.denied(arn, "DeleteAccessKey", "user", victim.name), "DeleteAccessKey after revoke")
    _q(base, me, "ListUsers").fails("AccessDenied", 403)
    assert sorted(_key_ids(base, radm.key, victim.name)) == sorted([(victim.name, victim.key.access, "Inactive"),
                                                                    (victim.name, made.access, "Active")])
    soft.done()


def test_granted_admin_lets_a_role_key_create_roles(base, admin, radm):
    name, role = _create_role(base, radm.key)
    role_id = sc._text(role, "RoleId")  # noqa: SLF001
    me = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
    assert sc.grant(base, admin.token, admin.domain_id, role_id, "admin").status_code == 204
    child, _ = _create_role(base, me, sc.sa_name("child"))
    _q(base, me, "DeleteRole", RoleName=child).ok()
    assert sc.revoke(base, admin.token, admin.domain_id, role_id, "admin").status_code == 204
    other = sc.sa_name("late")
    _q(base, me, "CreateRole", RoleName=other, AssumeRolePolicyDocument="{}").fails("AccessDenied", 403)
    _role_absent(base, radm.key, other)


INVALID_AND_UNAUTHORISED = [
    ("CreateRole", {"RoleName": "NEW", "AssumeRolePolicyDocument": "policy.json"}, "role", "NEW"),
    ("CreateRole", {"RoleName": "NEW"}, "role", "NEW"),
    ("CreateRole", {"RoleName": "NEW", "AssumeRolePolicyDocument": "{}", "MaxSessionDuration": "100000"},
     "role", "NEW"),
    ("CreateRole", {"RoleName": "NEW", "AssumeRolePolicyDocument": "{}", "Path": "noslash"}, "role", "NEW"),
    ("CreateRole", {"RoleName": "NEW", "AssumeRolePolicyDocument": "{}",
                    "PermissionsBoundary": "arn:aws:iam::123456789012:policy/b"}, "role", "NEW"),
    ("CreateRole", {"RoleName": "bad name", "AssumeRolePolicyDocument": "{}"}, "role", "bad name"),
    ("GetRole", {"RoleName": "bad name"}, "role", "bad name"),
    ("DeleteRole", {"RoleName": "bad name"}, "role", "bad name"),
    ("ListRoles", {"MaxItems": "0"}, "role", "*"),
    ("ListRoles", {"PathPrefix": "noslash"}, "role", "*"),
]


@pytest.mark.parametrize("caller", ["plain_user", "role_key"])
def test_authorisation_comes_before_validation(base, admin, radm, caller):
    """§4 / aws-iam.md §5 step 7: authenticate, authorise, then validate. A caller who may not perform the action
    gets AccessDenied whatever the parameters hold, so validation answers tell it nothing. (One test per caller;
    every case is reported.)"""
    if caller == "plain_user":
        who = new_principal(base, admin, prefix="order").key
        arn = _q(base, who, "GetUser").ok().text_of("GetUserResult/User/Arn")
    else:
        name, role = _create_role(base, radm.key, sc.sa_name("order"))
        who = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
        arn = sc._text(role, "Arn")  # noqa: SLF001
    new = sc.sa_name("never")
    before = sc.sa_snapshot(base, admin.token)
    soft = Soft()
    for action, params, kind, target in INVALID_AND_UNAUTHORISED:
        params = {k: v.replace("NEW", new) for k, v in params.items()}
        soft.refused(sc.aws_query(base, who, action, params), sc.denied(arn, action, kind, target.replace("NEW", new)),
                     "%s %r" % (action, params))
    assert sc.sa_snapshot(base, admin.token) == before
    _role_absent(base, radm.key, new)
    soft.done()


# -- RoleLastUsed (§5.2) ---------------------------------------------------------------------------------------------

def test_role_last_used(base, radm, boto):
    name, _ = _create_role(base, radm.key)
    me = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
    iam = boto(radm.key)
    assert iam.get_role(RoleName=name)["Role"]["RoleLastUsed"] == {}
    t0 = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(seconds=2)
    _q(base, me, "ListAccessKeys", region="eu-west-1").ok()

    def used():
        last = iam.get_role(RoleName=name)["Role"]["RoleLastUsed"]
        return last if "LastUsedDate" in last else None

    last = poll(used, sc.LAST_USE_DEADLINE, "RoleLastUsed of %s after its key signed a request" % name)
    assert last["Region"] == "eu-west-1", last
    now = datetime.datetime.now(datetime.timezone.utc)
    assert t0 <= last["LastUsedDate"] <= now + datetime.timedelta(seconds=5), (t0, last)
    g = _get_role(base, radm.key, name)
    assert sc.children_elems(g, "RoleLastUsed") and sc._text(g, "RoleLastUsed/Region") == "eu-west-1"  # noqa
    key_last = iam.get_access_key_last_used(AccessKeyId=me.access)
    assert key_last["UserName"] == name, key_last
    assert (key_last["AccessKeyLastUsed"].get("ServiceName"), key_last["AccessKeyLastUsed"].get("Region")) == \
        ("iam", "eu-west-1"), key_last
    # RoleLastUsed is derived from the role's current keys: once the used key is gone, so is the last use.
    iam.delete_access_key(UserName=name, AccessKeyId=me.access)
    assert iam.get_role(RoleName=name)["Role"]["RoleLastUsed"] == {}


# -- tenancy -------------------------------------------------------------------------------------------------------

def test_another_domain_sees_no_role_no_key_no_name(base, admin, other_admin, radm, foreign):
    name, role = _create_role(base, radm.key, sc.sa_name("Secret"))
    key = sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=name))
    alien = foreign["admin"].key
    soft = Soft()
    for spelling in (name, name.upper()):
        _q(base, alien, "GetRole", RoleName=spelling).fails("NoSuchEntity", 404, sc.MSG_NO_ROLE % spelling)
        _q(base, alien, "DeleteRole", RoleName=spelling).fails("NoSuchEntity", 404, sc.MSG_NO_ROLE % spelling)
        for action in ("ListAccessKeys", "CreateAccessKey"):
            _q(base, alien, action, UserName=spelling).fails("NoSuchEntity", 404, MSG_NO_USER % spelling)
        # aws-iam.md §2: "UserName given but user missing → The user with name X cannot be found."
        ans = _q(base, alien, "DeleteAccessKey", UserName=spelling, AccessKeyId=key.access).fails("NoSuchEntity", 404)
        soft.eq(ans.message, MSG_NO_USER % spelling, "DeleteAccessKey UserName=%s (another domain's role)" % spelling)
    for action, params in (("GetAccessKeyLastUsed", {}), ("UpdateAccessKey", {"Status": "Inactive"}),
                           ("DeleteAccessKey", {})):
        sc.aws_query(base, alien, action, dict(params, AccessKeyId=key.access)).fails(
            "NoSuchEntity", 404, MSG_NO_KEY % key.access)
    assert name not in _role_names(base, alien, "/")
    # The name is free in the other domain.
    _create_role(base, alien, name)
    _q(base, alien, "DeleteRole", RoleName=name).ok()
    g = _get_role(base, radm.key, name)
    assert sc._text(g, "RoleId") == sc._text(role, "RoleId")  # noqa: SLF001
    assert _key_ids(base, radm.key, name) == [(name, key.access, "Active")]
    _q(base, key, "ListAccessKeys").ok()
    soft.done()


# -- concurrency ---------------------------------------------------------------------------------------------------

def test_delete_role_racing_create_access_key(base, admin, radm, second_server):
    """Never a deleted role with a key left, never a 5xx (§2 Deletion: both take the principal row lock)."""
    bases = [base, second_server.base_url]
    rounds = 24
    names = [_create_role(base, radm.key, sc.sa_name("race"))[0] for _ in range(rounds)]
    ids = {n: sc._text(_get_role(base, radm.key, n), "RoleId") for n in names}  # noqa: SLF001

    def one(i):
        barrier = threading.Barrier(2)
        name = names[i]

        def delete():
            barrier.wait(timeout=30)
            return sc.aws_query(bases[i % 2], radm.key, "DeleteRole", {"RoleName": name})

        def create():
            barrier.wait(timeout=30)
            if i % 3 == 2:  # sometimes through OS-CREDENTIAL, the other surface
                return client.create_credential(bases[(i + 1) % 2], admin.token, ids[name])
            return sc.aws_query(bases[(i + 1) % 2], radm.key, "CreateAccessKey", {"UserName": name})

        with ThreadPoolExecutor(max_workers=2) as inner:
            d, c = inner.submit(delete), inner.submit(create)
            return name, d.result(), c.result()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(rounds)))

    outcomes = collections.Counter()
    soft = Soft()
    for name, d, c in results:
        c_status = c.status if isinstance(c, sc.AwsAnswer) else c.status_code
        c_text = c.describe() if isinstance(c, sc.AwsAnswer) else c.text
        assert d.status < 500 and c_status < 500, (d.describe(), c_text)
        created = None
        if c_status in (200, 201):
            created = sc.key_from(c).access if isinstance(c, sc.AwsAnswer) else c.json()["credential"]["access"]
        if d.status == 200:
            assert created is None, "role %s deleted while a key was created for it: %s" % (name, c_text)
            if isinstance(c, sc.AwsAnswer):
                c.fails("NoSuchEntity", 404)
                soft.eq(c.message, MSG_NO_USER % name, "CreateAccessKey that lost the race to DeleteRole")
            else:
                client.assert_iam_error(c, 404)
            _role_absent(base, radm.key, name)
            client.assert_iam_error(client.list_credentials(base, admin.token, ids[name]), 404)
            outcomes["deleted"] += 1
        else:
            d.fails("DeleteConflict", 409, MSG_DELETE_CONFLICT)
            assert created is not None, c_text
            assert _key_ids(base, radm.key, name) == [(name, created, "Active")]
            assert client.key_state(base, admin.token, created)["user_id"] == ids[name]
            outcomes["conflict"] += 1
    assert sum(outcomes.values()) == rounds, outcomes
    soft.done()


# -- signed GET and presigned URL (§5) -------------------------------------------------------------------------------

def test_signed_get_and_presigned_get_role(base, radm, boto):
    name, _ = _create_role(base, radm.key)
    ans = sc.aws_query(base, radm.key, "GetRole", {"RoleName": name}, method="GET").ok()
    assert ans.text_of("GetRoleResult/Role/RoleName") == name
    url = boto(radm.key).generate_presigned_url("get_role", Params={"RoleName": name}, HttpMethod="GET")
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    root = sc.ET.fromstring(r.content)
    assert sc.xml_find(root, "GetRoleResult/Role/RoleName").text == name, r.text


# -- boto3: errors as SDK users see them -----------------------------------------------------------------------------

def test_boto3_error_codes_and_exception_classes(base, admin, boto, radm):
    from botocore.exceptions import ClientError  # noqa: PLC0415

    iam = boto(radm.key)
    name = iam.create_role(RoleName=sc.sa_name("b3err"), AssumeRolePolicyDocument="{}")["Role"]["RoleName"]
    k = iam.create_access_key(UserName=name)["AccessKey"]
    client.remember_secret(k["SecretAccessKey"])
    plain = new_principal(base, admin, prefix="b3plain")
    ghost = sc.sa_name("ghost")

    def fails(call, code, status, message, exc):
        with pytest.raises(ClientError) as info:
            call()
        e = info.value
        assert (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status), \
            e.response
        if message is not None:
            assert e.response["Error"]["Message"] == message, e.response
        assert e.response["Error"]["Type"] == "Sender", e.response
        if exc is not None:
            assert type(e).__name__ == exc, (type(e).__name__, e.response)

    fails(lambda: iam.get_role(RoleName=ghost), "NoSuchEntity", 404, sc.MSG_NO_ROLE % ghost, "NoSuchEntityException")
    fails(lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}"), "EntityAlreadyExists", 409,
          sc.MSG_ROLE_EXISTS % name, "EntityAlreadyExistsException")
    fails(lambda: iam.create_role(RoleName=ghost, AssumeRolePolicyDocument="policy.json"),
          "MalformedPolicyDocument", 400, sc.MSG_BAD_JSON, "MalformedPolicyDocumentException")
    fails(lambda: iam.delete_role(RoleName=name), "DeleteConflict", 409, MSG_DELETE_CONFLICT,
          "DeleteConflictException")
    client.remember_secret(iam.create_access_key(UserName=name)["AccessKey"]["SecretAccessKey"])
    fails(lambda: iam.create_access_key(UserName=name), "LimitExceeded", 409, MSG_LIMIT, "LimitExceededException")
    fails(lambda: iam.create_role(RoleName=ghost, AssumeRolePolicyDocument="{}",
                                  PermissionsBoundary="arn:aws:iam::123456789012:policy/b"),
          "InvalidInput", 400, sc.MSG_NO_BOUNDARY, "InvalidInputException")
    fails(lambda: iam.create_role(RoleName=ghost, AssumeRolePolicyDocument="{}", MaxSessionDuration=100000),
          "ValidationError", 400, sc.MSG_MAX_SESSION % "100000", None)
    role_iam = boto(Key(k["AccessKeyId"], k["SecretAccessKey"], name))
    fails(role_iam.get_user, "ValidationError", 400, sc.MSG_NON_USER, None)
    fails(role_iam.list_roles, "AccessDenied", 403, None, None)
    fails(lambda: boto(plain.key).get_role(RoleName=name), "AccessDenied", 403, None, None)
    _role_absent(base, radm.key, ghost)
    assert len(iam.list_access_keys(UserName=name)["AccessKeyMetadata"]) == 2


# -- the aws CLI (the flows) ---------------------------------------------------------------------------------
# Each CLI run costs about a second of CPU: the flows run the CLI where the issue does, independent commands run
# concurrently (AwsCli.many), and state is read back with raw requests.

def test_cli_ci_deployer_rotates_with_its_own_key(base, admin, aws_cli, radm):
    name = sc.sa_name("ci-deployer")
    role = aws_cli(radm.key, "create-role", "--role-name", name, "--assume-role-policy-document", "{}").ok()["Role"]
    assert (role["RoleName"], role["Path"], role["AssumeRolePolicyDocument"]) == (name, "/", {}), role
    assert sc.role_arn_re("/", name).match(role["Arn"]), role
    arn = role["Arn"]
    # The same service account on /v3/service_accounts.
    r = sc.get_sa(base, admin.token, role["RoleId"])
    assert r.status_code == 200 and (r.json()["service_account"]["name"], r.json()["service_account"]["path"]) == \
        (name, "/"), r.text
    assert [x["id"] for x in sc.list_sa(base, admin.token, name=name).json()["service_accounts"]] == [role["RoleId"]]

    raw = aws_cli(radm.key, "create-access-key", "--user-name", name).ok()["AccessKey"]
    first = Key(raw["AccessKeyId"], raw["SecretAccessKey"], name)
    assert (raw["UserName"], raw["Status"]) == (name, "Active"), raw

    # From here on, only the role's own keys.
    raw = aws_cli(first, "create-access-key").ok()["AccessKey"]  # no --user-name: the caller itself
    second = Key(raw["AccessKeyId"], raw["SecretAccessKey"], name)
    assert (raw["UserName"], raw["Status"]) == (name, "Active"), raw
    assert sorted(_key_ids(base, radm.key, name)) == sorted([(name, first.access, "Active"),
                                                            (name, second.access, "Active")])
    assert aws_cli(second, "update-access-key", "--access-key-id", first.access, "--status", "Inactive").ok() is None
    assert _key_ids(base, radm.key, name) in ([(name, first.access, "Inactive"), (name, second.access, "Active")],
                                              [(name, second.access, "Active"), (name, first.access, "Inactive")])
    assert aws_cli(second, "delete-access-key", "--access-key-id", first.access).ok() is None
    assert _key_ids(base, radm.key, name) == [(name, second.access, "Active")]

    other = sc.sa_name("other")
    refused = [
        (("list-users",), "ListUsers", "user", "*"),
        (("list-roles",), "ListRoles", "role", "*"),
        (("create-user", "--user-name", other), "CreateUser", "user", other),
        (("create-role", "--role-name", other, "--assume-role-policy-document", "{}"), "CreateRole", "role", other),
        (("delete-role", "--role-name", name), "DeleteRole", "role", name),
        (("list-access-keys", "--user-name", radm.name), "ListAccessKeys", "user", radm.name),
        (("create-access-key", "--user-name", radm.name), "CreateAccessKey", "user", radm.name),
    ]
    results = aws_cli.many(*([(second,) + args for args, _, _, _ in refused] + [
        (second, "get-user"),
        (first, "list-access-keys"),
        (radm.key, "delete-role", "--role-name", name),
        (second, "get-role", "--role-name", name.upper()),
    ]))
    soft = Soft()
    for (args, op, kind, target), res in zip(refused, results):
        line = res.error_line() or ""
        assert res.rc == 254 and line.startswith("An error occurred (AccessDenied) when calling the %s operation: "
                                                 % op), res.describe()
        soft.eq(line, "An error occurred (AccessDenied) when calling the %s operation: %s"
                % (op, sc.denied(arn, op, kind, target)), "aws iam " + " ".join(args))
    get_user, old_key, conflict, itself = results[len(refused):]
    get_user.fails_with("ValidationError", "GetUser", sc.MSG_NON_USER)
    old_key.fails_with("InvalidClientTokenId", "ListAccessKeys", MSG_BAD_TOKEN)
    # delete-role prints AWS's own line while the role has keys.
    conflict.fails_with("DeleteConflict", "DeleteRole", MSG_DELETE_CONFLICT)
    assert itself.ok()["Role"]["RoleName"] == name
    _get_role(base, radm.key, name)
    _role_absent(base, radm.key, other)
    _q(base, radm.key, "GetUser", UserName=other).fails("NoSuchEntity", 404, MSG_NO_USER % other)
    assert [x[0] for x in client.key_snapshot(base, admin.token, radm.id)] == [radm.key.access]

    assert aws_cli(second, "delete-access-key", "--access-key-id", second.access).ok() is None
    assert aws_cli(radm.key, "delete-role", "--role-name", name).ok() is None
    _role_absent(base, radm.key, name)
    client.assert_keystone_error(sc.get_sa(base, admin.token, role["RoleId"]), 404)
    soft.done()


def test_cli_error_lines_and_exit_254(base, admin, aws_cli, radm):
    name, _ = _create_role(base, radm.key, sc.sa_name("cli-err"))
    full = sc.sa_name("cli-full")
    _create_role(base, radm.key, full)
    for _ in range(2):
        sc.key_from(_q(base, radm.key, "CreateAccessKey", UserName=full))
    plain = new_principal(base, admin, prefix="cliplain")
    user_arn = _q(base, plain.key, "GetUser").ok().text_of("GetUserResult/User/Arn")
    ghost = sc.sa_name("ghost")
    results = aws_cli.many(
        # A file name without file:// is sent as the document itself.
        (radm.key, "create-role", "--role-name", ghost, "--assume-role-policy-document", "policy.json"),
        (radm.key, "create-role", "--role-name", name, "--assume-role-policy-document", "{}"),
        (radm.key, "create-user", "--user-name", name),
        (radm.key, "get-role", "--role-name", ghost),
        (radm.key, "delete-role", "--role-name", ghost),
        (radm.key, "list-access-keys", "--user-name", ghost),
        (radm.key, "create-access-key", "--user-name", full),
        (plain.key, "get-role", "--role-name", name),
        (plain.key, "list-roles"),
        (radm.key, "list-roles", "--page-size", "1"),
    )
    results[0].fails_with("MalformedPolicyDocument", "CreateRole", sc.MSG_BAD_JSON)
    results[1].fails_with("EntityAlreadyExists", "CreateRole", sc.MSG_ROLE_EXISTS % name)
    results[2].fails_with("EntityAlreadyExists", "CreateUser", sc.MSG_ROLE_EXISTS % name)
    results[3].fails_with("NoSuchEntity", "GetRole", sc.MSG_NO_ROLE % ghost)
    results[4].fails_with("NoSuchEntity", "DeleteRole", sc.MSG_NO_ROLE % ghost)
    results[5].fails_with("NoSuchEntity", "ListAccessKeys", MSG_NO_USER % ghost)
    results[6].fails_with("LimitExceeded", "CreateAccessKey", MSG_LIMIT)
    results[7].fails_with("AccessDenied", "GetRole", sc.denied(user_arn, "GetRole", "role", name))
    results[8].fails_with("AccessDenied", "ListRoles", sc.denied(user_arn, "ListRoles", "role", "*"))
    roles = {r["RoleName"] for r in results[9].ok()["Roles"]}  # the CLI follows every marker
    assert {name, full} <= roles and ghost not in roles
    _role_absent(base, radm.key, ghost)
    assert len(_key_ids(base, radm.key, full)) == 2
    _q(base, radm.key, "GetUser", UserName=name).fails("NoSuchEntity", 404, MSG_NO_USER % name)
