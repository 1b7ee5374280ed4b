"""The header limit (DESIGN.md, HTTP: "headers 16 KiB; over → 431"): a request whose header fields take more than
16 KiB is refused with 431 in the error format of the surface it addresses, with its request id, and changes
nothing; one just under the limit is served. Header blocks too large for the connection's memory (about 23 KiB)
are refused by libmicrohttpd itself, before any routing: still 431, and the server keeps serving."""
import socket

import requests

import client
import sa_client
from sa_client import AwsAnswer

LIMIT = 16 * 1024


def padding(total, others):
    """An X-Padding header that brings the header block (counted as "Name: value\\r\\n" per field) to `total`
    bytes, given the other fields' block size."""
    n = total - others - len("X-Padding: \r\n")
    assert n > 0
    return {"X-Padding": "p" * n}


def block_size(headers):
    return sum(len(k) + len(v) + 4 for k, v in headers.items())


def prepared_headers(method, url, headers, data=None):
    """The header fields requests will send, as the server sees them."""
    p = requests.Request(method, url, headers=headers, data=data).prepare()
    h = dict(p.headers)
    h.setdefault("Host", url.split("/")[2])
    for k, v in requests.utils.default_headers().items():
        h.setdefault(k, v)
    return h


def send(method, base, path, headers, total, data=None):
    h = prepared_headers(method, base + path, headers, data)
    h.update(padding(total, block_size(h)))
    return requests.request(method, base + path, headers=h, data=data, timeout=30, allow_redirects=False)


def test_headers_just_under_the_limit_are_served(base, admin, make_user):
    u = make_user(prefix="hdr")
    r = send("GET", base, client.CREDS + "?user_id=" + u.id, {"X-Auth-Token": admin.token}, LIMIT - 64)
    assert r.status_code == 200, "%d %s" % (r.status_code, r.text[:300])
    assert r.json() == {"credentials": []}


def test_headers_over_the_limit_get_431_in_each_surfaces_format(base, admin, make_user):
    u = make_user(prefix="hdr")
    before = client.key_snapshot(base, admin.token, u.id)

    r = send("POST", base, client.CREDS, {"X-Auth-Token": admin.token, "Content-Type": "application/json"},
             LIMIT + 600, data='{"credential": {"user_id": "%s"}}' % u.id)
    body = client.assert_iam_error(r, 431, codes=("IAM.0011",))
    assert "16384" in body["error_msg"], body

    r = send("GET", base, "/v3/users", {"X-Auth-Token": admin.token}, LIMIT + 600)
    err = client.assert_keystone_error(r, 431)
    assert err["title"] == "Request Header Fields Too Large", err
    assert client.REQUEST_ID_RE.match(r.headers["X-Request-Id"]), r.headers

    r = send("POST", base, "/", {"Content-Type": "application/x-www-form-urlencoded"}, LIMIT + 600,
             data="Action=ListUsers&Version=2010-05-08")
    ans = AwsAnswer(r, "ListUsers").fails("ValidationError", 431)
    assert ans.type == "Sender" and "16384" in ans.message, ans.describe()
    assert r.headers["X-Request-Id"] == "req-" + ans.text_of("RequestId"), ans.describe()

    assert client.key_snapshot(base, admin.token, u.id) == before


def test_a_header_block_beyond_the_connection_memory_is_refused_by_the_http_library(base, admin):
    host, port = base.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"GET /v3 HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * (40 * 1024) + b"\r\n\r\n")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 431 "), head[:200]
    # The server is unharmed.
    assert client.get(base, "/v3/users", token=admin.token).status_code == 200
    assert sa_client.list_sa(base, admin.token).status_code == 200
