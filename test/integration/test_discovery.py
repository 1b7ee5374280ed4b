"""Version discovery (spec huawei-keystone.md §3.4, §3.5): keystoneauth follows links[rel=self].href."""
import json
import socket

import pytest

import client
import opsutil


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


def _raw_get(base, path, host):
    """GET with a Host header of raw bytes (HTTP clients refuse to send such a header)."""
    hostport = base.split("//", 1)[1]
    ip, port = hostport.rsplit(":", 1)
    with socket.create_connection((ip, int(port)), timeout=10) as s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        data = opsutil.read_to_eof(s)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("host", [b"\xff\xfe", b"caf\xc3", b"a b", b"x\"y", b"evil.test/path"],
                         ids=["not_utf8", "cut_utf8", "space", "quote", "slash"])
def test_links_of_an_unusable_host_header_name_localhost(base, host):
    """Links echo the Host header; one that is no host name (any bytes a client sends) is not echoed, and
    the answer is still the version document, not a 500."""
    for path, status, version in (("/", 300, lambda j: j["versions"]["values"][0]), ("/v3", 200, lambda j: j["version"])):
        got, body = _raw_get(base, path, host)
        assert got == status, (path, got, body[:300])
        href = _self_href(version(json.loads(body)))
        assert href.startswith("http://localhost/v3"), href


def test_v3_is_200_with_the_version_object(base):
    r = client.get(base, "/v3")
    assert r.status_code == 200, r.text
    v = r.json()["version"]
    _check_version_object(v)
    assert _self_href(v) == base + "/v3/"


def test_unknown_route_under_v3_is_keystone_404(base, admin):
    r = client.get(base, "/v3/no-such-thing", token=admin.token)
    client.assert_keystone_error(r, 404)
