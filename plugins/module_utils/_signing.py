# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Image signatures as Glance and Nova verify them (the ``img_signature*`` properties).

Glance checks the data of an image that carries the four properties while it is uploaded, with the certificate the
Key Manager (Barbican) holds under ``img_signature_certificate_uuid``, and refuses data whose signature does not
verify; Nova checks it again before it boots. The signature is over the image's bytes with the hash method; these
functions sign and verify the digest of those bytes (``Prehashed``), so that the bytes are read once, in the pass
that hashes them. The key types and hash methods are the ones Glance's verifier (cursive) accepts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import collections

from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

SIGNATURE = "img_signature"
HASH_METHOD = "img_signature_hash_method"
KEY_TYPE = "img_signature_key_type"
CERTIFICATE = "img_signature_certificate_uuid"
SIGNATURE_PROPERTIES = (SIGNATURE, HASH_METHOD, KEY_TYPE, CERTIFICATE)
# Glance's names for the hash methods -> hashlib's.
HASH_METHODS = {"SHA-224": "sha224", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
RSA_PSS = "RSA-PSS"
# The elliptic curves Glance's verifier accepts, by cryptography's name: not P-256.
ECC_CURVES = {
    "secp384r1": "ECC_SECP384R1",
    "secp521r1": "ECC_SECP521R1",
    "sect409k1": "ECC_SECT409K1",
    "sect409r1": "ECC_SECT409R1",
    "sect571k1": "ECC_SECT571K1",
    "sect571r1": "ECC_SECT571R1",
}


_Crypto = collections.namedtuple("_Crypto", "x509 invalid_signature hashes serialization ec padding rsa prehashed")


def _crypto():
    """The parts of cryptography this file uses, imported on first use: a run that neither signs nor verifies
    does not pay the 50 ms and several MiB they cost to import."""
    try:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    except ImportError:  # pragma: no cover - ansible-core and openstacksdk both need it
        raise ValidationError("signing and verifying image signatures needs the Python package cryptography")
    return _Crypto(x509, InvalidSignature, hashes, serialization, ec, padding, rsa, Prehashed)


def _hash(hash_method):
    if hash_method not in HASH_METHODS:
        raise ValidationError("the hash method is one of %s, not %r" % (", ".join(HASH_METHODS), hash_method))
    return getattr(_crypto().hashes, hash_method.replace("-", ""))()


def load_signing_key(path, passphrase=None):
    """The private key in the PEM file ``path`` (RSA, or EC on a curve Glance accepts), and its Glance key type."""
    crypto = _crypto()
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise ValidationError("cannot read the signing key %s: %s" % (path, exc.strerror or exc))
    try:
        key = crypto.serialization.load_pem_private_key(data, passphrase.encode("utf-8") if passphrase else None)
    except TypeError:
        # cryptography says whether a passphrase was missing or superfluous; its words name no secret.
        raise ValidationError(
            "the signing key %s %s" % (path, "needs a passphrase" if not passphrase else "takes no passphrase")
        )
    except ValueError:
        raise ValidationError(
            "cannot load the signing key %s: not a PEM private key, or the passphrase is wrong" % path
        )
    return key, key_type(key, path)


def key_type(key, where="the signing key"):
    crypto = _crypto()
    if isinstance(key, crypto.rsa.RSAPrivateKey):
        return RSA_PSS
    if isinstance(key, crypto.ec.EllipticCurvePrivateKey):
        if key.curve.name not in ECC_CURVES:
            raise ValidationError(
                "%s is on the curve %s, which Glance does not verify; use one of %s"
                % (where, key.curve.name, ", ".join(sorted(ECC_CURVES)))
            )
        return ECC_CURVES[key.curve.name]
    raise ValidationError("%s is neither an RSA nor an elliptic-curve key: Glance verifies only those" % where)


def _pss(algorithm):
    """RSA-PSS as Glance's verifier checks it: MGF1 with the hash method, the longest salt."""
    padding = _crypto().padding
    return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.MAX_LENGTH)


def sign_digest(key, hash_method, digest):
    """The signature, as Glance's verifier checks it, of the data whose ``hash_method`` digest is ``digest``."""
    crypto = _crypto()
    algorithm = _hash(hash_method)
    prehashed = crypto.prehashed(algorithm)
    if isinstance(key, crypto.rsa.RSAPrivateKey):
        return key.sign(digest, _pss(algorithm), prehashed)
    return key.sign(digest, crypto.ec.ECDSA(prehashed))


def signature_properties(signature, hash_method, key_type_name, certificate):
    """The four properties that ask Glance (and Nova) to verify the image's data."""
    return {
        SIGNATURE: base64.b64encode(signature).decode("ascii"),
        HASH_METHOD: hash_method,
        KEY_TYPE: key_type_name,
        CERTIFICATE: certificate,
    }


def verify_digest(certificate_pem, properties, digest):
    """None when the signature in ``properties`` verifies ``digest`` with the certificate, else why not."""
    crypto = _crypto()
    try:
        certificate = crypto.x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as exc:
        return "the certificate %s is not a PEM X.509 certificate (%s)" % (properties[CERTIFICATE], exc)
    algorithm = _hash(properties[HASH_METHOD])
    public_key = certificate.public_key()
    try:
        signature = base64.b64decode(properties[SIGNATURE])
        if properties[KEY_TYPE] == RSA_PSS and isinstance(public_key, crypto.rsa.RSAPublicKey):
            public_key.verify(signature, digest, _pss(algorithm), crypto.prehashed(algorithm))
        elif properties[KEY_TYPE] in ECC_CURVES.values() and isinstance(public_key, crypto.ec.EllipticCurvePublicKey):
            public_key.verify(signature, digest, crypto.ec.ECDSA(crypto.prehashed(algorithm)))
        else:
            return "the key type %s does not match the certificate %s" % (properties[KEY_TYPE], properties[CERTIFICATE])
    except (crypto.invalid_signature, ValueError, TypeError):
        return "the signature does not verify with the certificate %s" % properties[CERTIFICATE]
    return None
