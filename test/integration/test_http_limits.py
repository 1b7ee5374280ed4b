"""The header limit (DESIGN.md, HTTP: "headers 16 KiB; over → 431"): a request whose request line and header fields
take more than 16 KiB, or that has more than 100 header lines, is refused with 431 in the error format of the
surface it addresses, with its request id, and changes nothing; one just under the limits is served and answered
(libmicrohttpd builds the answer in the memory that holds the request's headers: a request that filled it was
once served and never answered). Header blocks too large for the connection's memory (24 KiB) are refused by
libmicrohttpd itself, before any routing: still 431, and the server keeps serving."""
import json
import socket

import pytest
import requests

import client
import sa_client
from sa_client import AwsAnswer

LIMIT = 16 * 1024


def padding(total, others):
    """An X-Padding header that brings the request's head (request line and "Name: value\\r\\n" per field) to
    `total` bytes, given the size of the rest of it."""
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
    """Sends a request whose request line and header fields take `total` bytes."""
    h = prepared_headers(method, base + path, headers, data)
    line = len("%s %s HTTP/1.1\r\n" % (method, requests.Request(method, base + path).prepare().path_url))
    h.update(padding(total, block_size(h) + line))
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
        s.sendall(b"GET /v3 HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * (80 * 1024) + b"\r\n\r\n")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 431 "), head[:200]
    # The server is unharmed.
    assert client.get(base, "/v3/users", token=admin.token).status_code == 200
    assert sa_client.list_sa(base, admin.token).status_code == 200


def raw_request(base, head_lines, body=b""):
    """Sends one request written by hand (header lines as given, repeated names included) on a connection of
    its own and returns (status, headers, body) of the answer, or None when the connection closed unanswered."""
    host, port = base.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"\r\n".join(head_lines) + b"\r\n\r\n" + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                length = [int(x.split(b":")[1]) for x in head.split(b"\r\n")[1:]
                          if x.lower().startswith(b"content-length:")]
                if length and len(rest) >= length[0]:
                    break
    if not data:
        return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return int(lines[0].split()[1]), lines[1:], rest


def create_request(base, token, user_id, extra_lines):
    body = ('{"credential": {"user_id": "%s"}}' % user_id).encode()
    return [b"POST /v3.0/OS-CREDENTIAL/credentials HTTP/1.1", b"Host: x", b"Content-Type: application/json",
            ("X-Auth-Token: %s" % token).encode(), b"Content-Length: %d" % len(body)] + extra_lines, body


def test_the_largest_request_let_through_is_answered(base, admin, make_user):
    """Headers just under both limits: the key is made and its one-time secret reaches the client."""
    u = make_user(prefix="hdr")
    extra = [("X-Pad-%02d: %s" % (i, "v" * 140)).encode() for i in range(90)]
    head, body = create_request(base, admin.token, u.id, extra)
    assert len(b"\r\n".join(head)) < LIMIT
    answer = raw_request(base, head, body)
    assert answer is not None, "the request was served but never answered"
    status, _, text = answer
    assert status == 201, (status, text[:300])
    made = json.loads(text)["credential"]
    assert [k["access"] for k in client.list_credentials(base, admin.token, u.id).json()["credentials"]] == \
        [made["access"]]


@pytest.mark.parametrize("lines", [
    [b"X-Many-%03d: v" % i for i in range(120)],
    [b"X-Same: v"] * 120,
    [b"Accept: " + b",".join(b"x/y%d" % i for i in range(120))],
    [b"Cookie: " + b";".join(b"c%d=v" % i for i in range(120))],
], ids=["distinct_names", "one_name_repeated", "one_comma_list", "cookies"])
def test_more_than_100_header_lines_get_431_and_change_nothing(base, admin, make_user, lines):
    u = make_user(prefix="hdr")
    head, body = create_request(base, admin.token, u.id, lines)
    status, headers, text = raw_request(base, head, body)
    assert status == 431, (status, text[:300])
    err = json.loads(text)
    assert err["error_code"] == "IAM.0011" and "100 header fields" in err["error_msg"], err
    assert any(h.lower().startswith("x-request-id: req-") for h in headers), headers
    assert client.list_credentials(base, admin.token, u.id).json()["credentials"] == []


def test_a_long_request_line_counts_toward_the_limit(base, admin):
    r = requests.get(base + "/v3/users", params={"name": "n" * (LIMIT + 100)},
                     headers={"X-Auth-Token": admin.token}, timeout=30)
    client.assert_keystone_error(r, 431)


def exchange(base, data):
    """Everything the server sends for `data` on one connection, until it closes the connection (or 10 s)."""
    host, port = base.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out, True
                out += chunk
        except socket.timeout:
            return out, False


@pytest.mark.parametrize("second", [b"Content-Length: 40", b"content-length: 40"], ids=["same_case", "other_case"])
def test_two_content_lengths_are_refused_and_the_rest_is_not_taken_for_a_request(base, second):
    """RFC 9112 section 6.3: different Content-Length values are an error, and what follows cannot be trusted to
    be a request: one 400, then the connection closes (header names are case-insensitive)."""
    out, closed = exchange(base, b"POST /v3.0/OS-CREDENTIAL/credentials HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Type: application/json\r\nContent-Length: 2\r\n" + second + b"\r\n\r\n"
                                 b"{}GET /v3/nowhere HTTP/1.1\r\nHost: x\r\n\r\nGET /v3/nowhere HTTP/1.1\r\n\r\n")
    assert closed, out
    assert out.count(b"HTTP/1.1 ") == 1 and out.startswith(b"HTTP/1.1 400 "), out
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"\r\nconnection: close" in head.lower(), head
    assert json.loads(body)["error_msg"] == "The request has more than one Content-Length.", body


def test_a_body_framed_by_chunks_and_a_length_is_answered_then_the_connection_closes(base):
    """RFC 9112 section 6.1: the chunks frame the body, and the connection is not used again."""
    out, closed = exchange(base, b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert closed, out
    assert out.count(b"HTTP/1.1 ") == 1 and out.startswith(b"HTTP/1.1 400 "), out
    assert b"\r\nconnection: close" in out.partition(b"\r\n\r\n")[0].lower(), out


def test_query_arguments_count_as_header_lines(base, admin):
    """libmicrohttpd keeps a record per query argument in the same memory as the headers."""
    r = requests.get(base + "/v3/users?" + "&".join("a%d" % i for i in range(120)),
                     headers={"X-Auth-Token": admin.token}, timeout=30)
    client.assert_keystone_error(r, 431)
