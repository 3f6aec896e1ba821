"""Reading SOPS-encrypted secrets: inspecting the encrypted file, decrypting it, validating it."""
