"""Encryption at rest for the secrets tenants give us (provider keys, tokens).

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`, with rotation: `ENCRYPTION_KEYS` lists
keys newest first; new secrets are encrypted with the first, any listed key decrypts, and
`rotate()` re-encrypts an old ciphertext with the newest key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBoxError(Exception):
    pass


class SecretBox:
    def __init__(self, keys: str) -> None:
        parsed = [k.strip() for k in keys.split(",") if k.strip()]
        if not parsed:
            raise SecretBoxError("ENCRYPTION_KEYS is empty: tenant secrets cannot be stored")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parsed])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise SecretBoxError("secret cannot be decrypted with the configured keys") from exc

    def rotate(self, ciphertext: str) -> str:
        return self._fernet.rotate(ciphertext.encode()).decode()
