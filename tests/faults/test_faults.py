"""The fault suite: each scenario puts load on `ipledger up`, inflicts one fault, lets the service recover and
drain, then counts from the chain what it acknowledged (tests/faults/harness.py). Lost = duplicated = 0 in
every one; the table of all scenarios is printed at the end of the run."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger.domain.evidence import sign_single
from ledger.facade import dev_operator
from tests.faults.conftest import ENV
from tests.faults.harness import (
    ChainView,
    HealthProbe,
    Load,
    Outcome,
    SentBatch,
    Service,
    Tally,
    account,
    wait_for,
)

pytestmark = pytest.mark.slow

Scenario = Callable[[str], Tally]


def test_sigkill_of_api_and_node_during_relayed_singles(service: Service, scenario: Scenario) -> None:
    """kill -9 of everything (node first, then the API's process group, as a power cut would) while three
    clients relay singles; the restarted service re-sends whatever the node's last state dump had not kept."""
    tally = scenario("SIGKILL api+node / relayed singles")
    service.ensure_running(tally.notes)
    start = ChainView(service).head()
    load = tally.track(Load(service, singles=3)).start()
    try:
        load.wait_acked(120)
        service.kill_all()
    finally:
        load.stop()
    service.start()
    account(service, tally, [load], from_block=start).check()


def test_sigkill_of_the_api_during_batch_ingest(service: Service, scenario: Scenario) -> None:
    """kill -9 of the API's process group while batches stream in (its node is told by the kernel and exits)."""
    tally = scenario("SIGKILL api / batch ingest")
    service.ensure_running(tally.notes)
    start = ChainView(service).head()
    load = tally.track(Load(service, singles=0, batches=2, batch_size=500)).start()
    try:
        load.wait_acked(8)
        service.kill_api()
    finally:
        load.stop()
    service.start()  # at once, as a user would: the old node may still be writing its state
    account(service, tally, [load], from_block=start).check()


def test_sigkill_of_the_node_during_load(service: Service, scenario: Scenario) -> None:
    """kill -9 of the embedded node alone under singles and batches: the API's supervisor restarts it and the
    load goes on being acknowledged."""
    tally = scenario("SIGKILL node / singles+batches")
    service.ensure_running(tally.notes)
    start = ChainView(service).head()
    load = tally.track(Load(service, singles=2, batches=1, batch_size=200)).start()
    try:
        load.wait_acked(30)
        old = service.node_pid()
        service.kill_node()
        killed_at, acked_then = time.monotonic(), load.acked_requests
        wait_for(lambda: service.node_pids() not in ([], [old]), 60, "the supervisor to restart the node")
        tally.notes.append(f"node back after {time.monotonic() - killed_at:.1f}s")
        load.wait_acked(acked_then + 30, timeout=90)
    finally:
        load.stop()
    assert service.running(), service.log_tail()
    account(service, tally, [load], from_block=start).check()


STALL = 8.0  # seconds the node is stopped
ANSWER_WITHIN = 5.0  # the service's promise for a request while the node hangs
HEALTH_WITHIN = 2.0  # and for /v1/health
MARGIN = 2.5  # for a busy machine; still well under the stall, so a request that waits for the node is caught


def _overlapping(outcomes: list[Outcome], start: float, end: float) -> list[Outcome]:
    """Requests that were in flight at some moment of [start, end)."""
    return [o for o in outcomes if o.started < end and o.started + o.elapsed > start]


def _bad_stall_answers(outcomes: list[Outcome]) -> list[str]:
    bad = []
    for o in outcomes:
        limit = (HEALTH_WITHIN if o.kind == "health" else ANSWER_WITHIN) + MARGIN
        if o.status is None:
            bad.append(f"{o.kind}: no answer after {o.elapsed:.1f}s ({o.error})")
        elif o.elapsed > limit:
            bad.append(f"{o.kind}: {o.status} after {o.elapsed:.1f}s")
        elif o.status == 503 and not o.retry_after:
            bad.append(f"{o.kind}: 503 without Retry-After")
        elif o.status not in (200, 202, 503):
            bad.append(f"{o.kind}: {o.status} {o.code}")
    return bad


def test_sigstop_of_the_node_during_load(service: Service, scenario: Scenario) -> None:
    """The node frozen (SIGSTOP) for 8 s under load: every request answers within 5 s (202, or 503 with
    Retry-After), /v1/health too; after SIGCONT nothing acknowledged is lost."""
    tally = scenario("SIGSTOP node 8s / singles+batches")
    service.ensure_running(tally.notes)
    start = ChainView(service).head()
    load = tally.track(Load(service, singles=2, batches=1, batch_size=200)).start()
    probe = HealthProbe(service).start()
    pid = service.node_pid()
    try:
        load.wait_acked(20)
        stopped_at = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(STALL)
        finally:
            os.kill(pid, signal.SIGCONT)
        resumed_at = time.monotonic()
        load.wait_acked(load.acked_requests + 10, timeout=60)
    finally:
        load.stop()
        probe.stop()
    during = _overlapping(load.outcomes + probe.outcomes, stopped_at, resumed_at)
    bad = _bad_stall_answers(during)
    statuses = Counter(f"{o.kind} {o.status}" for o in during)
    slowest = max((o.elapsed for o in during), default=0.0)
    tally.notes.append(f"during the stall: {dict(sorted(statuses.items()))}, slowest {slowest:.1f}s, {len(bad)} bad")
    account(service, tally, [load], from_block=start)
    assert during, "no request was made while the node was stopped"
    assert not bad, f"answers while the node was stopped: {bad[:8]}"
    tally.check()


def test_a_second_instance_on_the_same_data_directory(service: Service, scenario: Scenario) -> None:
    """A second `ipledger up` on the data directory of a running one, under load: it exits at once, non-zero,
    naming the PID that holds the directory; the first keeps acknowledging and loses nothing."""
    tally = scenario("second instance on the data dir")
    service.ensure_running(tally.notes)
    start = ChainView(service).head()
    holder = service.proc
    assert holder is not None
    load = tally.track(Load(service, singles=2, batches=1, batch_size=200)).start()
    second_port, second_node = _free_ports(2)
    try:
        load.wait_acked(20)
        launched = time.monotonic()
        proc, log_path = service.launch(port=second_port, node_port=second_node)
        try:
            rc: int | None = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            took = time.monotonic() - launched
            _kill_group(proc)
            for pid in service.node_pids(second_node):
                os.kill(pid, signal.SIGKILL)
        output = log_path.read_text(errors="replace")
        tally.notes.append(f"second instance: exit {rc} after {took:.1f}s, said {output.strip().splitlines()[-1:]!r}")
        after = load.acked_requests
        load.wait_acked(after + 10, timeout=30)
    finally:
        load.stop()
    assert service.proc is holder and service.running(), f"the first instance died: {service.log_tail()}"
    account(service, tally, [load], from_block=start)
    assert rc is not None, "the second instance was still running after 20 s"
    assert rc != 0, f"the second instance exited 0: {output[-1500:]}"
    assert str(holder.pid) in output, (
        f"the second instance does not name the holder's PID {holder.pid}: {output[-1500:]}"
    )
    tally.check()


CYCLES = 10


def test_restart_cycles_alternating_clean_stops_and_sigkill(service: Service, scenario: Scenario) -> None:
    """Ten starts on one data directory, each with a burst of singles and batches, stopped in turn by Ctrl-C
    (SIGINT, exit status 0) and by kill -9 of the node and the API: the chain keeps its genesis block and
    its deployment, and nothing acknowledged in any cycle is lost or anchored twice."""
    tally = scenario(f"{CYCLES} restarts (SIGINT / SIGKILL)")
    service.ensure_running(tally.notes)
    chain = ChainView(service)
    start = chain.head()
    genesis = chain.genesis()
    contracts = dict(service.wait_healthy()["contracts"])
    loads: list[Load] = []
    clean_exits: list[int] = []
    tally.notes.append("0 cycles")
    progress = len(tally.notes) - 1
    for cycle in range(CYCLES):
        if not service.running():
            service.start()
        load = tally.track(Load(service, singles=2, batches=1, batch_size=100)).start()
        loads.append(load)
        try:
            load.wait_acked(6, timeout=30)
            if cycle % 2 == 0:
                clean_exits.append(service.stop_clean())
            else:
                service.kill_all()
        finally:
            load.stop()
        tally.notes[progress] = f"{cycle + 1} cycles"
    service.start()
    after = ChainView(service)
    assert after.genesis() == genesis, "the chain's genesis block changed"
    assert dict(service.wait_healthy()["contracts"]) == contracts, "the deployment changed"
    assert all(after.code(a) for a in contracts.values()), "a contract has no code"
    account(service, tally, loads, from_block=start, drain_timeout=120)
    assert clean_exits == [0] * len(clean_exits), f"exit status of the clean stops: {clean_exits}"
    tally.check()


def test_the_accounting_sees_a_loss_and_a_second_send(service: Service) -> None:
    """The harness itself: an acknowledgement that never reached the chain counts as lost, and a registration
    the relayer sends a second time (it reverts) and an anchored root no journalled batch accounts for count as
    duplicated — so a scenario's 0 / 0 means something."""
    service.ensure_running()
    chain = ChainView(service)
    start = chain.head()
    load = Load(service, singles=1, batches=1, batch_size=50).start()
    try:
        load.wait_acked(4)
    finally:
        load.stop()
    landed = next(iter(load.acked_singles))
    # a fabricated acknowledgement of a hash never sent, and of a batch never sent
    load.acked_singles[os.urandom(32)] = "sub_999999999"
    phantom = SentBatch([os.urandom(32) for _ in range(7)], os.urandom(32), os.urandom(32))
    load.acked_batches["sub_999999998"] = phantom
    # a second send of a registration already on chain, from the relayer's own account (it reverts)
    wait_for(lambda: chain.registration_times([landed])[landed] != 0, 30, "the first registration on chain")
    relayer = dev_operator()
    assert relayer.address == service.relayer
    req = sign_single(load.firm, load.domain, binding=landed, algorithm=1, nonce=0, deadline=load.deadline)
    data = chain.contract.functions.registerBySignature(req.as_args())._encode_transaction_data()
    tx = {
        "to": chain.contract.address,
        "data": data,
        "gas": 300_000,
        "chainId": chain.w3.eth.chain_id,
        "nonce": chain.w3.eth.get_transaction_count(relayer.address, "pending"),
        "maxFeePerGas": 10 * chain.w3.eth.gas_price + 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    tx_hash = chain.w3.eth.send_raw_transaction(relayer.sign_transaction(tx).raw_transaction)
    assert chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 0
    # and a batch root anchored by the relayer that no journalled batch accounts for
    data = chain.contract.functions.anchorBatch(os.urandom(32), 1)._encode_transaction_data()
    tx = {**tx, "data": data, "nonce": chain.w3.eth.get_transaction_count(relayer.address, "pending")}
    tx_hash = chain.w3.eth.send_raw_transaction(relayer.sign_transaction(tx).raw_transaction)
    assert chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1
    tally = account(service, Tally("self-check"), [load], from_block=start, drain_timeout=10)
    assert tally.lost == 1 + len(phantom.hashes), tally.row()
    assert tally.duplicated == 2, tally.row()
    assert tally.unsettled == 2, tally.row()
    with pytest.raises(AssertionError):
        tally.check()


# --- disk full ---------------------------------------------------------------------------------------------

TMPFS_SIZE = "64m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs mounted for the test (root and a kernel that allows it; otherwise the test is skipped)."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    if not shutil.which("mount"):
        pytest.skip("no mount command: cannot make a small file system to fill")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({(done.stderr or done.stdout).strip()}): disk-full scenario skipped")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def _fill(path: Path) -> int:
    """Writes ``path`` until the file system is full; returns the bytes written."""
    chunk = b"\0" * (1 << 20)
    written = 0
    with open(path, "wb", buffering=0) as fh:
        while True:
            try:
                n = fh.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2]
                if len(chunk) < 512:
                    return written
                continue
            written += n or 0


def test_disk_full_under_load(small_disk: Path, scenario: Scenario, tmp_path: Path) -> None:
    """The data directory on a small tmpfs, filled to the last byte under load: refused requests get 507 or 503
    with a specific error code (never 500, never a cut connection), everything acknowledged is kept, and the
    service accepts again once space is freed."""
    tally = scenario("disk full (tmpfs)")
    svc = Service(small_disk / "data", tmp_path / "logs", env=ENV)
    try:
        svc.start()
        start = ChainView(svc).head()
        load = tally.track(Load(svc, singles=2, batches=1, batch_size=200)).start()
        filler = small_disk / "filler"
        try:
            load.wait_acked(20)
            full_at = time.monotonic()
            tally.notes.append(f"filled with {_fill(filler) >> 20} MB")
            time.sleep(5)
            refused_while_full = [o for o in load.during(full_at, time.monotonic()) if o.status != 202]
            freed_at = time.monotonic()
            filler.unlink()
            acked_when_freed = load.acked_requests
            load.wait_acked(acked_when_freed + 10, timeout=60)
        finally:
            load.stop()
        during = load.during(full_at, freed_at)
        bad = [
            f"{o.kind}: {o.status} {o.code} ({o.error})"
            for o in during
            if not (
                o.status == 202
                or (o.status in (503, 507) and o.code and o.code != "<no error envelope>" and "internal" not in o.code)
            )
        ]
        codes = sorted({f"{o.status} {o.code}" for o in refused_while_full})
        tally.notes.append(f"while full: {len(during)} answers, refused with {codes}")
        assert svc.running(), f"ipledger up died on a full disk: {svc.log_tail()}"
        account(svc, tally, [load], from_block=start)
        assert refused_while_full, "nothing was refused while the disk was full (was it filled?)"
        assert not bad, f"answers while the disk was full: {bad[:8]}"
        tally.check()
    finally:
        svc.shutdown()


# --- helpers -----------------------------------------------------------------------------------------------


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _kill_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)
