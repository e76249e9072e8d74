"""The key pair WATA signs webhooks with: RSA, PKCS#1 v1.5 over SHA-512, base64.

The public half is served as X.509 SubjectPublicKeyInfo PEM (the docs call it "PKCS1").
Rotation replaces the pair, so clients that cache the key must refetch it.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _generate(key_size: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA512())).decode()


class SigningKey:
    """The emulator's current key pair; ``generation`` counts rotations from 1."""

    def __init__(self, key_size: int = 2048, private_key: rsa.RSAPrivateKey | None = None) -> None:
        self.key_size = key_size
        self._key = private_key or _generate(key_size)
        self._foreign: rsa.RSAPrivateKey | None = None
        self.generation = 1

    @property
    def public_pem(self) -> str:
        pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # The reference shows the value without the newline after the END line.
        return pem.decode().rstrip("\n")

    def sign(self, data: bytes) -> str:
        """The ``X-Signature`` of ``data``: exactly these bytes, nothing re-serialized."""
        return _sign(self._key, data)

    def rotate(self) -> str:
        self._key = _generate(self.key_size)
        self.generation += 1
        return self.public_pem

    def sign_with_foreign_key(self, data: bytes) -> str:
        """A well-formed signature by some other key, as a forger with their own key makes."""
        if self._foreign is None:
            self._foreign = _generate(self.key_size)
        return _sign(self._foreign, data)

    def garbage_signature(self) -> str:
        """Valid base64 of the right length that no key produced."""
        return base64.b64encode(secrets.token_bytes(self.key_size // 8)).decode()
