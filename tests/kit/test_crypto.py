import pytest
from cryptography.fernet import Fernet

from backend.kit.crypto import SecretBox, SecretBoxError


def test_round_trip_and_the_ciphertext_hides_the_secret():
    box = SecretBox(Fernet.generate_key().decode())
    sealed = box.encrypt("sk-live-secret")
    assert "sk-live-secret" not in sealed
    assert box.decrypt(sealed) == "sk-live-secret"


def test_rotation_keeps_old_secrets_readable_and_moves_them_to_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = SecretBox(old).encrypt("token")
    rotated_box = SecretBox(f"{new},{old}")
    assert rotated_box.decrypt(sealed_with_old) == "token"
    moved = rotated_box.rotate(sealed_with_old)
    assert SecretBox(new).decrypt(moved) == "token"
    with pytest.raises(SecretBoxError):
        SecretBox(old).decrypt(moved)


def test_no_keys_is_refused():
    with pytest.raises(SecretBoxError):
        SecretBox(" , ")
