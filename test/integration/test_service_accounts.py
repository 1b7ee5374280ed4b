"""Service accounts on the Keystone/Huawei surface (spec role-keys.md §0-§4, §6; DESIGN.md decisions).

/v3/service_accounts and its grant routes, OS-CREDENTIAL keys owned by a service account (token and SDK-HMAC-SHA256),
the shared name space with users, the policy table of §4, enable/disable, cascading delete, tenancy, the 2-key limit
under concurrency on two processes, replica agreement, and the official Huawei Node SDK signed with a service
account's key. Every error is followed by a re-read showing that nothing changed (§5.7, §6.5).
"""
import collections
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import client
import sa_client as sc
from realclients import (  # noqa: F401 (fixtures)
    MSG_BAD_TOKEN, MSG_LIMIT, NodePlan, client_home, describe_steps, foreign, js_clients, new_principal,
    poll)


@pytest.fixture(scope="module")
def sadm(base, admin):
    """An administrator (admin + security_admin) of domain "default" with a key of its own, for this module."""
    return new_principal(base, admin, roles=("admin", "security_admin"), prefix="sadm")


def _sa_fields(sa):
    return {k: sa[k] for k in sc.SA_FIELDS}


def _aws_ok(base, key, action, params=None, region="us-east-1"):
    return sc.aws_query(base, key, action, params, region=region).ok()


# -- create, read, update, delete --------------------------------------------------------------------------------

def test_create_get_list_update_delete(base, admin):
    name = sc.sa_name("CiDeployer")
    r = sc.create_sa(base, admin.token, name, description="deploys from CI", enabled=True)
    assert r.status_code == 201, r.text
    sa = r.json()["service_account"]
    assert (sa["name"], sa["domain_id"], sa["description"], sa["enabled"], sa["path"]) == \
        (name, admin.domain_id, "deploys from CI", True, "/"), sa
    sc.near_now(sc.rest_time(sa["created_at"]))

    got = sc.get_sa(base, admin.token, sa["id"])
    assert got.status_code == 200, got.text
    assert got.json()["service_account"] == sa

    listed = sc.list_sa(base, admin.token)
    assert listed.status_code == 200, listed.text
    all_sas = listed.json()["service_accounts"]
    assert [x for x in all_sas if x["id"] == sa["id"]] == [sa]
    names = [x["name"] for x in all_sas]
    assert names in (sorted(names), sorted(names, key=str.lower)), "not ordered by name: %r" % names

    # ?name= matches exactly, ignoring case, and answers with the stored spelling (§3.1, §6.1).
    for spelling in (name, name.upper(), name.lower(), name.swapcase()):
        r = sc.list_sa(base, admin.token, name=spelling)
        assert r.status_code == 200, r.text
        assert r.json()["service_accounts"] == [sa], spelling
    for miss in (sc.sa_name("ghost"), name[:-1]):
        r = sc.list_sa(base, admin.token, name=miss)
        assert r.status_code == 200 and r.json()["service_accounts"] == [], r.text

    r = sc.update_sa(base, admin.token, sa["id"], description="now with ünïcödé ✓")
    assert r.status_code == 200, r.text
    upd = r.json()["service_account"]
    assert upd == dict(sa, description="now with ünïcödé ✓"), (upd, sa)
    assert sc.get_sa(base, admin.token, sa["id"]).json()["service_account"] == upd

    r = sc.update_sa(base, admin.token, sa["id"], enabled=False)
    assert r.status_code == 200, r.text
    assert r.json()["service_account"] == dict(upd, enabled=False)
    assert sc.list_sa(base, admin.token, name=name).json()["service_accounts"] == [dict(upd, enabled=False)]

    r = sc.delete_sa(base, admin.token, sa["id"])
    assert r.status_code == 204, r.text
    assert r.content == b""
    client.assert_keystone_error(sc.get_sa(base, admin.token, sa["id"]), 404)
    client.assert_keystone_error(sc.delete_sa(base, admin.token, sa["id"]), 404)
    assert sc.list_sa(base, admin.token, name=name).json()["service_accounts"] == []


def test_the_list_holds_every_service_account_of_the_domain(base, admin):
    """role-keys.md §6.1: GET /v3/service_accounts answers the domain's service accounts, all of them (it once
    stopped at 1000 without a word)."""
    prefix = sc.sa_name("many")
    names = ["%s-%04d" % (prefix, i) for i in range(1001)]

    def create(name):
        r = sc.create_sa(base, admin.token, name)
        assert r.status_code == 201, r.text
        return r.json()["service_account"]["id"]

    with ThreadPoolExecutor(8) as ex:
        ids = list(ex.map(create, names))
    try:
        r = sc.list_sa(base, admin.token)
        assert r.status_code == 200, r.text
        listed = [x["name"] for x in r.json()["service_accounts"]]
        assert [n for n in listed if n.startswith(prefix + "-")] == names
    finally:
        with ThreadPoolExecutor(8) as ex:
            assert all(ex.map(lambda i: sc.delete_sa(base, admin.token, i).status_code == 204, ids))


def test_defaults_and_limits_of_fields(base, admin):
    r = sc.create_sa(base, admin.token, sc.sa_name("plain"))
    assert r.status_code == 201, r.text
    sa = r.json()["service_account"]
    assert (sa["description"], sa["enabled"], sa["path"]) == ("", True, "/"), sa

    # 64-character name and 1000-character description (Unicode letters, marks, symbols, punctuation) are accepted.
    long_name = (sc.sa_name("x") + "_" * 64)[:64]
    text = ("Déploie ✓ 日本語 — «ok»! " * 60)[:1000]
    r = sc.create_sa(base, admin.token, long_name, description=text, enabled=False)
    assert r.status_code == 201, r.text
    made = r.json()["service_account"]
    assert (made["name"], made["description"], made["enabled"]) == (long_name, text, False), made
    assert sc.get_sa(base, admin.token, made["id"]).json()["service_account"] == made


def test_created_disabled_its_keys_do_not_sign_until_enabled(base, admin):
    sa = sc.new_sa(base, admin, prefix="born-off", enabled=False)
    key = sc.sa_key(base, admin.token, sa)
    assert not sc.hmac_works(base, key)
    sc.aws_query(base, key, "ListAccessKeys").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    assert sc.update_sa(base, admin.token, sa["id"], enabled=True).status_code == 200
    assert sc.hmac_works(base, key)
    _aws_ok(base, key, "ListAccessKeys")


@pytest.mark.parametrize("body,field", [
    ('{"service_account": ', None),
    ('[]', None),
    ('null', None),
    ('{}', "service_account"),
    ('{"service_account": "NAME"}', "service_account"),
    ('{"service_account": {}}', "name"),
    ('{"service_account": {"name": ""}}', "name"),
    ('{"service_account": {"name": "has space NAME"}}', "name"),
    ('{"service_account": {"name": "NAME%s"}}' % ("x" * 64), "name"),
    ('{"service_account": {"name": "NAME/slash"}}', "name"),
    ('{"service_account": {"name": "NAMEü"}}', "name"),
    ('{"service_account": {"name": 42}}', "name"),
    ('{"service_account": {"name": null}}', "name"),
    ('{"service_account": {"name": ["NAME"]}}', "name"),
    ('{"service_account": {"name": "NAME", "description": "%s"}}' % ("d" * 1001), "description"),
    ('{"service_account": {"name": "NAME", "description": "bell\\u0007"}}', "description"),
    ('{"service_account": {"name": "NAME", "description": "new\\nline"}}', "description"),
    ('{"service_account": {"name": "NAME", "description": 7}}', "description"),
    ('{"service_account": {"name": "NAME", "enabled": "yes"}}', "enabled"),
    ('{"service_account": {"name": "NAME", "enabled": 1}}', "enabled"),
    ('{"service_account": {"name": "NAME", "path": "/ci/"}}', "path"),
    ('{"service_account": {"name": "NAME", "trust_policy": "{}"}}', "trust_policy"),
    ('{"service_account": {"name": "NAME", "id": "00000000000000000000000000000000"}}', "id"),
    ('{"service_account": {"name": "NAME", "password": "Secret-123456"}}', "password"),
    ('{"service_account": {"name": "NAME", "color": "red"}}', "color"),
], ids=["truncated", "array", "null", "no_object", "object_string", "no_name", "empty_name", "space", "65chars",
        "slash", "unicode_name", "name_int", "name_null", "name_list", "description_1001", "description_bell",
        "description_newline", "description_int", "enabled_string", "enabled_int", "path", "trust_policy", "id",
        "password", "unknown_field"])
def test_malformed_create_is_400_naming_the_field(base, admin, body, field):
    name = sc.sa_name("bad")
    before = sc.sa_snapshot(base, admin.token)
    users = client.user_snapshot(base, admin.token)
    r = sc.sa_request("POST", base, sc.SA, token=admin.token, data=body.replace("NAME", name))
    err = client.assert_keystone_error(r, 400)
    if field is not None:
        assert field in err["message"], "400 does not name %r: %s" % (field, err)
    assert sc.sa_snapshot(base, admin.token) == before
    assert client.user_snapshot(base, admin.token) == users


def test_domain_id_on_create_must_be_the_callers(base, admin, other_admin):
    r = sc.create_sa(base, admin.token, sc.sa_name("own-dom"), domain_id=admin.domain_id)
    assert r.status_code == 201, r.text
    assert r.json()["service_account"]["domain_id"] == admin.domain_id
    before = sc.sa_snapshot(base, admin.token)
    other_before = sc.sa_snapshot(base, other_admin.token)
    for domain_id in (other_admin.domain_id, client.random_id()):
        name = sc.sa_name("x-dom")
        client.assert_keystone_error(sc.create_sa(base, admin.token, name, domain_id=domain_id), 403)
        assert sc.list_sa(base, admin.token, name=name).json()["service_accounts"] == []
    assert sc.sa_snapshot(base, admin.token) == before
    assert sc.sa_snapshot(base, other_admin.token) == other_before


@pytest.mark.parametrize("body,field", [
    ('{"service_account": {"name": "renamed-NAME"}}', "name"),
    ('{"service_account": {"path": "/ci/"}}', "path"),
    ('{"service_account": {"id": "00000000000000000000000000000000"}}', "id"),
    ('{"service_account": {"domain_id": "00000000000000000000000000000000"}}', "domain_id"),
    ('{"service_account": {"created_at": "2020-01-01T00:00:00.000000Z"}}', "created_at"),
    ('{"service_account": {"color": "red"}}', "color"),
    ('{"service_account": {"trust_policy": "{}"}}', "trust_policy"),
    ('{"service_account": {"enabled": "no"}}', "enabled"),
    ('{"service_account": {"enabled": null}}', "enabled"),
    ('{"service_account": {"description": 5}}', "description"),
    ('{"service_account": {"description": "%s"}}' % ("d" * 1001), "description"),
    ('{"service_account": {"description": "tab\\u0001"}}', "description"),
    ('{"service_account": "x"}', "service_account"),
    ('{}', "service_account"),
    ('[]', None),
    ('{"service_account": ', None),
], ids=["name", "path", "id", "domain_id", "created_at", "unknown_field", "trust_policy", "enabled_string",
        "enabled_null", "description_int", "description_1001", "description_control", "object_string", "empty",
        "array", "truncated"])
def test_malformed_patch_is_400_and_changes_nothing(base, admin, body, field):
    sa = sc.new_sa(base, admin, prefix="patch", description="before")
    key = sc.sa_key(base, admin.token, sa)
    r = sc.sa_request("PATCH", base, sc.SA + "/" + sa["id"], token=admin.token, data=body.replace("NAME", sa["name"]))
    err = client.assert_keystone_error(r, 400)
    if field is not None:
        assert field in err["message"], "400 does not name %r: %s" % (field, err)
    assert sc.get_sa(base, admin.token, sa["id"]).json()["service_account"] == sa
    assert sc.hmac_works(base, key)


def test_patch_with_immutable_fields_unchanged_values_is_still_400(base, admin):
    """§6.1: name, path, id, domain_id cannot change; sending them (even in another case) is refused."""
    sa = sc.new_sa(base, admin, prefix="immut")
    for field, value in (("name", sa["name"].upper()), ("path", "/other/"), ("domain_id", client.random_id())):
        err = client.assert_keystone_error(sc.update_sa(base, admin.token, sa["id"], **{field: value}), 400)
        assert field in err["message"], err
    assert sc.get_sa(base, admin.token, sa["id"]).json()["service_account"] == sa


def test_body_over_64k_is_413(base, admin):
    sa = sc.new_sa(base, admin, prefix="big")
    before = sc.sa_snapshot(base, admin.token)
    body = '{"service_account": {"name": "%s", "description": "%s"}}' % (sc.sa_name("big"), "p" * (65 * 1024))
    client.assert_keystone_error(sc.sa_request("POST", base, sc.SA, token=admin.token, data=body), 413)
    body = '{"service_account": {"description": "%s"}}' % ("p" * (65 * 1024))
    client.assert_keystone_error(sc.sa_request("PATCH", base, sc.SA + "/" + sa["id"], token=admin.token, data=body),
                                 413)
    assert sc.sa_snapshot(base, admin.token) == before


def test_wrong_method_is_405(base, admin):
    sa = sc.new_sa(base, admin, prefix="meth")
    before = sc.sa_snapshot(base, admin.token)
    for method, path in (("PUT", sc.SA), ("DELETE", sc.SA), ("PATCH", sc.SA), ("POST", sc.SA + "/" + sa["id"]),
                         ("PUT", sc.SA + "/" + sa["id"]),
                         ("POST", sc.sa_role_path(admin.domain_id, sa["id"])),
                         ("POST", sc.sa_role_path(admin.domain_id, sa["id"], "admin"))):
        client.assert_keystone_error(sc.sa_request(method, base, path, token=admin.token), 405)
    assert sc.sa_snapshot(base, admin.token) == before
    assert sc.grant_names(base, admin.token, admin.domain_id, sa["id"]) == []


@pytest.mark.parametrize("token", [None, "garbage"], ids=["missing", "garbage"])
def test_routes_need_authentication(base, admin, token):
    sa = sc.new_sa(base, admin, prefix="auth")
    before = sc.sa_snapshot(base, admin.token)
    calls = [
        ("POST", sc.SA, {"service_account": {"name": sc.sa_name("noauth")}}),
        ("GET", sc.SA, None),
        ("GET", sc.SA + "/" + sa["id"], None),
        ("PATCH", sc.SA + "/" + sa["id"], {"service_account": {"enabled": False}}),
        ("DELETE", sc.SA + "/" + sa["id"], None),
        ("GET", sc.sa_role_path(admin.domain_id, sa["id"]), None),
        ("PUT", sc.sa_role_path(admin.domain_id, sa["id"], "admin"), None),
        ("GET", sc.sa_role_path(admin.domain_id, sa["id"], "admin"), None),
        ("DELETE", sc.sa_role_path(admin.domain_id, sa["id"], "admin"), None),
    ]
    for method, path, body in calls:
        kw = {"json": body} if body is not None else {}
        client.assert_keystone_error(sc.sa_request(method, base, path, token=token, **kw), 401)
    r = sc.sa_request("HEAD", base, sc.sa_role_path(admin.domain_id, sa["id"], "admin"), token=token)
    assert r.status_code == 401 and not r.content, (r.status_code, r.content)
    assert sc.sa_snapshot(base, admin.token) == before
    assert sc.grant_names(base, admin.token, admin.domain_id, sa["id"]) == []


def test_unknown_ids_are_404_and_kinds_stay_typed(base, admin, make_user):
    """§3.3: /v3/service_accounts sees service accounts only, /v3/users users only (§6.4)."""
    sa = sc.new_sa(base, admin, prefix="typed")
    u = make_user()
    before, users = sc.sa_snapshot(base, admin.token), client.user_snapshot(base, admin.token)
    for ident in (client.random_id(), u.id, "not-an-id"):
        client.assert_keystone_error(sc.get_sa(base, admin.token, ident), 404)
        client.assert_keystone_error(sc.update_sa(base, admin.token, ident, description="x"), 404)
        client.assert_keystone_error(sc.delete_sa(base, admin.token, ident), 404)
        client.assert_keystone_error(sc.grant(base, admin.token, admin.domain_id, ident, "admin"), 404)
        client.assert_keystone_error(sc.list_grants(base, admin.token, admin.domain_id, ident), 404)
        assert sc.check_grant(base, admin.token, admin.domain_id, ident, "admin").status_code == 404
    client.assert_keystone_error(client.get_user(base, admin.token, sa["id"]), 404)
    client.assert_keystone_error(client.update_user(base, admin.token, sa["id"], enabled=False), 404)
    client.assert_keystone_error(client.delete_user(base, admin.token, sa["id"]), 404)
    client.assert_keystone_error(client.grant_role(base, admin.token, admin.domain_id, sa["id"], "admin"), 404)
    assert client.list_users(base, admin.token, name=sa["name"]).json()["users"] == []
    assert sa["id"] not in {x[0] for x in client.user_snapshot(base, admin.token)}
    assert sc.sa_snapshot(base, admin.token) == before
    assert client.user_snapshot(base, admin.token) == users
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == []


# -- one name space with users (§3.4, D3) --------------------------------------------------------------------------

def test_names_are_shared_with_users_ignoring_case(base, admin, make_user):
    sa = sc.new_sa(base, admin, prefix="Shared")
    u = make_user(prefix="Holder")
    before, users = sc.sa_snapshot(base, admin.token), client.user_snapshot(base, admin.token)
    for spelling in (sa["name"], sa["name"].upper(), sa["name"].swapcase()):
        err = client.assert_keystone_error(sc.create_sa(base, admin.token, spelling), 409)
        assert err["message"].lower() == (sc.REST_SA_EXISTS % spelling).lower(), err
        err = client.assert_keystone_error(client.create_user(base, admin.token, spelling, client.new_password()),
                                           409)
        assert err["message"].lower() == (sc.REST_SA_EXISTS % spelling).lower(), err
    for spelling in (u.name, u.name.lower(), u.name.swapcase()):
        err = client.assert_keystone_error(sc.create_sa(base, admin.token, spelling), 409)
        assert err["message"].lower() == (sc.REST_USER_EXISTS % spelling).lower(), err
    assert sc.sa_snapshot(base, admin.token) == before
    assert client.user_snapshot(base, admin.token) == users


def test_same_name_in_another_domain_and_after_delete(base, admin, other_admin):
    sa = sc.new_sa(base, admin, prefix="twin")
    r = sc.create_sa(base, other_admin.token, sa["name"])
    assert r.status_code == 201, r.text
    assert r.json()["service_account"]["domain_id"] == other_admin.domain_id
    assert r.json()["service_account"]["id"] != sa["id"]
    assert sc.delete_sa(base, admin.token, sa["id"]).status_code == 204
    r = client.create_user(base, admin.token, sa["name"].upper(), client.new_password())
    assert r.status_code == 201, r.text


# -- role grants (§6.2) -----------------------------------------------------------------------------------------

def test_grant_check_list_and_revoke(base, admin):
    sa = sc.new_sa(base, admin, prefix="grant")
    d = admin.domain_id
    assert sc.grant_names(base, admin.token, d, sa["id"]) == []
    for role in ("security_admin", "admin"):
        assert sc.check_grant(base, admin.token, d, sa["id"], role).status_code == 404
        client.assert_keystone_error(sc.check_grant(base, admin.token, d, sa["id"], role, method="GET"), 404)
    for _ in range(2):  # idempotent
        r = sc.grant(base, admin.token, d, sa["id"], "security_admin")
        assert r.status_code == 204 and r.content == b"", r.text
    r = sc.list_grants(base, admin.token, d, sa["id"])
    assert r.status_code == 200, r.text
    roles = r.json()["roles"]
    assert [x["name"] for x in roles] == ["security_admin"], roles
    assert isinstance(roles[0]["id"], str) and roles[0]["id"], roles
    r = sc.check_grant(base, admin.token, d, sa["id"], "security_admin")
    assert r.status_code == 204 and r.content == b"", r.content
    r = sc.check_grant(base, admin.token, d, sa["id"], "security_admin", method="GET")
    assert r.status_code == 204 and r.content == b"", r.content
    assert sc.check_grant(base, admin.token, d, sa["id"], "admin").status_code == 404

    # The role's id works wherever its name does.
    ids = {x["name"]: x["id"] for x in client.list_roles(base, admin.token, d, admin.id).json()["roles"]}
    assert sc.check_grant(base, admin.token, d, sa["id"], ids["security_admin"]).status_code == 204
    assert sc.grant(base, admin.token, d, sa["id"], ids["admin"]).status_code == 204
    assert sc.grant_names(base, admin.token, d, sa["id"]) == ["admin", "security_admin"]
    assert sc.revoke(base, admin.token, d, sa["id"], ids["admin"]).status_code == 204

    r = sc.revoke(base, admin.token, d, sa["id"], "security_admin")
    assert r.status_code == 204 and r.content == b"", r.text
    client.assert_keystone_error(sc.revoke(base, admin.token, d, sa["id"], "security_admin"), 404)
    client.assert_keystone_error(sc.revoke(base, admin.token, d, sa["id"], "admin"), 404)
    assert sc.check_grant(base, admin.token, d, sa["id"], "security_admin").status_code == 404
    assert sc.grant_names(base, admin.token, d, sa["id"]) == []


def test_grant_errors_are_404(base, admin, other_admin):
    sa = sc.new_sa(base, admin, prefix="grant404")
    other = sc.new_sa(base, other_admin, prefix="alien")
    for role in ("superuser", "member", client.random_id()):
        client.assert_keystone_error(sc.grant(base, admin.token, admin.domain_id, sa["id"], role), 404)
        client.assert_keystone_error(sc.revoke(base, admin.token, admin.domain_id, sa["id"], role), 404)
        assert sc.check_grant(base, admin.token, admin.domain_id, sa["id"], role).status_code == 404
    # {domain_id} must be the caller's; another domain's service account does not exist.
    for domain_id, sa_id in ((other_admin.domain_id, sa["id"]), (other_admin.domain_id, other["id"]),
                             (admin.domain_id, other["id"]), (client.random_id(), sa["id"])):
        client.assert_keystone_error(sc.grant(base, admin.token, domain_id, sa_id, "admin"), 404)
        client.assert_keystone_error(sc.list_grants(base, admin.token, domain_id, sa_id), 404)
        assert sc.check_grant(base, admin.token, domain_id, sa_id, "admin").status_code == 404
    assert sc.grant_names(base, admin.token, admin.domain_id, sa["id"]) == []
    assert sc.grant_names(base, other_admin.token, other_admin.domain_id, other["id"]) == []


# -- policy (§4) ---------------------------------------------------------------------------------------------------

def test_security_admin_reads_but_cannot_write(base, admin, make_user):
    secadm = make_user(roles=["security_admin"])
    sa = sc.new_sa(base, admin, prefix="ro", roles=["security_admin"])
    r = sc.list_sa(base, secadm.token)
    assert r.status_code == 200 and sa["id"] in {x["id"] for x in r.json()["service_accounts"]}, r.text
    assert sc.list_sa(base, secadm.token, name=sa["name"]).json()["service_accounts"] == [sa]
    assert sc.get_sa(base, secadm.token, sa["id"]).json()["service_account"] == sa
    assert sc.grant_names(base, secadm.token, admin.domain_id, sa["id"]) == ["security_admin"]
    assert sc.check_grant(base, secadm.token, admin.domain_id, sa["id"], "security_admin").status_code == 204

    before = sc.sa_snapshot(base, admin.token)
    client.assert_keystone_error(sc.create_sa(base, secadm.token, sc.sa_name("nope")), 403)
    client.assert_keystone_error(sc.update_sa(base, secadm.token, sa["id"], enabled=False), 403)
    client.assert_keystone_error(sc.delete_sa(base, secadm.token, sa["id"]), 403)
    client.assert_keystone_error(sc.grant(base, secadm.token, admin.domain_id, sa["id"], "admin"), 403)
    client.assert_keystone_error(sc.revoke(base, secadm.token, admin.domain_id, sa["id"], "security_admin"), 403)
    assert sc.sa_snapshot(base, admin.token) == before
    assert sc.grant_names(base, admin.token, admin.domain_id, sa["id"]) == ["security_admin"]


def test_plain_user_is_refused_whether_or_not_the_target_exists(base, admin, make_user):
    u = make_user()
    sa = sc.new_sa(base, admin, prefix="victim")
    ghost = client.random_id()
    before = sc.sa_snapshot(base, admin.token)
    d = admin.domain_id
    client.assert_keystone_error(sc.list_sa(base, u.token), 403)
    client.assert_keystone_error(sc.create_sa(base, u.token, sc.sa_name("nope")), 403)
    for target in (sa["id"], ghost):
        client.assert_keystone_error(sc.get_sa(base, u.token, target), 403)
        client.assert_keystone_error(sc.update_sa(base, u.token, target, enabled=False), 403)
        client.assert_keystone_error(sc.delete_sa(base, u.token, target), 403)
        client.assert_keystone_error(sc.list_grants(base, u.token, d, target), 403)
        client.assert_keystone_error(sc.grant(base, u.token, d, target, "admin"), 403)
        client.assert_keystone_error(sc.revoke(base, u.token, d, target, "admin"), 403)
        assert sc.check_grant(base, u.token, d, target, "admin").status_code == 403
        client.assert_iam_error(client.create_credential(base, u.token, target), 403)
        client.assert_iam_error(client.list_credentials(base, u.token, target), 403)
    for name in (sa["name"], sc.sa_name("ghost")):
        client.assert_keystone_error(sc.list_sa(base, u.token, name=name), 403)
    assert sc.sa_snapshot(base, admin.token) == before
    assert sc.grant_names(base, admin.token, d, sa["id"]) == []
    assert client.key_snapshot(base, admin.token, sa["id"]) == []


def test_service_account_key_without_grant(base, admin, make_user):
    """§4 rows signed by the service account's own key (SDK-HMAC-SHA256): its own keys, nothing else."""
    sa = sc.new_sa(base, admin, prefix="nogrant")
    other_sa = sc.new_sa(base, admin, prefix="neighbour")
    key = sc.sa_key(base, admin.token, sa)
    victim = new_principal(base, admin, prefix="victim")
    d = admin.domain_id
    before = sc.sa_snapshot(base, admin.token)
    users = client.user_snapshot(base, admin.token)

    # Its own keys: listed without user_id, and with its own id.
    for params in (None, {"user_id": sa["id"]}):
        r = sc.hmac_request("GET", base, client.CREDS, key, params=params)
        assert r.status_code == 200, r.text
        assert [(c["access"], c["user_id"]) for c in r.json()["credentials"]] == [(key.access, sa["id"])]

    # Everything else: 403 whether or not the target exists.
    ghost = client.random_id()
    for method, path, body in (
            ("GET", sc.SA, None),
            ("POST", sc.SA, {"service_account": {"name": sc.sa_name("byself")}}),
            ("GET", sc.SA + "/" + other_sa["id"], None),
            ("GET", sc.SA + "/" + ghost, None),
            ("PATCH", sc.SA + "/" + sa["id"], {"service_account": {"description": "by myself"}}),
            ("PATCH", sc.SA + "/" + other_sa["id"], {"service_account": {"enabled": False}}),
            ("DELETE", sc.SA + "/" + sa["id"], None),
            ("DELETE", sc.SA + "/" + ghost, None),
            ("PUT", sc.sa_role_path(d, sa["id"], "security_admin"), None),
            ("PUT", sc.sa_role_path(d, sa["id"], "admin"), None),
            ("GET", "/v3/users", None),
            ("GET", "/v3/users/" + victim.id, None),
            ("POST", "/v3/users", {"user": {"name": sc.sa_name("byself")}})):
        r = sc.hmac_request(method, base, path, key, json=body)
        client.assert_keystone_error(r, 403)
    for params in ({"user_id": victim.id}, {"user_id": other_sa["id"]}, {"user_id": ghost}):
        client.assert_iam_error(sc.hmac_request("GET", base, client.CREDS, key, params=params), 403)
    for owner in (victim.id, other_sa["id"], ghost):
        r = sc.hmac_request("POST", base, client.CREDS, key, json={"credential": {"user_id": owner}})
        client.assert_iam_error(r, 403)
    ak = victim.key.access
    client.assert_iam_error(sc.hmac_request("GET", base, client.CREDS + "/" + ak, key), 403)
    client.assert_iam_error(sc.hmac_request("PUT", base, client.CREDS + "/" + ak, key,
                                            json={"credential": {"status": "inactive"}}), 403)
    client.assert_iam_error(sc.hmac_request("DELETE", base, client.CREDS + "/" + ak, key), 403)

    assert sc.sa_snapshot(base, admin.token) == before
    assert client.user_snapshot(base, admin.token) == users
    assert sc.grant_names(base, admin.token, d, sa["id"]) == []
    assert client.key_snapshot(base, admin.token, victim.id) == [(ak, "active", "")]
    assert client.key_snapshot(base, admin.token, other_sa["id"]) == []
    assert client.key_snapshot(base, admin.token, sa["id"]) == [(key.access, "active", "")]


def test_service_account_manages_its_own_keys_over_rest(base, admin):
    sa = sc.new_sa(base, admin, prefix="selfkeys")
    first = sc.sa_key(base, admin.token, sa)
    r = sc.hmac_request("POST", base, client.CREDS, first,
                        json={"credential": {"user_id": sa["id"], "description": "rotated"}})
    assert r.status_code == 201, r.text
    made = r.json()["credential"]
    assert (made["user_id"], made["status"], made["description"]) == (sa["id"], "active", "rotated"), made
    second = sc.Key(made["access"], made["secret"], sa["name"], sa["id"])
    before = client.key_snapshot(base, admin.token, sa["id"])
    client.assert_key_limit(sc.hmac_request("POST", base, client.CREDS, first,
                                            json={"credential": {"user_id": sa["id"]}}))
    assert client.key_snapshot(base, admin.token, sa["id"]) == before

    r = sc.hmac_request("PUT", base, client.CREDS + "/" + first.access, second,
                        json={"credential": {"status": "inactive", "description": "old"}})
    assert r.status_code == 200, r.text
    assert (r.json()["credential"]["status"], r.json()["credential"]["description"]) == ("inactive", "old")
    assert not sc.hmac_works(base, first)
    r = sc.hmac_request("GET", base, client.CREDS + "/" + first.access, second)
    assert r.status_code == 200 and r.json()["credential"]["status"] == "inactive", r.text
    assert sc.hmac_request("DELETE", base, client.CREDS + "/" + first.access, second).status_code == 204
    assert client.key_snapshot(base, admin.token, sa["id"]) == [(second.access, "active", "rotated")]
    # A key may delete itself: that request succeeds, the next one is refused.
    assert sc.hmac_request("DELETE", base, client.CREDS + "/" + second.access, second).status_code == 204
    assert not sc.hmac_works(base, second)
    assert client.key_snapshot(base, admin.token, sa["id"]) == []


def test_granted_security_admin_manages_other_keys_until_revoked(base, admin, make_user):
    sa = sc.new_sa(base, admin, prefix="promoted")
    key = sc.sa_key(base, admin.token, sa)
    victim = make_user(prefix="managed")
    d = admin.domain_id
    client.assert_iam_error(sc.hmac_request("GET", base, client.CREDS, key, params={"user_id": victim.id}), 403)

    assert sc.grant(base, admin.token, d, sa["id"], "security_admin").status_code == 204
    r = sc.hmac_request("POST", base, client.CREDS, key, json={"credential": {"user_id": victim.id}})
    assert r.status_code == 201 and r.json()["credential"]["user_id"] == victim.id, r.text
    made = r.json()["credential"]["access"]
    r = sc.hmac_request("GET", base, client.CREDS, key, params={"user_id": victim.id})
    assert r.status_code == 200 and [c["access"] for c in r.json()["credentials"]] == [made], r.text
    r = sc.hmac_request("PUT", base, client.CREDS + "/" + made, key, json={"credential": {"status": "inactive"}})
    assert r.status_code == 200, r.text
    assert sc.hmac_request("GET", base, "/v3/users", key).status_code == 200
    assert sc.hmac_request("GET", base, sc.SA, key).status_code == 200
    # security_admin does not make it an identity administrator.
    client.assert_keystone_error(sc.hmac_request("POST", base, sc.SA, key,
                                                 json={"service_account": {"name": sc.sa_name("no")}}), 403)
    client.assert_keystone_error(sc.hmac_request("PUT", base, sc.sa_role_path(d, sa["id"], "admin"), key), 403)

    # Revoking takes effect at once (same process: no wait).
    assert sc.revoke(base, admin.token, d, sa["id"], "security_admin").status_code == 204
    client.assert_iam_error(sc.hmac_request("GET", base, client.CREDS, key, params={"user_id": victim.id}), 403)
    client.assert_iam_error(sc.hmac_request("DELETE", base, client.CREDS + "/" + made, key), 403)
    client.assert_keystone_error(sc.hmac_request("GET", base, "/v3/users", key), 403)
    assert client.key_snapshot(base, admin.token, victim.id) == [(made, "inactive", "")]


def test_granted_admin_may_create_service_accounts_until_revoked(base, admin):
    sa = sc.new_sa(base, admin, prefix="sa-admin", roles=["admin"])
    key = sc.sa_key(base, admin.token, sa)
    name = sc.sa_name("child")
    r = sc.hmac_request("POST", base, sc.SA, key, json={"service_account": {"name": name}})
    assert r.status_code == 201, r.text
    child = r.json()["service_account"]
    assert sc.revoke(base, admin.token, admin.domain_id, sa["id"], "admin").status_code == 204
    before = sc.sa_snapshot(base, admin.token)
    client.assert_keystone_error(sc.hmac_request("DELETE", base, sc.SA + "/" + child["id"], key), 403)
    assert sc.sa_snapshot(base, admin.token) == before


# -- OS-CREDENTIAL with a service account id (§6.3) ---------------------------------------------------------------

def test_credentials_for_a_service_account_by_token(base, admin, make_user):
    sa = sc.new_sa(base, admin, prefix="creds")
    r = client.create_credential(base, admin.token, sa["id"], description="ci key")
    assert r.status_code == 201, r.text
    c = r.json()["credential"]
    assert (c["user_id"], c["status"], c["description"]) == (sa["id"], "active", "ci key"), c
    assert client.AK_RE.match(c["access"]) and client.SK_RE.match(c["secret"]), c["access"]
    r = client.list_credentials(base, admin.token, sa["id"])
    assert r.status_code == 200, r.text
    assert [(x["access"], x["user_id"]) for x in r.json()["credentials"]] == [(c["access"], sa["id"])]
    assert client.key_state(base, admin.token, c["access"])["user_id"] == sa["id"]

    secadm = make_user(roles=["security_admin"])
    second = client.new_key(base, secadm.token, sa["id"], description="by security_admin")
    assert second["user_id"] == sa["id"]
    before = client.key_snapshot(base, admin.token, sa["id"])
    client.assert_key_limit(client.create_credential(base, admin.token, sa["id"]))
    client.assert_key_limit(client.create_credential(base, secadm.token, sa["id"]))
    assert client.key_snapshot(base, admin.token, sa["id"]) == before
    assert client.update_credential(base, secadm.token, c["access"], status="inactive").status_code == 200
    assert client.delete_credential(base, secadm.token, second["access"]).status_code == 204
    assert client.key_snapshot(base, admin.token, sa["id"]) == [(c["access"], "inactive", "ci key")]


# -- tokens (§6.4, D8) ---------------------------------------------------------------------------------------------

def test_a_service_account_never_gets_a_token(base, admin, make_user):
    sa = sc.new_sa(base, admin, prefix="notoken")
    u = make_user()
    reference = client.issue_token(base, client.password_auth("Wrong-password-1", name=u.name,
                                                             domain_name=admin.domain_name))
    client.assert_keystone_error(reference, 401)
    scope = {"domain": {"name": admin.domain_name}}
    bodies = [
        client.password_auth("Wrong-password-1", name=sa["name"], domain_name=admin.domain_name),
        client.password_auth("", name=sa["name"], domain_name=admin.domain_name),
        client.password_auth("Wrong-password-1", name=sa["name"].upper(), domain_id=admin.domain_id, scope=scope),
        client.password_auth("Wrong-password-1", user_id=sa["id"]),
        client.password_auth("Wrong-password-1", user_id=sa["id"], scope=scope),
    ]
    for body in bodies:
        r = client.issue_token(base, body)
        client.assert_keystone_error(r, 401)
        assert "X-Subject-Token" not in r.headers, r.headers
        assert r.json() == reference.json(), (body, r.text, reference.text)
    assert client.list_users(base, admin.token, name=sa["name"]).json()["users"] == []


# -- enabled flag (D11) ------------------------------------------------------------------------------------------

def test_disabling_stops_its_keys_and_enabling_restores_them(base, admin):
    sa = sc.new_sa(base, admin, prefix="toggle")
    key = sc.sa_key(base, admin.token, sa)
    assert sc.hmac_works(base, key)
    _aws_ok(base, key, "ListAccessKeys")

    r = sc.update_sa(base, admin.token, sa["id"], enabled=False)
    assert r.status_code == 200 and r.json()["service_account"]["enabled"] is False, r.text
    r = sc.hmac_request("GET", base, client.CREDS, key)
    client.assert_aksk_refused(r)
    r = sc.hmac_request("POST", base, client.CREDS, key, json={"credential": {"user_id": sa["id"]}})
    client.assert_aksk_refused(r)
    sc.aws_query(base, key, "ListAccessKeys").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    sc.aws_query(base, key, "CreateAccessKey").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)
    # The key itself is untouched (still active, still listed), only its owner is disabled.
    assert client.key_snapshot(base, admin.token, sa["id"]) == [(key.access, "active", "")]

    r = sc.update_sa(base, admin.token, sa["id"], enabled=True)
    assert r.status_code == 200 and r.json()["service_account"]["enabled"] is True, r.text
    assert sc.hmac_works(base, key)
    _aws_ok(base, key, "ListAccessKeys")


# -- delete cascades (D9) --------------------------------------------------------------------------------------------

def test_delete_removes_its_keys_and_grants(base, admin, sadm):
    sa = sc.new_sa(base, admin, prefix="doomed", roles=["security_admin"])
    k1 = sc.sa_key(base, admin.token, sa)
    k2 = sc.key_from(sc.aws_query(base, sadm.key, "CreateAccessKey", {"UserName": sa["name"]}))
    assert sc.hmac_works(base, k1) and sc.hmac_works(base, k2)

    assert sc.delete_sa(base, admin.token, sa["id"]).status_code == 204
    for k in (k1, k2):
        client.assert_iam_error(client.show_credential(base, admin.token, k.access), 404)
        client.assert_aksk_refused(sc.hmac_request("GET", base, client.CREDS, k))
        sc.aws_query(base, k, "ListAccessKeys").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)
        sc.aws_query(base, sadm.key, "GetAccessKeyLastUsed", {"AccessKeyId": k.access}).fails(
            "NoSuchEntity", 404, "The Access Key with id %s cannot be found." % k.access)
    client.assert_iam_error(client.list_credentials(base, admin.token, sa["id"]), 404)
    client.assert_keystone_error(sc.list_grants(base, admin.token, admin.domain_id, sa["id"]), 404)
    sc.aws_query(base, sadm.key, "GetRole", {"RoleName": sa["name"]}).fails(
        "NoSuchEntity", 404, sc.MSG_NO_ROLE % sa["name"])
    assert sc.list_sa(base, admin.token, name=sa["name"]).json()["service_accounts"] == []
    # The name is free again, for either kind.
    assert client.create_user(base, admin.token, sa["name"], client.new_password()).status_code == 201


# -- tenancy -------------------------------------------------------------------------------------------------------

def test_another_domain_sees_nothing(base, admin, other_admin):
    sa = sc.new_sa(base, admin, prefix="hidden", roles=["security_admin"], description="mine")
    key = sc.sa_key(base, admin.token, sa)
    ghost = client.random_id()
    before = sc.get_sa(base, admin.token, sa["id"]).json()

    missing = sc.get_sa(base, other_admin.token, ghost)
    client.assert_keystone_error(missing, 404)
    foreign = sc.get_sa(base, other_admin.token, sa["id"])
    client.assert_keystone_error(foreign, 404)
    assert foreign.json()["error"]["message"].replace(sa["id"], "X") == \
        missing.json()["error"]["message"].replace(ghost, "X"), (foreign.text, missing.text)
    client.assert_keystone_error(sc.update_sa(base, other_admin.token, sa["id"], enabled=False), 404)
    client.assert_keystone_error(sc.delete_sa(base, other_admin.token, sa["id"]), 404)
    r = sc.list_sa(base, other_admin.token)
    assert r.status_code == 200 and sa["id"] not in {x["id"] for x in r.json()["service_accounts"]}, r.text
    for spelling in (sa["name"], sa["name"].upper()):
        assert sc.list_sa(base, other_admin.token, name=spelling).json()["service_accounts"] == []
    for domain_id in (admin.domain_id, other_admin.domain_id):
        client.assert_keystone_error(sc.list_grants(base, other_admin.token, domain_id, sa["id"]), 404)
        client.assert_keystone_error(sc.grant(base, other_admin.token, domain_id, sa["id"], "admin"), 404)
        client.assert_keystone_error(sc.revoke(base, other_admin.token, domain_id, sa["id"], "security_admin"), 404)
        assert sc.check_grant(base, other_admin.token, domain_id, sa["id"], "security_admin").status_code == 404
    client.assert_iam_error(client.create_credential(base, other_admin.token, sa["id"]), 404)
    client.assert_iam_error(client.list_credentials(base, other_admin.token, sa["id"]), 404)
    client.assert_iam_error(client.show_credential(base, other_admin.token, key.access), 404)
    client.assert_iam_error(client.update_credential(base, other_admin.token, key.access, status="inactive"), 404)
    client.assert_iam_error(client.delete_credential(base, other_admin.token, key.access), 404)

    assert sc.get_sa(base, admin.token, sa["id"]).json() == before
    assert sc.grant_names(base, admin.token, admin.domain_id, sa["id"]) == ["security_admin"]
    assert client.key_snapshot(base, admin.token, sa["id"]) == [(key.access, "active", "")]
    assert sc.hmac_works(base, key)


# -- audit and request log (§7) --------------------------------------------------------------------------------

def _audit_rows(stack, column, value):
    out = stack.pg.psql("SELECT actor_id, actor_kind, action, target_kind, target_id FROM audit_events "
                        "WHERE %s = '%s' ORDER BY id" % (column, value))
    return [tuple(line.split("|")) for line in out.splitlines() if line]


def test_audit_rows_name_the_actor_and_its_kind(base, admin, stack):
    sa = sc.new_sa(base, admin, prefix="audited")
    assert sc.update_sa(base, admin.token, sa["id"], description="changed").status_code == 200
    assert sc.grant(base, admin.token, admin.domain_id, sa["id"], "security_admin").status_code == 204
    assert sc.revoke(base, admin.token, admin.domain_id, sa["id"], "security_admin").status_code == 204
    first = sc.sa_key(base, admin.token, sa)
    r = sc.hmac_request("POST", base, client.CREDS, first, json={"credential": {"user_id": sa["id"]}})
    assert r.status_code == 201, r.text
    second = r.json()["credential"]["access"]
    assert sc.hmac_request("PUT", base, client.CREDS + "/" + second, first,
                           json={"credential": {"status": "inactive"}}).status_code == 200
    assert sc.hmac_request("DELETE", base, client.CREDS + "/" + second, first).status_code == 204
    assert sc.delete_sa(base, admin.token, sa["id"]).status_code == 204

    on_sa = _audit_rows(stack, "target_id", sa["id"])
    # create, update, grant, revoke, delete: each by the admin (a user), each naming the service account.
    assert len(on_sa) == 5, on_sa
    assert {(a, k, tk) for a, k, _, tk, _ in on_sa} == {(admin.id, "user", "service_account")}, on_sa
    assert len({action for _, _, action, _, _ in on_sa}) == 5, on_sa
    # The key changes the service account made itself record it as the actor, with its kind.
    by_sa = _audit_rows(stack, "actor_id", sa["id"])
    assert [(k, t) for _, k, _, _, t in by_sa] == [("service_account", second)] * 3, by_sa
    assert len({action for _, _, action, _, _ in by_sa}) == 3, by_sa
    # ... and the key the admin made for it records the admin.
    assert [(a, k) for a, k, _, _, _ in _audit_rows(stack, "target_id", first.access)][:1] == [(admin.id, "user")]


def test_request_log_carries_the_principal_kind(base, admin, server):
    sa = sc.new_sa(base, admin, prefix="logged")
    key = sc.sa_key(base, admin.token, sa)
    assert sc.hmac_works(base, key)
    sc.aws_query(base, key, "ListAccessKeys").ok()

    def lines():
        found = []
        for line in server.log.splitlines():
            if sa["id"] not in line or not line.startswith("{"):
                continue
            doc = json.loads(line)
            if doc.get("event") == "request" and doc.get("caller_id") == sa["id"]:
                found.append(doc)
        return found if len(found) >= 2 else None

    found = poll(lines, 5, "request log lines with caller_id %s" % sa["id"], 0.1)
    assert {d.get("principal_kind") for d in found} == {"service_account"}, found
    assert all(key.secret not in json.dumps(d) for d in found)


# -- concurrency and replicas ------------------------------------------------------------------------------------

def test_two_key_limit_for_a_service_account_under_a_burst_on_two_processes(base, admin, sadm, second_server):
    """20 concurrent creates for one service account, split over two servers and over both surfaces
    (AWS CreateAccessKey with UserName = the role, OS-CREDENTIAL with user_id = its id): exactly 2 succeed."""
    sa = sc.new_sa(base, admin, prefix="burst")
    bases = [base, second_server.base_url]
    n = 20
    barrier = threading.Barrier(n)

    def create(i):
        b = bases[i % 2]
        barrier.wait(timeout=30)
        if (i // 2) % 2 == 0:
            ans = sc.aws_query(b, sadm.key, "CreateAccessKey", {"UserName": sa["name"]})
            if ans.status == 200:
                return ("ok", sc.key_from(ans).access)
            assert (ans.status, ans.code, ans.message) == (409, "LimitExceeded", MSG_LIMIT), ans.describe()
            return ("limit", None)
        r = client.create_credential(b, admin.token, sa["id"], description="race %d" % i)
        if r.status_code == 201:
            return ("ok", r.json()["credential"]["access"])
        client.assert_key_limit(r)
        return ("limit", None)

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(create, range(n)))
    outcome = collections.Counter(kind for kind, _ in results)
    assert outcome == {"ok": 2, "limit": n - 2}, outcome
    created = sorted(ak for kind, ak in results if kind == "ok")
    for b in bases:
        assert [x[0] for x in client.key_snapshot(b, admin.token, sa["id"])] == created
    # One delete frees exactly one slot.
    assert client.delete_credential(bases[1], admin.token, created[0]).status_code == 204
    sc.key_from(sc.aws_query(bases[0], sadm.key, "CreateAccessKey", {"UserName": sa["name"]}))
    client.assert_key_limit(client.create_credential(bases[1], admin.token, sa["id"]))


def test_disable_and_enable_reach_the_other_replica(base, admin, second_server):
    other = second_server.base_url
    sa = sc.new_sa(base, admin, prefix="repl-off")
    key = sc.sa_key(base, admin.token, sa)
    poll(lambda: sc.hmac_works(other, key), sc.REPLICA_DEADLINE, "the new key signing on the second replica", 0.05)

    assert sc.update_sa(base, admin.token, sa["id"], enabled=False).status_code == 200
    poll(lambda: not sc.hmac_works(other, key), sc.REPLICA_DEADLINE,
         "the disabled service account refused on the second replica", 0.05)
    sc.aws_query(other, key, "ListAccessKeys").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)

    assert sc.update_sa(other, admin.token, sa["id"], enabled=True).status_code == 200
    poll(lambda: sc.hmac_works(base, key), sc.REPLICA_DEADLINE,
         "the re-enabled service account accepted on the first replica", 0.05)
    _aws_ok(base, key, "ListAccessKeys")

    assert sc.delete_sa(other, admin.token, sa["id"]).status_code == 204
    poll(lambda: not sc.hmac_works(base, key), sc.REPLICA_DEADLINE,
         "the deleted service account's key refused on the first replica", 0.05)
    sc.aws_query(base, key, "ListAccessKeys").fails("InvalidClientTokenId", 403, MSG_BAD_TOKEN)


def test_grant_and_revoke_reach_the_other_replica(base, admin, second_server, make_user):
    other = second_server.base_url
    victim = make_user(prefix="repl-victim")
    sa = sc.new_sa(base, admin, prefix="repl-grant")
    key = sc.sa_key(base, admin.token, sa)

    def may_list_victim(b):
        """200: granted; 403: signed in but not granted (anything else, a key that stopped signing say, fails)."""
        r = sc.hmac_request("GET", b, client.CREDS, key, params={"user_id": victim.id})
        assert r.status_code in (200, 403), r.text
        return r.status_code == 200

    poll(lambda: sc.hmac_works(other, key), sc.REPLICA_DEADLINE, "the key signing on the second replica", 0.05)
    assert not may_list_victim(other)
    assert sc.grant(base, admin.token, admin.domain_id, sa["id"], "security_admin").status_code == 204
    poll(lambda: may_list_victim(other), sc.REPLICA_DEADLINE, "the grant applied on the second replica", 0.05)

    assert sc.revoke(base, admin.token, admin.domain_id, sa["id"], "security_admin").status_code == 204
    assert not may_list_victim(base)  # at once on the process that made the change
    poll(lambda: not may_list_victim(other), sc.REPLICA_DEADLINE, "the revocation applied on the second replica",
         0.05)
    sc.aws_query(other, key, "ListAccessKeys", {"UserName": victim.name}).fails("AccessDenied", 403)


# -- the official Huawei Node SDK, signed with a service account's key (§6.3) ---------------------------------------

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


def _hw_ok(plan, results, i, status):
    r = results[i]
    assert r["ok"] and r["status"] == status, "step %d:\n%s" % (i, describe_steps(plan, results))
    return r["output"]


def _hw_err(plan, results, i, status, codes=None, msg=None):
    r = results[i]
    where = "step %d:\n%s" % (i, describe_steps(plan, results))
    assert not r["ok"] and r["status"] == status, where
    if codes is not None:
        assert r["errorCode"] in codes, where
    if msg is not None:
        assert r["errorMsg"] == msg, where
    assert r["requestId"] and client.REQUEST_ID_RE.match(r["requestId"]), where
    return r


def test_huawei_sdk_with_a_service_account_key(base, admin, other_admin, hw, foreign):
    sa = sc.new_sa(base, admin, prefix="hwsa")
    key = sc.sa_key(base, admin.token, sa, description="first")
    victim = new_principal(base, admin, prefix="hwvictim")
    alien = foreign["user"]
    steps = [
        {"method": "listPermanentAccessKeys", "input": {}},                                                  # 0
        {"method": "createPermanentAccessKey", "input": {"user_id": sa["id"], "description": "second"}},    # 1
        {"method": "createPermanentAccessKey", "input": {"user_id": sa["id"]}},                             # 2 third
        {"method": "listPermanentAccessKeys", "input": {"user_id": sa["id"]}},                              # 3
        {"method": "updatePermanentAccessKey", "input": {"access_key": "${1.credential.access}",
                                                         "status": "inactive", "description": "parked"}},   # 4
        {"method": "showPermanentAccessKey", "input": {"access_key": "${1.credential.access}"}},            # 5
        {"method": "updatePermanentAccessKey", "input": {"access_key": "${1.credential.access}",
                                                         "status": "active"}},                              # 6
        {"method": "deletePermanentAccessKey", "input": {"access_key": "${1.credential.access}"}},          # 7
        {"method": "listPermanentAccessKeys", "input": {"user_id": victim.id}},                             # 8
        {"method": "createPermanentAccessKey", "input": {"user_id": victim.id}},                            # 9
        {"method": "showPermanentAccessKey", "input": {"access_key": victim.key.access}},                   # 10
        {"method": "updatePermanentAccessKey", "input": {"access_key": victim.key.access,
                                                         "status": "inactive"}},                            # 11
        {"method": "deletePermanentAccessKey", "input": {"access_key": victim.key.access}},                 # 12
        {"method": "showPermanentAccessKey", "input": {"access_key": alien.key.access}},                    # 13
        {"method": "createPermanentAccessKey", "input": {"user_id": alien.id}},                             # 14
    ]
    plan, res = hw(key, steps, domain_id=admin.domain_id)
    listed = _hw_ok(plan, res, 0, 200)["credentials"]
    assert [(c["access"], c["user_id"], c["description"]) for c in listed] == [(key.access, sa["id"], "first")]
    made = _hw_ok(plan, res, 1, 201)["credential"]
    client.remember_secret(made.get("secret"))
    assert (made["user_id"], made["status"], made["description"]) == (sa["id"], "active", "second"), made
    _hw_err(plan, res, 2, 400, (400,), "akSkNumExceed")
    assert sorted(c["access"] for c in _hw_ok(plan, res, 3, 200)["credentials"]) == \
        sorted([key.access, made["access"]])
    upd = _hw_ok(plan, res, 4, 200)["credential"]
    assert (upd["status"], upd["description"]) == ("inactive", "parked"), upd
    shown = _hw_ok(plan, res, 5, 200)["credential"]
    assert (shown["user_id"], shown["status"]) == (sa["id"], "inactive"), shown
    assert _hw_ok(plan, res, 6, 200)["credential"]["status"] == "active"
    assert _hw_ok(plan, res, 7, 204) == {"httpStatusCode": 204}
    # A user_id it may not administer: 403, for another domain's id as for any id (no oracle, §4); a key by its
    # AK: this domain's → 403, another domain's → 404 like a missing one (DESIGN.md decisions).
    for i in (8, 9, 10, 11, 12, 14):
        _hw_err(plan, res, i, 403, ("IAM.0002",))
    _hw_err(plan, res, 13, 404, ("IAM.0004",))
    assert client.key_snapshot(base, admin.token, sa["id"]) == [(key.access, "active", "first")]
    assert client.key_snapshot(base, admin.token, victim.id) == [(victim.key.access, "active", "")]
    assert client.key_snapshot(base, other_admin.token, alien.id) == [(alien.key.access, "active", "")]


def test_huawei_sdk_admin_creates_a_key_for_the_role_id(base, admin, sadm, hw):
    """D5: RoleId from GetRole is the user_id the Huawei SDK takes."""
    name = sc.sa_name("hwrole")
    _aws_ok(base, sadm.key, "CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": "{}"})
    role_id = _aws_ok(base, sadm.key, "GetRole", {"RoleName": name}).text_of("GetRoleResult/Role/RoleId")
    plan, res = hw(sadm.key, [{"method": "createPermanentAccessKey", "input": {"user_id": role_id}},
                              {"method": "listPermanentAccessKeys", "input": {"user_id": role_id}}])
    made = _hw_ok(plan, res, 0, 201)["credential"]
    client.remember_secret(made.get("secret"))
    assert made["user_id"] == role_id
    assert [c["access"] for c in _hw_ok(plan, res, 1, 200)["credentials"]] == [made["access"]]
    ans = _aws_ok(base, sadm.key, "ListAccessKeys", {"UserName": name})
    assert [(sc._text(m, "UserName"), sc._text(m, "AccessKeyId"))
            for m in ans.findall("ListAccessKeysResult/AccessKeyMetadata/member")] == [(name, made["access"])]
