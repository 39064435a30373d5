"""Qianhai IP Ledger: blockchain-backed evidence of IP creation and IP agreements."""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# --- the keccak-256 backend ------------------------------------------------------------------------------------
#
# eth-hash (under eth-utils, eth-account and web3) takes the first backend it can import, and pycryptodome, which
# web3 brings, comes first: 5.3 µs per hash on this project's reference machine, against 0.9 µs for safe-pysha3's C
# code. A relayed registration hashes about a hundred times (the EIP-712 types and domain, checksummed
# addresses), so the choice is made here, before anything imports eth-hash, through eth-hash's own setting (an
# ETH_HASH_BACKEND set by the user wins). Both give the same bytes; eth-hash checks its backend on first use.
try:
    import sha3 as _sha3  # noqa: F401 - safe-pysha3, a dependency (pyproject.toml)
except ImportError:  # pragma: no cover - without it, eth-hash's own choice
    pass
else:
    _os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

# --- the interpreter's recursion limit ---------------------------------------------------------------------
#
# ``py_ecc`` (imported by eth-keys, hence by eth-account and web3) runs ``sys.setrecursionlimit(100000)``
# when it is imported, for the whole process. With that limit a deeply nested input (a JSON document
# nested 100,000 deep is 200 KB) makes a recursive C parser (``json``) overflow the C stack and the process
# dies with a segmentation fault instead of raising RecursionError. Nothing here needs deep recursion (the
# secp256k1 arithmetic recurses about 256 frames deep), so the limit goes back to CPython's default right
# after py_ecc's import, here, in the package that every entry point (the API app, ``ipledger``, uvicorn's
# import of ``api.app``) imports first; ``api.app.create_app`` calls ``limit_recursion()`` again, undoing a
# later import that raised it. Request bodies are also depth-checked before parsing (``api.limits``).

RECURSION_LIMIT = 1000  # CPython's default


def limit_recursion() -> None:
    """Sets the interpreter's recursion limit back to ``RECURSION_LIMIT`` (after an import raised it)."""
    if _sys.getrecursionlimit() != RECURSION_LIMIT:
        _sys.setrecursionlimit(RECURSION_LIMIT)


try:  # import it now, so that its import-time side effect happens here and is undone at once
    import py_ecc  # noqa: F401
except ImportError:  # pragma: no cover - py_ecc comes with eth-keys
    pass
limit_recursion()
