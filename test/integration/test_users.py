"""Users and role grants on the Keystone surface (DESIGN.md model/policy/Decisions; spec role-keys.md §3, §4)."""
import threading
import time

import pytest

import client
import harness
import opsutil


def _user_fields(u):
    assert client.ID_RE.match(u["id"]), u
    assert isinstance(u["name"], str)
    assert isinstance(u["enabled"], bool)
    for secret in ("password", "password_hash"):
        assert secret not in u, u


# -- create / read ---------------------------------------------------------------------------------------------

def test_admin_creates_a_user(base, admin):
    name = client.unique_name("Create")
    r = client.create_user(base, admin.token, name, client.new_password())
    assert r.status_code == 201, r.text
    u = r.json()["user"]
    _user_fields(u)
    assert u["name"] == name
    assert u["domain_id"] == admin.domain_id
    assert u["enabled"] is True
    g = client.get_user(base, admin.token, u["id"])
    assert g.status_code == 200, g.text
    assert g.json()["user"] == u


def test_new_user_can_log_in(base, admin):
    name, pw = client.unique_name(), client.new_password()
    assert client.create_user(base, admin.token, name, pw).status_code == 201
    assert client.login(base, name, pw, admin.domain_name)


def test_email_address_is_a_valid_user_name(base, admin):
    name = "first.last+ci-%s@example.com" % client.random_id()[:6]
    r = client.create_user(base, admin.token, name, client.new_password())
    assert r.status_code == 201, r.text
    assert r.json()["user"]["name"] == name


def test_64_character_name_is_accepted(base, admin):
    name = (client.unique_name("n") + "x" * 64)[:64]
    r = client.create_user(base, admin.token, name, client.new_password())
    assert r.status_code == 201, r.text


def test_user_without_password_can_be_created(base, admin):
    r = client.create_user(base, admin.token, client.unique_name())
    assert r.status_code == 201, r.text


def test_list_users_shows_the_domains_users(base, admin, other_admin, make_user):
    u = make_user()
    r = client.list_users(base, admin.token)
    assert r.status_code == 200, r.text
    users = r.json()["users"]
    for x in users:
        _user_fields(x)
        assert x["domain_id"] == admin.domain_id
    ids = {x["id"] for x in users}
    assert {u.id, admin.id} <= ids
    assert other_admin.id not in ids


def test_list_by_name_ignores_case_and_returns_stored_spelling(base, admin):
    name = client.unique_name("MiXeD")
    assert client.create_user(base, admin.token, name, client.new_password()).status_code == 201
    for query in (name, name.lower(), name.upper()):
        r = client.list_users(base, admin.token, name=query)
        assert r.status_code == 200, r.text
        assert [x["name"] for x in r.json()["users"]] == [name], query


def test_list_by_unknown_name_is_empty(base, admin):
    r = client.list_users(base, admin.token, name=client.unique_name("nobody"))
    assert r.status_code == 200, r.text
    assert r.json()["users"] == []


# -- update / delete -------------------------------------------------------------------------------------------

def test_patch_enabled(base, admin, make_user):
    u = make_user()
    r = client.update_user(base, admin.token, u.id, enabled=False)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["enabled"] is False
    assert r.json()["user"]["name"] == u.name
    assert client.get_user(base, admin.token, u.id).json()["user"]["enabled"] is False
    r = client.update_user(base, admin.token, u.id, enabled=True)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["enabled"] is True
    assert client.login(base, u.name, u.password, u.domain_name)


def test_patch_password(base, admin, make_user):
    u = make_user()
    pw = client.new_password()
    r = client.update_user(base, admin.token, u.id, password=pw)
    assert r.status_code == 200, r.text
    _user_fields(r.json()["user"])
    assert client.login(base, u.name, pw, u.domain_name)


def test_delete_user(base, admin, make_user):
    u = make_user()
    r = client.delete_user(base, admin.token, u.id)
    assert r.status_code == 204, r.text
    assert r.content == b""
    client.assert_keystone_error(client.get_user(base, admin.token, u.id), 404)
    client.assert_keystone_error(client.delete_user(base, admin.token, u.id), 404)
    assert u.id not in {x[0] for x in client.user_snapshot(base, admin.token)}


def test_deleting_a_user_deletes_their_keys(base, admin, make_user):
    u = make_user()
    k1 = client.new_key(base, admin.token, u.id)
    k2 = client.new_key(base, u.token, u.id)
    assert client.delete_user(base, admin.token, u.id).status_code == 204
    for k in (k1, k2):
        client.assert_iam_error(client.show_credential(base, admin.token, k["access"]), 404)
        client.assert_iam_error(client.delete_credential(base, admin.token, k["access"]), 404)
    client.assert_iam_error(client.list_credentials(base, admin.token, u.id), 404)


def test_name_is_free_again_after_delete(base, admin, make_user):
    u = make_user()
    assert client.delete_user(base, admin.token, u.id).status_code == 204
    r = client.create_user(base, admin.token, u.name.upper(), client.new_password())
    assert r.status_code == 201, r.text
    assert r.json()["user"]["id"] != u.id


# -- conflicts and validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["same", "upper", "lower", "swapped"])
def test_duplicate_name_in_any_case_is_409(base, admin, spelling):
    name = client.unique_name("Dup")
    assert client.create_user(base, admin.token, name, client.new_password()).status_code == 201
    before = client.user_snapshot(base, admin.token)
    other = {"same": name, "upper": name.upper(), "lower": name.lower(), "swapped": name.swapcase()}[spelling]
    r = client.create_user(base, admin.token, other, client.new_password())
    client.assert_keystone_error(r, 409)
    assert client.user_snapshot(base, admin.token) == before


def test_same_name_in_another_domain_is_allowed(base, admin, other_admin):
    name = client.unique_name("twin")
    assert client.create_user(base, admin.token, name, client.new_password()).status_code == 201
    r = client.create_user(base, other_admin.token, name, client.new_password())
    assert r.status_code == 201, r.text
    assert r.json()["user"]["domain_id"] == other_admin.domain_id


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "slash/name", "semi;colon", "quote'name", "ünïcode",
                                  "new\nline", 42, None, True, ["a"]],
                         ids=["empty", "space", "65chars", "slash", "semicolon", "quote", "unicode", "newline",
                              "int", "null", "bool", "list"])
def test_invalid_user_name_is_400(base, admin, name):
    before = client.user_snapshot(base, admin.token)
    r = client.request("POST", base, "/v3/users", token=admin.token,
                       json={"user": {"name": name, "password": client.new_password()}})
    client.assert_keystone_error(r, 400)
    assert client.user_snapshot(base, admin.token) == before


@pytest.mark.parametrize("body", [
    "{\"user\": ",
    "[]",
    "null",
    "{}",
    "{\"user\": \"alice\"}",
    "{\"user\": {}}",
    "{\"user\": {\"name\": \"NAME\", \"password\": 12345}}",
    "{\"user\": {\"name\": \"NAME\", \"enabled\": \"yes\"}}",
    "{\"user\": {\"name\": \"NAME\", \"color\": \"red\"}}",
], ids=["truncated", "array", "null", "no_user", "user_string", "no_name", "password_int", "enabled_string",
        "unknown_field"])
def test_malformed_create_user_is_400(base, admin, body):
    name = client.unique_name("bad")
    before = client.user_snapshot(base, admin.token)
    r = client.request("POST", base, "/v3/users", token=admin.token, data=body.replace("NAME", name))
    client.assert_keystone_error(r, 400)
    assert client.user_snapshot(base, admin.token) == before


@pytest.mark.parametrize("body", [
    "{\"user\": ",
    "[]",
    "{\"user\": {\"enabled\": \"no\"}}",
    "{\"user\": {\"password\": false}}",
    "{\"user\": {\"color\": \"red\"}}",
    "{\"user\": {\"id\": \"00000000000000000000000000000000\"}}",
], ids=["truncated", "array", "enabled_string", "password_bool", "unknown_field", "id"])
def test_malformed_patch_user_is_400_and_changes_nothing(base, admin, make_user, body):
    u = make_user()
    before = client.get_user(base, admin.token, u.id).json()
    r = client.request("PATCH", base, "/v3/users/" + u.id, token=admin.token, data=body)
    client.assert_keystone_error(r, 400)
    assert client.get_user(base, admin.token, u.id).json() == before
    assert client.token_works(base, u.token)


def test_body_over_64k_is_413(base, admin):
    before = client.user_snapshot(base, admin.token)
    body = '{"user": {"name": "%s", "password": "%s"}}' % (client.unique_name("big"), "p" * (65 * 1024))
    r = client.request("POST", base, "/v3/users", token=admin.token, data=body)
    client.assert_keystone_error(r, 413)
    assert client.user_snapshot(base, admin.token) == before


def test_wrong_method_on_users_is_405(base, admin):
    before = client.user_snapshot(base, admin.token)
    r = client.request("DELETE", base, "/v3/users", token=admin.token)
    client.assert_keystone_error(r, 405)
    assert client.user_snapshot(base, admin.token) == before


def test_users_need_a_token(base, admin):
    before = client.user_snapshot(base, admin.token)
    client.assert_keystone_error(client.list_users(base, None), 401)
    client.assert_keystone_error(client.create_user(base, None, client.unique_name(), client.new_password()), 401)
    client.assert_keystone_error(client.update_user(base, None, admin.id, enabled=False), 401)
    client.assert_keystone_error(client.delete_user(base, None, admin.id), 401)
    assert client.user_snapshot(base, admin.token) == before


# -- policy ----------------------------------------------------------------------------------------------------

def test_plain_user_cannot_manage_users(base, admin, make_user):
    u, victim = make_user(), make_user()
    before = client.user_snapshot(base, admin.token)
    client.assert_keystone_error(client.create_user(base, u.token, client.unique_name(), client.new_password()), 403)
    client.assert_keystone_error(client.update_user(base, u.token, victim.id, enabled=False), 403)
    client.assert_keystone_error(client.update_user(base, u.token, victim.id, password=client.new_password()), 403)
    client.assert_keystone_error(client.delete_user(base, u.token, victim.id), 403)
    assert client.user_snapshot(base, admin.token) == before
    assert client.token_works(base, victim.token)


def test_plain_user_cannot_look_up_other_names(base, make_user):
    """DESIGN.md: 403 for any name but its own, whether or not it exists (no name probing)."""
    u, v = make_user(), make_user()
    client.assert_keystone_error(client.list_users(base, u.token, name=v.name), 403)
    client.assert_keystone_error(client.list_users(base, u.token, name=client.unique_name("ghost")), 403)


def test_security_admin_reads_users_but_cannot_change_them(base, admin, make_user):
    sa, victim = make_user(roles=["security_admin"]), make_user()
    r = client.list_users(base, sa.token)
    assert r.status_code == 200, r.text
    assert victim.id in {x["id"] for x in r.json()["users"]}
    assert client.get_user(base, sa.token, victim.id).status_code == 200
    before = client.user_snapshot(base, admin.token)
    client.assert_keystone_error(client.create_user(base, sa.token, client.unique_name(), client.new_password()), 403)
    client.assert_keystone_error(client.update_user(base, sa.token, victim.id, enabled=False), 403)
    client.assert_keystone_error(client.delete_user(base, sa.token, victim.id), 403)
    client.assert_keystone_error(client.grant_role(base, sa.token, sa.domain_id, victim.id, "admin"), 403)
    assert client.user_snapshot(base, admin.token) == before
    assert client.role_names(base, admin.token, admin.domain_id, victim.id) == []


def test_unknown_user_id_is_404(base, admin):
    before = client.user_snapshot(base, admin.token)
    uid = client.random_id()
    client.assert_keystone_error(client.get_user(base, admin.token, uid), 404)
    client.assert_keystone_error(client.update_user(base, admin.token, uid, enabled=False), 404)
    client.assert_keystone_error(client.delete_user(base, admin.token, uid), 404)
    assert client.user_snapshot(base, admin.token) == before


def test_another_domains_user_is_404(base, admin, other_admin, make_user):
    u = make_user()
    before = client.get_user(base, admin.token, u.id).json()
    missing = client.get_user(base, other_admin.token, client.random_id())
    foreign = client.get_user(base, other_admin.token, u.id)
    client.assert_keystone_error(foreign, 404)
    assert foreign.json()["error"]["message"].replace(u.id, "X") == \
        missing.json()["error"]["message"].replace(missing.url.rsplit("/", 1)[1], "X")
    client.assert_keystone_error(client.update_user(base, other_admin.token, u.id, enabled=False), 404)
    client.assert_keystone_error(client.update_user(base, other_admin.token, u.id,
                                                    password=client.new_password()), 404)
    client.assert_keystone_error(client.delete_user(base, other_admin.token, u.id), 404)
    assert client.get_user(base, admin.token, u.id).json() == before
    assert client.token_works(base, u.token)


def test_another_domains_users_are_not_listed(base, other_admin, make_user):
    u = make_user()
    r = client.list_users(base, other_admin.token)
    assert r.status_code == 200, r.text
    assert u.id not in {x["id"] for x in r.json()["users"]}
    r = client.list_users(base, other_admin.token, name=u.name)
    assert r.status_code == 200, r.text
    assert r.json()["users"] == []


# -- roles -----------------------------------------------------------------------------------------------------

def test_grant_list_check_and_revoke_a_role(base, admin, make_user):
    u = make_user()
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == []
    assert client.check_role(base, admin.token, admin.domain_id, u.id, "security_admin").status_code == 404
    r = client.grant_role(base, admin.token, admin.domain_id, u.id, "security_admin")
    assert r.status_code == 204, r.text
    assert r.content == b""
    r = client.list_roles(base, admin.token, admin.domain_id, u.id)
    assert r.status_code == 200, r.text
    roles = r.json()["roles"]
    assert [x["name"] for x in roles] == ["security_admin"]
    assert isinstance(roles[0]["id"], str) and roles[0]["id"]
    assert client.check_role(base, admin.token, admin.domain_id, u.id, "security_admin").status_code == 204
    assert client.check_role(base, admin.token, admin.domain_id, u.id, "admin").status_code == 404
    r = client.revoke_role(base, admin.token, admin.domain_id, u.id, "security_admin")
    assert r.status_code == 204, r.text
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == []
    assert client.check_role(base, admin.token, admin.domain_id, u.id, "security_admin").status_code == 404


def test_a_role_check_by_get_answers_like_head(base, admin, make_user):
    """GET on a role assignment answers as HEAD does: 204 without a body when granted, 404 with Keystone's error
    body when not."""
    u = make_user()
    r = client.check_role(base, admin.token, admin.domain_id, u.id, "security_admin", method="GET")
    client.assert_keystone_error(r, 404)
    assert client.grant_role(base, admin.token, admin.domain_id, u.id, "security_admin").status_code == 204
    r = client.check_role(base, admin.token, admin.domain_id, u.id, "security_admin", method="GET")
    assert r.status_code == 204, r.text
    assert r.content == b""
    r = client.check_role(base, admin.token, admin.domain_id, u.id, "admin", method="GET")
    client.assert_keystone_error(r, 404)


def test_grant_is_idempotent(base, admin, make_user):
    u = make_user()
    for _ in range(2):
        assert client.grant_role(base, admin.token, admin.domain_id, u.id, "admin").status_code == 204
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == ["admin"]


def test_revoking_a_role_not_held_is_404(base, admin, make_user):
    u = make_user()
    client.assert_keystone_error(client.revoke_role(base, admin.token, admin.domain_id, u.id, "admin"), 404)
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == []


def test_grant_by_role_id(base, admin, make_user):
    u = make_user()
    r = client.list_roles(base, admin.token, admin.domain_id, admin.id)
    ids = {x["name"]: x["id"] for x in r.json()["roles"]}
    assert client.grant_role(base, admin.token, admin.domain_id, u.id, ids["security_admin"]).status_code == 204
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == ["security_admin"]


def test_bootstrap_admin_holds_both_roles(base, admin):
    assert client.role_names(base, admin.token, admin.domain_id, admin.id) == ["admin", "security_admin"]


def test_unknown_role_is_404(base, admin, make_user):
    u = make_user()
    for role in ("superuser", "member", client.random_id()):
        client.assert_keystone_error(client.grant_role(base, admin.token, admin.domain_id, u.id, role), 404)
        client.assert_keystone_error(client.revoke_role(base, admin.token, admin.domain_id, u.id, role), 404)
        assert client.check_role(base, admin.token, admin.domain_id, u.id, role).status_code == 404
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == []


def test_another_domain_id_in_the_grant_path_is_404(base, admin, other_admin, make_user):
    u = make_user()
    # The caller's own user under the other domain's id, and the other domain's user under either id.
    for domain_id, user_id in ((other_admin.domain_id, u.id), (other_admin.domain_id, other_admin.id),
                               (admin.domain_id, other_admin.id), (client.random_id(), u.id)):
        client.assert_keystone_error(client.grant_role(base, admin.token, domain_id, user_id, "admin"), 404)
        client.assert_keystone_error(client.list_roles(base, admin.token, domain_id, user_id), 404)
        assert client.check_role(base, admin.token, domain_id, user_id, "admin").status_code == 404
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == []
    assert client.role_names(base, other_admin.token, other_admin.domain_id, other_admin.id) == \
        ["admin", "security_admin"]


def test_unknown_user_in_the_grant_path_is_404(base, admin):
    client.assert_keystone_error(client.grant_role(base, admin.token, admin.domain_id, client.random_id(), "admin"),
                                 404)


def test_plain_user_cannot_grant_roles(base, admin, make_user):
    u = make_user()
    client.assert_keystone_error(client.grant_role(base, u.token, u.domain_id, u.id, "admin"), 403)
    client.assert_keystone_error(client.grant_role(base, u.token, u.domain_id, u.id, "security_admin"), 403)
    assert client.role_names(base, admin.token, admin.domain_id, u.id) == []


def test_granted_role_appears_in_new_tokens(base, admin, make_user):
    u = make_user()
    assert client.grant_role(base, admin.token, admin.domain_id, u.id, "security_admin").status_code == 204
    body = client.password_auth(u.password, name=u.name, domain_name=u.domain_name,
                                scope={"domain": {"name": u.domain_name}})
    r = client.issue_token(base, body)
    assert r.status_code == 201, r.text
    assert [x["name"] for x in r.json()["token"]["roles"]] == ["security_admin"]


def test_grant_and_revoke_apply_to_an_existing_token(base, admin, make_user):
    """DESIGN.md: roles are not inside the token; they come from the principal cache."""
    u, victim = make_user(), make_user()
    client.new_key(base, admin.token, victim.id)
    client.assert_iam_error(client.list_credentials(base, u.token, victim.id), 403)
    assert client.grant_role(base, admin.token, admin.domain_id, u.id, "security_admin").status_code == 204
    assert client.list_credentials(base, u.token, victim.id).status_code == 200
    assert client.revoke_role(base, admin.token, admin.domain_id, u.id, "security_admin").status_code == 204
    client.assert_iam_error(client.list_credentials(base, u.token, victim.id), 403)


@pytest.mark.parametrize("change", ["disable", "revoke_role"])
def test_a_login_in_flight_does_not_undo_a_change_made_meanwhile(stack, change):
    """A login reads the user, spends about a second on the password hash (3,000,000 PBKDF2 iterations), then
    caches what it read. A disable or a role revoke committed while it hashed must still hold afterwards on that
    server: for a token issued before, and for that login, which is refused (disable) or gets a token without
    the revoked role."""
    srv = stack.new_server("login-race-" + change, OSCRED_PASSWORD_ITERATIONS="3000000")
    try:
        base = srv.base_url
        t = stack.tenants["default"]
        admin = client.Actor.login(base, t["user"], t["password"], t["domain"])
        name, pw = client.unique_name("race"), client.new_password()
        r = client.create_user(base, admin.token, name, pw)
        assert r.status_code == 201, r.text
        uid = r.json()["user"]["id"]
        victim = client.create_user(base, admin.token, client.unique_name("victim")).json()["user"]
        client.new_key(base, admin.token, victim["id"])
        if change == "revoke_role":
            assert client.grant_role(base, admin.token, admin.domain_id, uid, "security_admin").status_code == 204
        before = client.login(base, name, pw, t["domain"])
        assert client.list_credentials(base, before, victim["id"]).status_code == (
            200 if change == "revoke_role" else 403)

        answer = {}
        login = threading.Thread(target=lambda: answer.update(r=client.issue_token(
            base, client.password_auth(pw, name=name, domain_name=t["domain"],
                                       scope={"domain": {"name": t["domain"]}}))), daemon=True)
        cpu0 = opsutil.cpu_seconds(srv.proc.pid)
        login.start()
        harness.wait_until(lambda: opsutil.cpu_seconds(srv.proc.pid) - cpu0 >= 0.15 or not login.is_alive(),
                           timeout=10, interval=0.01, what="the server to be hashing the login")
        assert login.is_alive(), "the login finished before the change could be made: %r" % answer
        if change == "disable":
            r = client.update_user(base, admin.token, uid, enabled=False)
            assert r.status_code == 200, r.text
        else:
            assert client.revoke_role(base, admin.token, admin.domain_id, uid, "security_admin").status_code == 204
        login.join(30)
        r = answer["r"]
        time.sleep(1.5)  # the change's notification has been applied by now, whatever it did
        if change == "disable":
            client.assert_keystone_error(r, 401)
            assert not client.token_works(base, before)
        else:
            assert r.status_code == 201, r.text
            assert r.json()["token"]["roles"] == [], r.json()["token"]
            during = r.headers["X-Subject-Token"]
            client.remember_token(during)
            for token in (before, during):
                client.assert_iam_error(client.list_credentials(base, token, victim["id"]), 403)
    finally:
        srv.stop()
