from django.test import RequestFactory

from tenantatlas.lib.middleware import client_ip


def test_it_uses_the_socket_address_without_trusted_proxies(settings):
    settings.PROXY_HOPS = 0
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.5")
    assert client_ip(request) == "10.0.0.5"


def test_it_takes_the_address_the_trusted_proxy_saw(settings):
    settings.PROXY_HOPS = 1
    forged_then_real = "6.6.6.6, 203.0.113.7"
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR=forged_then_real, REMOTE_ADDR="10.0.0.5"
    )
    assert client_ip(request) == "203.0.113.7"


def test_it_falls_back_when_the_header_is_short(settings):
    settings.PROXY_HOPS = 2
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="203.0.113.7", REMOTE_ADDR="10.0.0.5")
    assert client_ip(request) == "10.0.0.5"
