"""Configuration: one pydantic-settings ``Settings``, read from ``IPLEDGER_*`` environment variables.

docs/configuration.md lists every setting; the CLI's options override them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the service and the CLI. Environment variables are ``IPLEDGER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="IPLEDGER_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the chain state, manifest, queue and index live.")
    rpc_url: str | None = Field(
        None, description="JSON-RPC endpoint of the chain; unset means the embedded node (anvil) in data_dir."
    )
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(
        8000,
        ge=1,
        le=65535,
        description="Port the API listens on; the API URL and the public URL are derived from it unless set.",
    )
    node_port: int = Field(8545, ge=1, le=65535, description="Port of the embedded node (loopback only).")
    node_host: str = Field(
        "127.0.0.1",
        description="Address `ipledger node` listens on. Keep loopback except inside a container network: anvil's "
        "JSON-RPC includes test methods (anvil_setBalance, evm_revert ...) that anyone who reaches it can call.",
    )
    node_state_interval: int = Field(
        1,
        ge=1,
        le=3600,
        description="Least seconds between two writes of the embedded node's state; it is written only after a new "
        "block, and once more at a clean stop.",
    )
    node_block_time: float = Field(
        0.0,
        ge=0,
        le=60,
        description="Block interval of the embedded node in seconds; 0 (the default) mines a block only when a "
        "transaction arrives, so an idle node mines nothing and writes nothing.",
    )
    keystore: Path | None = Field(
        None, description="Keystore (eth-account v3 JSON) of the operator/relayer account for a non-embedded chain."
    )
    keystore_password: SecretStr | None = Field(
        None, description="Password of that keystore; prompted for when unset and a terminal is attached."
    )
    registrar_keystore: Path | None = Field(
        None,
        description="Keystore of the registrar account (admits firms, universities and service agencies; "
        "suspends provisionally) for a non-embedded chain; never the relayer's key. Same password setting.",
    )
    governance_address: str | None = Field(
        None,
        description="Governance address (a timelock or council wallet) given to a deployment made by "
        "`ipledger up --rpc-url` or `ipledger deploy`; the service never holds its key on such a chain.",
    )
    governance_delay: int = Field(
        60,
        ge=1,
        le=30 * 24 * 3600,
        description="Minimum delay (seconds) of the governance timelock a deployment creates (the embedded default's "
        "council, or `ipledger deploy --council`): every act of governance waits this long in public after the "
        "council schedules it. 60 s on the embedded default; days on a consortium chain.",
    )
    operator_token: SecretStr | None = Field(
        None, description="Bearer token that authorises operator-only API calls (party admission, suspension)."
    )
    confirmations: int = Field(
        2,
        ge=0,
        le=1000,
        description="Blocks after which an anchored record counts as final; `ipledger up` on the embedded node uses 0 "
        "unless this is set (docs/operations.md: what final means there).",
    )
    final_after: float = Field(
        5.0,
        ge=0,
        le=86_400,
        description="Seconds a block must also be old before its records count as final (covers the embedded "
        "node's state interval: a node killed within it restarts without the newest blocks).",
    )
    batch_interval: float = Field(2.0, gt=0, le=3600, description="Seconds between batch anchors of queued hashes.")
    batch_max_items: int = Field(100_000, ge=1, le=10_000_000, description="Most items in one anchored batch.")
    max_batch_request: int = Field(100_000, ge=1, le=1_000_000, description="Most hashes in one batch request.")
    max_upload_bytes: int = Field(
        1 << 30, ge=1, description="Largest file accepted by POST /v1/verify (streamed and hashed, never stored)."
    )
    # --- limits on requests (api/limits.py; docs/operations.md "Limits on requests") ---
    max_body_bytes: int = Field(
        1 << 20,
        ge=1024,
        le=1 << 30,
        description="Largest request body of an API call, in bytes (413 beyond); POST /v1/evidence/batch, "
        "POST /v1/documents and POST /v1/verify have their own limits, derived from their settings.",
    )
    max_json_depth: int = Field(
        64,
        ge=4,
        le=256,
        description="Deepest nesting of arrays and objects in a JSON body, checked before parsing (400 beyond).",
    )
    read_timeout: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds the API waits for the next bytes of a request (its head or its body) before answering "
        "408 (or closing the connection).",
    )
    body_timeout: float = Field(
        120.0,
        gt=0,
        le=86_400,
        description="Seconds within which a whole request body must arrive (POST /v1/verify's streamed file excepted: "
        "it is bounded by IPLEDGER_READ_TIMEOUT between chunks).",
    )
    max_connections: int = Field(
        512, ge=1, le=100_000, description="Most open client connections of `ipledger up`; more are answered 503."
    )
    min_deadline_margin: int = Field(
        600, ge=0, le=86_400, description="Seconds a single registration's signature must stay valid when accepted."
    )
    # --- the relay pipeline and the chain connection (docs/operations.md "The pipeline") ---
    rpc_timeout: float = Field(
        3.0,
        gt=0,
        le=60,
        description="Seconds one JSON-RPC call may take before the node counts as unavailable (503); a hung or "
        "dead node is answered within about this time.",
    )
    submission_max_age: float = Field(
        7 * 86_400,
        ge=1,
        le=10 * 365 * 86_400,
        description="Seconds after acceptance when a submission not yet on chain is given up as `expired`; one "
        "whose signed deadline passed more than 10 minutes ago expires sooner (it can no longer land).",
    )
    relayer_lock_dir: Path | None = Field(
        None,
        description="Host-wide directory of the relayer locks (one process per relayer account and chain); unset "
        "means $XDG_RUNTIME_DIR/ipledger, else /tmp/ipledger-locks.",
    )
    index_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the event index (e.g. postgresql+psycopg://user@host/db); unset means "
        "SQLite at DATA_DIR/index.sqlite3.",
    )
    journal_url: str | None = Field(
        None,
        description="SQLAlchemy URL of a shared journal on PostgreSQL (e.g. postgresql+psycopg://user@host/db); "
        "unset means SQLite at DATA_DIR/journal.sqlite3. Move an existing journal with `ipledger journal migrate`.",
    )
    relay_from_api: bool = Field(
        True,
        description="Whether the API process itself sends relayed registrations. `ipledger serve` sets it false: its "
        "replicas check and journal each registration, and the leading `ipledger worker` sends it.",
    )
    index_poll: float = Field(2.0, gt=0, le=3600, description="Seconds between index syncs while `ipledger up` runs.")
    # --- checkpoints on public chains (docs/operations.md "Checkpoints on a public chain") ---
    anchor_rpc_url: str | None = Field(
        None,
        description="JSON-RPC endpoints of the public chains that receive checkpoints of the ledger, comma-separated "
        "(one per chain; each is identified by the chain id it answers with). Unset: no checkpoints.",
    )
    anchor_keystore: Path | None = Field(
        None,
        description="Keystore of the anchor key, which pays for and alone writes the checkpoints on every public "
        "chain; never the relayer's, registrar's or a party's key.",
    )
    anchor_keystore_password: SecretStr | None = Field(
        None, description="Password of the anchor keystore; prompted for when unset and a terminal is attached."
    )
    checkpoint_interval: float = Field(
        3600.0,
        ge=1,
        le=30 * 86_400,
        description="Seconds between two checkpoints; each covers every record since the previous one, up to the "
        "consortium's confirmed head. Nothing is written while nothing was recorded.",
    )
    anchor_confirmations: int = Field(
        12,
        ge=0,
        le=10_000,
        description="Blocks of the public chain after which a checkpoint counts as final and is put in "
        "certificates; a reorganisation that drops it before then is detected and it is sent again.",
    )
    checkpoint_max_blocks: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description="Most consortium blocks one checkpoint covers; a longer stretch is caught up in several.",
    )
    api_url: str = Field(
        "",
        description="Where CLI commands reach the API; unset: http://HOST:PORT (127.0.0.1 for a wildcard HOST). "
        "Set to a loopback URL with a port and PORT unset, it sets PORT too.",
    )
    public_url: str = Field(
        "",
        description="Base URL of the links the service and the CLI print and of certificate QR codes; unset: "
        "the API URL.",
    )

    # --- the time-stamp authority (docs/tsa.md) ---
    tsa_cert: Path | None = Field(
        None,
        description="PEM certificate of the time-stamp authority (its chain may follow it in the file); unset means "
        "the local CA and TSA certificate `ipledger tsa init` (or the first `ipledger up`) makes in DATA_DIR/tsa.",
    )
    tsa_key: Path | None = Field(None, description="PEM private key (EC or RSA) of that certificate; with TSA_CERT.")
    tsa_ca: Path | None = Field(
        None, description="PEM CA certificate published at GET /v1/tsa/ca.pem; unset: the last of TSA_CERT's chain."
    )
    tsa_key_password: SecretStr | None = Field(
        None,
        description="Password of the TSA key; unset: the one `ipledger tsa init` wrote to DATA_DIR/tsa/key.password.",
    )
    tsa_policy: str = Field(
        "",
        pattern=r"^$|^[0-2](\.(0|[1-9][0-9]{0,39})){1,30}$",
        description="Policy OID of the deployment's time stamps; unset: a placeholder under this software's arc "
        "(docs/tsa.md), which a deployment replaces with one of its own.",
    )
    tsa_max_wait: float = Field(
        1.0,
        ge=0.05,
        le=60,
        description="Seconds a time-stamp request waits for others to share its on-chain anchor (one batch).",
    )
    tsa_accuracy: int = Field(
        10,
        ge=1,
        le=3600,
        description="Seconds stated as each token's accuracy: the most by which the anchoring block's time may differ "
        "from the request's arrival; a request anchored later is refused (timeNotAvailable). At least MAX_WAIT + 1.",
    )
    tsa_rate: float = Field(5.0, gt=0, le=10_000, description="Time-stamp requests per second allowed to one client.")
    tsa_burst: int = Field(20, ge=1, le=100_000, description="Time-stamp requests one client may make at once.")

    @model_validator(mode="after")
    def _tsa_accuracy_covers_wait(self) -> Self:
        if self.tsa_accuracy < self.tsa_max_wait + 1:
            raise ValueError("IPLEDGER_TSA_ACCURACY must be at least IPLEDGER_TSA_MAX_WAIT + 1 seconds")
        if (self.tsa_cert is None) != (self.tsa_key is None):
            raise ValueError("IPLEDGER_TSA_CERT and IPLEDGER_TSA_KEY go together")
        return self

    @model_validator(mode="after")
    def _one_port(self) -> Self:
        """One setting moves the API: PORT (or a loopback API_URL's port) drives the service's port, the CLI's
        API_URL and the PUBLIC_URL of printed links, unless each is set explicitly."""
        if self.api_url:
            given = urlsplit(self.api_url)
            if given.scheme not in ("http", "https") or not given.hostname:
                raise ValueError(f"IPLEDGER_API_URL must be an http(s) URL, not {self.api_url!r}")
            if "port" not in self.model_fields_set and given.hostname in LOOPBACK and given.port:
                self.port = given.port
        else:
            self.api_url = f"http://{_client_host(self.host)}:{self.port}"
        if not self.public_url:
            self.public_url = self.api_url
        if self.journal_url and self.index_url and _same_database(self.journal_url, self.index_url):
            # the index drops and rebuilds its tables (one of them named like the journal's `batches`)
            raise ValueError(
                "IPLEDGER_JOURNAL_URL and IPLEDGER_INDEX_URL name the same database: give the journal a database of"
                " its own (the index is rebuilt from the chain, the journal is not)"
            )
        return self

    @field_validator("rpc_url", "index_url", "journal_url", "anchor_rpc_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("rpc_url", "anchor_rpc_url")
    @classmethod
    def _http_endpoints(cls, value: str | None) -> str | None:
        for url in (part.strip() for part in (value or "").split(",")):
            try:
                parts = urlsplit(url)
                ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
            except ValueError:  # a port that is not a number, or out of range
                ok = False
            if url and not ok:
                raise ValueError(
                    "a JSON-RPC endpoint must be an http:// or https:// URL with a host (WebSocket and IPC are not "
                    "used)"
                )
        return value


def _same_database(a: str, b: str) -> bool:
    """Whether two database URLs name one database (host, port and database name; user and options aside)."""

    def where(url: str) -> tuple[str, int | None, str]:
        parts = urlsplit(url.split("+", 1)[-1] if "+" in url.split("://", 1)[0] else url)
        return (parts.hostname or "", parts.port, parts.path.strip("/"))

    try:
        return where(a) == where(b)
    except ValueError:
        return False


#: Host names of this machine: an API URL naming one of them describes the service `ipledger up` runs here.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _client_host(host: str) -> str:
    """The address a client on this machine uses for a service listening on ``host``."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def anchor_urls(settings: Settings) -> list[str]:
    """The public chains' endpoints of ``IPLEDGER_ANCHOR_RPC_URL`` (comma-separated), at most 8, without repeats."""
    urls: list[str] = []
    for part in (settings.anchor_rpc_url or "").split(","):
        url = part.strip()
        if url and url not in urls:
            urls.append(url)
    return urls[:8]
