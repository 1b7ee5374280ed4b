"""Version discovery (spec huawei-keystone.md §3.4, §3.5): keystoneauth follows links[rel=self].href."""
import client


def _self_href(version):
    hrefs = [link["href"] for link in version["links"] if link.get("rel") == "self"]
    assert len(hrefs) == 1, version
    return hrefs[0]


def _check_version_object(v):
    assert v["id"].startswith("v3"), v
    assert v["status"] == "stable", v
    assert {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"} in v["media-types"], v


def test_root_is_300_multiple_choices_pointing_at_this_server(base):
    r = client.get(base, "/")
    assert r.status_code == 300, r.text
    values = r.json()["versions"]["values"]
    assert len(values) >= 1
    _check_version_object(values[0])
    assert _self_href(values[0]) == base + "/v3/"


def test_self_href_uses_public_url_when_configured(server_factory):
    public = "https://oscred.example.test:5443"
    srv = server_factory("public", OSCRED_PUBLIC_URL=public)
    r = client.get(srv.base_url, "/")
    assert r.status_code == 300, r.text
    assert _self_href(r.json()["versions"]["values"][0]) == public + "/v3/"
    r = client.get(srv.base_url, "/v3")
    assert r.status_code == 200, r.text
    assert _self_href(r.json()["version"]) == public + "/v3/"


def test_v3_is_200_with_the_version_object(base):
    r = client.get(base, "/v3")
    assert r.status_code == 200, r.text
    v = r.json()["version"]
    _check_version_object(v)
    assert _self_href(v) == base + "/v3/"


def test_unknown_route_under_v3_is_keystone_404(base, admin):
    r = client.get(base, "/v3/no-such-thing", token=admin.token)
    client.assert_keystone_error(r, 404)
