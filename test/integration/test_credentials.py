"""Permanent access keys, /v3.0/OS-CREDENTIAL/credentials (spec huawei-keystone.md §2, §5; DESIGN.md policy)."""
import collections
import datetime
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import client
from client import CREDS

CREATE_FIELDS = {"access", "secret", "create_time", "user_id", "description", "status"}
LIST_FIELDS = {"user_id", "access", "status", "create_time", "description"}
SHOW_FIELDS = LIST_FIELDS | {"last_use_time"}
UPDATE_FIELDS = LIST_FIELDS


def _utc(s):
    assert client.TIME_RE.match(s), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


# -- the spec §2 flows -----------------------------------------------------------------------------------------

def test_create_returns_201_with_exactly_the_documented_fields(base, admin, make_user):
    u = make_user()
    r = client.create_credential(base, admin.token, u.id, description="IAMDescription")
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"credential"}
    c = r.json()["credential"]
    assert set(c) == CREATE_FIELDS, c
    assert client.AK_RE.match(c["access"]), c
    assert client.SK_RE.match(c["secret"]), c
    assert c["status"] == "active"
    assert c["user_id"] == u.id
    assert c["description"] == "IAMDescription"
    created = _utc(c["create_time"])
    now = datetime.datetime.utcnow()
    assert abs((now - created).total_seconds()) < 120, (c["create_time"], now)


def test_create_without_description_has_an_empty_one(base, admin, make_user):
    u = make_user()
    c = client.new_key(base, admin.token, u.id)
    assert c["description"] == ""
    assert client.key_state(base, admin.token, c["access"])["description"] == ""


def test_two_keys_differ(base, admin, make_user):
    u = make_user()
    a, b = client.new_key(base, admin.token, u.id), client.new_key(base, admin.token, u.id)
    assert a["access"] != b["access"]
    assert a["secret"] != b["secret"]


def test_list_shows_keys_without_secrets(base, admin, make_user):
    u = make_user()
    made = [client.new_key(base, admin.token, u.id, description="k%d" % i) for i in range(2)]
    r = client.list_credentials(base, admin.token, u.id)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"credentials"}
    items = r.json()["credentials"]
    assert len(items) == 2
    for item in items:
        assert set(item) == LIST_FIELDS, item
        assert item["user_id"] == u.id
        assert item["status"] == "active"
        assert client.TIME_RE.match(item["create_time"])
    assert sorted((i["access"], i["description"], i["create_time"]) for i in items) == \
        sorted((m["access"], m["description"], m["create_time"]) for m in made)
    for m in made:
        assert m["secret"] not in r.text


def test_list_of_a_user_without_keys_is_empty(base, admin, make_user):
    u = make_user()
    r = client.list_credentials(base, admin.token, u.id)
    assert r.status_code == 200, r.text
    assert r.json() == {"credentials": []}


def test_list_without_user_id_gives_the_callers_own_keys(base, admin, make_user):
    u, v = make_user(), make_user()
    mine = client.new_key(base, admin.token, u.id)
    client.new_key(base, admin.token, v.id)
    r = client.list_credentials(base, u.token)
    assert r.status_code == 200, r.text
    assert [c["access"] for c in r.json()["credentials"]] == [mine["access"]]


def test_show_unused_key_has_last_use_time_equal_to_create_time(base, admin, make_user):
    u = make_user()
    c = client.new_key(base, admin.token, u.id, description="shown")
    r = client.show_credential(base, admin.token, c["access"])
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"credential"}
    s = r.json()["credential"]
    assert set(s) == SHOW_FIELDS, s
    assert s["access"] == c["access"]
    assert s["user_id"] == u.id
    assert s["status"] == "active"
    assert s["description"] == "shown"
    assert s["create_time"] == c["create_time"]
    assert s["last_use_time"] == s["create_time"]
    assert c["secret"] not in r.text


@pytest.mark.parametrize("change", [{"status": "inactive"}, {"description": "rotated"},
                                    {"status": "inactive", "description": "both"}],
                         ids=["status", "description", "both"])
def test_update_returns_200_and_persists(base, admin, make_user, change):
    u = make_user()
    c = client.new_key(base, admin.token, u.id, description="before")
    r = client.update_credential(base, admin.token, c["access"], **change)
    assert r.status_code == 200, r.text
    body = r.json()["credential"]
    assert set(body) == UPDATE_FIELDS, body
    expected = {"user_id": u.id, "access": c["access"], "status": "active", "create_time": c["create_time"],
                "description": "before"}
    expected.update(change)
    assert body == expected
    shown = client.key_state(base, admin.token, c["access"])
    assert {k: shown[k] for k in UPDATE_FIELDS} == expected
    assert c["secret"] not in r.text


def test_inactive_key_can_be_reactivated(base, admin, make_user):
    u = make_user()
    c = client.new_key(base, admin.token, u.id)
    assert client.update_credential(base, admin.token, c["access"], status="inactive").status_code == 200
    r = client.update_credential(base, admin.token, c["access"], status="active")
    assert r.status_code == 200, r.text
    assert client.key_state(base, admin.token, c["access"])["status"] == "active"


def test_description_of_255_characters_is_accepted(base, admin, make_user):
    u = make_user()
    c = client.new_key(base, admin.token, u.id, description="d" * 255)
    assert c["description"] == "d" * 255
    r = client.update_credential(base, admin.token, c["access"], description="e" * 255)
    assert r.status_code == 200, r.text
    assert client.key_state(base, admin.token, c["access"])["description"] == "e" * 255


def test_delete_returns_204_then_the_key_is_gone(base, admin, make_user):
    u = make_user()
    c = client.new_key(base, admin.token, u.id)
    r = client.delete_credential(base, admin.token, c["access"])
    assert r.status_code == 204, r.text
    assert r.content == b""
    client.assert_iam_error(client.show_credential(base, admin.token, c["access"]), 404)
    client.assert_iam_error(client.update_credential(base, admin.token, c["access"], status="inactive"), 404)
    client.assert_iam_error(client.delete_credential(base, admin.token, c["access"]), 404)
    assert client.key_snapshot(base, admin.token, u.id) == []


def test_third_key_is_400_akSkNumExceed(base, admin, make_user):
    u = make_user()
    client.new_key(base, admin.token, u.id)
    client.new_key(base, admin.token, u.id)
    before = client.key_snapshot(base, admin.token, u.id)
    r = client.create_credential(base, admin.token, u.id, description="third")
    client.assert_key_limit(r)
    assert client.key_snapshot(base, admin.token, u.id) == before


def test_inactive_keys_count_towards_the_limit(base, admin, make_user):
    u = make_user()
    for _ in range(2):
        c = client.new_key(base, admin.token, u.id)
        assert client.update_credential(base, admin.token, c["access"], status="inactive").status_code == 200
    before = client.key_snapshot(base, admin.token, u.id)
    client.assert_key_limit(client.create_credential(base, u.token, u.id))
    assert client.key_snapshot(base, admin.token, u.id) == before


def test_deleting_a_key_frees_its_slot(base, admin, make_user):
    u = make_user()
    a = client.new_key(base, admin.token, u.id)
    client.new_key(base, admin.token, u.id)
    assert client.delete_credential(base, admin.token, a["access"]).status_code == 204
    client.new_key(base, admin.token, u.id)
    client.assert_key_limit(client.create_credential(base, admin.token, u.id))
    assert len(client.key_snapshot(base, admin.token, u.id)) == 2


@pytest.mark.parametrize("content_type", ["application/json;charset=utf8", "application/json; charset=UTF-8", None],
                         ids=["docs", "charset", "absent"])
def test_create_accepts_json_content_type_variants(base, admin, make_user, content_type):
    """Spec §1: accept any application/json* Content-Type, or none."""
    u = make_user()
    body = '{"credential":{"user_id":"%s","description":"ct"}}' % u.id
    r = client.request("POST", base, CREDS, token=admin.token, data=body.encode(),
                       headers={"Content-Type": content_type})  # None: requests sends no Content-Type
    assert r.status_code == 201, r.text
    client.remember_secret(r.json()["credential"]["secret"])


def test_get_with_json_content_type_like_the_sdk(base, admin):
    r = client.request("GET", base, CREDS, token=admin.token, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text


# -- policy ----------------------------------------------------------------------------------------------------

def test_plain_user_manages_own_keys(base, make_user):
    u = make_user()
    c = client.new_key(base, u.token, u.id, description="mine")
    assert c["user_id"] == u.id
    assert client.show_credential(base, u.token, c["access"]).status_code == 200
    assert [x["access"] for x in client.list_credentials(base, u.token, u.id).json()["credentials"]] == [c["access"]]
    assert client.update_credential(base, u.token, c["access"], status="inactive").status_code == 200
    assert client.delete_credential(base, u.token, c["access"]).status_code == 204
    assert client.list_credentials(base, u.token).json() == {"credentials": []}


def test_plain_user_gets_403_on_another_users_key(base, admin, make_user):
    u, v = make_user(), make_user()
    k = client.new_key(base, v.token, v.id, description="v's")
    before = client.key_state(base, admin.token, k["access"])
    client.assert_iam_error(client.show_credential(base, u.token, k["access"]), 403)
    client.assert_iam_error(client.update_credential(base, u.token, k["access"], status="inactive"), 403)
    client.assert_iam_error(client.update_credential(base, u.token, k["access"], description="pwned"), 403)
    client.assert_iam_error(client.delete_credential(base, u.token, k["access"]), 403)
    assert client.key_state(base, admin.token, k["access"]) == before


def test_plain_user_cannot_create_or_list_keys_for_another_user(base, admin, make_user):
    u, v = make_user(), make_user()
    client.assert_iam_error(client.create_credential(base, u.token, v.id), 403)
    client.assert_iam_error(client.list_credentials(base, u.token, v.id), 403)
    assert client.key_snapshot(base, admin.token, v.id) == []
    assert client.key_snapshot(base, admin.token, u.id) == []


def test_plain_user_cannot_probe_user_ids(base, make_user):
    """role-keys.md §4: 403 for any target but itself, whether or not it exists."""
    u = make_user()
    ghost = client.random_id()
    client.assert_iam_error(client.create_credential(base, u.token, ghost), 403)
    client.assert_iam_error(client.list_credentials(base, u.token, ghost), 403)
    assert client.list_credentials(base, u.token).json()["credentials"] == []


def test_missing_key_is_404_for_a_plain_user(base, make_user):
    u = make_user()
    client.assert_iam_error(client.show_credential(base, u.token, "AAAAAAAAAAAAAAAAAAAA"), 404)


def test_security_admin_manages_every_key_of_its_domain(base, admin, make_user):
    sa, v = make_user(roles=["security_admin"]), make_user()
    own = client.new_key(base, v.token, v.id)
    made = client.new_key(base, sa.token, v.id, description="by security_admin")
    assert made["user_id"] == v.id
    r = client.list_credentials(base, sa.token, v.id)
    assert r.status_code == 200, r.text
    assert sorted(c["access"] for c in r.json()["credentials"]) == sorted([own["access"], made["access"]])
    assert client.show_credential(base, sa.token, own["access"]).status_code == 200
    assert client.update_credential(base, sa.token, own["access"], status="inactive").status_code == 200
    assert client.delete_credential(base, sa.token, made["access"]).status_code == 204
    assert client.key_snapshot(base, admin.token, v.id) == [(own["access"], "inactive", "")]
    # Also the keys of the domain's admin.
    ak = client.new_key(base, sa.token, admin.id)
    assert client.delete_credential(base, sa.token, ak["access"]).status_code == 204


def test_other_domains_admin_gets_404_indistinguishable_from_a_missing_key(base, admin, other_admin, make_user):
    u = make_user()
    k = client.new_key(base, admin.token, u.id, description="tenant A")
    before = client.key_state(base, admin.token, k["access"])
    missing_ak = "Z" * 20
    assert client.show_credential(base, admin.token, missing_ak).status_code == 404
    calls = [
        lambda ak: client.show_credential(base, other_admin.token, ak),
        lambda ak: client.update_credential(base, other_admin.token, ak, status="inactive"),
        lambda ak: client.update_credential(base, other_admin.token, ak, description="tenant B was here"),
        lambda ak: client.delete_credential(base, other_admin.token, ak),
    ]
    for call in calls:
        foreign, missing = call(k["access"]), call(missing_ak)
        fb = client.assert_iam_error(foreign, 404)
        mb = client.assert_iam_error(missing, 404)
        assert fb["error_code"] == mb["error_code"]
        assert fb["error_msg"].replace(k["access"], "X") == mb["error_msg"].replace(missing_ak, "X")
    assert client.key_state(base, admin.token, k["access"]) == before


def test_other_domains_admin_cannot_create_or_list_for_this_domains_user(base, admin, other_admin, make_user):
    u = make_user()
    ghost = client.random_id()
    foreign = client.create_credential(base, other_admin.token, u.id)
    missing = client.create_credential(base, other_admin.token, ghost)
    assert client.assert_iam_error(foreign, 404)["error_code"] == client.assert_iam_error(missing, 404)["error_code"]
    client.assert_iam_error(client.list_credentials(base, other_admin.token, u.id), 404)
    assert client.key_snapshot(base, admin.token, u.id) == []


def test_other_domains_keys_are_not_listed_by_default(base, admin, other_admin, make_user):
    u = make_user()
    k = client.new_key(base, admin.token, u.id)
    r = client.list_credentials(base, other_admin.token)
    assert r.status_code == 200, r.text
    assert k["access"] not in r.text


# -- errors ----------------------------------------------------------------------------------------------------

def _bad_paths(ak):
    return {
        "lowercase": ak.lower(),
        "too_short": ak[:19],
        "21_chars": ak + "A",
        "encoded_slash": ak[:10] + "%2F" + ak[11:],
        "lowercase_random": "abcdefghij0123456789",
    }


@pytest.mark.parametrize("variant", ["lowercase", "too_short", "21_chars", "encoded_slash", "lowercase_random"])
def test_invalid_access_key_in_path_is_400_or_404_and_touches_nothing(base, admin, make_user, variant):
    u = make_user()
    k = client.new_key(base, admin.token, u.id)
    before = client.key_state(base, admin.token, k["access"])
    bad = _bad_paths(k["access"])[variant]
    statuses = set()
    for r in (client.show_credential(base, admin.token, bad),
              client.update_credential(base, admin.token, bad, status="inactive"),
              client.delete_credential(base, admin.token, bad)):
        assert r.status_code in (400, 404), r.text
        client.assert_iam_error(r, r.status_code)
        statuses.add(r.status_code)
    assert len(statuses) == 1, "inconsistent answers for %r: %s" % (bad, statuses)
    assert client.key_state(base, admin.token, k["access"]) == before


def test_access_key_query_parameter_is_refused_and_changes_nothing(base, admin, make_user):
    """ulfius merges the query into path parameters; oscred reads the path itself and refuses
    query parameters a route does not take, instead of silently ignoring or honouring them."""
    u = make_user()
    a = client.new_key(base, admin.token, u.id, description="a")
    b = client.new_key(base, admin.token, u.id, description="b")
    inject = "?access_key=%s&user_id=%s" % (b["access"], client.random_id())
    for method, body in (("GET", None), ("PUT", {"credential": {"description": "changed"}}),
                         ("DELETE", None)):
        r = client.request(method, base, CREDS + "/" + a["access"] + inject, token=admin.token,
                           json=body)
        assert r.status_code == 400, r.text
        assert r.json()["error_code"] == "IAM.0007"
        assert "access_key" in r.json()["error_msg"]
    assert client.key_snapshot(base, admin.token, u.id) == sorted(
        [(a["access"], "active", "a"), (b["access"], "active", "b")])


@pytest.mark.parametrize("query", ["?%FF=1", "?a%01%C3=1", "?user_id=%FF%FE"], ids=["name_not_utf8", "name_cut_utf8",
                                                                                  "value_not_utf8"])
def test_query_of_any_bytes_is_refused_in_the_iam_shape(base, admin, query):
    """A refusal that names a parameter the client sent, whatever its bytes, still has the /v3.0 body
    (error_code, error_msg, request_id) the Huawei SDK reads."""
    r = client.request("GET", base, CREDS + query, token=admin.token)
    client.assert_iam_error(r, 400)


BAD_CREATE_BODIES = {
    "truncated": '{"credential": {"user_id": "UID"',
    "not_json": "user_id=UID",
    "array": '[{"credential": {"user_id": "UID"}}]',
    "null": "null",
    "string": '"UID"',
    "missing_credential": '{"user_id": "UID"}',
    "credential_string": '{"credential": "UID"}',
    "credential_array": '{"credential": ["UID"]}',
    "missing_user_id": '{"credential": {"description": "no owner"}}',
    "user_id_int": '{"credential": {"user_id": 12345}}',
    "user_id_null": '{"credential": {"user_id": null}}',
    "user_id_object": '{"credential": {"user_id": {"id": "UID"}}}',
    "description_int": '{"credential": {"user_id": "UID", "description": 7}}',
    "description_256": '{"credential": {"user_id": "UID", "description": "%s"}}' % ("d" * 256),
    "unknown_top_level_member": '{"credential": {"user_id": "UID"}, "user_id": "UID"}',
}


@pytest.mark.parametrize("case", sorted(BAD_CREATE_BODIES))
def test_malformed_create_is_400_with_iam_body(base, admin, make_user, case):
    u = make_user()
    admins_keys = client.key_snapshot(base, admin.token, admin.id)
    r = client.request("POST", base, CREDS, token=admin.token, data=BAD_CREATE_BODIES[case].replace("UID", u.id))
    client.assert_iam_error(r, 400)
    assert client.key_snapshot(base, admin.token, u.id) == []
    assert client.key_snapshot(base, admin.token, admin.id) == admins_keys  # no defaulting to the caller


BAD_UPDATE_BODIES = {
    "truncated": '{"credential": {"status": "inactive"',
    "array": '[{"credential": {"status": "inactive"}}]',
    "missing_credential": '{"status": "inactive"}',
    "credential_string": '{"credential": "inactive"}',
    "neither_field": '{"credential": {}}',
    "unknown_status": '{"credential": {"status": "disabled"}}',
    "empty_status": '{"credential": {"status": ""}}',
    "status_bool": '{"credential": {"status": false}}',
    "status_null": '{"credential": {"status": null}}',
    "description_int": '{"credential": {"description": 7}}',
    "description_256": '{"credential": {"description": "%s"}}' % ("d" * 256),
    "bad_status_with_good_description": '{"credential": {"status": "deleted", "description": "ok"}}',
    "unknown_top_level_member": '{"credential": {"status": "inactive"}, "status": "inactive"}',
}


@pytest.mark.parametrize("case", sorted(BAD_UPDATE_BODIES))
def test_malformed_update_is_400_and_changes_nothing(base, admin, make_user, case):
    u = make_user()
    k = client.new_key(base, admin.token, u.id, description="orig")
    before = client.key_state(base, admin.token, k["access"])
    r = client.request("PUT", base, CREDS + "/" + k["access"], token=admin.token, data=BAD_UPDATE_BODIES[case])
    client.assert_iam_error(r, 400)
    assert client.key_state(base, admin.token, k["access"]) == before


def test_body_over_64k_is_413(base, admin, make_user):
    u = make_user()
    k = client.new_key(base, admin.token, u.id, description="orig")
    big = "x" * (65 * 1024)
    r = client.request("POST", base, CREDS, token=admin.token,
                       data='{"credential": {"user_id": "%s", "description": "%s"}}' % (u.id, big))
    client.assert_iam_error(r, 413)
    r = client.request("PUT", base, CREDS + "/" + k["access"], token=admin.token,
                       data='{"credential": {"description": "%s"}}' % big)
    client.assert_iam_error(r, 413)
    assert client.key_snapshot(base, admin.token, u.id) == [(k["access"], "active", "orig")]


@pytest.mark.parametrize("path", ["/v3.0/OS-CREDENTIAL/nothing", "/v3.0/OS-CREDENTIAL/credentials/AKAKAKAKAKAKAKAKAKAK/x",
                                  "/v3.0/nothing", "/v3.0/OS-CREDENTIAL/securitytokens/x"],
                         ids=["sibling", "below_key", "top", "unknown_subtree"])
def test_unknown_route_under_v3_0_is_iam_404(base, admin, path):
    client.assert_iam_error(client.get(base, path, token=admin.token), 404)


def test_an_encoded_path_answers_in_the_format_of_the_route_it_reaches(base, admin):
    """"/v3%2E0/..." is "/v3.0/..." (RFC 3986 §6.2.2.2) and is routed there; its errors have the /v3.0 shape."""
    client.assert_iam_error(client.get(base, "/v3%2E0/OS-CREDENTIAL/credentials/NOSUCHKEY00000000000",
                                       token=admin.token), 404)
    client.assert_iam_error(client.get(base, "/v3%2e0/OS-CREDENTIAL/credentials", token="not-a-token"), 401)


def test_wrong_method_is_405(base, admin, make_user):
    u = make_user()
    k = client.new_key(base, admin.token, u.id, description="orig")
    before = client.key_snapshot(base, admin.token, u.id)
    r = client.request("PATCH", base, CREDS + "/" + k["access"], token=admin.token,
                       json={"credential": {"status": "inactive"}})
    client.assert_iam_error(r, 405)
    assert r.headers.get("Allow") == "GET, PUT, DELETE", r.headers
    client.assert_iam_error(client.request("POST", base, CREDS + "/" + k["access"], token=admin.token,
                                           json={"credential": {"user_id": u.id}}), 405)
    r = client.request("DELETE", base, CREDS, token=admin.token)
    client.assert_iam_error(r, 405)
    assert r.headers.get("Allow") == "POST, GET", r.headers
    client.assert_iam_error(client.request("PUT", base, CREDS, token=admin.token,
                                           json={"credential": {"status": "inactive"}}), 405)
    assert client.key_snapshot(base, admin.token, u.id) == before


@pytest.mark.parametrize("token", [None, "", "garbage", "gAAAAAB" + "A" * 200],
                         ids=["missing", "empty", "garbage", "long_garbage"])
def test_missing_or_garbage_token_is_401(base, admin, make_user, token):
    u = make_user()
    k = client.new_key(base, admin.token, u.id, description="orig")
    before = client.key_snapshot(base, admin.token, u.id)
    for r in (client.list_credentials(base, token),
              client.list_credentials(base, token, u.id),
              client.create_credential(base, token, u.id),
              client.show_credential(base, token, k["access"]),
              client.update_credential(base, token, k["access"], status="inactive"),
              client.delete_credential(base, token, k["access"])):
        client.assert_iam_error(r, 401, codes=("IAM.0001",))
    assert client.key_snapshot(base, admin.token, u.id) == before


def test_request_ids_are_fresh_per_request(base, admin):
    ids = set()
    for _ in range(5):
        r = client.list_credentials(base, admin.token)
        ids.add(r.headers["X-Request-Id"])
        r = client.show_credential(base, admin.token, "Z" * 20)
        ids.add(client.assert_iam_error(r, 404)["request_id"])
    assert len(ids) == 10


# -- the limit under concurrency, across two processes ---------------------------------------------------------

@pytest.mark.parametrize("round_", range(3))
def test_two_key_limit_holds_for_20_concurrent_creates_on_two_processes(base, admin, second_server, make_user,
                                                                        round_):
    u = make_user()
    bases = [base, second_server.base_url]
    n = 20
    barrier = threading.Barrier(n)

    def create(i):
        barrier.wait(timeout=30)
        return client.create_credential(bases[i % 2], admin.token, u.id, description="race %d" % i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(create, range(n)))
    statuses = collections.Counter(r.status_code for r in results)
    assert statuses == {201: 2, 400: n - 2}, statuses
    for r in results:
        if r.status_code == 400:
            assert r.json() == client.KEY_LIMIT_BODY
    created = sorted(r.json()["credential"]["access"] for r in results if r.status_code == 201)
    for b in bases:
        assert [x[0] for x in client.key_snapshot(b, admin.token, u.id)] == created
    # The count stays right afterwards: one delete frees exactly one slot.
    assert client.delete_credential(bases[1], admin.token, created[0]).status_code == 204
    client.new_key(bases[0], admin.token, u.id)
    client.assert_key_limit(client.create_credential(bases[1], admin.token, u.id))
