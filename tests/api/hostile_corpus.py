"""The hostile corpus: requests an attacker or a careless client sends, with what the API must answer.

Every case is refused (4xx, or a 200 whose verdict says "failed" where the route reports rather than
refuses), answered in the JSON error envelope, and changes nothing. ``build(ctx)`` makes the cases over a
running service's real ids (a party, an evidence record, a receipt); tests/api/test_hostile.py sends them
over real sockets to a real ``ipledger up`` and checks each answer, the state, and the process afterwards.

A case is sent as raw bytes, so that malformed HTTP, lying lengths, chunked streams and slow senders can be
expressed. Categories follow issue 9's "Hostile input" section.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

JSON = ("Content-Type", "application/json")
UINT256 = 2**256
INT64 = 2**63


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    method: str = "GET"
    target: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    # the whole request as bytes (malformed HTTP); the fields above are then ignored
    raw: bytes | None = None
    # Content-Length sent as given (None: the body's true length; "" : none sent)
    length: str | None = None
    # a chunked body of `stream[1]` bytes sent in chunks of `stream[0]` bytes of `stream_byte`
    stream: tuple[int, int] | None = None
    stream_byte: bytes = b"["
    # a body sent a few bytes at a time: (piece, pause in seconds, pieces)
    trickle: tuple[bytes, float, int] | None = None
    # keep the connection open without sending the announced body
    hold: bool = False
    # statuses allowed (None: any 4xx); the error code required, if any
    expect: frozenset[int] | None = None
    code: str | None = None
    # the connection may be closed without an answer (the server stopped reading a body it refused)
    closed_ok: bool = False
    # the answer (or the close) must come within this many seconds
    within: float | None = None
    # the fix is schema-level (api/schemas.py, api/deps.py, route signatures), owned by another change
    schema_level: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    token: str
    party_id: int
    account: str  # the party's account
    evidence_hash: str  # a registered hash, 0x-hex
    receipt_id: str
    now: int
    read_timeout: float
    body_timeout: float
    max_body: int
    batch_limit: int


def j(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _raw_json(text: str) -> bytes:
    return text.encode()


def build(ctx: Context) -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    auth = ("Authorization", f"Bearer {ctx.token}")
    zero_sig = "0x" + "00" * 65
    deadline = ctx.now + 3600
    fresh = "0x" + "5e" * 32

    def single(**over: Any) -> dict[str, Any]:
        body = {
            "binding": fresh,
            "partyId": ctx.party_id,
            "algorithm": "sha256",
            "registrant": ctx.account,
            "nonce": 0,
            "deadline": deadline,
            "signature": zero_sig,
        }
        body.update(over)
        return body

    def batch(**over: Any) -> dict[str, Any]:
        body = {
            "algorithm": "sha256",
            "bindings": [fresh],
            "partyId": ctx.party_id,
            "registrant": ctx.account,
            "deadline": deadline,
            "signature": zero_sig,
        }
        body.update(over)
        return body

    def party(i: int, **over: Any) -> dict[str, Any]:
        # a body that would admit a new party if accepted: its own identifier and account, so that nothing else
        # than the field under test can make it fail
        acct = "0x" + f"{0xA11CE0000 + i:040x}"
        body = {
            "kind": "firm",
            "jurisdiction": "other",
            "identifierScheme": "other",
            "identifier": f"HOSTILE-{i}",
            "nameZh": "前海测试",
            "nameEn": "Hostile Test",
            "accounts": [acct],
        }
        body.update(over)
        return body

    def asset(**over: Any) -> dict[str, Any]:
        body = {
            "jurisdiction": "OTHER",
            "kind": "invention",
            "number": "X-1",
            "title": "A title",
            "owners": [{"partyId": ctx.party_id, "share": 10000}],
        }
        body.update(over)
        return body

    def agreement(**over: Any) -> dict[str, Any]:
        body = {
            "kind": "licence",
            "assetId": 1,
            "documentHash": "0x" + "dd" * 32,
            "licensee": ctx.party_id,
            "licenceType": "ordinary",
            "territory": ["CN"],
            "start": ctx.now,
            "end": ctx.now + 86400,
            "royalty": {"basis": "lump_sum", "amount": "100.00", "currency": "CNY"},
        }
        body.update(over)
        return body

    # --- deep JSON (a 4xx before any parser sees it) ---------------------------------------------------------
    deep = b"[" * 100_000 + b"]" * 100_000
    for route in (
        "/v1/evidence",
        "/v1/evidence/batch",
        "/v1/assets/payload",
        "/v1/agreements",
        "/v1/documents",
        "/v1/document-keys",
        "/v1/parties/1/accounts",
        "/v1/disputes/payload",
    ):
        add(
            Case(
                f"deep-array-{route}",
                "deep-json",
                "POST",
                route,
                (JSON,),
                deep,
                expect=frozenset({400}),
                code="json_too_deep",
            )
        )
    # /v1/verify's JSON limit (two certificates) is below 200 KB: 100 KB nested 50,000 deep
    add(
        Case(
            "deep-array-/v1/verify",
            "deep-json",
            "POST",
            "/v1/verify",
            (JSON,),
            b"[" * 50_000 + b"]" * 50_000,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(
        Case(
            "deep-object-evidence",
            "deep-json",
            "POST",
            "/v1/evidence",
            (JSON,),
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(
        Case(
            "deep-unclosed",
            "deep-json",
            "POST",
            "/v1/evidence",
            (JSON,),
            b"[" * 200_000,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(
        Case(
            "deep-65",
            "deep-json",
            "POST",
            "/v1/evidence",
            (JSON,),
            b"[" * 65 + b"]" * 65,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(
        Case(
            "deep-no-content-type",
            "deep-json",
            "POST",
            "/v1/evidence",
            (),
            deep,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(
        Case(
            "deep-text-plain",
            "deep-json",
            "POST",
            "/v1/evidence",
            (("Content-Type", "text/plain"),),
            deep,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(
        Case(
            "deep-in-field",
            "deep-json",
            "POST",
            "/v1/evidence",
            (JSON,),
            j(single()).replace(b'"nonce": 0', b'"nonce": ' + b"[" * 5000 + b"]" * 5000),
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(Case("deep-operator-no-token", "deep-json", "POST", "/v1/parties", (JSON,), deep, expect=frozenset({400, 403})))
    add(
        Case(
            "deep-operator-token",
            "deep-json",
            "POST",
            "/v1/parties",
            (JSON, auth),
            deep,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(
        Case(
            "deep-get-body",
            "deep-json",
            "GET",
            "/v1/health",
            (JSON,),
            deep,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    certificate_deep = b'{"certificate": ' + b'{"a":' * 30_000 + b"1" + b"}" * 30_000 + b"}"
    add(
        Case(
            "deep-certificate-json",
            "deep-json",
            "POST",
            "/v1/verify",
            (JSON,),
            certificate_deep,
            expect=frozenset({400}),
            code="json_too_deep",
        )
    )
    add(
        Case(
            "deep-certificate-multipart",
            "deep-json",
            "POST",
            "/v1/verify",
            (("Content-Type", "multipart/form-data; boundary=B"),),
            _multipart("B", [("certificate", None, b"[" * 30_000 + b"]" * 30_000)]),
            expect=frozenset({400}),
            code="invalid_input",
        )
    )
    # brackets inside strings are not nesting: refused for what they are, not as too deep
    add(
        Case(
            "brackets-in-string",
            "deep-json",
            "POST",
            "/v1/evidence",
            (JSON,),
            j(single(signature="[" * 10_000)),
            expect=frozenset({400, 422}),
        )
    )

    # --- huge bodies -------------------------------------------------------------------------------------------
    for route in ("/v1/evidence", "/v1/parties", "/v1/evidence/batch", "/v1/verify", "/v1/documents", "/v1/nothing"):
        add(
            Case(
                f"announced-10GB-{route}",
                "huge-body",
                "POST",
                route,
                (JSON,),
                b"",
                length="10000000000",
                expect=frozenset({413}),
                code="payload_too_large",
                within=5,
            )
        )
    add(
        Case(
            "announced-200MB",
            "huge-body",
            "POST",
            "/v1/evidence",
            (JSON,),
            b"{",
            length=str(200 * 2**20),
            expect=frozenset({413}),
            code="payload_too_large",
            within=5,
        )
    )
    add(
        Case(
            "announced-10GB-multipart",
            "huge-body",
            "POST",
            "/v1/verify",
            (("Content-Type", "multipart/form-data; boundary=B"),),
            b"",
            length=str(10**13),
            expect=frozenset({413}),
            code="payload_too_large",
            within=5,
        )
    )
    add(
        Case(
            "over-default-limit",
            "huge-body",
            "POST",
            "/v1/evidence",
            (JSON,),
            b" " * (ctx.max_body + 1),
            expect=frozenset({413}),
            code="payload_too_large",
            closed_ok=True,
        )
    )
    add(
        Case(
            "chunked-200MB",
            "huge-body",
            "POST",
            "/v1/evidence",
            (JSON,),
            stream=(1 << 16, 200 * 2**20),
            expect=frozenset({413}),
            code="payload_too_large",
            closed_ok=True,
            within=60,
        )
    )
    add(
        Case(
            "chunked-over-batch-limit",
            "huge-body",
            "POST",
            "/v1/evidence/batch",
            (JSON,),
            stream=(1 << 16, ctx.batch_limit + (1 << 20)),
            stream_byte=b" ",
            expect=frozenset({413}),
            code="payload_too_large",
            closed_ok=True,
            within=60,
        )
    )
    add(
        Case(
            "chunked-over-limit-unknown-route",
            "huge-body",
            "PUT",
            "/v1/nothing",
            (JSON,),
            stream=(1 << 16, 8 * 2**20),
            expect=frozenset({413}),
            code="payload_too_large",
            closed_ok=True,
            within=60,
        )
    )
    add(
        Case(
            "chunked-verify-json-over-limit",
            "huge-body",
            "POST",
            "/v1/verify",
            (JSON,),
            stream=(1 << 16, 4 * 2**20),
            stream_byte=b" ",
            expect=frozenset({413}),
            code="payload_too_large",
            closed_ok=True,
            within=60,
        )
    )
    add(
        Case(
            "too-many-batch-hashes",
            "huge-body",
            "POST",
            "/v1/evidence/batch",
            (JSON,),
            j(batch(bindings=["0x" + f"{i + 1:064x}" for i in range(100_001)])),
            expect=frozenset({400, 413, 422}),
        )
    )
    add(
        Case(
            "huge-query-string",
            "huge-body",
            "GET",
            "/v1/index/evidence?party=" + "1" * 30_000,
            expect=frozenset({400, 414, 431}),
        )
    )
    add(Case("huge-header", "huge-body", "GET", "/v1/health", (("X-Big", "a" * 40_000),), expect=frozenset({400, 431})))
    add(
        Case(
            "huge-header-20k",
            "huge-body",
            "GET",
            "/v1/health",
            (("X-Big", "a" * 20_000),),
            expect=frozenset({431}),
            code="headers_too_large",
        )
    )
    add(
        Case(
            "many-headers",
            "huge-body",
            "GET",
            "/v1/health",
            tuple((f"X-H{i}", "v" * 100) for i in range(400)),
            expect=frozenset({200, 400, 431}),
        )
    )

    # --- announced but missing, slow bodies and heads --------------------------------------------------------
    bound = ctx.read_timeout + 10
    for route in ("/v1/evidence", "/v1/parties", "/v1/evidence/batch", "/v1/verify"):
        add(
            Case(
                f"announced-missing-{route}",
                "missing-body",
                "POST",
                route,
                (JSON,),
                b'{"a"',
                length="5000",
                hold=True,
                expect=frozenset({408}),
                code="request_timeout",
                closed_ok=True,
                within=bound,
            )
        )
    add(
        Case(
            "announced-missing-multipart",
            "missing-body",
            "POST",
            "/v1/verify",
            (("Content-Type", "multipart/form-data; boundary=B"),),
            b"--B\r\n",
            length="50000",
            hold=True,
            expect=frozenset({408}),
            code="request_timeout",
            closed_ok=True,
            within=bound,
        )
    )
    add(
        Case(
            "chunked-then-silence",
            "missing-body",
            "POST",
            "/v1/evidence",
            (JSON,),
            b"",
            stream=(4, 4),
            hold=True,
            expect=frozenset({408}),
            code="request_timeout",
            closed_ok=True,
            within=bound,
        )
    )
    add(
        Case(
            "head-never-finishes",
            "slow",
            raw=b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nContent-Ty",
            hold=True,
            expect=frozenset({408}),
            closed_ok=True,
            within=bound,
        )
    )
    add(
        Case(
            "connect-and-say-nothing", "slow", raw=b"", hold=True, expect=frozenset({408}), closed_ok=True, within=bound
        )
    )
    add(
        Case(
            "trickle-body",
            "slow",
            "POST",
            "/v1/evidence",
            (JSON,),
            b"",
            length="100000",
            trickle=(b"[", ctx.read_timeout / 3, 10_000),
            expect=frozenset({408}),
            code="request_timeout",
            closed_ok=True,
            within=ctx.body_timeout + 10,
        )
    )
    add(
        Case(
            "trickle-multipart",
            "slow",
            "POST",
            "/v1/verify",
            (("Content-Type", "multipart/form-data; boundary=B"),),
            b"",
            length="100000",
            trickle=(b"x", ctx.read_timeout * 1.5, 5),
            expect=frozenset({400, 408}),
            closed_ok=True,
            within=ctx.read_timeout * 2 + 10,
        )
    )

    # --- malformed multipart (POST /v1/verify) ----------------------------------------------------------------
    mp = "multipart/form-data; boundary=B"

    def multipart(name: str, body: bytes, ctype: str = mp, expect: frozenset[int] | None = None) -> None:
        add(
            Case(
                f"multipart-{name}", "multipart", "POST", "/v1/verify", (("Content-Type", ctype),), body, expect=expect
            )
        )

    multipart("no-boundary-param", b"--B\r\n\r\n", "multipart/form-data")
    multipart("empty-boundary", b"--\r\n", "multipart/form-data; boundary=")
    multipart("long-boundary", b"--" + b"b" * 5000 + b"\r\n", "multipart/form-data; boundary=" + "b" * 5000)
    multipart("garbage", b"this is not multipart at all")
    multipart("empty-body", b"")
    multipart("no-closing-boundary", b'--B\r\nContent-Disposition: form-data; name="certificate"\r\n\r\n{}\r\n')
    multipart(
        "wrong-closing-boundary", b'--B\r\nContent-Disposition: form-data; name="certificate"\r\n\r\n{}\r\n--C--\r\n'
    )
    multipart("no-certificate-part", _multipart("B", [("file", "a.bin", b"hello")]))
    multipart("certificate-not-json", _multipart("B", [("certificate", None, b"{not json")]))
    multipart("certificate-invalid-utf8", _multipart("B", [("certificate", None, b'{"a": "\xff\xfe"}')]))
    multipart("certificate-twice", _multipart("B", [("certificate", None, b"{}"), ("certificate", None, b"{}")]))
    multipart("file-twice", _multipart("B", [("certificate", None, b"{}"), ("file", "a", b"1"), ("file", "b", b"2")]))
    multipart(
        "many-parts", _multipart("B", [(f"p{i}", None, b"x") for i in range(50)] + [("certificate", None, b"{}")])
    )
    multipart("header-without-colon", b"--B\r\nContent-Disposition form-data\r\n\r\n{}\r\n--B--\r\n")
    multipart("huge-part-header", b"--B\r\nX-Long: " + b"h" * 100_000 + b"\r\n\r\n{}\r\n--B--\r\n")
    multipart(
        "many-part-headers", b"--B\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n{}\r\n--B--\r\n"
    )
    multipart("no-disposition", b"--B\r\nContent-Type: text/plain\r\n\r\n{}\r\n--B--\r\n")
    multipart("nul-in-name", _multipart("B", [("certi\0ficate", None, b"{}")]))
    # the file's name is never used (the file is hashed, not stored): the certificate's check fails, no more
    reported = frozenset({200, 400})
    multipart(
        "long-filename",
        _multipart("B", [("certificate", None, b"{}"), ("file", "f" * 3000 + ".pdf", b"data")]),
        expect=reported,
    )
    multipart(
        "traversal-filename",
        _multipart("B", [("certificate", None, b"{}"), ("file", "../../../etc/passwd", b"data")]),
        expect=reported,
    )
    multipart(
        "certificate-over-64k",
        _multipart("B", [("certificate", None, b'{"a": "' + b"x" * 70_000 + b'"}')]),
        expect=frozenset({413}),
    )
    multipart("boundary-in-quotes-unterminated", b"--B\r\n", 'multipart/form-data; boundary="B')
    multipart("only-closing", b"--B--\r\n")
    multipart("lf-only", b'--B\nContent-Disposition: form-data; name="certificate"\n\n{}\n--B--\n')
    multipart("certificate-array", _multipart("B", [("certificate", None, b"[1, 2, 3]")]), expect=frozenset({200, 400}))
    multipart("certificate-number", _multipart("B", [("certificate", None, b"1e999")]), expect=frozenset({200, 400}))
    multipart("form-urlencoded", b"certificate=%7B%7D", "application/x-www-form-urlencoded")

    # --- malformed JSON --------------------------------------------------------------------------------------------
    for name, text in [
        ("truncated", b'{"binding": "0x'),
        ("trailing-garbage", j(single()) + b" xyz"),
        ("single-quotes", b"{'a': 1}"),
        ("nan-literal", j(single()).replace(b'"nonce": 0', b'"nonce": NaN')),
        ("infinity-literal", j(single()).replace(b'"nonce": 0', b'"nonce": Infinity')),
        ("neg-infinity", j(single()).replace(b'"nonce": 0', b'"nonce": -Infinity')),
        ("bom", b"\xef\xbb\xbf" + j(single())),
        ("invalid-utf8", b'{"binding": "\xff\xfe\xfd"}'),
        ("utf16", j(single()).decode().encode("utf-16")),
        ("empty", b""),
        ("null", b"null"),
        ("array", b"[1, 2]"),
        ("string", b'"hello"'),
        ("number", b"12"),
        ("comments", b'{"a": 1 /* c */}'),
        ("lone-surrogate", b'{"binding": "\\ud800"}'),
        ("nul-byte", b'{"a": "\x00"}'),
        ("control-chars", b'{"a": "\x01\x02"}'),
        ("unterminated-string", b'{"a": "' + b"x" * 10_000),
        ("bare-words", b"hello world"),
        ("5000-digit-number", j(single()).replace(b'"nonce": 0', b'"nonce": ' + b"9" * 5000)),
        ("duplicate-keys", j(single())[:-1] + b', "nonce": 1, "nonce": 2}'),
        ("unknown-field", j(single(evil=True))),
        ("whitespace-only", b"   \n\t  "),
    ]:
        add(Case(f"json-{name}", "malformed-json", "POST", "/v1/evidence", (JSON,), text))
    add(Case("json-batch-garbage", "malformed-json", "POST", "/v1/evidence/batch", (JSON,), b'{"bindings": [1, 2,'))
    add(Case("json-verify-garbage", "malformed-json", "POST", "/v1/verify", (JSON,), b'{"certificate": '))
    add(Case("json-verify-not-object", "malformed-json", "POST", "/v1/verify", (JSON,), b'{"certificate": 5}'))
    add(Case("json-documents-garbage", "malformed-json", "POST", "/v1/documents", (JSON,), b'{"envelope": {'))

    # --- wrong content types -----------------------------------------------------------------------------------------
    for ctype in (
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=B",
        "application/octet-stream",
        "application/json; charset=utf-16",
        "image/png",
        "application/json\x7f",
        "",
    ):
        headers = (("Content-Type", ctype),) if ctype else ()
        add(Case(f"ctype-{ctype or 'none'}-evidence", "content-type", "POST", "/v1/evidence", headers, j(single())))
    add(
        Case(
            "ctype-xml-verify",
            "content-type",
            "POST",
            "/v1/verify",
            (("Content-Type", "application/xml"),),
            b"<certificate/>",
        )
    )
    add(
        Case(
            "ctype-octet-verify",
            "content-type",
            "POST",
            "/v1/verify",
            (("Content-Type", "application/octet-stream"),),
            b"\x00" * 100,
        )
    )

    # --- integers beyond their types in bodies ---------------------------------------------------------------------
    for name, body in [
        ("nonce-2^256", single(nonce=UINT256)),
        ("nonce-2^300", single(nonce=2**300)),
        ("nonce-negative", single(nonce=-1)),
        ("nonce-float", single(nonce=1.5)),
        ("nonce-string", single(nonce="0")),
        ("nonce-bool", single(nonce=True)),
        ("nonce-1e3", single(nonce=1e3)),
        ("deadline-2^64", single(deadline=2**64)),
        ("deadline-2^63", single(deadline=INT64)),
        ("deadline-negative", single(deadline=-5)),
        ("deadline-huge", single(deadline=10**80)),
    ]:
        add(Case(f"int-{name}", "integers", "POST", "/v1/evidence", (JSON,), j(body), schema_level="nonce" in name))
    add(Case("int-batch-deadline-2^64", "integers", "POST", "/v1/evidence/batch", (JSON,), j(batch(deadline=2**64))))
    add(
        Case(
            "int-asset-owner-2^63",
            "integers",
            "POST",
            "/v1/assets/payload",
            (JSON,),
            j(asset(owners=[{"partyId": INT64, "share": 10000}])),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-asset-share-2^256",
            "integers",
            "POST",
            "/v1/assets/payload",
            (JSON,),
            j(asset(owners=[{"partyId": ctx.party_id, "share": UINT256}])),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-agreement-asset-2^64",
            "integers",
            "POST",
            "/v1/agreements",
            (JSON,),
            j(agreement(assetId=2**64)),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-agreement-licensee-2^70",
            "integers",
            "POST",
            "/v1/agreements",
            (JSON,),
            j(agreement(licensee=2**70)),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-agreement-end-2^64",
            "integers",
            "POST",
            "/v1/agreements",
            (JSON,),
            j(agreement(end=2**64)),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-agreement-rate-2^256",
            "integers",
            "POST",
            "/v1/agreements",
            (JSON,),
            j(agreement(royalty={"basis": "percentage", "rate": UINT256})),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-dispute-claimant-2^63",
            "integers",
            "POST",
            "/v1/disputes/payload",
            (JSON,),
            j(
                {
                    "subject": "asset",
                    "subjectId": 1,
                    "claimant": INT64,
                    "respondent": 1,
                    "claimHash": "0x" + "cc" * 32,
                    "institution": 1,
                }
            ),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-dispute-subject-2^256",
            "integers",
            "POST",
            "/v1/disputes/payload",
            (JSON,),
            j(
                {
                    "subject": "asset",
                    "subjectId": UINT256,
                    "claimant": 1,
                    "respondent": 1,
                    "claimHash": "0x" + "cc" * 32,
                    "institution": 1,
                }
            ),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-decrypt-party-2^64",
            "integers",
            "POST",
            "/v1/documents/abc/decrypt",
            (JSON,),
            j({"party": 2**64, "privateKey": "00" * 32}),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-account-change-deadline-2^256",
            "integers",
            "POST",
            f"/v1/parties/{ctx.party_id}/accounts",
            (JSON,),
            j(
                {
                    "action": "rotate",
                    "account": ctx.account,
                    "newAccount": ctx.account,
                    "threshold": 1,
                    "nonce": 0,
                    "deadline": UINT256,
                    "signatures": [{"signer": ctx.account, "signature": zero_sig}],
                }
            ),
            schema_level=True,
        )
    )
    add(
        Case(
            "int-account-change-nonce-2^64",
            "integers",
            "POST",
            f"/v1/parties/{ctx.party_id}/accounts",
            (JSON,),
            j(
                {
                    "action": "set_threshold",
                    "threshold": 1,
                    "nonce": 2**64,
                    "deadline": 1,
                    "signatures": [{"signer": ctx.account, "signature": zero_sig}],
                }
            ),
            schema_level=True,
        )
    )

    # --- path and query parameters ---------------------------------------------------------------------------------
    for target in [
        f"/v1/receipts/{2**64}",
        f"/v1/receipts/{UINT256}",
        "/v1/receipts/-1",
        "/v1/receipts/" + "9" * 5000,
        "/v1/receipts/%00",
        "/v1/receipts/1e999",
        f"/v1/parties/{INT64}",
        f"/v1/parties/{2**64}",
        "/v1/parties/0",
        "/v1/parties/-1",
        "/v1/parties/1.5",
        f"/v1/parties/{2**64}/document-key",
        f"/v1/assets/{2**64}",
        f"/v1/assets/{INT64 + 1}/title",
        f"/v1/assets/1/title?at={2**64}",
        "/v1/assets/1/title?at=-1",
        f"/v1/disputes/{2**64}",
        f"/v1/disputes/{UINT256}/case-file",
        f"/v1/agreements/{'f' * 5000}",
        "/v1/agreements/" + quote("../../etc/passwd", safe=""),
        "/v1/documents/" + "z" * 5000,
        "/v1/evidence/xyz",
        "/v1/evidence/" + "0" * 64,
        "/v1/evidence/" + "ab" * 32 + "/certificate?format=exe",
        "/v1/accounts/0x" + "zz" * 20,
        "/v1/accounts/" + "1" * 3000,
        f"/v1/index/evidence?party={INT64}",
        f"/v1/index/evidence?party={2**64}",
        "/v1/index/evidence?party=-1",
        f"/v1/index/assets?owner={2**64}",
        f"/v1/index/agreements?asset={UINT256}",
        f"/v1/index/disputes?asset={2**64}",
        f"/v1/index/evidence?limit={2**70}",
        "/v1/index/evidence?limit=-1",
        "/v1/index/evidence?limit=0",
        "/v1/index/evidence?cursor=garbage",
        "/v1/index/evidence?cursor=" + "A" * 4000,
        "/v1/index/evidence?cursor=" + quote('{"b": 99999999999999999999999, "l": -1}'),
        "/v1/index/evidence?cursor=MTg0NDY3NDQwNzM3MDk1NTE2MTY6MTg0NDY3NDQwNzM3MDk1NTE2MTY",
        f"/v1/index/evidence?from={2**64}",
        "/v1/index/evidence?from=1e999",
        "/v1/index/evidence?to=NaN",
        "/v1/index/evidence?from=9999-99-99T99:99:99",
        "/v1/index/evidence?from=2024-01-01&from=2024-01-02",
        "/v1/index/evidence?from=200&to=100",
        "/v1/index/evidence?kind=%00",
        "/v1/index/evidence?registrant=" + "x" * 2000,
        "/v1/index/status?x=1",
        "/v1/index/agreements?status=" + quote("effective' OR 1=1 --"),
    ]:
        add(
            Case(
                f"param-{target[:80]}",
                "params",
                "GET",
                target,
                schema_level=any(s in target for s in ("receipts", "index", "parties", "title?at")),
            )
        )
    # a free-text filter: quotes are data (bound parameters), matching nothing
    add(
        Case(
            "param-sql-in-number",
            "params",
            "GET",
            "/v1/index/assets?number=" + quote("%' OR '1'='1"),
            expect=frozenset({200, 400}),
        )
    )

    # --- unicode digits --------------------------------------------------------------------------------------------------
    for digits in ("١٢", "１２", "۱", "߁", "𝟙"):
        add(
            Case(
                f"unicode-digits-party-{digits}",
                "unicode-digits",
                "GET",
                "/v1/parties/" + quote(digits),
                schema_level=True,
            )
        )
        add(
            Case(
                f"unicode-digits-index-{digits}",
                "unicode-digits",
                "GET",
                "/v1/index/evidence?party=" + quote(digits),
                schema_level=True,
            )
        )
    add(
        Case(
            "unicode-digits-limit",
            "unicode-digits",
            "GET",
            "/v1/index/evidence?limit=" + quote("５"),
            schema_level=True,
        )
    )
    add(Case("unicode-digits-asset", "unicode-digits", "GET", "/v1/assets/" + quote("٣"), schema_level=True))
    add(
        Case(
            "unicode-digits-title-at",
            "unicode-digits",
            "GET",
            "/v1/assets/1/title?at=" + quote("١٧٠٠٠٠٠٠٠٠"),
            schema_level=True,
        )
    )
    add(
        Case(
            "unicode-digits-body-string",
            "unicode-digits",
            "POST",
            "/v1/evidence",
            (JSON,),
            j(single(nonce="١")),
            schema_level=True,
        )
    )

    # --- text: NUL, bidi override, zero-width, control characters, over-long (party names, asset titles) -------------------
    bad_texts = {
        "nul": "前海\x00公司",
        "rlo": "Qianhai \u202eLtd",
        "lri": "\u2066x\u2069",
        "zwsp": "Qian\u200bhai",
        "zwj": "a\u200db",
        "bom": "\ufeffname",
        "bell": "name\x07",
        "esc": "\x1b[31mred",
        "newline": "a\nb",
        "del": "a\x7fb",
        "c1": "a\x85b",
        "nfd": "Cafe\u0301",
        "line-sep": "a\u2028b",
    }
    for i, (name, text) in enumerate(bad_texts.items()):
        add(
            Case(
                f"text-party-nameZh-{name}",
                "text",
                "POST",
                "/v1/parties",
                (JSON, auth),
                j(party(i, nameZh=text)),
                expect=frozenset({422}),
                schema_level=True,
            )
        )
        add(
            Case(
                f"text-asset-title-{name}",
                "text",
                "POST",
                "/v1/assets/payload",
                (JSON,),
                j(asset(title=text)),
                expect=frozenset({422}),
                schema_level=True,
            )
        )
    add(
        Case(
            "text-party-nameEn-rlo",
            "text",
            "POST",
            "/v1/parties",
            (JSON, auth),
            j(party(100, nameEn="evil\u202egnp.exe")),
            expect=frozenset({422}),
            schema_level=True,
        )
    )
    add(
        Case(
            "text-party-identifier-nul",
            "text",
            "POST",
            "/v1/parties",
            (JSON, auth),
            j(party(101, identifier="ID\x00")),
            expect=frozenset({400, 422}),
            schema_level=True,
        )
    )
    add(
        Case(
            "text-suspend-reason-zwsp",
            "text",
            "POST",
            f"/v1/parties/{ctx.party_id}/suspend",
            (JSON, auth),
            j({"reason": "\u200b"}),
            expect=frozenset({422}),
            schema_level=True,
        )
    )
    add(
        Case(
            "long-party-name",
            "long",
            "POST",
            "/v1/parties",
            (JSON, auth),
            j(party(102, nameZh="长" * 100_000)),
            expect=frozenset({422}),
        )
    )
    add(
        Case(
            "long-asset-title",
            "long",
            "POST",
            "/v1/assets/payload",
            (JSON,),
            j(asset(title="t" * 500_000)),
            expect=frozenset({422}),
        )
    )
    add(
        Case(
            "long-identifier",
            "long",
            "POST",
            "/v1/parties",
            (JSON, auth),
            j(party(103, identifier="I" * 200_000)),
            expect=frozenset({422}),
        )
    )
    add(Case("long-signature", "long", "POST", "/v1/evidence", (JSON,), j(single(signature="0x" + "ab" * 400_000))))
    add(Case("long-hash", "long", "POST", "/v1/evidence", (JSON,), j(single(binding="0x" + "ab" * 300_000))))
    add(Case("long-static-name", "long", "GET", "/static/" + "a" * 300, expect=frozenset({404})))
    add(Case("long-static-name-4k", "long", "GET", "/static/" + "b" * 4000 + ".js", expect=frozenset({404})))
    add(Case("long-static-segments", "long", "GET", "/static/" + "/".join(["c" * 250] * 20), expect=frozenset({404})))
    add(Case("long-path", "long", "GET", "/v1/" + "p" * 12_000, expect=frozenset({400, 404, 431})))

    # --- decimals and non-finite numbers --------------------------------------------------------------------------------------
    for amount in ("1e999", "NaN", "Infinity", "-1", "1e3", "0x10", "１００", "1_000", " 100", "100.", ".5", "1" * 200):
        add(
            Case(
                f"royalty-amount-{amount[:20]}",
                "decimals",
                "POST",
                "/v1/agreements",
                (JSON,),
                j(agreement(royalty={"basis": "lump_sum", "amount": amount, "currency": "CNY"})),
                schema_level=True,
            )
        )
    add(
        Case(
            "royalty-number-1e999",
            "decimals",
            "POST",
            "/v1/agreements",
            (JSON,),
            _raw_json(json.dumps(agreement()).replace('"100.00"', "1e999")),
            schema_level=True,
        )
    )
    add(
        Case(
            "equity-value-nan",
            "decimals",
            "POST",
            "/v1/agreements",
            (JSON,),
            j(
                agreement(
                    kind="equity_contribution",
                    equity={
                        "appraiser": "A",
                        "appraisalReportHash": "0x" + "aa" * 32,
                        "appraisedValue": "NaN",
                        "agreedValue": "Infinity",
                        "capitalAmount": "-0",
                        "equityShare": 100,
                    },
                )
            ),
            schema_level=True,
        )
    )
    add(
        Case(
            "pledge-amount-1e999",
            "decimals",
            "POST",
            "/v1/agreements",
            (JSON,),
            j(agreement(kind="pledge", pledgee=ctx.party_id, amount="1e999", currency="CNY")),
            schema_level=True,
        )
    )
    add(
        Case(
            "deadline-1e999-literal",
            "non-finite",
            "POST",
            "/v1/evidence",
            (JSON,),
            j(single()).replace(b'"nonce": 0', b'"nonce": 1e999'),
        )
    )
    add(
        Case(
            "deadline-float-literal",
            "non-finite",
            "POST",
            "/v1/evidence",
            (JSON,),
            j(single()).replace(str(deadline).encode(), str(deadline).encode() + b".5"),
        )
    )
    add(
        Case(
            "share-nan-literal",
            "non-finite",
            "POST",
            "/v1/assets/payload",
            (JSON,),
            j(asset()).replace(b'"share": 10000', b'"share": NaN'),
        )
    )

    # --- path traversal ----------------------------------------------------------------------------------------------------
    for target in [
        "/static/../../ledger/config.py",
        "/static/%2e%2e/%2e%2e/ledger/config.py",
        "/static/..%2f..%2fpyproject.toml",
        "/static/%252e%252e/%252e%252e/etc/passwd",
        "/static/.env",
        "/static/./index.html/..",
        "/static/..\\..\\x",
        "/static/%00index.html",
        "/static/index.html%00.js",
        "/static//etc/passwd",
        "/static/%c0%ae%c0%ae/x",
        "/v1/documents/..%2f..%2fjournal.sqlite3",
        "/v1/documents/%2e%2e/ciphertext",
        "/v1/documents/" + quote("../../operator.token", safe="") + "/ciphertext",
        "/v1/evidence/..%2f..%2fhealth",
        "/static/" + quote("/etc/passwd", safe=""),
    ]:
        add(Case(f"traversal-{target}", "traversal", "GET", target, expect=frozenset({400, 404, 422})))

    # --- bearer schemes and operator routes ------------------------------------------------------------------------------------
    valid_but_bad_body = j(party(200, kind="not-a-kind"))
    add(
        Case(
            "bearer-lowercase",
            "bearer",
            "POST",
            "/v1/parties",
            (JSON, ("Authorization", f"bearer {ctx.token}")),
            valid_but_bad_body,
            expect=frozenset({422}),
            schema_level=True,
        )
    )  # the token accepted: the body is at fault
    add(
        Case(
            "bearer-uppercase",
            "bearer",
            "POST",
            "/v1/parties",
            (JSON, ("Authorization", f"BEARER {ctx.token}")),
            valid_but_bad_body,
            expect=frozenset({422}),
            schema_level=True,
        )
    )
    for name, value in [
        ("basic", "Basic dXNlcjpwYXNz"),
        ("no-scheme", ctx.token),
        ("scheme-only", "Bearer"),
        ("empty", ""),
        ("wrong-token", "Bearer wrong"),
        ("token-prefix", f"Bearer {ctx.token[:-1]}"),
        ("token-suffix", f"Bearer {ctx.token}x"),
        ("double-bearer", f"Bearer Bearer {ctx.token}"),
        ("huge-token", "Bearer " + "t" * 8000),
        ("latin1-token", "Bearer t\xe9st"),
    ]:
        add(
            Case(
                f"bearer-{name}",
                "bearer",
                "POST",
                "/v1/parties",
                (JSON, ("Authorization", value)),
                j(party(300)),
                expect=frozenset({403}),
                code="permission_denied",
            )
        )
    for route in (
        "/v1/parties",
        f"/v1/parties/{ctx.party_id}/suspend",
        f"/v1/parties/{ctx.party_id}/reinstate",
        f"/v1/parties/{ctx.party_id}/suspension/confirm",
        f"/v1/parties/{ctx.party_id}/recovery",
    ):
        add(
            Case(
                f"operator-no-token-garbage-{route}",
                "operator",
                "POST",
                route,
                (JSON,),
                b"{garbage",
                expect=frozenset({403}),
                code="permission_denied",
                schema_level=True,
            )
        )
        add(
            Case(
                f"operator-no-token-wrong-shape-{route}",
                "operator",
                "POST",
                route,
                (JSON,),
                b'{"x": [1, 2]}',
                expect=frozenset({403}),
                code="permission_denied",
                schema_level=True,
            )
        )
    add(
        Case(
            "operator-token-garbage",
            "operator",
            "POST",
            "/v1/parties",
            (JSON, auth),
            b"{garbage",
            expect=frozenset({400, 422}),
        )
    )
    add(
        Case(
            "operator-suspend-unknown-party",
            "operator",
            "POST",
            "/v1/parties/16777215/suspend",
            (JSON, auth),
            j({"reason": "x"}),
            expect=frozenset({404}),
        )
    )
    add(
        Case(
            "unsigned-remove-last-account",
            "operator",
            "POST",
            f"/v1/parties/{ctx.party_id}/accounts",
            (JSON, auth),
            j(
                {
                    "action": "remove",
                    "account": ctx.account,
                    "threshold": 1,
                    "nonce": 0,
                    "deadline": 2**40,
                    "signatures": [{"signer": ctx.account, "signature": "0x" + "11" * 65}],
                }
            ),
            expect=frozenset({400, 409}),
        )
    )

    # --- unknown routes and methods -------------------------------------------------------------------------------------------
    for method, target, expect in [
        ("GET", "/v1/nothing", {404}),
        ("DELETE", "/v1/health", {405}),
        ("PATCH", "/v1/evidence", {405}),
        ("PUT", "/", {405}),
        ("GET", "/v1/evidence/batch", {400, 404, 405, 422}),
        ("TRACE", "/v1/health", {405}),
        ("FOO", "/v1/health", {400, 405}),
        ("GET", "/v2/health", {404}),
        ("POST", "/v1/health", {405}),
        ("GET", "/v1/health/", {307, 404}),
        ("GET", "/%ff%fe", {404}),
        ("GET", "/v1/%00", {404}),
        ("OPTIONS", "/v1/evidence", {405}),
        ("DELETE", "/v1/parties/1", {405}),
        ("GET", "/v1/parties/1/accounts", {404, 405}),
        ("GET", "/v1/index/nothing", {404}),
        ("POST", "/v1/index/evidence", {405}),
    ]:
        add(Case(f"route-{method}-{target}", "routes", method, target, expect=frozenset(expect)))

    # --- malformed HTTP (answered by the server before the app; the envelope where the server can shape it) ------------------
    for name, raw in [
        ("garbage-line", b"GARBAGE\r\n\r\n"),
        ("no-host", b"GET /v1/health HTTP/1.1\r\n\r\n"),
        ("header-no-colon", b"GET / HTTP/1.1\r\nHost x\r\n\r\n"),
        ("two-lengths", b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}"),
        (
            "length-and-chunked",
            b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        ("negative-length", b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
        ("hex-length", b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n"),
        ("bad-chunk-size", b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        ("nul-in-header", b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n"),
        ("space-in-target", b"GET /v1/ health HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("http09", b"GET /\r\n\r\n"),
        ("unknown-te", b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
        ("binary", bytes(range(256)) * 4),
        ("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64),
        ("utf8-target", "GET /v1/parties/١ HTTP/1.1\r\nHost: x\r\n\r\n".encode()),
    ]:
        add(Case(f"http-{name}", "malformed-http", raw=raw, expect=frozenset({400, 404, 413, 422, 501})))
    # what h11 tolerates: an unknown minor version and a folded header are read as HTTP/1.1 (the portal page)
    add(
        Case(
            "http-bad-version",
            "malformed-http",
            raw=b"GET / HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n",
            expect=frozenset({200, 400, 505}),
        )
    )
    add(
        Case(
            "http-obs-fold",
            "malformed-http",
            raw=b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\nConnection: close\r\n\r\n",
            expect=frozenset({200, 400}),
        )
    )
    # a chunk announced as 2**80 bytes and never sent: the read timeout ends it
    add(
        Case(
            "http-huge-chunk-size",
            "malformed-http",
            raw=b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
            hold=True,
            expect=frozenset({400, 408, 413}),
            closed_ok=True,
            within=bound,
        )
    )

    return cases


def _multipart(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()
