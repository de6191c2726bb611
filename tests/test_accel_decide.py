"""accel.decide with fake probes: KVM when it really works, else TCG with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import accel
from harness.accel import AccelDecision, decide
from harness.errors import ExitCode, InfraError


class Probe:
    """A fake KVM probe boot: records its calls, returns a fixed result."""

    def __init__(self, ok: bool, seconds: float = 3.25, detail: str = "ok") -> None:
        self.result = (ok, seconds, detail)
        self.calls = 0

    def __call__(self) -> tuple[bool, float, str]:
        self.calls += 1
        return self.result


@pytest.fixture
def boot_id(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The host boot id decide() sees; tests change it by assigning [0]."""
    current = ["boot-1"]
    monkeypatch.setattr(accel, "host_boot_id", lambda: current[0])
    return current


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "accel-probe.json"


def test_tcg_requested_never_probes(cache_file: Path) -> None:
    probe = Probe(True)
    d = decide("tcg", probe, cache_file, kvm_usable=lambda: True)
    assert d == AccelDecision("tcg", "requested with --accel tcg")
    assert probe.calls == 0
    assert not cache_file.exists()


def test_no_kvm_device_falls_back_to_tcg(cache_file: Path) -> None:
    probe = Probe(True)
    d = decide("auto", probe, cache_file, kvm_usable=lambda: False)
    assert d == AccelDecision("tcg", "/dev/kvm missing or not accessible")
    assert probe.calls == 0


def test_kvm_requested_without_device_is_an_infra_error(cache_file: Path) -> None:
    with pytest.raises(InfraError) as info:
        decide("kvm", Probe(True), cache_file, kvm_usable=lambda: False)
    err = info.value
    assert err.exit_code == ExitCode.INFRA
    assert err.problem == "--accel kvm: /dev/kvm is missing or not accessible"
    assert err.fix is not None
    assert "kvm group" in err.fix
    assert "--accel tcg" in err.fix


def test_kvm_requested_with_device_trusts_the_user(cache_file: Path) -> None:
    probe = Probe(False)
    d = decide("kvm", probe, cache_file, kvm_usable=lambda: True)
    assert d == AccelDecision("kvm", "requested with --accel kvm")
    assert probe.calls == 0


def test_probe_ok_gives_kvm(cache_file: Path, boot_id: list[str]) -> None:
    d = decide("auto", Probe(True, 3.25), cache_file, kvm_usable=lambda: True)
    assert d == AccelDecision("kvm", "probe boot with KVM took 3.2s", 3.25)


def test_probe_failure_gives_tcg_with_its_reason(cache_file: Path, boot_id: list[str]) -> None:
    probe = Probe(False, 0.8, "KVM internal error. Suberror: 1")
    d = decide("auto", probe, cache_file, kvm_usable=lambda: True)
    assert d == AccelDecision("tcg", "KVM probe failed: KVM internal error. Suberror: 1", 0.8)


def test_decision_cached_per_boot(cache_file: Path, boot_id: list[str]) -> None:
    probe = Probe(False, 40.0, "no result within 40s (KVM crawls)")
    first = decide("auto", probe, cache_file, kvm_usable=lambda: True)
    assert json.loads(cache_file.read_text())["boot_id"] == "boot-1"
    again = decide("auto", Probe(True), cache_file, kvm_usable=lambda: True)
    assert again == first
    assert probe.calls == 1


def test_new_boot_probes_again(cache_file: Path, boot_id: list[str]) -> None:
    decide("auto", Probe(False, 1.0, "KVM internal error"), cache_file, kvm_usable=lambda: True)
    boot_id[0] = "boot-2"
    probe = Probe(True, 2.0)
    d = decide("auto", probe, cache_file, kvm_usable=lambda: True)
    assert probe.calls == 1
    assert d.accel == "kvm"
    assert json.loads(cache_file.read_text())["boot_id"] == "boot-2"


def test_corrupt_cache_probes_again(cache_file: Path, boot_id: list[str]) -> None:
    cache_file.parent.mkdir(parents=True)
    for junk in ("not json", '{"boot_id": "boot-1"}', '{"boot_id": "boot-1", "decision": 1}'):
        cache_file.write_text(junk)
        probe = Probe(True)
        assert decide("auto", probe, cache_file, kvm_usable=lambda: True).accel == "kvm"
        assert probe.calls == 1


def test_kvm_device_usable(tmp_path: Path) -> None:
    dev = tmp_path / "kvm"
    assert not accel.kvm_device_usable(dev)
    dev.write_text("")
    assert accel.kvm_device_usable(dev)


def test_host_boot_id_is_stable() -> None:
    assert accel.host_boot_id() == accel.host_boot_id()
    assert accel.host_boot_id() != ""


def test_probe_failing_for_another_reason_is_not_remembered(
    cache_file: Path, boot_id: list[str]
) -> None:
    # A kernel that panics during the probe says nothing about KVM: try again next run.
    d = decide("auto", Probe(False, 2.0, "vng exited 1"), cache_file, kvm_usable=lambda: True)
    assert d.accel == "tcg"
    assert not cache_file.exists()
    probe = Probe(True, 2.0)
    assert decide("auto", probe, cache_file, kvm_usable=lambda: True).accel == "kvm"
    assert probe.calls == 1
