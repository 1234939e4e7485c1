"""Signed images against a local cloud with Barbican (LOCALCLOUD_BARBICAN=1): glance_image_data signs what it
uploads, Glance fetches the certificate from Barbican and verifies the data as it arrives.

A local cloud of its own (own ports and state folder), stopped (not purged) at the end. The certificates are stored
with plain openstacksdk, as the documentation shows users.
"""

import base64
import datetime
import json
import os
import uuid

import openstack
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harness import SECRETS
from harness import ExtraCloud
from harness import raw_image
from harness import raw_publish_vars

BARBICAN_CLOUD = ExtraCloud("cloud-barbican", LOCALCLOUD_BARBICAN="1")
# Signing does not vary with ansible-core or openstacksdk: newest cell only, on a cloud of its own.
pytestmark = [pytest.mark.newest_only, pytest.mark.own_cloud]
SIGNATURE_PROPERTIES = (
    "img_signature",
    "img_signature_hash_method",
    "img_signature_key_type",
    "img_signature_certificate_uuid",
)


@pytest.fixture(scope="module")
def barbican_cloud():
    clouds_yaml = BARBICAN_CLOUD.up()
    yield clouds_yaml
    BARBICAN_CLOUD.down()


@pytest.fixture
def signing(barbican_cloud, tmp_path):
    """(plain SDK connection as demo, module env, make_signer); demo's images there are removed after."""
    config = json.loads(barbican_cloud.read_text())["clouds"]["demo"]
    conn = openstack.connect(region_name=config["region_name"], **config["auth"])

    def make_signer(key, valid_days=30):
        """The key written encrypted, its certificate stored in Barbican: (key path, passphrase, certificate UUID)."""
        passphrase = "pass-%s" % uuid.uuid4().hex
        SECRETS.add(passphrase)  # never in any output: the session's secret scan looks for it
        path = tmp_path / ("%s.pem" % uuid.uuid4().hex[:8])
        encryption = serialization.BestAvailableEncryption(passphrase.encode())
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osimages test signer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        builder = builder.serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=60))
        pem = builder.not_valid_after(now + datetime.timedelta(days=valid_days)).sign(key, hashes.SHA256())
        secret = conn.key_manager.create_secret(
            name="osimages test signer",
            secret_type="certificate",
            payload=base64.b64encode(pem.public_bytes(serialization.Encoding.PEM)).decode(),
            payload_content_type="application/octet-stream",
            payload_content_encoding="base64",
        )
        return str(path), passphrase, secret.secret_ref.rsplit("/", 1)[1]

    yield conn, {"OS_CLIENT_CONFIG_FILE": str(barbican_cloud)}, make_signer
    for image in conn.image.images(owner=conn.current_project_id):
        conn.image.delete_image(image.id)


def new_image(conn, label):
    image = conn.image.create_image(
        name="signed-%s-%s" % (label, uuid.uuid4().hex[:6]), disk_format="raw", container_format="bare"
    )
    return image.id


def test_glance_verifies_what_glance_image_data_signs_and_refuses_what_it_does_not(signing, run_module, tmp_path):
    conn, env, make_signer = signing
    data, other = tmp_path / "data.raw", tmp_path / "other.raw"
    data.write_bytes(os.urandom(2 * 1024 * 1024))
    other.write_bytes(os.urandom(2 * 1024 * 1024))
    rsa_key, rsa_pass, rsa_cert = make_signer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ecc_key, ecc_pass, ecc_cert = make_signer(ec.generate_private_key(ec.SECP384R1()))
    expired_key, expired_pass, expired_cert = make_signer(ec.generate_private_key(ec.SECP521R1()), valid_days=-1)
    images = dict((label, new_image(conn, label)) for label in ("rsa", "ecc", "mismatch", "tampered", "expired"))

    def signed(label, key, passphrase, cert, **more):
        args = dict(image=images[label], src=str(data), signing_key=key, signing_key_passphrase=passphrase)
        return dict(args, signing_certificate=cert, **more)

    results = run_module.many(
        "glance_image_data",
        [
            signed("rsa", rsa_key, rsa_pass, rsa_cert),
            signed("ecc", ecc_key, ecc_pass, ecc_cert, signature_hash_method="SHA-384"),
            # The RSA key's signature, with the certificate of the elliptic-curve key: Glance refuses the data.
            signed("mismatch", rsa_key, rsa_pass, ecc_cert),
            # A wrong passphrase stops the task before anything changes; the passphrase is not in the message.
            signed("mismatch", rsa_key, "not-the-" + rsa_pass, rsa_cert),
            # Glance does not check the certificate's dates: it verifies with an expired one too.
            signed("expired", expired_key, expired_pass, expired_cert),
        ],
        env=env,
    )
    good_rsa, good_ecc, mismatched, wrong_passphrase, expired = results
    for result, label, key_type, hash_method in (
        (good_rsa, "rsa", "RSA-PSS", "SHA-256"),
        (good_ecc, "ecc", "ECC_SECP384R1", "SHA-384"),
        (expired, "expired", "ECC_SECP521R1", "SHA-256"),
    ):
        assert result["changed"] and not result["failed"], result.get("msg")
        raw = raw_image(conn, images[label])
        assert raw["status"] == "active" and raw["img_signature_key_type"] == key_type
        assert raw["img_signature_hash_method"] == hash_method and all(p in raw for p in SIGNATURE_PROPERTIES)
    assert mismatched["failed"] and "Signature verification failed" in mismatched["msg"], mismatched.get("msg")
    assert images["mismatch"] in mismatched["msg"] and "HTTP 400" in mismatched["msg"]
    assert wrong_passphrase["failed"] and "the passphrase is wrong" in wrong_passphrase["msg"]
    assert raw_image(conn, images["mismatch"])["status"] == "queued"  # no data, and certainly not active

    # Other bytes under the signature properties of good ones: Glance refuses them too.
    signature = dict((key, raw_image(conn, images["rsa"])[key]) for key in SIGNATURE_PROPERTIES)
    conn.image.update_image(images["tampered"], **signature)
    tampered = run_module("glance_image_data", {"image": images["tampered"], "src": str(other)}, env=env)
    assert tampered["failed"] and "Signature verification failed" in tampered["msg"], tampered.get("msg")
    assert raw_image(conn, images["tampered"])["status"] == "queued"


def test_a_download_checks_the_signature_and_tampered_data_never_lands(signing, run_module, tmp_path):
    conn, env, make_signer = signing
    data = tmp_path / "data.raw"
    data.write_bytes(os.urandom(1024 * 1024))
    key, passphrase, cert = make_signer(ec.generate_private_key(ec.SECP384R1()))
    signed_id, unsigned_id, forged_id = (new_image(conn, label) for label in ("signed", "unsigned", "forged"))
    upload = dict(src=str(data), signing_key=key, signing_key_passphrase=passphrase, signing_certificate=cert)
    run_module.many(
        "glance_image_data",
        [dict(upload, image=signed_id), {"image": unsigned_id, "src": str(data)}],
        env=env,
    )
    # Signature properties that do not sign the data Glance holds (set after the upload: Glance checks only uploads).
    other_signature = dict((name, raw_image(conn, signed_id)[name]) for name in SIGNATURE_PROPERTIES)
    other_signature["img_signature"] = base64.b64encode(b"\0" * 104).decode()
    run_module("glance_image_data", {"image": forged_id, "src": str(data)}, env=env)
    conn.image.update_image(forged_id, **other_signature)
    dests = dict((label, tmp_path / ("%s.raw" % label)) for label in ("signed", "unsigned", "forged"))
    dests["forged"].write_bytes(b"the file that was there before")
    good, unsigned, forged, again = run_module.many(
        "glance_image_data",
        [
            {"image": signed_id, "dest": str(dests["signed"]), "verify_signature": True},
            {"image": unsigned_id, "dest": str(dests["unsigned"]), "verify_signature": True},
            {"image": forged_id, "dest": str(dests["forged"]), "verify_signature": True},
            # dest already holds the data: nothing moves, and the file is checked all the same.
            {"image": signed_id, "dest": str(dests["signed"]), "verify_signature": True},
        ],
        env=env,
    )
    assert good["changed"] and not good["failed"], good.get("msg")
    assert dests["signed"].read_bytes() == data.read_bytes()
    assert not again["changed"] and not again["failed"], again.get("msg")
    assert unsigned["failed"] and "carries no signature to verify" in unsigned["msg"]
    assert not dests["unsigned"].exists()
    assert forged["failed"] and "does not verify with the certificate %s" % cert in forged["msg"], forged.get("msg")
    assert dests["forged"].read_bytes() == b"the file that was there before"
    assert [path.name for path in tmp_path.glob(".*.part")] == []


def test_a_signed_catalog_publishes_signed_versions_and_refuses_an_unsigned_one(signing, run_playbook, tmp_path):
    conn, env, make_signer = signing
    key, passphrase, cert = make_signer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    tag, name = "signed-%s" % uuid.uuid4().hex[:6], "Signed %s" % uuid.uuid4().hex[:6]
    files = {}
    for version in ("1", "2"):
        files[version] = tmp_path / ("v%s.raw" % version)
        files[version].write_bytes(os.urandom(512 * 1024 + int(version)))

    def publish(versions, **signing_vars):
        entry = {
            "name": name,
            "format": "raw",
            "login": "root",
            "status": "active",
            "visibility": "private",
            "meta": {"uuid_validity": "last-3"},
            "versions": [{"version": v, "artifact": str(files[v])} for v in versions],
        }
        extra = dict(
            catalog_publish_cloud="demo",
            catalog_publish_images=[entry],
            catalog_publish_managed_tag=tag,
            catalog_publish_cache_dir=str(tmp_path / "cache"),
            **signing_vars,
        )
        return run_playbook("catalog.yml", extra, env=env)

    signing_vars = dict(
        catalog_publish_signing_key=key,
        catalog_publish_signing_key_passphrase=passphrase,
        catalog_publish_signing_certificate=cert,
    )
    unsigned = publish(["1"])  # published before the catalog was signed
    assert unsigned.rc == 0, unsigned.output
    refused = publish(["1", "2"], **signing_vars)
    assert refused.rc != 0 and "which is not signed; a signed catalog publishes only versions signed" in refused.output
    assert [image.name for image in conn.image.images(tag=tag)] == [name]  # nothing changed

    signed = publish(["2"], **signing_vars)  # version 1 leaves the catalog: retired, signed or not
    assert signed.rc == 0, signed.output
    (current,) = [image for image in conn.image.images(tag=tag) if image.name == name]
    raw = raw_image(conn, current.id)
    assert raw["internal_version"] == "2" and raw["status"] == "active"
    assert raw["img_signature_certificate_uuid"] == cert and raw["img_signature_key_type"] == "RSA-PSS"
    again = publish(["2"], **signing_vars)
    assert again.rc == 0 and again.changed == 0, again.output


def test_image_publish_signs_the_version_it_publishes(signing, run_playbook, tmp_path):
    """image_publish hands its signing variables to the catalog it runs; Glance verifies the bytes as they arrive."""
    conn, env, make_signer = signing
    key, passphrase, cert = make_signer(ec.generate_private_key(ec.SECP384R1()))
    name = "Published %s" % uuid.uuid4().hex[:6]
    data = tmp_path / "published.raw"
    data.write_bytes(os.urandom(256 * 1024))
    extra = raw_publish_vars(
        name,
        data,
        image_publish_signing_key=key,
        image_publish_signing_key_passphrase=passphrase,
        image_publish_signing_certificate=cert,
        image_publish_signature_hash_method="SHA-384",
    )
    result = run_playbook("publish.yml", extra, env=env)
    assert result.rc == 0, result.output
    (published,) = [image for image in conn.image.images() if image.name == name]
    raw = raw_image(conn, published.id)
    assert raw["status"] == "active", raw  # Glance checked the signature with the certificate from Barbican
    assert (raw["img_signature_key_type"], raw["img_signature_hash_method"]) == ("ECC_SECP384R1", "SHA-384")
    assert raw["img_signature_certificate_uuid"] == cert
