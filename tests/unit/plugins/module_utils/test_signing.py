"""Image signatures: the keys Glance verifies, signatures of a digest that verify over the bytes themselves (as
Glance's verifier checks them while the data arrives), and the errors for keys that cannot be used."""

import base64
import datetime
import hashlib
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ansible_collections.osimages.glance.plugins.module_utils import _signing
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

DATA = os.urandom(100000) + b"osimages"
CERT_UUID = "0c6f5a3e-8f4b-4b8e-9d7a-1e2f3a4b5c6d"


def write_key(tmp_path, key, passphrase=None, name="key.pem"):
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    path = tmp_path / name
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return str(path)


def certificate(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osimages test signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def signed(key, hash_method, data=DATA):
    digest = hashlib.new(_signing.HASH_METHODS[hash_method], data).digest()
    return _signing.sign_digest(key, hash_method, digest)


KEYS = [
    ("rsa", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA-PSS"),
    ("secp384r1", lambda: ec.generate_private_key(ec.SECP384R1()), "ECC_SECP384R1"),
    ("secp521r1", lambda: ec.generate_private_key(ec.SECP521R1()), "ECC_SECP521R1"),
]


@pytest.mark.parametrize("make, expected", [case[1:] for case in KEYS], ids=[case[0] for case in KEYS])
@pytest.mark.parametrize("hash_method", sorted(_signing.HASH_METHODS))
def test_a_signed_digest_verifies_over_the_bytes_as_glance_checks_them(tmp_path, make, expected, hash_method):
    key = make()
    loaded, key_type = _signing.load_signing_key(write_key(tmp_path, key, b"s3cret"), "s3cret")
    assert key_type == expected
    signature = signed(loaded, hash_method)
    # Glance's verifier (cursive) feeds the data itself to a verifier, not a digest: the signature must hold so.
    algorithm = getattr(hashes, hash_method.replace("-", ""))()
    if key_type == "RSA-PSS":
        pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.MAX_LENGTH)
        key.public_key().verify(signature, DATA, pss, algorithm)
    else:
        key.public_key().verify(signature, DATA, ec.ECDSA(algorithm))
    properties = _signing.signature_properties(signature, hash_method, key_type, CERT_UUID)
    assert sorted(properties) == sorted(_signing.SIGNATURE_PROPERTIES)
    assert base64.b64decode(properties["img_signature"]) == signature
    digest = hashlib.new(_signing.HASH_METHODS[hash_method], DATA).digest()
    assert _signing.verify_digest(certificate(key), properties, digest) is None


def test_other_bytes_or_another_certificate_do_not_verify():
    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for dummy in range(2))
    properties = _signing.signature_properties(signed(key, "SHA-256"), "SHA-256", "RSA-PSS", CERT_UUID)
    tampered = hashlib.sha256(DATA[:-1] + b"X").digest()
    assert "does not verify with the certificate %s" % CERT_UUID in _signing.verify_digest(
        certificate(key), properties, tampered
    )
    assert "does not verify" in _signing.verify_digest(certificate(other), properties, hashlib.sha256(DATA).digest())
    ecc = ec.generate_private_key(ec.SECP384R1())
    assert "does not match the certificate" in _signing.verify_digest(
        certificate(ecc), properties, hashlib.sha256(DATA).digest()
    )


UNUSABLE = [
    ("P-256, which Glance does not verify", lambda: ec.generate_private_key(ec.SECP256R1()), "curve secp256r1"),
    ("Ed25519", ed25519.Ed25519PrivateKey.generate, "neither an RSA nor an elliptic-curve key"),
]


@pytest.mark.parametrize("make, expected", [case[1:] for case in UNUSABLE], ids=[case[0] for case in UNUSABLE])
def test_keys_glance_cannot_verify_are_refused_before_anything_moves(tmp_path, make, expected):
    with pytest.raises(ValidationError, match=expected):
        _signing.load_signing_key(write_key(tmp_path, make()))


def test_passphrase_problems_are_said_without_the_passphrase(tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    locked, open_key = write_key(tmp_path, key, b"right-horse"), write_key(tmp_path, key, name="open.pem")
    cases = [(locked, None, "needs a passphrase"), (locked, "wrong-battery", "or the passphrase is wrong")]
    cases.append((open_key, "staple-words", "takes no passphrase"))
    for path, passphrase, expected in cases:
        with pytest.raises(ValidationError) as caught:
            _signing.load_signing_key(path, passphrase)
        assert expected in caught.value.msg and path in caught.value.msg
        assert not any(secret in caught.value.msg for secret in ("right-horse", "wrong-battery", "staple-words"))
    with pytest.raises(ValidationError, match="cannot read the signing key"):
        _signing.load_signing_key(str(tmp_path / "missing.pem"))


def test_a_hash_method_glance_does_not_know_is_refused():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ValidationError, match="SHA-224, SHA-256, SHA-384, SHA-512"):
        _signing.sign_digest(key, "MD5", b"0" * 16)
