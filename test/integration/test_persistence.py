"""State lives in PostgreSQL and tokens are self-contained: a restart loses nothing (DESIGN.md)."""
import signal

import pytest

import client


@pytest.fixture(scope="module")
def restarted(stack, admin):
    """A dedicated server; users, keys and tokens are made on it, then it is restarted (SIGTERM + start)."""
    srv = stack.new_server("persist")
    base = srv.base_url
    st = {"server": srv}

    name, pw = client.unique_name("persist"), client.new_password()
    r = client.create_user(base, admin.token, name, pw)
    assert r.status_code == 201, r.text
    st["user"] = r.json()["user"]
    st["password"] = pw
    st["token"] = client.login(base, name, pw, admin.domain_name)
    st["key"] = client.new_key(base, st["token"], st["user"]["id"], description="survives")
    st["inactive"] = client.new_key(base, admin.token, st["user"]["id"], description="off")
    assert client.update_credential(base, admin.token, st["inactive"]["access"], status="inactive").status_code == 200

    st["revoked"] = client.login(base, name, pw, admin.domain_name)
    assert client.revoke_token(base, st["revoked"], st["revoked"]).status_code == 204

    # A user whose password changed before the restart: the old token must stay dead after it.
    name2, old_pw = client.unique_name("persist"), client.new_password()
    r = client.create_user(base, admin.token, name2, old_pw)
    assert r.status_code == 201, r.text
    st["changed"] = r.json()["user"]
    st["changed_old_token"] = client.login(base, name2, old_pw, admin.domain_name)
    st["changed_old_pw"], st["changed_new_pw"] = old_pw, client.new_password()
    assert client.update_user(base, admin.token, st["changed"]["id"],
                              password=st["changed_new_pw"]).status_code == 200

    # A disabled user.
    name3, pw3 = client.unique_name("persist"), client.new_password()
    r = client.create_user(base, admin.token, name3, pw3)
    assert r.status_code == 201, r.text
    st["disabled"] = r.json()["user"]
    st["disabled_pw"] = pw3
    st["disabled_token"] = client.login(base, name3, pw3, admin.domain_name)
    assert client.update_user(base, admin.token, st["disabled"]["id"], enabled=False).status_code == 200

    srv.restart()
    yield st
    srv.stop(signal.SIGTERM)


def test_users_survive_restart(restarted, admin):
    base = restarted["server"].base_url
    r = client.get_user(base, admin.token, restarted["user"]["id"])
    assert r.status_code == 200, r.text
    assert r.json()["user"] == restarted["user"]


def test_keys_survive_restart(restarted, admin):
    base = restarted["server"].base_url
    k, off = restarted["key"], restarted["inactive"]
    shown = client.key_state(base, admin.token, k["access"])
    assert {f: shown[f] for f in ("access", "user_id", "status", "description", "create_time")} == \
        {f: k[f] for f in ("access", "user_id", "status", "description", "create_time")}
    assert client.key_snapshot(base, admin.token, restarted["user"]["id"]) == sorted(
        [(k["access"], "active", "survives"), (off["access"], "inactive", "off")])


def test_key_limit_survives_restart(restarted, admin):
    base = restarted["server"].base_url
    client.assert_key_limit(client.create_credential(base, admin.token, restarted["user"]["id"]))


def test_password_survives_restart(restarted, admin):
    base = restarted["server"].base_url
    assert client.login(base, restarted["user"]["name"], restarted["password"], admin.domain_name)


def test_token_issued_before_restart_still_works(restarted):
    base = restarted["server"].base_url
    token = restarted["token"]
    r = client.validate_token(base, token, token)
    assert r.status_code == 200, r.text
    assert r.json()["token"]["user"]["id"] == restarted["user"]["id"]
    r = client.list_credentials(base, token)
    assert r.status_code == 200, r.text
    assert restarted["key"]["access"] in {c["access"] for c in r.json()["credentials"]}


def test_revoked_token_stays_revoked_after_restart(restarted, admin):
    base = restarted["server"].base_url
    t = restarted["revoked"]
    client.assert_keystone_error(client.validate_token(base, t, t), 401)
    client.assert_keystone_error(client.validate_token(base, admin.token, t), 404)


def test_password_change_still_kills_old_tokens_after_restart(restarted, admin):
    base = restarted["server"].base_url
    t = restarted["changed_old_token"]
    client.assert_keystone_error(client.validate_token(base, t, t), 401)
    name = restarted["changed"]["name"]
    client.assert_keystone_error(client.issue_token(base, client.password_auth(
        restarted["changed_old_pw"], name=name, domain_name=admin.domain_name)), 401)
    assert client.login(base, name, restarted["changed_new_pw"], admin.domain_name)


def test_disabled_user_stays_disabled_after_restart(restarted, admin):
    base = restarted["server"].base_url
    t = restarted["disabled_token"]
    client.assert_keystone_error(client.validate_token(base, t, t), 401)
    client.assert_keystone_error(client.issue_token(base, client.password_auth(
        restarted["disabled_pw"], name=restarted["disabled"]["name"], domain_name=admin.domain_name)), 401)


def test_migrate_and_bootstrap_are_idempotent(stack, base, admin):
    users_before = client.user_snapshot(base, admin.token)
    roles_before = client.role_names(base, admin.token, admin.domain_id, admin.id)
    stack.cli("migrate")
    stack.bootstrap("default")
    stack.bootstrap("other")
    assert client.user_snapshot(base, admin.token) == users_before
    assert client.role_names(base, admin.token, admin.domain_id, admin.id) == roles_before
    assert client.login(base, admin.name, admin.password, admin.domain_name)
    assert client.token_works(base, admin.token)
