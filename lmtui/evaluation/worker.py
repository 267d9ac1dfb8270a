"""The evaluation worker: ``accelerate launch -m lmtui.evaluation.worker RUN_DIR REQUEST.json``.

Started by :mod:`lmtui.evaluation.stage` (the evaluate stage of ``lmtui run``, or ``lmtui eval``).
Computes the request's parts in order (perplexity, pseudo-perplexity, probes, then each task
with each seed), appends ``eval_start``, ``finetune``, ``eval_result`` and ``eval_end`` events
to the run's events.jsonl (docs/evaluation.md), prints progress to the run's train.log, and
merges each finished part into ``<run>/eval/results.json`` as soon as it is done, so a stopped
or failed evaluation keeps what it finished.

SIGINT/SIGTERM: fine-tuning stops at the next step; the worker writes ``eval_end`` with status
``stopped`` and exits 0. A bad input (task file, column, label) ends it with status ``failed``
and the message naming the file and line; exit code 1.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback

from lmtui.errors import LmtuiError
from lmtui.evaluation import results as res
from lmtui.evaluation.finetune import StopRequested
from lmtui.evaluation.metrics import CHANCE_NOTE
from lmtui.evaluation.stage import read_request
from lmtui.evaluation.teacher import teacher_request
from lmtui.procs import process_start_time
from lmtui.runs.rundir import RunDir

STOP = {"requested": False}


def _request_stop(signum, frame):
    STOP["requested"] = True


def held_out_documents(project, table: dict) -> list[str]:
    """Held-out text: [eval] text_files, else the project's validation documents.

    Raises:
        CorpusError: files missing or unreadable, or no documents.
    """
    from lmtui.data.corpus import CsvDialect, read_documents, resolve_files
    from lmtui.data.stream import validation_documents
    from lmtui.errors import CorpusError

    c = project.corpus
    read = dict(fmt=c.format, text_column=c.text_column, delimiter=c.document_delimiter,
                csv_dialect=CsvDialect.of(c))
    if table["text_files"]:
        files = resolve_files(table["text_files"], "/", key="eval.text_files")
        docs = list(read_documents(files, **read))
    elif c.validation_files:
        files = resolve_files(c.validation_files, "/", key="corpus.validation_files")
        docs = list(read_documents(files, **read))
    else:
        docs = validation_documents(project)
    if not docs:
        raise CorpusError("the held-out text is empty", key="eval.text_files", hint="set [eval] text_files")
    return docs


def aggregate(spec, per_seed: list[dict]) -> dict:
    """Mean and standard deviation over seeds of every metric of every split (and entity type)."""
    from lmtui.evaluation.metrics import mean_std

    first = per_seed[0]
    splits = {}
    for split, metrics in first["splits"].items():
        out = {"examples": metrics["examples"]}
        for name in spec.metrics:
            out[name] = mean_std([r["splits"][split][name] for r in per_seed])
        if "truncated_words" in metrics:
            out["truncated_words"] = metrics["truncated_words"]
        if "majority_accuracy" in metrics:
            out["majority_accuracy"] = metrics["majority_accuracy"]
            out["no_better_than_majority"] = all(r["splits"][split]["no_better_than_majority"] for r in per_seed)
        splits[split] = out
    per_type = {}
    for split, types in first.get("per_type", {}).items():
        per_type[split] = {t: {m: mean_std([r["per_type"][split][t][m] for r in per_seed])
                               for m in ("precision", "recall", "f1")} | {"support": v["support"]}
                           for t, v in types.items()}
    return {"kind": spec.kind, "preset": spec.preset, "main_metric": spec.metrics[0], "metrics_order": spec.metrics,
            "seeds": [r["seed"] for r in per_seed], "train_examples": first["train_examples"],
            "epochs": spec.epochs, "learning_rate": spec.learning_rate, "batch_size": spec.batch_size,
            "max_seq_length": first["max_seq_length"], "seconds": round(sum(r["seconds"] for r in per_seed), 2),
            "splits": splits, "per_type": per_type,
            "per_seed": [{"seed": r["seed"], "splits": r["splits"]} for r in per_seed]}


def evaluate_intrinsic(project, table: dict, model_dir: str, intrinsic: list[str], fps: dict, accelerator,
                       store, emit, log) -> None:
    """Held-out MLM loss and perplexity (with inference throughput), pseudo-perplexity and fill-mask
    probes of the model in ``model_dir``, as ``intrinsic`` asks (the names of those parts); each stored (``store``) and emitted
    as it is done.

    Raises:
        StopRequested: a stop arrived between two parts.
    """
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from lmtui.data.batches import MaskingConfig
    from lmtui.evaluation import intrinsic as intr
    from lmtui.evaluation.finetune import max_positions
    from lmtui.evaluation.throughput import measure_throughput

    device = accelerator.device
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForMaskedLM.from_pretrained(model_dir).to(device).eval()
    seq_length = min(project.training.max_seq_length, max_positions(model.config))
    docs = held_out_documents(project, table) if {"perplexity", "pseudo_perplexity"} & set(intrinsic) else []
    with accelerator.autocast():
        if "perplexity" in intrinsic:
            t0 = time.perf_counter()
            m = intr.mlm_perplexity(model, tokenizer, docs, seq_length=seq_length,
                                    max_sequences=table["max_sequences"], mask_seed=table["mask_seed"],
                                    batch_size=table["batch_size"], line_by_line=project.training.line_by_line,
                                    packing=project.training.packing,
                                    masking=MaskingConfig.from_tokenizer(tokenizer, project.training),
                                    device=device)
            store({"perplexity": m | {"fingerprint": fps["perplexity"]},
                   "throughput": measure_throughput(model, batch_size=table["batch_size"], seq_length=seq_length,
                                                    device=device)})
            emit("eval_result", task="perplexity", metrics=m)
            log(f"perplexity: loss {m['loss']:.4f}, perplexity {m['perplexity']:.2f}, masked accuracy "
                f"{m['accuracy']:.2%} ({m['tokens']} masked tokens, {time.perf_counter() - t0:.1f} s)")
        if STOP["requested"]:
            raise StopRequested()
        if "pseudo_perplexity" in intrinsic:
            t0 = time.perf_counter()
            m = intr.pseudo_perplexity(model, tokenizer, docs, samples=table["pseudo_perplexity_samples"],
                                       seed=table["mask_seed"], seq_length=seq_length,
                                       batch_size=2 * table["batch_size"], device=device)
            store({"pseudo_perplexity": m | {"fingerprint": fps["pseudo_perplexity"]}})
            emit("eval_result", task="pseudo_perplexity", metrics=m)
            log(f"pseudo-perplexity: {m['pseudo_perplexity']:.2f} over {m['tokens']} tokens of {m['samples']} "
                f"documents ({time.perf_counter() - t0:.1f} s)")
        if "probes" in intrinsic:
            items = intr.fill_mask_probes(model, tokenizer, table["probes"], top_k=table["top_k"], device=device)
            store({"probes": {"top_k": table["top_k"], "items": items, "fingerprint": fps["probes"]}})
            emit("eval_result", task="probes", probes=items)
            for item in items:
                tops = " | ".join(", ".join(p["token"] for p in preds) for preds in item["predictions"])
                log(f"probe: {item['text']} -> {tops}")
    del model



def evaluate_tasks(specs, table: dict, model_dir: str, fps: dict, accelerator, store, emit, log) -> None:
    """Fine-tune and score every task of ``specs`` on every seed (``[eval] seed`` on), storing the
    mean and spread over seeds of each (:func:`aggregate`).

    Raises:
        StopRequested: a stop arrived between two tasks (or inside fine-tuning).
    """
    from lmtui.evaluation.finetune import finetune
    from lmtui.evaluation.hub_tasks import load_task

    for spec in specs:
        if STOP["requested"]:
            raise StopRequested()
        data = load_task(spec)
        per_seed = []
        for seed in range(table["seed"], table["seed"] + spec.seeds):
            result = finetune(spec, data, model_dir, seed, accelerator=accelerator, emit=emit, log=log,
                              stop_requested=lambda: STOP["requested"])
            result["seed"] = seed
            per_seed.append(result)
            for split, metrics in result["splits"].items():
                emit("eval_result", task=spec.name, seed=seed, split=split, metrics=metrics)
                shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k in spec.metrics)
                log(f"[{spec.name} seed {seed}] {split}: {shown} ({metrics['examples']} examples)"
                    + (f"; {CHANCE_NOTE} ({metrics['majority_accuracy']:.4f})"
                       if metrics.get("no_better_than_majority") else ""))
        summary = aggregate(spec, per_seed)
        summary["fingerprint"] = fps[f"task:{spec.name}"]
        store({"tasks": {spec.name: summary}})
        for split, values in summary["splits"].items():
            emit("eval_result", task=spec.name, split=split, summary=True, seeds=summary["seeds"],
                 metrics={k: {"mean": v["mean"], "std": v["std"]} for k, v in values.items() if isinstance(v, dict)},
                 **({"note": CHANCE_NOTE} if values.get("no_better_than_majority") else {}))


def evaluate(run: RunDir, request: dict, specs, emit, log) -> None:
    """Compute every part of ``request`` and store it in results.json."""
    import torch
    from accelerate import Accelerator
    from transformers.utils import logging as hf_logging

    from lmtui.project.load import parse_project
    from lmtui.train import tracking
    from lmtui.train.devices import cpu_threads, resolve_mixed_precision, uses_cpu

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                            str(run.project_file))
    table, label, model_dir = request["eval"], request["label"], request["model"]
    cpu = uses_cpu(request["device"])
    if cpu:
        torch.set_num_threads(cpu_threads())
    precision = resolve_mixed_precision(request["mixed_precision"], cpu)
    accelerator = Accelerator(cpu=cpu, mixed_precision=precision, **tracking.accelerator_options(project, run))
    device = accelerator.device
    parts, fps = request["parts"], request["fingerprints"]
    emit("eval_start", model=model_dir, step=request["step"], parts=parts, device=str(device),
         mixed_precision=precision)
    log(f"evaluating {model_dir} as {label!r} on {device}: {', '.join(parts)}")

    def store(changes: dict) -> None:
        res.update_entry(run.path, label, {"model": model_dir, "step": request["step"], **changes},
                         model_fingerprint=request["model_fingerprint"])

    intrinsic = [p for p in parts if not p.startswith("task:")]
    if intrinsic:
        evaluate_intrinsic(project, table, model_dir, intrinsic, fps, accelerator, store, emit, log)
    evaluate_tasks(specs, table, model_dir, fps, accelerator, store, emit, log)
    if tracking.start(accelerator, run, project):
        entry = res.load_results(run.path).get("models", {}).get(label, {})
        tracking.log(accelerator, tracking.result_metrics(entry), request["step"] or 0)
        accelerator.end_training()


def main(run_path: str, request_path: str) -> int:
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    run = RunDir(run_path)
    request, specs = read_request(request_path)
    label, request_id = request["label"], request["request_id"]
    manage = request.get("manage_run_state", False)
    res.write_state(run.path, worker_pid=os.getpid(), worker_start_time=process_start_time(os.getpid()))
    if manage:
        run.update_state(status="running", stage="evaluate", pid=os.getpid(),
                         pid_start_time=process_start_time(os.getpid()), started=time.time(), ended=None, error=None)

    def emit(type_, **fields):
        run.emit(type_, label=label, request_id=request_id, **fields)

    def log(message: str) -> None:
        print(message, flush=True)

    status, error = "finished", None
    try:
        evaluate(run, request, specs, emit, log)
        teacher = teacher_request(run, request)  # a distillation's teacher, beside its student (lmtui.evaluation.teacher)
        if teacher is not None:
            evaluate(run, teacher[0], teacher[1], lambda type_, **f: run.emit(type_, label="teacher",
                                                                             request_id=request_id, **f), log)
    except StopRequested:
        status = "stopped"
    except LmtuiError as exc:
        status, error = "failed", exc.format()
    except Exception as exc:  # the log keeps the traceback; the event the one-line cause
        traceback.print_exc()
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    if STOP["requested"] and status == "finished":
        status = "stopped"
    emit("eval_end", status=status, error=error, results=str(res.results_file(run.path)))
    log(f"evaluation {status}" + (f": {error}" if error else ""))
    res.write_state(run.path, status=status, error=error, ended=time.time())
    if manage:
        run.update_state(status=status, stage=None, ended=time.time(),
                         exit_code=0 if status != "failed" else 1, error=error)
    return 1 if status == "failed" else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: accelerate launch -m lmtui.evaluation.worker RUN_DIR REQUEST.json", file=sys.stderr)
        raise SystemExit(2)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
