# Qianhai IP Ledger service image: the FastAPI service and the `ipledger` CLI, plus the anvil binary
# for `ipledger node`.
#
# The API container talks to a chain given by IPLEDGER_RPC_URL (see docker-compose.yml). The default
# profile's `node` service runs this same image as `ipledger node --host 0.0.0.0`: anvil under the
# ledger's own supervision (atomic state dumps, one canonical chain across restarts, restart with
# backoff), never raw `anvil --state`. Compiled contract artifacts are committed and shipped as
# package data, so neither Node.js nor a Solidity compiler is in the final image.

# anvil, at the version package-lock.json pins (the one the test suite runs), from its npm package.
FROM node:20-bookworm-slim AS anvil
WORKDIR /toolchain
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
    && cp "node_modules/@foundry-rs/anvil-linux-$(dpkg --print-architecture)/bin/anvil" /anvil \
    && /anvil --version

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=anvil /anvil /usr/local/bin/anvil

WORKDIR /src
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY api ./api
RUN pip install . \
    && cd / && rm -rf /src

# Unprivileged user; /data exists and is owned by it, so a fresh named volume mounted there
# inherits that ownership.
RUN groupadd --system --gid 10001 ipledger \
    && useradd --system --uid 10001 --gid ipledger --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin ipledger \
    && mkdir -p /data \
    && chown ipledger:ipledger /data

ENV IPLEDGER_DATA_DIR=/data \
    IPLEDGER_PORT=8000

USER ipledger
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# slim has no curl: probe the health endpoint with the interpreter that is already there. The
# compose `node` service overrides this with a JSON-RPC probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=4).status == 200 else 1)"]

CMD ["ipledger", "up", "--host", "0.0.0.0"]
