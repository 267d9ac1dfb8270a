"""`lmtui doctor` on a machine without a GPU and the CUDA build of torch (issue 23, item 13)."""

from __future__ import annotations

import torch

from lmtui.commands import doctor


def fake_site_packages(tmp_path):
    """site-packages with torch/ (3 MiB), nvidia/ (5 MiB, the CUDA wheels), triton/ (1 MiB) and an unrelated package."""
    site = tmp_path / "site-packages"
    for folder, mib in (("torch/lib", 3), ("nvidia/cublas/lib", 5), ("triton", 1), ("numpy", 7)):
        (site / folder).mkdir(parents=True)
        (site / folder / "blob.so").write_bytes(b"\0" * (mib << 20))
    (site / "torch" / "__init__.py").write_text("")
    return site


def test_the_cuda_build_counts_torch_and_the_cuda_wheels_beside_it(tmp_path):
    site = fake_site_packages(tmp_path)
    assert doctor.cuda_build_bytes(site / "torch") == 9 << 20


def test_a_cuda_build_without_a_gpu_is_a_warning_naming_its_size_and_the_cpu_build(tmp_path, monkeypatch):
    site = fake_site_packages(tmp_path)
    monkeypatch.setattr(torch, "__file__", str(site / "torch" / "__init__.py"))
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    findings, facts = doctor.machine()
    found = next(f for f in findings if f.name == "torch")
    assert found.level == "warn"
    assert "CUDA 13.0 on a machine without a GPU it can use" in found.value and "take 9.0 MB on disk" in found.value
    assert "download.pytorch.org/whl/cpu" in found.fix and "nvidia-*" in found.fix
    assert facts["cuda"] is False


def test_the_cpu_build_on_a_cpu_machine_is_fine(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    found = next(f for f in doctor.machine()[0] if f.name == "torch")
    assert found.level == "ok" and found.value.endswith("CPU-only build")
