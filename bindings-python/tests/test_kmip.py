"""Master keys on a KMIP server (PyKMIP, which scripts/ci/setup.sh installs into
.venv-kmip): a store whose AES keys are objects on the server, reopened, the server
frozen and back, certificates refused at open."""

import datetime
import os
import signal
import socket
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import strongroom
from strongroom import BackendError, InvalidCiphertextError, Kms, RejectedError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("STRONGROOM_PYKMIP_SERVER", os.path.join(ROOT, ".venv-kmip", "bin", "pykmip-server"))


def _write_cert(path, name, issuer_name, issuer_key, key, *, ca=False, client=False, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        import ipaddress

        b = b.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(s)) for s in sans]), critical=False
        )
    cert = b.sign(issuer_key, hashes.SHA256())
    with open(f"{path}.pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(f"{path}.key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert os.path.exists(SERVER), f"{SERVER} is missing: run scripts/ci/setup.sh (it installs PyKMIP)"
    d = tmp_path_factory.mktemp("pykmip")
    ca_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    _write_cert(d / "ca", "test CA", "test CA", ca_key, ca_key, ca=True)
    _write_cert(d / "other-ca", "other CA", "other CA", other_key, other_key, ca=True)
    _write_cert(d / "server", "localhost", "test CA", ca_key, ec.generate_private_key(ec.SECP256R1()), sans=["127.0.0.1"])
    _write_cert(d / "client", "strongroom", "test CA", ca_key, ec.generate_private_key(ec.SECP256R1()), client=True)
    _write_cert(d / "stranger", "strongroom", "other CA", other_key, ec.generate_private_key(ec.SECP256R1()), client=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "server.conf").write_text(
        f"[server]\nhostname=127.0.0.1\nport={port}\ncertificate_path={d}/server.pem\nkey_path={d}/server.key\n"
        f"ca_path={d}/ca.pem\nauth_suite=TLS1.2\nenable_tls_client_auth=True\nlogging_level=WARNING\n"
        f"database_path={d}/pykmip.db\n"
    )
    proc = subprocess.Popen([SERVER, "-f", str(d / "server.conf"), "-l", str(d / "server.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield {
            "proc": proc,
            "dir": d,
            "cfg": {
                "address": f"127.0.0.1:{port}",
                "ca_file": d / "ca.pem",
                "cert_file": d / "client.pem",
                "key_file": d / "client.key",
                "timeout": 1.5,
            },
        }
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(timeout=30)


def test_keys_live_on_the_server(server, tmp_path):
    path = tmp_path / "store"
    kms = Kms.open(path, passphrase="pw", kmip=server["cfg"])
    k = kms.create_key(description="on kmip").key_id
    assert kms.describe_key(key_id=k).protection_level == "SOFTWARE"
    blob = kms.encrypt(key_id=k, plaintext=b"secret", encryption_context={"a": "b"}).ciphertext_blob
    assert kms.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"}).plaintext == b"secret"
    with pytest.raises(InvalidCiphertextError):
        kms.decrypt(ciphertext_blob=blob, encryption_context={"a": "c"})
    kms.create_key_version(key_id=k)
    msg = kms.encrypt_envelope(key_ids=[k], plaintext=b"x" * 100_000)
    assert kms.decrypt_envelope(ciphertext=msg).plaintext == b"x" * 100_000
    specs = [s["Name"] for s in kms.describe_service()["KeySpecs"]["KeySpec"]]
    assert "Aliyun_AES_256" in specs and not any(s.startswith(("RSA", "EC")) for s in specs)
    with pytest.raises(RejectedError) as e:
        kms.create_key(key_spec="RSA_2048", key_usage="SIGN/VERIFY")
    assert e.value.code == "Rejected.Unsupported"
    kms.close()
    # Reopened in another Kms with the same server: the keys are there.
    again = Kms.open(path, passphrase="pw", kmip=server["cfg"])
    assert again.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"}).plaintext == b"secret"
    again.close()
    # Without the server, the key's use says where it lives.
    bare = Kms.open(path, passphrase="pw")
    with pytest.raises(BackendError) as e:
        bare.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"})
    assert "KMIP" in str(e.value)
    bare.close()
    # An operator declaring an HSM behind the server.
    hsm = Kms.memory(kmip={**server["cfg"], "protection_level": "HSM"})
    assert hsm.create_key(protection_level="HSM").protection_level == "HSM"


def test_a_frozen_server_fails_in_bounded_time_and_recovers(server):
    kms = Kms.memory(kmip=server["cfg"])
    k = kms.create_key().key_id
    blob = kms.encrypt(key_id=k, plaintext=b"kept").ciphertext_blob
    before = kms.list_keys()
    server["proc"].send_signal(signal.SIGSTOP)
    try:
        t = time.monotonic()
        with pytest.raises(BackendError) as e:
            kms.encrypt(key_id=k, plaintext=b"during")
        assert e.value.code == "Rejected.BackendUnavailable"
        assert time.monotonic() - t < 5
    finally:
        server["proc"].send_signal(signal.SIGCONT)
    assert kms.list_keys() == before
    assert kms.decrypt(ciphertext_blob=blob).plaintext == b"kept"


def test_certificates_and_settings_are_checked_at_open(server):
    d = server["dir"]
    with pytest.raises(BackendError):
        Kms.memory(kmip={**server["cfg"], "cert_file": d / "stranger.pem", "key_file": d / "stranger.key"})
    with pytest.raises(BackendError):
        Kms.memory(kmip={**server["cfg"], "ca_file": d / "other-ca.pem"})
    with pytest.raises(strongroom.InvalidParameterError) as e:
        Kms.memory(kmip={**server["cfg"], "key_file": d / "missing.key"})
    assert e.value.code == "InvalidParameter.Kmip"
    with pytest.raises(strongroom.InvalidParameterError):
        Kms.memory(kmip={**server["cfg"], "timeout": 0})
    with pytest.raises(strongroom.InvalidParameterError):
        Kms.memory(kmip={**server["cfg"], "protection_level": "QUANTUM"})
    with pytest.raises(strongroom.InvalidParameterError) as e:
        Kms.memory(kmip=server["cfg"], transit={"address": "http://127.0.0.1:1", "token": "t"})
    assert e.value.code == "InvalidParameter.Backend"
