"""Keyless Azure: mints with a Microsoft Entra ID token, offline. azure-identity's client-secret
credential asks a stand-in Entra token endpoint on loopback (TLS with a certificate made here,
trusted through REQUESTS_CA_BUNDLE, which azure-core's requests transport honours), and the
Azure stand-in takes only the token it issued."""

import datetime
import ipaddress
import json
import ssl
import time

import pytest
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from voice_lab import azure_auth, config, create_app
from voice_lab.azure_auth import EntraToken

TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT = "00000000-0000-0000-0000-0000000000bb"
SECRET = "a-client-secret-for-tests"
MINTED = {"value": "ek_entra", "expires_at": 4102444800, "session": {"model": "rt"}}
# Azure's answer to a bearer token it does not accept.
AZURE_401 = {
    "error": {
        "code": "401",
        "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
        "(https://cognitiveservices.azure.com), or have expired.",
    }
}


@pytest.fixture
def certificate(tmp_path):
    """A throwaway self-signed certificate for 127.0.0.1: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


class Entra:
    """The stand-in's state: tokens issued, those the Azure stand-in accepts, and how long the
    next one lives."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.issued: list[str] = []
        self.accepted: set[str] = set()
        self.azure_refuses = False
        self.expires_in = 3600

    def token(self, request: Request) -> Response:
        """The client-credentials grant: the right client and secret get a fresh token."""
        form = request.form
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT, SECRET):
            return Response('{"error": "invalid_client"}', 401, content_type="application/json")
        assert form.get("scope") == azure_auth.SCOPE
        self.issued.append(f"entra-token-{len(self.issued) + 1}")
        self.accepted.add(self.issued[-1])
        body = {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
            "access_token": self.issued[-1],
        }
        return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def entra(certificate, monkeypatch):
    """A stand-in Entra ID on loopback over TLS, answering OpenID discovery and the token
    request; its certificate trusted by azure-core through REQUESTS_CA_BUNDLE."""
    cert_file, key_file = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert_file)
    base = f"https://127.0.0.1:{server.port}"
    state = Entra(base)
    server.expect_request(f"/{TENANT}/v2.0/.well-known/openid-configuration").respond_with_json(
        {
            "issuer": f"{base}/{TENANT}/v2.0",
            "authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{TENANT}/oauth2/v2.0/token",
        }
    )
    server.expect_request(f"/{TENANT}/oauth2/v2.0/token", method="POST").respond_with_handler(
        state.token
    )
    yield state
    server.clear()
    server.stop()


def credential(entra: Entra, secret: str = SECRET) -> ClientSecretCredential:
    """azure-identity's client-secret credential, its authority the stand-in."""
    return ClientSecretCredential(
        TENANT, CLIENT, secret, authority=entra.url, disable_instance_discovery=True
    )


@pytest.fixture
def keyless_azure(settings, httpserver, entra):
    """Settings for Azure GA without an API key, and an Azure stand-in that mints only for a
    token the stand-in Entra issued (any other gets Azure's 401)."""

    def mint(request: Request) -> Response:
        wanted = {f"Bearer {token}" for token in entra.accepted}
        token = request.headers.get("Authorization")
        if entra.azure_refuses or token not in wanted or "api-key" in request.headers:
            return Response(json.dumps(AZURE_401), 401)
        return Response(json.dumps(MINTED), content_type="application/json")

    httpserver.expect_request("/openai/v1/realtime/client_secrets").respond_with_handler(mint)
    settings.update(
        {
            "AZURE_OPENAI_ENDPOINT": httpserver.url_for("/"),
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "rt",
            "VOICE_LAB_AZURE_CREDENTIAL": credential(entra),
        }
    )
    return settings


def test_no_api_key_means_entra():
    azure = {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "VOICE_LAB_MODEL": "rt"}
    assert config.load(azure)["VOICE_LAB_AZURE_AUTH"] == "entra"
    keyed = config.load({**azure, "AZURE_OPENAI_API_KEY": "k" * 32})
    assert keyed["VOICE_LAB_AZURE_AUTH"] == "key"
    chosen = config.load(
        {**azure, "AZURE_OPENAI_API_KEY": "k" * 32, "VOICE_LAB_AZURE_AUTH": "Entra"}
    )
    assert chosen["VOICE_LAB_AZURE_AUTH"] == "entra"
    assert config.missing_for("azure", chosen) == []


def test_a_mint_sends_the_token_as_bearer(keyless_azure, app, client, entra):
    for _ in range(2):
        reply = client.post("/api/sessions", json={})
        assert reply.status_code == 201, reply.get_json()
        assert reply.get_json()["ephemeral_key"] == "ek_entra"
    assert entra.issued == ["entra-token-1"]  # one token for both mints


def test_a_token_azure_refuses_keeps_azures_words(keyless_azure, app, client, entra):
    assert client.post("/api/sessions", json={}).status_code == 201
    entra.accepted.clear()  # the Azure stand-in now takes no token: the kept one is refused
    reply = client.post("/api/sessions", json={})
    assert reply.status_code == 502
    error = reply.get_json()["error"]
    assert (error["source"], error["status"]) == ("azure", 401)
    assert error["message"].startswith("Unauthorized. Access token is missing")
    assert entra.issued == ["entra-token-1"]  # and the second mint fetched none


def test_a_credential_that_fails_says_how_to_sign_in(entra):
    token = EntraToken(credential(entra, secret="wrong"))
    with pytest.raises(azure_auth.EntraError, match="az login.*Cognitive Services OpenAI User"):
        token.bearer()


def test_the_token_is_reused_and_refreshed_once_near_expiry(entra):
    # Four and a half minutes to live: azure-identity renews within five, so only this cache
    # keeps it, and it asks again only inside its own margin.
    entra.expires_in = 270
    now = [time.time()]
    token = EntraToken(credential(entra), clock=lambda: now[0])
    assert [token.bearer() for _ in range(3)] == ["entra-token-1"] * 3
    entra.expires_in = 3600  # the next lives an hour
    now[0] += 270 - azure_auth.REFRESH_MARGIN + 1
    assert [token.bearer() for _ in range(3)] == ["entra-token-2"] * 3
    assert entra.issued == ["entra-token-1", "entra-token-2"]


def test_doctor_names_the_credential_that_answered(keyless_azure, entra, monkeypatch):
    # DefaultAzureCredential finds the client secret in the environment.
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", entra.url)
    keyless_azure["VOICE_LAB_AZURE_CREDENTIAL"] = DefaultAzureCredential(
        disable_instance_discovery=True
    )
    result = create_app(keyless_azure).test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "Microsoft Entra ID token" in result.output
    assert "credential: EnvironmentCredential (ClientSecretCredential)" in result.output
    assert "mint:      ok" in result.output


def test_doctor_says_which_role_a_refused_token_needs(keyless_azure, entra):
    runner = create_app(keyless_azure).test_cli_runner()
    entra.azure_refuses = True  # every token: the identity has no role on the resource
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "azure said 401" in result.output
    assert "token is not accepted here: give the identity the Cognitive Services" in result.output
