"""Per-item seeds: reproducible for a fresh project, different for every re-roll."""

import hashlib


def derive_seed(seed: int, stage: str, index: int, attempt: int) -> int:
    """A 32-bit seed for one attempt at one item of one stage.

    Hashing instead of arithmetic (seed + index) keeps neighbouring items and attempts unrelated, and 32 bits
    is what every torch device's generator accepts.
    """
    digest = hashlib.sha256(f"{seed}:{stage}:{index}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")
