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
