"""Static checks of the container layout: docker-compose.yml, the Dockerfile and deploy/besu/.

No Docker engine is needed: the files are parsed and checked for consistency. Each check is a
function that takes the parsed compose file (a dict) and returns a list of problems, so the same
functions are run on the real file (expecting no problems) and on deliberately broken copies
(expecting the breakage to be reported).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
BESU_DIR = ROOT / "deploy" / "besu"

VALIDATORS = ("validator-operator", "validator-hku", "validator-cuhk", "validator-arbitration")
EXPECTED_PROFILES: dict[str, frozenset[str]] = {
    "node": frozenset(),
    "api": frozenset(),
    **{name: frozenset({"consortium"}) for name in VALIDATORS},
    "postgres": frozenset({"consortium"}),
    "api-consortium": frozenset({"consortium"}),
    "api-consortium-2": frozenset({"consortium"}),
    "worker-consortium": frozenset({"consortium"}),
}
#: The services that run the ledger (API replicas and the worker): each names its chain and databases.
API_SERVICES = ("api", "api-consortium", "api-consortium-2", "worker-consortium")
RPC_VALIDATOR = "validator-operator"

Compose = dict[str, Any]

# --- helpers ------------------------------------------------------------------------------------


def services(compose: Compose) -> dict[str, dict[str, Any]]:
    return compose.get("services") or {}


def profiles_of(service: dict[str, Any]) -> frozenset[str]:
    return frozenset(service.get("profiles") or ())


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: v for k, v in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command_args(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return {name: (spec or {}) for name, spec in deps.items()}


def volume_mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Each mount as {type, source, target, read_only}, from the short or the long syntax."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            mounts.append(
                {
                    "type": entry.get("type", "volume"),
                    "source": entry.get("source"),
                    "target": entry.get("target"),
                    "read_only": bool(entry.get("read_only", False)),
                }
            )
            continue
        parts = str(entry).split(":")
        if len(parts) == 1:
            mounts.append({"type": "volume", "source": None, "target": parts[0], "read_only": False})
            continue
        source, target = parts[0], parts[1]
        options = parts[2].split(",") if len(parts) > 2 else []
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        mounts.append({"type": kind, "source": source, "target": target, "read_only": "ro" in options})
    return mounts


_PORT = re.compile(r"^(?:(?P<ip>[^:]+):)?(?:(?P<published>\d+):)?(?P<target>\d+)(?:/(?P<proto>tcp|udp))?$")


def published_ports(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Each published port as {host_ip, published, target}; host_ip/published may be None."""
    result = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            result.append(
                {
                    "host_ip": entry.get("host_ip"),
                    "published": int(entry["published"]) if entry.get("published") is not None else None,
                    "target": int(entry["target"]),
                }
            )
            continue
        match = _PORT.match(str(entry))
        if match is None:
            result.append({"host_ip": None, "published": None, "target": None, "raw": str(entry)})
            continue
        ip, published, target = match.group("ip"), match.group("published"), match.group("target")
        if ip is not None and published is None and ip.isdigit():
            ip, published = None, ip  # "8000:8000"
        result.append({"host_ip": ip, "published": int(published) if published else None, "target": int(target)})
    return result


def _flag_value(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _besu_flag_enabled(service: dict[str, Any], option: str) -> bool:
    """A boolean Besu option as the node sees it: command line, then BESU_* environment, then config.toml."""
    args = command_args(service)
    for i, arg in enumerate(args):
        if arg == f"--{option}":
            following = args[i + 1] if i + 1 < len(args) else ""
            return following.lower() != "false"
        if arg.startswith(f"--{option}="):
            return arg.split("=", 1)[1].lower() == "true"
    env_value = environment(service).get("BESU_" + option.upper().replace("-", "_"))
    if env_value is not None:
        return env_value.lower() == "true"
    return bool(besu_config().get(option, False))


def rpc_port(service: dict[str, Any]) -> int | None:
    """The container port on which a chain service answers JSON-RPC, or None if it does not."""
    args = command_args(service)
    if "besu" in str(service.get("image", "")):
        if not _besu_flag_enabled(service, "rpc-http-enabled"):
            return None
        return int(_flag_value(args, "--rpc-http-port") or besu_config().get("rpc-http-port", 8545))
    if args and args[0] == "anvil":
        return int(_flag_value(args, "--port", "-p") or 8545)
    if args[:2] == ["ipledger", "node"]:
        return int(_flag_value(args, "--port") or 8545)
    return None


def secret_paths(service: dict[str, Any]) -> dict[str, str]:
    """Where each of the service's secrets appears in the container -> the secret's name."""
    result = {}
    for entry in service.get("secrets") or []:
        if isinstance(entry, dict):
            target = str(entry.get("target", entry["source"]))
            path = target if target.startswith("/") else f"/run/secrets/{target}"
            result[path] = entry["source"]
        else:
            result[f"/run/secrets/{entry}"] = entry
    return result


def is_variable_reference(value: str) -> bool:
    """True if the value is exactly one ``${NAME...}`` reference (resolved from .env at run time)."""
    return re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+]).*)?\}", value) is not None


_VARIABLE_PLACEHOLDER = "variable-reference"


def _without_variables(value: str) -> str:
    """The value with each ``${...}`` reference replaced by a placeholder, so that it parses as a URL."""
    return re.sub(r"\$\{[^}]*\}", _VARIABLE_PLACEHOLDER, value)


def besu_config() -> dict[str, Any]:
    with (BESU_DIR / "config.toml").open("rb") as fh:
        return tomllib.load(fh)


# --- checks: each returns a list of human-readable problems ---------------------------------------


def check_profiles(compose: Compose) -> list[str]:
    problems = []
    found = services(compose)
    for name, expected in EXPECTED_PROFILES.items():
        if name not in found:
            problems.append(f"service {name} is missing")
        elif profiles_of(found[name]) != expected:
            problems.append(
                f"service {name} has profiles {sorted(profiles_of(found[name]))}, expected {sorted(expected)}"
            )
    for name in found:
        if name not in EXPECTED_PROFILES:
            problems.append(f"unexpected service {name} (add it to EXPECTED_PROFILES)")
    return problems


def check_depends_on(compose: Compose) -> list[str]:
    """Every dependency exists and is active whenever the dependent service is."""
    problems = []
    found = services(compose)
    for name, service in found.items():
        for target, spec in depends_on(service).items():
            if target not in found:
                problems.append(f"{name} depends on unknown service {target}")
                continue
            condition = spec.get("condition", "service_started")
            if condition not in ("service_started", "service_healthy", "service_completed_successfully"):
                problems.append(f"{name} depends on {target} with unknown condition {condition}")
            if condition == "service_healthy" and "healthcheck" not in found[target]:
                problems.append(f"{name} waits for {target} to be healthy, but {target} has no healthcheck")
            dependent, dependency = profiles_of(service), profiles_of(found[target])
            if dependency and not (dependent and dependent <= dependency):
                problems.append(
                    f"{name} (profiles {sorted(dependent) or 'default'}) depends on {target}, "
                    f"which is only in profiles {sorted(dependency)}"
                )
    return problems


def check_volumes(compose: Compose) -> list[str]:
    """Every named volume used is declared at top level, and every declared one is used."""
    problems = []
    declared = set((compose.get("volumes") or {}).keys())
    used: set[str] = set()
    for name, service in services(compose).items():
        for mount in volume_mounts(service):
            if mount["type"] != "volume" or mount["source"] is None:
                continue
            used.add(mount["source"])
            if mount["source"] not in declared:
                problems.append(f"{name} uses volume {mount['source']}, which is not declared")
    for volume in sorted(declared - used):
        problems.append(f"volume {volume} is declared but no service uses it")
    return problems


def check_bind_mounts(compose: Compose, root: Path = ROOT) -> list[str]:
    """Bind-mounted host paths exist in the repository (relative paths only) and stay inside it."""
    problems = []
    for name, service in services(compose).items():
        for mount in volume_mounts(service):
            if mount["type"] != "bind":
                continue
            source = str(mount["source"])
            if not source.startswith("."):
                problems.append(f"{name} bind-mounts {source}: use a path relative to the repository")
                continue
            path = (root / source).resolve()
            if not path.is_relative_to(root.resolve()):
                problems.append(f"{name} bind-mounts {source}, which is outside the repository")
            elif not path.exists():
                problems.append(f"{name} bind-mounts {source}, which does not exist")
    return problems


def check_secrets(compose: Compose) -> list[str]:
    """Every secret used is declared, every declared one is used, and secret files are relative paths."""
    problems = []
    declared = compose.get("secrets") or {}
    used: set[str] = set()
    for name, service in services(compose).items():
        for entry in service.get("secrets") or []:
            source = entry["source"] if isinstance(entry, dict) else entry
            used.add(source)
            if source not in declared:
                problems.append(f"{name} uses secret {source}, which is not declared")
    for secret in sorted(set(declared) - used):
        problems.append(f"secret {secret} is declared but no service uses it")
    for secret, spec in declared.items():
        file = (spec or {}).get("file")
        if not file or not str(file).startswith("./"):
            problems.append(f"secret {secret} must name a file relative to the repository")
    return problems


def check_ports(compose: Compose) -> list[str]:
    """Every published port binds 127.0.0.1, and no two services publish the same host port.

    Services without a profile run under every profile, and any two profiles can be enabled
    together, so every pair of services is checked.
    """
    problems = []
    owners: dict[int, str] = {}
    for name, service in services(compose).items():
        for port in published_ports(service):
            if port.get("target") is None:
                problems.append(f"{name} publishes an unparseable port {port.get('raw')!r}")
                continue
            if port["host_ip"] != "127.0.0.1":
                problems.append(f"{name} publishes {port['target']} on {port['host_ip'] or 'all interfaces'}")
            if port["published"] is None:
                problems.append(f"{name} publishes {port['target']} on a random host port")
                continue
            other = owners.get(port["published"])
            if other is not None and other != name:
                problems.append(f"{name} and {other} both publish host port {port['published']}")
            owners[port["published"]] = name
    return problems


def check_api_urls(compose: Compose) -> list[str]:
    """Each API's RPC URL names a chain service of this file, on that service's RPC port, in a
    profile that runs with it, and the API depends on it; the index URL names a service too."""
    problems = []
    found = services(compose)
    for name in API_SERVICES:
        service = found.get(name)
        if service is None:
            problems.append(f"API service {name} is missing")
            continue
        env = environment(service)
        url = env.get("IPLEDGER_RPC_URL")
        if not url:
            problems.append(f"{name} has no IPLEDGER_RPC_URL")
            continue
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        if host not in found:
            problems.append(f"{name}: IPLEDGER_RPC_URL host {host} is not a service in the file")
            continue
        expected = rpc_port(found[host])
        if expected is None:
            problems.append(f"{name}: IPLEDGER_RPC_URL points at {host}, which serves no JSON-RPC")
        elif port != expected:
            problems.append(f"{name}: IPLEDGER_RPC_URL port {port} is not {host}'s RPC port {expected}")
        if host not in depends_on(service):
            problems.append(f"{name} does not depend on its chain service {host}")
        index_url = env.get("IPLEDGER_INDEX_URL")
        if index_url:
            index_host = urlsplit(_without_variables(index_url)).hostname
            if index_host not in found:
                problems.append(f"{name}: IPLEDGER_INDEX_URL host {index_host} is not a service in the file")
            elif index_host not in depends_on(service):
                problems.append(f"{name} does not depend on its index database {index_host}")
        journal_url = env.get("IPLEDGER_JOURNAL_URL")
        if journal_url:
            journal = urlsplit(_without_variables(journal_url))
            if journal.hostname not in found:
                problems.append(f"{name}: IPLEDGER_JOURNAL_URL host {journal.hostname} is not a service in the file")
            elif journal.hostname not in depends_on(service):
                problems.append(f"{name} does not depend on its journal database {journal.hostname}")
            index = urlsplit(_without_variables(index_url or ""))
            if index_url and (index.hostname, index.port, index.path) == (journal.hostname, journal.port, journal.path):
                problems.append(f"{name}: IPLEDGER_JOURNAL_URL and IPLEDGER_INDEX_URL name the same database")
        if env.get("IPLEDGER_DATA_DIR") != "/data":
            problems.append(f"{name}: IPLEDGER_DATA_DIR is not /data")
        keystore = env.get("IPLEDGER_KEYSTORE", "")
        if keystore not in secret_paths(service):
            problems.append(f"{name}: IPLEDGER_KEYSTORE {keystore!r} is not one of its mounted secrets")
    return problems


def check_validators(compose: Compose) -> list[str]:
    """Four Besu validators: pinned image, own data volume, shared read-only ./deploy/besu, own
    node key; JSON-RPC enabled and published on validator-operator only."""
    problems = []
    found = services(compose)
    data_volumes: dict[str, str] = {}
    key_secrets: dict[str, str] = {}
    for name in VALIDATORS:
        service = found.get(name)
        if service is None:
            problems.append(f"validator {name} is missing")
            continue
        image = str(service.get("image", ""))
        if not image.startswith("hyperledger/besu:"):
            problems.append(f"{name} does not run hyperledger/besu")
        mounts = volume_mounts(service)
        named = [m["source"] for m in mounts if m["type"] == "volume"]
        if len(named) != 1:
            problems.append(f"{name} should have exactly one named data volume, has {named}")
        for volume in named:
            if volume in data_volumes:
                problems.append(f"{name} shares data volume {volume} with {data_volumes[volume]}")
            data_volumes[volume] = name
        shared = [m for m in mounts if m["type"] == "bind" and str(m["source"]).rstrip("/") == "./deploy/besu"]
        if not shared or not all(m["read_only"] for m in shared):
            problems.append(f"{name} must bind-mount ./deploy/besu read-only")
        args = command_args(service)
        key_path = _flag_value(args, "--node-private-key-file")
        targets = secret_paths(service)
        if key_path not in targets:
            problems.append(f"{name}: --node-private-key-file {key_path} is not one of its own secrets")
        else:
            source = targets[key_path]
            if source in key_secrets:
                problems.append(f"{name} uses the same node key secret {source} as {key_secrets[source]}")
            key_secrets[source] = name
        has_rpc = rpc_port(service) is not None
        publishes = bool(service.get("ports"))
        if name == RPC_VALIDATOR:
            if not has_rpc or not publishes:
                problems.append(f"{name} must enable and publish JSON-RPC")
        else:
            if has_rpc:
                problems.append(f"{name} enables JSON-RPC; only {RPC_VALIDATOR} should")
            if publishes:
                problems.append(f"{name} publishes ports; only {RPC_VALIDATOR} should")
    return problems


def check_images_pinned(compose: Compose) -> list[str]:
    problems = []
    for name, service in services(compose).items():
        image = service.get("image")
        if image is None:
            if "build" not in service:
                problems.append(f"{name} has neither image nor build")
            continue
        last = str(image).rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else None
        if tag is None or tag in ("latest", "stable", "nightly") or "${" in str(image):
            problems.append(f"{name} image {image} is not pinned to a version tag")
    return problems


_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY", re.IGNORECASE)


def check_no_committed_secrets(compose: Compose) -> list[str]:
    """Passwords, tokens and URL credentials come from variables (.env), never literals."""
    problems = []
    for name, service in services(compose).items():
        for key, value in environment(service).items():
            if _SECRET_NAME.search(key) and not is_variable_reference(value):
                problems.append(f"{name}: {key} is a literal; take it from a variable set in .env")
            if "://" in value:
                password = urlsplit(_without_variables(value)).password
                if password is not None and password != _VARIABLE_PLACEHOLDER:
                    problems.append(f"{name}: {key} embeds a literal password")
    return problems


ALL_CHECKS = (
    check_profiles,
    check_depends_on,
    check_volumes,
    check_bind_mounts,
    check_secrets,
    check_ports,
    check_api_urls,
    check_validators,
    check_images_pinned,
    check_no_committed_secrets,
)


def all_problems(compose: Compose) -> list[str]:
    return [problem for check in ALL_CHECKS for problem in check(compose)]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Compose:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def broken(compose: Compose) -> Compose:
    """A deep copy to damage in one test."""
    return copy.deepcopy(compose)


# --- the real files ------------------------------------------------------------------------------


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_compose_file_passes(compose: Compose, check) -> None:
    assert check(compose) == []


def test_node_and_api_commands(compose: Compose) -> None:
    """The dev chain runs under `ipledger node` from the service image (never raw `anvil --state`, which adds a
    genesis block at every restart), listening on the container network, with its data directory on a volume;
    the API waits for it to answer JSON-RPC."""
    node = services(compose)["node"]
    assert node["build"] in (".", {"context": "."}) and "image" not in node
    args = command_args(node)
    assert args[:2] == ["ipledger", "node"]
    assert "anvil" not in args and "--state" not in args
    assert _flag_value(args, "--host") == "0.0.0.0"
    assert environment(node)["IPLEDGER_DATA_DIR"] == "/data"
    assert any(m["source"] == "node-data" and m["target"] == "/data" for m in volume_mounts(node))
    assert "eth_chainId" in " ".join(node["healthcheck"]["test"])
    assert services(compose)["api"]["depends_on"]["node"]["condition"] == "service_healthy"
    for name in API_SERVICES:
        assert services(compose)[name]["build"] in (".", {"context": "."})


def test_postgres(compose: Compose) -> None:
    pg = services(compose)["postgres"]
    assert re.fullmatch(r"postgres:16(\.\d+)*", pg["image"])
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(m["source"] == "pg-data" for m in volume_mounts(pg))
    assert is_variable_reference(environment(pg)["POSTGRES_PASSWORD"])
    # the journal's database, created when the volume is first initialised, and named by the API's journal URL
    init = [m for m in volume_mounts(pg) if str(m["target"]).startswith("/docker-entrypoint-initdb.d/")]
    assert [m["read_only"] for m in init] == [True]
    assert "CREATE DATABASE ipledger_journal" in (ROOT / str(init[0]["source"])).read_text(encoding="utf-8")
    journal = environment(services(compose)["api-consortium"])["IPLEDGER_JOURNAL_URL"]
    assert journal.endswith("@postgres:5432/ipledger_journal")


def test_qbft_config() -> None:
    config = json.loads((BESU_DIR / "qbft-config.json").read_text(encoding="utf-8"))
    genesis = config["genesis"]
    chain = genesis["config"]
    assert chain["chainId"] == 1337
    assert chain["qbft"] == {"blockperiodseconds": 2, "epochlength": 30000, "requesttimeoutseconds": 4}
    assert chain["zeroBaseFee"] is True
    assert chain["contractSizeLimit"] >= 24576 * 4
    assert int(genesis["gasLimit"], 16) == 0x1FFFFFFFFFFFFF
    assert config["blockchain"]["nodes"] == {"generate": True, "count": 4}
    assert config["blockchain"]["nodes"]["count"] == len(VALIDATORS)
    # The artifacts are compiled for Cancun; the chain must run that EVM from genesis.
    build = json.loads((ROOT / "ledger" / "artifacts" / "_build.json").read_text(encoding="utf-8"))
    if build["compiler"]["settings"].get("evmVersion") == "cancun":
        assert chain.get("shanghaiTime") == 0 and chain.get("cancunTime") == 0


def test_besu_config_toml() -> None:
    config = besu_config()
    assert config["genesis-file"].startswith("/config/")
    assert config["data-path"] == "/opt/besu/data"
    assert set(config["rpc-http-api"]) == {"ETH", "NET", "QBFT", "WEB3", "TXPOOL"}
    assert config["min-gas-price"] == 0
    assert config["rpc-http-enabled"] is False  # enabled per service, on validator-operator only
    assert config["host-allowlist"] and "*" not in config["host-allowlist"]
    assert RPC_VALIDATOR in config["host-allowlist"]


def test_besu_readme_has_the_generate_command() -> None:
    text = (BESU_DIR / "README.md").read_text(encoding="utf-8")
    assert (
        "besu operator generate-blockchain-config --config-file=deploy/besu/qbft-config.json "
        "--to=deploy/besu/networkFiles --private-key-file-name=key"
    ) in text


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _exec_form(value: str) -> list[str]:
    value = value.strip()
    return json.loads(value) if value.startswith("[") else value.split()


def test_dockerfile() -> None:
    instructions = _dockerfile_instructions()
    values = {}
    for keyword, rest in instructions:
        values.setdefault(keyword, []).append(rest)
    # The final stage is the service image; an earlier stage takes anvil (for `ipledger node`) from the npm
    # package at the version package-lock.json pins, and only the binary is copied over.
    assert values["FROM"][-1].startswith("python:3.11-slim")
    assert any(v.startswith("node:20") and v.endswith(" AS anvil") for v in values["FROM"][:-1])
    assert "package.json package-lock.json ./" in values["COPY"]
    assert any("npm ci" in v and "@foundry-rs/anvil-linux-" in v for v in values["RUN"])
    assert "--from=anvil /anvil /usr/local/bin/anvil" in values["COPY"]
    entrypoint = _exec_form(values["ENTRYPOINT"][-1]) if "ENTRYPOINT" in values else []
    cmd = _exec_form(values["CMD"][-1]) if "CMD" in values else []
    argv = entrypoint + cmd
    assert argv[:2] == ["ipledger", "up"], argv
    assert _flag_value(argv, "--host") == "0.0.0.0"
    assert "8000" in values["EXPOSE"][-1].split()
    user = values["USER"][-1]
    assert user not in ("root", "0") and not user.startswith("0:")
    assert any("pip install ." in v for v in values["RUN"])
    healthcheck = values["HEALTHCHECK"][-1]
    assert "http://127.0.0.1:8000/v1/health" in healthcheck and "python" in healthcheck
    assert any("IPLEDGER_DATA_DIR=/data" in v.replace(" ", "") for v in values["ENV"])


def test_no_secret_files_tracked() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    paths = [".env"] + [str(spec["file"]) for spec in (compose.get("secrets") or {}).values()]
    tracked = subprocess.run(
        ["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == []


# --- the checks catch breakage -------------------------------------------------------------------


def test_removed_volume_declaration_is_reported(broken: Compose) -> None:
    del broken["volumes"]["pg-data"]
    assert check_volumes(broken) == ["postgres uses volume pg-data, which is not declared"]


def test_unused_volume_declaration_is_reported(broken: Compose) -> None:
    broken["volumes"]["orphan"] = None
    assert check_volumes(broken) == ["volume orphan is declared but no service uses it"]


def test_duplicate_and_exposed_ports_are_reported(broken: Compose) -> None:
    broken["services"]["api-consortium"]["ports"] = ["127.0.0.1:8000:8000"]
    broken["services"]["postgres"]["ports"] = ["5432:5432"]
    problems = check_ports(broken)
    assert any("both publish host port 8000" in p for p in problems)
    assert any(p.startswith("postgres publishes 5432 on all interfaces") for p in problems)


def test_long_syntax_port_on_all_interfaces_is_reported(broken: Compose) -> None:
    broken["services"]["api"]["ports"] = [{"target": 8000, "published": 8000}]
    assert check_ports(broken) == ["api publishes 8000 on all interfaces"]


def test_dependency_in_other_profile_is_reported(broken: Compose) -> None:
    broken["services"]["api"]["depends_on"]["postgres"] = {"condition": "service_healthy"}
    assert check_depends_on(broken) == [
        "api (profiles default) depends on postgres, which is only in profiles ['consortium']"
    ]


def test_unknown_dependency_is_reported(broken: Compose) -> None:
    broken["services"]["api-consortium"]["depends_on"]["validator-ghost"] = {"condition": "service_started"}
    assert check_depends_on(broken) == ["api-consortium depends on unknown service validator-ghost"]


def test_wrong_rpc_port_and_host_are_reported(broken: Compose) -> None:
    broken["services"]["api"]["environment"]["IPLEDGER_RPC_URL"] = "http://node:8546"
    broken["services"]["api-consortium"]["environment"]["IPLEDGER_RPC_URL"] = "http://besu:8545"
    assert check_api_urls(broken) == [
        "api: IPLEDGER_RPC_URL port 8546 is not node's RPC port 8545",
        "api-consortium: IPLEDGER_RPC_URL host besu is not a service in the file",
    ]


def test_rpc_url_to_validator_without_rpc_is_reported(broken: Compose) -> None:
    broken["services"]["api-consortium"]["environment"]["IPLEDGER_RPC_URL"] = "http://validator-hku:8545"
    problems = check_api_urls(broken)
    assert "api-consortium: IPLEDGER_RPC_URL points at validator-hku, which serves no JSON-RPC" in problems


def test_missing_bind_mount_is_reported(broken: Compose, tmp_path: Path) -> None:
    assert check_bind_mounts(broken, tmp_path) == [
        *(f"{name} bind-mounts ./deploy/besu, which does not exist" for name in VALIDATORS),
        "postgres bind-mounts ./deploy/postgres/10-journal.sql, which does not exist",
    ]


def test_a_journal_sharing_the_index_database_is_reported(broken: Compose) -> None:
    env = broken["services"]["api-consortium"]["environment"]
    env["IPLEDGER_JOURNAL_URL"] = env["IPLEDGER_INDEX_URL"]
    assert "api-consortium: IPLEDGER_JOURNAL_URL and IPLEDGER_INDEX_URL name the same database" in check_api_urls(
        broken
    )
    env["IPLEDGER_JOURNAL_URL"] = "postgresql+psycopg://ipledger:${POSTGRES_PASSWORD}@elsewhere:5432/ipledger_journal"
    assert "api-consortium: IPLEDGER_JOURNAL_URL host elsewhere is not a service in the file" in check_api_urls(broken)


def test_literal_password_is_reported(broken: Compose) -> None:
    broken["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "hunter2"
    broken["services"]["api-consortium"]["environment"]["IPLEDGER_INDEX_URL"] = (
        "postgresql+psycopg://ipledger:hunter2@postgres:5432/ipledger"
    )
    assert check_no_committed_secrets(broken) == [
        "postgres: POSTGRES_PASSWORD is a literal; take it from a variable set in .env",
        "api-consortium: IPLEDGER_INDEX_URL embeds a literal password",
    ]


def test_shared_validator_key_and_rpc_on_university_are_reported(broken: Compose) -> None:
    broken["services"]["validator-cuhk"]["secrets"] = [{"source": "besu_key_hku", "target": "besu_node_key"}]
    broken["services"]["validator-hku"]["command"].append("--rpc-http-enabled=true")
    problems = check_validators(broken)
    assert "validator-cuhk uses the same node key secret besu_key_hku as validator-hku" in problems
    assert "validator-hku enables JSON-RPC; only validator-operator should" in problems


def test_missing_service_and_wrong_profile_are_reported(broken: Compose) -> None:
    del broken["services"]["validator-arbitration"]
    broken["services"]["postgres"].pop("profiles")
    problems = check_profiles(broken)
    assert "service validator-arbitration is missing" in problems
    assert "service postgres has profiles [], expected ['consortium']" in problems


def test_unpinned_image_is_reported(broken: Compose) -> None:
    broken["services"]["postgres"]["image"] = "postgres"
    broken["services"]["validator-hku"]["image"] = "hyperledger/besu:latest"
    assert check_images_pinned(broken) == [
        "validator-hku image hyperledger/besu:latest is not pinned to a version tag",
        "postgres image postgres is not pinned to a version tag",
    ]


def test_undeclared_secret_is_reported(broken: Compose) -> None:
    del broken["secrets"]["operator_keystore"]
    assert check_secrets(broken) == [
        "api uses secret operator_keystore, which is not declared",
        "worker-consortium uses secret operator_keystore, which is not declared",
    ]
