"""Keystone token API (spec huawei-keystone.md §3.1–3.3, §5.7–5.8; DESIGN.md "Keys, tokens, passwords")."""
import concurrent.futures
import datetime
import json

import pytest

import client
import harness
import opsutil

# DESIGN.md: replicas agree "within a second"; the extra half second absorbs the sanitizer build and polling.
REPLICA_DEADLINE = 1.5


def _ts(s):
    assert client.TIME_RE.match(s), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


def _check_token_body(tok, user, scoped):
    assert tok["methods"] == ["password"], tok
    assert tok["user"]["id"] == user.id
    assert tok["user"]["name"] == user.name
    assert tok["user"]["domain"] == {"id": user.domain_id, "name": user.domain_name}
    lifetime = _ts(tok["expires_at"]) - _ts(tok["issued_at"])
    assert abs(lifetime.total_seconds() - 86400) < 2, tok
    assert "project" not in tok
    if scoped:
        assert tok["domain"] == {"id": user.domain_id, "name": user.domain_name}
        assert isinstance(tok["roles"], list)
        for role in tok["roles"]:
            assert set(role) >= {"id", "name"}, role
    else:
        assert "domain" not in tok
        assert "roles" not in tok


# -- issue ------------------------------------------------------------------------------------------------------

def test_issue_by_name_and_domain_name_gives_201_and_subject_token(base, admin):
    body = client.password_auth(admin.password, name=admin.name, domain_name=admin.domain_name,
                                scope={"domain": {"name": admin.domain_name}})
    r = client.issue_token(base, body)
    assert r.status_code == 201, r.text
    assert r.headers.get("X-Subject-Token")
    assert r.headers["Content-Type"].startswith("application/json")
    tok = r.json()["token"]
    _check_token_body(tok, admin, scoped=True)
    assert {"admin", "security_admin"} <= {x["name"] for x in tok["roles"]}
    assert isinstance(tok["catalog"], list)


def test_issue_by_name_and_domain_id(base, admin):
    body = client.password_auth(admin.password, name=admin.name, domain_id=admin.domain_id,
                                scope={"domain": {"id": admin.domain_id}})
    r = client.issue_token(base, body)
    assert r.status_code == 201, r.text
    _check_token_body(r.json()["token"], admin, scoped=True)


def test_issue_by_user_id_needs_no_domain(base, admin):
    body = client.password_auth(admin.password, user_id=admin.id, scope={"domain": {"name": admin.domain_name}})
    r = client.issue_token(base, body)
    assert r.status_code == 201, r.text
    _check_token_body(r.json()["token"], admin, scoped=True)


def test_unscoped_token_has_no_domain_and_no_roles(base, admin):
    body = client.password_auth(admin.password, name=admin.name, domain_name=admin.domain_name)
    r = client.issue_token(base, body)
    assert r.status_code == 201, r.text
    _check_token_body(r.json()["token"], admin, scoped=False)


def test_user_without_roles_gets_a_domain_scoped_token_with_no_roles(base, make_user):
    u = make_user()
    body = client.password_auth(u.password, name=u.name, domain_name=u.domain_name,
                                scope={"domain": {"name": u.domain_name}})
    r = client.issue_token(base, body)
    assert r.status_code == 201, r.text
    tok = r.json()["token"]
    _check_token_body(tok, u, scoped=True)
    assert tok["roles"] == []


def test_scope_to_another_domain_is_refused(base, admin, other_admin):
    body = client.password_auth(admin.password, name=admin.name, domain_name=admin.domain_name,
                                scope={"domain": {"name": other_admin.domain_name}})
    r = client.issue_token(base, body)
    assert r.status_code in (401, 403), r.text
    client.assert_keystone_error(r, r.status_code)
    assert "X-Subject-Token" not in r.headers


def test_nocatalog_omits_the_catalog(base, admin):
    body = client.password_auth(admin.password, name=admin.name, domain_name=admin.domain_name,
                                scope={"domain": {"name": admin.domain_name}})
    r = client.issue_token(base, body, params={"nocatalog": "1"})
    assert r.status_code == 201, r.text
    assert "catalog" not in r.json()["token"]


def test_unknown_user_wrong_password_and_unknown_domain_get_the_same_401(base, admin):
    cases = [
        client.password_auth("whatever-" + client.random_id(), name="nosuch-" + client.random_id()[:8],
                             domain_name=admin.domain_name),
        client.password_auth(admin.password + "x", name=admin.name, domain_name=admin.domain_name),
        client.password_auth(admin.password, name=admin.name, domain_name="nosuchdomain"),
        client.password_auth(admin.password, user_id=client.random_id()),
    ]
    bodies = []
    for body in cases:
        r = client.issue_token(base, body)
        client.assert_keystone_error(r, 401)
        assert "X-Subject-Token" not in r.headers
        bodies.append(r.json())
    assert all(b == bodies[0] for b in bodies), bodies


def test_user_of_another_domain_cannot_log_in_through_this_domain(base, other_admin, admin):
    body = client.password_auth(other_admin.password, name=other_admin.name, domain_name=admin.domain_name)
    client.assert_keystone_error(client.issue_token(base, body), 401)


def test_user_without_password_cannot_log_in(base, make_user):
    u = make_user(password=False)
    body = client.password_auth("", name=u.name, domain_name=u.domain_name)
    r = client.issue_token(base, body)
    assert r.status_code in (400, 401), r.text
    client.assert_keystone_error(r, r.status_code)
    body = client.password_auth("anything-at-all", name=u.name, domain_name=u.domain_name)
    client.assert_keystone_error(client.issue_token(base, body), 401)


def _good():
    return client.password_auth("pw", name="admin", domain_name="default")


def _with(mutate):
    b = _good()
    mutate(b)
    return b


MALFORMED = {
    "not_json": {"data": "{\"auth\": "},
    "empty_body": {"data": ""},
    "json_array": {"data": "[]"},
    "json_string": {"data": "\"auth\""},
    "no_auth": {"json": {"identity": _good()["auth"]["identity"]}},
    "auth_not_object": {"json": {"auth": "password"}},
    "missing_identity": {"json": {"auth": {}}},
    "missing_methods": {"json": _with(lambda b: b["auth"]["identity"].pop("methods"))},
    "methods_not_list": {"json": _with(lambda b: b["auth"]["identity"].__setitem__("methods", "password"))},
    "methods_empty": {"json": _with(lambda b: b["auth"]["identity"].__setitem__("methods", []))},
    "unsupported_method": {"json": {"auth": {"identity": {"methods": ["totp"],
                                                          "totp": {"user": {"id": "x", "passcode": "1"}}}}}},
    "password_object_missing": {"json": _with(lambda b: b["auth"]["identity"].pop("password"))},
    "user_missing": {"json": _with(lambda b: b["auth"]["identity"]["password"].pop("user"))},
    "name_not_string": {"json": _with(lambda b: b["auth"]["identity"]["password"]["user"].__setitem__("name", 42))},
    "password_not_string": {"json": _with(
        lambda b: b["auth"]["identity"]["password"]["user"].__setitem__("password", ["pw"]))},
    "domain_not_object": {"json": _with(
        lambda b: b["auth"]["identity"]["password"]["user"].__setitem__("domain", "default"))},
    "project_scope": {"json": _with(lambda b: b["auth"].__setitem__("scope", {"project": {"id": "0" * 32}}))},
    "scope_not_object": {"json": _with(lambda b: b["auth"].__setitem__("scope", "domain"))},
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_token_request_is_400(base, admin, case):
    spec = MALFORMED[case]
    # Use the real admin credentials, so that only the malformation can be the reason for the refusal.
    if "json" in spec:
        text = json.dumps(spec["json"]).replace('"pw"', json.dumps(admin.password))
        r = client.issue_token(base, data=text)
    else:
        r = client.issue_token(base, data=spec["data"])
    client.assert_keystone_error(r, 400)
    assert "X-Subject-Token" not in r.headers


# -- validate / revoke -----------------------------------------------------------------------------------------

def test_validate_returns_200_and_echoes_the_subject_token(base, admin, make_user):
    u = make_user()
    r = client.validate_token(base, admin.token, u.token)
    assert r.status_code == 200, r.text
    assert r.headers["X-Subject-Token"] == u.token
    _check_token_body(r.json()["token"], u, scoped=True)


def test_user_validates_own_token(base, make_user):
    u = make_user()
    r = client.validate_token(base, u.token, u.token)
    assert r.status_code == 200, r.text
    assert r.json()["token"]["user"]["id"] == u.id


def test_validate_honours_nocatalog(base, admin):
    r = client.validate_token(base, admin.token, admin.token, params={"nocatalog": "1"})
    assert r.status_code == 200, r.text
    assert "catalog" not in r.json()["token"]


def test_head_validates_with_200_and_no_body(base, admin, make_user):
    u = make_user()
    r = client.validate_token(base, admin.token, u.token, method="HEAD")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["X-Subject-Token"] == u.token


def test_plain_user_cannot_validate_another_users_token(base, make_user):
    u, v = make_user(), make_user()
    client.assert_keystone_error(client.validate_token(base, u.token, v.token), 403)


def test_validate_without_caller_token_is_401(base, admin):
    r = client.request("GET", base, client.TOKENS, headers={"X-Subject-Token": admin.token})
    client.assert_keystone_error(r, 401)


def test_revoke_is_204_then_token_is_refused_as_caller_and_as_subject(base, admin, make_user):
    u = make_user()
    extra = client.login(base, u.name, u.password, u.domain_name)
    r = client.revoke_token(base, u.token, u.token)
    assert r.status_code == 204, r.text
    assert r.content == b""
    client.assert_keystone_error(client.validate_token(base, u.token, u.token), 401)
    client.assert_keystone_error(client.validate_token(base, admin.token, u.token), 404)
    # Only that token died: the user's other token still works.
    assert client.token_works(base, extra)


def test_revoked_token_is_refused_on_the_credentials_surface(base, make_user):
    u = make_user()
    assert client.revoke_token(base, u.token, u.token).status_code == 204
    client.assert_iam_error(client.list_credentials(base, u.token), 401)


def test_admin_revokes_another_users_token(base, admin, make_user):
    u = make_user()
    assert client.revoke_token(base, admin.token, u.token).status_code == 204
    assert not client.token_works(base, u.token)


def test_plain_user_cannot_revoke_another_users_token(base, make_user):
    u, v = make_user(), make_user()
    client.assert_keystone_error(client.revoke_token(base, u.token, v.token), 403)
    assert client.token_works(base, v.token)


# -- what kills a token ----------------------------------------------------------------------------------------

def test_expired_token_is_refused(admin, server_factory):
    srv = server_factory("ttl1", OSCRED_TOKEN_TTL="1")
    body = client.password_auth(admin.password, name=admin.name, domain_name=admin.domain_name,
                                scope={"domain": {"name": admin.domain_name}})
    r = client.issue_token(srv.base_url, body)
    assert r.status_code == 201, r.text
    tok = r.json()["token"]
    lifetime = (_ts(tok["expires_at"]) - _ts(tok["issued_at"])).total_seconds()
    assert 0.5 <= lifetime <= 1.5, tok
    token = r.headers["X-Subject-Token"]
    harness.wait_until(lambda: not client.token_works(srv.base_url, token), timeout=10, what="token expiry")
    client.assert_keystone_error(client.validate_token(srv.base_url, token, token), 401)
    # As the subject of a valid caller (the session admin's token, 24 h): not found.
    client.assert_keystone_error(client.validate_token(srv.base_url, admin.token, token), 404)


def test_disabled_users_token_is_refused_and_login_fails(base, admin, make_user):
    u = make_user()
    assert client.token_works(base, u.token)
    r = client.update_user(base, admin.token, u.id, enabled=False)
    assert r.status_code == 200, r.text
    client.assert_keystone_error(client.validate_token(base, u.token, u.token), 401)
    client.assert_iam_error(client.list_credentials(base, u.token), 401)
    body = client.password_auth(u.password, name=u.name, domain_name=u.domain_name)
    client.assert_keystone_error(client.issue_token(base, body), 401)


def test_password_change_kills_old_tokens(base, admin, make_user):
    u = make_user()
    new_pw = client.new_password()
    r = client.update_user(base, admin.token, u.id, password=new_pw)
    assert r.status_code == 200, r.text
    client.assert_keystone_error(client.validate_token(base, u.token, u.token), 401)
    client.assert_keystone_error(
        client.issue_token(base, client.password_auth(u.password, name=u.name, domain_name=u.domain_name)), 401)
    fresh = client.login(base, u.name, new_pw, u.domain_name)
    assert client.token_works(base, fresh)


def test_deleted_users_token_is_refused(base, admin, make_user):
    u = make_user()
    assert client.delete_user(base, admin.token, u.id).status_code == 204
    client.assert_keystone_error(client.validate_token(base, u.token, u.token), 401)
    client.assert_keystone_error(client.validate_token(base, admin.token, u.token), 404)
    client.assert_keystone_error(
        client.issue_token(base, client.password_auth(u.password, name=u.name, domain_name=u.domain_name)), 401)


def _tamper(token, how):
    mid = len(token) // 2
    if how == "flipped":
        return token[:mid] + ("A" if token[mid] != "A" else "B") + token[mid + 1:]
    if how == "truncated":
        return token[:-4]
    if how == "extended":
        return token + "AAAA"
    if how == "garbage":
        return "gAAAAABnot-a-real-token"
    raise ValueError(how)


@pytest.mark.parametrize("how", ["flipped", "truncated", "extended", "garbage"])
def test_tampered_token_is_401(base, admin, how):
    bad = _tamper(admin.token, how)
    assert bad != admin.token
    client.assert_keystone_error(client.validate_token(base, bad, bad), 401)
    client.assert_keystone_error(client.list_users(base, bad), 401)
    client.assert_iam_error(client.list_credentials(base, bad), 401)
    # As a subject under a valid caller it simply does not exist.
    client.assert_keystone_error(client.validate_token(base, admin.token, bad), 404)


def test_unscoped_token_acts_only_on_own_keys(base, admin, make_user):
    """DESIGN.md: roles apply to domain-scoped tokens only."""
    u = make_user()
    key = client.new_key(base, admin.token, u.id)
    unscoped = client.login(base, admin.name, admin.password, admin.domain_name, scoped=False)
    client.assert_iam_error(client.list_credentials(base, unscoped, u.id), 403)
    client.assert_iam_error(client.show_credential(base, unscoped, key["access"]), 403)
    client.assert_iam_error(client.create_credential(base, unscoped, u.id), 403)
    client.assert_keystone_error(client.create_user(base, unscoped, client.unique_name(), client.new_password()), 403)
    assert client.list_credentials(base, unscoped).status_code == 200
    assert client.key_snapshot(base, admin.token, u.id) == [(key["access"], "active", "")]


# -- two replicas ----------------------------------------------------------------------------------------------

def _known_on(srv, user):
    """A user created a moment ago on the first replica reaches the second one's cache within the deadline."""
    harness.wait_until(lambda: client.token_works(srv.base_url, user.token), timeout=REPLICA_DEADLINE,
                       what="%s's token accepted on the second replica" % user.name)


def test_token_from_one_replica_works_on_the_other(base, second_server, make_user):
    u = make_user()
    _known_on(second_server, u)
    r = client.validate_token(second_server.base_url, u.token, u.token)
    assert r.status_code == 200, r.text
    assert r.json()["token"]["user"]["id"] == u.id


def test_revocation_reaches_the_other_replica(base, second_server, make_user):
    u = make_user()
    _known_on(second_server, u)
    assert client.revoke_token(base, u.token, u.token).status_code == 204
    harness.wait_until(lambda: not client.token_works(second_server.base_url, u.token),
                       timeout=REPLICA_DEADLINE, what="revocation on the second replica")


def test_disabling_a_user_reaches_the_other_replica(base, admin, second_server, make_user):
    u = make_user()
    _known_on(second_server, u)
    assert client.update_user(base, admin.token, u.id, enabled=False).status_code == 200
    harness.wait_until(lambda: not client.token_works(second_server.base_url, u.token),
                       timeout=REPLICA_DEADLINE, what="disabled user on the second replica")


def test_password_change_reaches_the_other_replica(base, admin, second_server, make_user):
    u = make_user()
    _known_on(second_server, u)
    assert client.update_user(base, admin.token, u.id, password=client.new_password()).status_code == 200
    harness.wait_until(lambda: not client.token_works(second_server.base_url, u.token),
                       timeout=REPLICA_DEADLINE, what="password change on the second replica")


def test_password_checks_beyond_half_the_workers_get_503_at_once(server_factory, admin):
    """A password hash runs on the HTTP worker that took the request; at most half of the workers hash at once
    (2 of 4 here), so the others keep serving: a burst of logins beyond that is refused with 503 and
    Retry-After instead of holding every worker, and token validation is served meanwhile."""
    srv = server_factory("logins", OSCRED_WORKER_THREADS="4", OSCRED_PASSWORD_ITERATIONS="3000000")
    base = srv.base_url
    started = opsutil.wait_for_log(srv, lambda rec: rec.get("event") == "server.started", 10, "server.started")
    assert (started["worker_threads"], started["password_slots"]) == ("4", "2"), started
    name, pw = client.unique_name("slow"), client.new_password()
    r = client.create_user(base, admin.token, name, pw)  # hashed here, with this server's cost
    assert r.status_code == 201, r.text
    body = client.password_auth(pw, name=name, domain_name=admin.domain_name,
                                scope={"domain": {"name": admin.domain_name}})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        logins = [pool.submit(client.issue_token, base, body) for _ in range(8)]
        validations = [client.validate_token(base, admin.token, admin.token) for _ in range(3)]
        answers = [f.result() for f in logins]
    assert all(v.status_code == 200 for v in validations), [v.text for v in validations]
    codes = sorted(a.status_code for a in answers)
    assert set(codes) == {201, 503} and codes.count(201) >= 1, codes
    for a in answers:
        if a.status_code == 503:
            err = client.assert_keystone_error(a, 503)
            assert "passwords are being checked" in err["message"], err
            assert a.headers.get("Retry-After") == "1", a.headers
    # The slots come back: a login on its own succeeds.
    assert client.issue_token(base, body).status_code == 201
