"""The signature rules (oauth.py) against RFC 5849's own examples: the simulator verifies
with these functions and the tests sign with them, so they are held to the RFC here."""

from __future__ import annotations

import unittest

from ade_simulator.errors import ApiError
from ade_simulator.oauth import (
    base_string_uri,
    hmac_sha1,
    parse_authorization,
    percent_encode,
    query_parameters,
    read_signed_request,
    signature_base_string,
)


class SignatureRulesTest(unittest.TestCase):
    def test_the_base_string_of_rfc_5849_section_3_4_1_1(self):
        # The request of §3.4.1.1: a query, a form body and the protocol parameters.
        uri = base_string_uri("http", "EXAMPLE.COM:80", "/request")
        self.assertEqual(uri, "http://example.com/request")
        params = query_parameters("b5=%3D%253D&a3=a&c%40=&a2=r%20b") + query_parameters("c2&a3=2+q")
        params += [
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ]
        self.assertEqual(
            signature_base_string("post", uri, params),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D"
            "%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a"
            "%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7",
        )

    def test_the_hmac_sha1_signature_of_the_photos_example(self):
        # OAuth 1.0's worked example (RFC 5849 §1.2's credentials): a known signature.
        uri = base_string_uri("http", "photos.example.net", "/photos")
        params = query_parameters("file=vacation.jpg&size=original") + [
            ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            ("oauth_token", "nnch734d00sl2jdk"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1191242096"),
            ("oauth_nonce", "kllo9940pd9333jh"),
            ("oauth_version", "1.0"),
        ]
        base = signature_base_string("GET", uri, params)
        self.assertEqual(hmac_sha1(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00"), "tR3+Ty81lMeYAr/Fid0kMTYa/WM=")

    def test_percent_encoding_keeps_only_the_unreserved_characters(self):
        self.assertEqual(percent_encode("abcXYZ019-._~"), "abcXYZ019-._~")
        self.assertEqual(percent_encode("a b+c/d=e&f*"), "a%20b%2Bc%2Fd%3De%26f%2A")
        self.assertEqual(percent_encode("é"), "%C3%A9")

    def test_the_base_uri_keeps_a_port_other_than_the_default(self):
        self.assertEqual(base_string_uri("http", "127.0.0.1:4567", "/session"), "http://127.0.0.1:4567/session")
        self.assertEqual(base_string_uri("HTTPS", "MDMenrollment.apple.com:443", "/session"),
                         "https://mdmenrollment.apple.com/session")


class HeaderFormTest(unittest.TestCase):
    """What Apple answers 400 to, before it looks at any credential."""

    def header(self, **params) -> str:
        base = {
            "oauth_consumer_key": "CK_1",
            "oauth_token": "AT_1",
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": "1700000000",
            "oauth_nonce": "n1",
            "oauth_signature": "sig",
        }
        base.update(params)
        return "OAuth " + ", ".join(f'{k}="{v}"' for k, v in base.items() if v is not None)

    def code(self, header: str | None) -> str:
        with self.assertRaises(ApiError) as caught:
            read_signed_request(header, "GET", "http://127.0.0.1/session", "")
        self.assertEqual(caught.exception.status, 400)
        return caught.exception.code

    def test_a_well_formed_header_reads(self):
        signed = read_signed_request(self.header(realm="ADM"), "GET", "http://127.0.0.1/session", "")
        self.assertEqual((signed.consumer_key, signed.token, signed.timestamp), ("CK_1", "AT_1", 1700000000))
        self.assertNotIn("realm", signed.base_string, "realm is not signed")

    def test_each_malformed_header_is_a_400_with_its_problem(self):
        self.assertEqual(self.code(None), "parameter_absent")
        self.assertEqual(self.code("Basic dXNlcjpwYXNz"), "parameter_absent")
        self.assertEqual(self.code(self.header(oauth_nonce=None)), "parameter_absent")
        self.assertEqual(self.code(self.header(oauth_signature="")), "parameter_absent")
        self.assertEqual(self.code(self.header(oauth_signature_method="HMAC-SHA256")), "signature_method_rejected")
        self.assertEqual(self.code(self.header(oauth_version="2.0")), "version_rejected")
        self.assertEqual(self.code(self.header(oauth_timestamp="yesterday")), "parameter_rejected")
        self.assertEqual(self.code(self.header() + ', oauth_nonce="n2"'), "parameter_rejected")
        self.assertEqual(self.code("OAuth oauth_consumer_key=CK_1"), "parameter_rejected")

    def test_header_values_are_percent_decoded(self):
        params = dict(parse_authorization('OAuth realm="ADM", oauth_nonce="a%2Fb%20c"'))
        self.assertEqual(params["oauth_nonce"], "a/b c")


if __name__ == "__main__":
    unittest.main()
