"""`lmtui doctor [PROJECT]`: what to check first on a new machine, and whether it can run the project.

Reports Python, torch and its CUDA and NCCL build, the visible GPUs and their memory, bf16
support, flash attention (PyTorch's SDPA kernel and the flash-attn package) and FlexAttention,
accelerate and its default config file, the free disk space under the project's output_dir
and cache_dir (the current folder without a project), the Hugging Face Hub login (the user
name only: the token is never printed) and the offline variables. With PROJECT the project is
checked as `lmtui check` does (device, model config, trackers, corpus) and against this
machine (bf16 on a GPU without it). Exit 0 when nothing blocks the run, else 1, each problem
with its fix.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from lmtui.errors import LmtuiError
from lmtui.fmt import fmt_bytes

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "WANDB_MODE")
LOW_DISK_BYTES = 10 * 2 ** 30  # a warning below 10 GiB free: checkpoints of a base-size model fill that fast
MIN_DISK_BYTES = 2 ** 30  # a problem below 1 GiB


@dataclass
class Finding:
    """One line of the report: ``level`` is ok, info, warn or fail; ``fix`` says what to do."""

    name: str
    value: str
    level: str = "ok"
    fix: str = ""


def _gib(n: int) -> str:
    return f"{n / 2 ** 30:.1f} GiB"


def machine() -> tuple[list[Finding], dict]:
    """The findings about Python, torch, GPUs, attention kernels and accelerate; with the facts
    a project check needs (``cuda``: GPUs visible, ``bf16``: every one supports bf16)."""
    out = [Finding("python", f"{platform.python_version()} ({sys.executable})",
                   "ok" if sys.version_info >= (3, 10) else "fail", "" if sys.version_info >= (3, 10)
                   else "install Python 3.10 or newer")]
    try:
        import torch
    except ImportError:
        out.append(Finding("torch", "not installed", "fail", "pip install torch (the CPU or CUDA build from "
                                                              "pytorch.org)"))
        return out, {"cuda": False, "bf16": False}
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
    cuda = torch.cuda.is_available()
    if torch.version.cuda and not cuda:
        size = cuda_build_bytes(Path(torch.__file__).parent)
        out.append(Finding("torch", f"{torch.__version__}, {build} on a machine without a GPU it can use; torch "
                                    f"and its CUDA libraries take {fmt_bytes(size)} on disk", "warn",
                           "without a GPU here, the CPU build is enough (about 0.2 GiB of wheel): pip install "
                           "torch --index-url https://download.pytorch.org/whl/cpu --force-reinstall, then pip "
                           "uninstall the nvidia-* packages"))
    else:
        out.append(Finding("torch", f"{torch.__version__}, {build}"))
    facts = {"cuda": cuda, "bf16": cuda and torch.cuda.is_bf16_supported()}
    if cuda:
        nccl = torch.cuda.nccl.version() if torch.distributed.is_nccl_available() else None
        out.append(Finding("nccl", ".".join(map(str, nccl)) if nccl else "not available",
                           "ok" if nccl else "warn", "" if nccl else "several GPUs will use gloo (slower)"))
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out.append(Finding(f"gpu {i}", f"{props.name}, {_gib(props.total_memory)}, compute capability "
                                           f"{props.major}.{props.minor}"))
        out.append(Finding("bf16", "supported" if facts["bf16"] else "not supported",
                           "ok" if facts["bf16"] else "info", "" if facts["bf16"] else
                           'mixed_precision = "auto" uses no mixed precision here; fp16 works'))
        flash = getattr(torch.backends.cuda, "is_flash_attention_available", lambda: False)()
        out.append(Finding("flash attention", f"SDPA flash kernel {'available' if flash else 'not available'}"
                           + (", flash-attn package installed" if _module("flash_attn") else ""),
                           "ok" if flash else "info"))
    else:
        why = "torch was built without CUDA" if not torch.version.cuda else "no GPU visible to this CUDA build"
        out.append(Finding("gpus", f"none ({why}); runs use the CPU", "info",
                           "" if not torch.version.cuda else "check nvidia-smi and CUDA_VISIBLE_DEVICES"))
    out.append(Finding("flexattention", "available" if _module("torch.nn.attention.flex_attention") else
                       "not in this torch", "ok" if _module("torch.nn.attention.flex_attention") else "info"))
    out.append(_accelerate())
    return out, facts


CUDA_WHEEL_FOLDERS = ("nvidia", "triton")
"""The folders beside torch that its CUDA build's pip dependencies install (nvidia-* wheels, triton)."""


def cuda_build_bytes(torch_dir: Path) -> int:
    """Bytes on disk of the torch package at ``torch_dir`` and of the CUDA wheels beside it
    (:data:`CUDA_WHEEL_FOLDERS` in the same site-packages), symbolic links not followed."""
    total = 0
    for folder in (torch_dir, *(torch_dir.parent / name for name in CUDA_WHEEL_FOLDERS)):
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    pass
    return total


def _module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _accelerate() -> Finding:
    try:
        import accelerate
        from accelerate.commands.config.config_args import default_config_file
    except ImportError:
        return Finding("accelerate", "not installed", "fail", "pip install accelerate")
    config = Path(default_config_file)
    if not config.is_file():
        return Finding("accelerate", f"{accelerate.__version__}, no default config ({config}): lmtui passes its "
                                     "settings from [hardware]", "ok")
    return Finding("accelerate", f"{accelerate.__version__}, default config {config}", "ok")


def disk(folders: dict[str, str]) -> list[Finding]:
    """Free space under each folder (its nearest existing parent when it does not exist yet)."""
    out = []
    for name, folder in folders.items():
        path = Path(folder).resolve()
        while not path.exists() and path != path.parent:
            path = path.parent
        free = shutil.disk_usage(path).free
        level = "fail" if free < MIN_DISK_BYTES else "warn" if free < LOW_DISK_BYTES else "ok"
        out.append(Finding(f"disk {name}", f"{_gib(free)} free under {folder}", level,
                           "" if level == "ok" else f"free space under {path} or move {name} elsewhere"))
    return out


def hub_login() -> Finding:
    """The Hub account of the token huggingface_hub would use (user name only; offline: not asked)."""
    from huggingface_hub import HfApi, get_token

    from lmtui.hub.push import endpoint, token_source

    token = get_token()
    if not token:
        return Finding("hub login", "not logged in", "info", "set HF_TOKEN or run `hf auth login` to push models")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return Finding("hub login", f"a token from {token_source()} (HF_HUB_OFFLINE is set: not checked)", "info")
    try:
        name = HfApi(endpoint=endpoint()).whoami(token=token).get("name")
    except Exception as exc:  # noqa: BLE001 - the class only: a message could quote the request
        return Finding("hub login", f"a token from {token_source()}, rejected or the Hub unreachable "
                                    f"({type(exc).__name__})", "warn", "check the token and the network")
    return Finding("hub login", f"{name} (token from {token_source()})")


def offline() -> Finding:
    """Which offline variables are set."""
    set_ = [f"{k}={os.environ[k]}" for k in OFFLINE_VARIABLES if os.environ.get(k)]
    return Finding("offline", ", ".join(set_) if set_ else "no offline variable set", "info")


def project_findings(path: str, facts: dict) -> tuple[list[Finding], dict[str, str]]:
    """The project checked as `lmtui check` does, then against this machine; and its folders."""
    from lmtui.checks import require
    from lmtui.project.load import load_project, project_text
    from lmtui.project.paths import cache_dir, output_dir

    try:
        project = load_project(path, check=False)
        summary = require(project, project_text(project))  # the checks of `lmtui check` and `lmtui run`
    except LmtuiError as exc:
        return [Finding("project", f"{path}: {exc.message}", "fail", exc.hint or "")], {"cwd": os.getcwd()}
    out = [Finding("project", f"{path}: {summary}")]
    hw = project.hardware
    if hw.mixed_precision == "bf16" and not facts["bf16"]:
        out.append(Finding("mixed precision", "bf16 asked, not supported here", "fail",
                           'set [hardware] mixed_precision = "auto" (or "fp16" on a GPU)'))
    gpus = hw.num_processes if facts["cuda"] and hw.device != "cpu" else 0
    if gpus:
        import torch

        if torch.cuda.device_count() < gpus:
            out.append(Finding("processes", f"{gpus} GPU processes asked, {torch.cuda.device_count()} visible",
                               "fail", "lower [hardware] num_processes"))
    if project.hub.push_at_end:
        from huggingface_hub import get_token

        if not get_token():
            out.append(Finding("publish", "[hub] push_at_end needs a Hub token; none found", "fail",
                               "set HF_TOKEN or run `hf auth login`, or set push_at_end = false"))
    return out, {"output_dir": output_dir(project), "cache_dir": cache_dir(project)}


LEVEL_STYLE = {"ok": "green", "info": "cyan", "warn": "yellow", "fail": "bold red"}


def cmd_doctor(args) -> int:
    from rich.console import Console
    from rich.markup import escape

    findings, facts = machine()
    folders = {"cwd": os.getcwd()}
    if args.project:
        found, folders = project_findings(args.project, facts)
        findings += found
    findings += disk(folders)
    findings += [hub_login(), offline()]
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    for f in findings:
        console.print(f"[{LEVEL_STYLE[f.level]}]{f.level:>4}[/]  {f.name:<16} {escape(f.value)}")
        if f.fix and f.level in ("warn", "fail"):
            console.print(f"      {'':<16} fix: {escape(f.fix)}")
    problems = [f for f in findings if f.level == "fail"]
    if problems:
        console.print(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} to fix before running"
                      + (f" {escape(args.project)}" if args.project else ""))
        return 1
    console.print("this machine can run " + (escape(args.project) if args.project else "lmtui"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check this machine (Python, torch, CUDA/NCCL, GPUs, bf16, attention "
                                      "kernels, accelerate, disk, Hub login, offline variables) and whether it "
                                      "can run PROJECT; exit 1 with the fixes when not")
    p.add_argument("project", nargs="?", metavar="PROJECT", help="a project file to check against this machine")
    p.set_defaults(func=cmd_doctor)
