import pytest

from service.adapters.webhooks import check_callback_url, sign, signed_headers, verify

pytestmark = pytest.mark.unit


def test_signature_matches_standard_webhooks_vector():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    assert (
        sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_plain_secret_signs_and_verifies():
    headers = signed_headers("s3cret", "msg_1", 1700000000, '{"a":1}')
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert verify("s3cret", headers, '{"a":1}')
    assert not verify("other", headers, '{"a":1}')
    assert not verify("s3cret", headers, '{"a":2}')


def public(host, port):
    return ["93.184.216.34"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http:///nohost",
        "https://user:pw@example.com/",
    ],
)
def test_refuses_bad_schemes_and_shapes(url):
    assert check_callback_url(url, resolve=public) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/cb",
        "http://[::1]/cb",
        "http://169.254.169.254/latest",
        "http://10.0.0.5/",
        "http://192.168.1.1:8080/",
        "http://172.16.3.4/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
    ],
)
def test_refuses_private_addresses(url):
    assert "private" in check_callback_url(url, resolve=public)


def test_refuses_hostname_if_any_address_is_private():
    def mixed(host, port):
        return ["93.184.216.34", "10.1.2.3"]

    assert check_callback_url("https://hooks.example.com/x", resolve=mixed) is not None


def test_unresolvable_host_is_refused():
    def fails(host, port):
        raise OSError("nxdomain")

    assert "resolve" in check_callback_url("https://nope.invalid/", resolve=fails)


def test_public_https_is_accepted():
    assert check_callback_url("https://hooks.example.com/claims", resolve=public) is None


def test_allow_private_and_allowlist():
    assert check_callback_url("http://127.0.0.1:9000/cb", allow_private=True) is None

    def private(host, port):
        return ["10.0.0.8"]

    assert (
        check_callback_url(
            "http://hooks.internal/cb", allowlist=["hooks.internal"], resolve=private
        )
        is None
    )
    assert (
        check_callback_url(
            "http://other.internal/cb", allowlist=["hooks.internal"], resolve=private
        )
        is not None
    )
    assert check_callback_url("ftp://127.0.0.1/", allow_private=True) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/latest",  # NAT64 of 169.254.169.254
        "http://[64:ff9b::c0a8:101]:8080/",  # NAT64 of 192.168.1.1
        "http://[64:ff9b:1::7f00:1]/",  # local-use NAT64 prefix
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[2002:a00:5::1]/",  # 6to4 of 10.0.0.5
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
        "http://[::7f00:1]/",  # IPv4-compatible 127.0.0.1
        "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped, hex form
        "http://[ff02::1]/",  # multicast
        "http://[fec0::1]/",  # site-local (finding 12)
        "http://[3fff::1]/",  # documentation, RFC 9637 (finding 12)
        "http://[3fff:fff:ffff::1]/",  # the end of 3fff::/20
    ],
)
def test_refuses_ipv4_embedded_in_ipv6(url):
    """Issue 13 point 8: the IPv4 address inside an IPv6 form decides."""
    assert "private" in check_callback_url(url, resolve=public)


def test_refuses_a_name_that_resolves_to_an_embedded_loopback():
    def nat64(host, port):
        return ["64:ff9b::7f00:1"]

    assert "private" in check_callback_url("https://hooks.example.com/", resolve=nat64)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822"]
)
def test_public_addresses_pass_the_check(address):
    from service.adapters.webhooks import is_public_address

    assert is_public_address(address)


def test_a_trusted_host_is_not_looked_up_at_intake():
    def no_dns(host, port):
        raise OSError("no resolver here")

    assert (
        check_callback_url("https://hooks.test/x", allowlist=["hooks.test"], resolve=no_dns) is None
    )
    assert check_callback_url("https://hooks.test/x", allow_private=True, resolve=no_dns) is None


@pytest.mark.parametrize("url", ["http://hooks.example.com:0/x", "https://[2606:2800::1]:0/"])
def test_port_zero_is_refused(url):
    """Finding 12: port 0 is not quietly replaced by the scheme's default port."""
    assert check_callback_url(url, resolve=public) == "callback_url port must be 1 to 65535"
    assert check_callback_url(url, allow_private=True) == "callback_url port must be 1 to 65535"
