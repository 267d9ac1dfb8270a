"""The model card (README.md with the Hub's YAML metadata) and the loss-curve image of a run.

Everything comes from the run directory: ``project.toml`` (the frozen, resolved project, read
with the project loader), ``run.json``, ``events.jsonl`` (docs/events.md, folded by
:class:`lmtui.runs.events.RunEvents` as the TUI's tracker folds it), ``model/config.json``,
``model/tokenizer_config.json`` and, when the evaluate stage wrote it, ``eval/results.json``.
Every reader is defensive: a run without some file or event (or with a frozen project the
loader rejects) still gets a card, with the parts it has.

The card is a pure function of the run directory and the publish settings (no clock, no
host name, no absolute paths), so pushing the same run twice uploads identical bytes and
the second push changes nothing on the Hub. It never contains the access token: nothing
here ever sees it.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmtui import __version__
from lmtui.errors import ProjectError
from lmtui.evaluation.results import fmt_metric
from lmtui.fmt import fmt_bytes_words, fmt_count, fmt_duration_words, fmt_percent
from lmtui.project.freeze import resolved_tables
from lmtui.project.load import parse_project
from lmtui.project.schema import Project
from lmtui.runs.events import RunEvents, iter_events
from lmtui.runs.rundir import RunDir

CURVE_FILE = "loss_curve.png"

ARCH_NAMES = {"bert": "BERT", "roberta": "RoBERTa", "distilbert": "DistilBERT", "modernbert": "ModernBERT"}
TOKENIZER_NAMES = {
    "byte_level_bpe": "byte-level BPE (RoBERTa-style)",
    "wordpiece": "WordPiece (BERT-style)",
    "unigram": "Unigram (SentencePiece-style)",
    "pretrained": "existing tokenizer",
}


@dataclass
class RunFacts:
    """What a run directory tells about the model, its data and its training."""

    run_id: str
    project: Project | None = None                     # the frozen project (None: missing or invalid)
    tables: dict = field(default_factory=dict)         # its resolved tables, section -> keys
    state: dict = field(default_factory=dict)          # run.json
    config: dict = field(default_factory=dict)         # model/config.json
    tokenizer_config: dict = field(default_factory=dict)
    events: RunEvents = field(default_factory=RunEvents)  # the events folded (what the TUI's tracker shows)
    train_curve: list = field(default_factory=list)    # [(step, loss)] sorted, last value per step
    eval_curve: list = field(default_factory=list)     # [(step, loss, perplexity, accuracy)]
    evaluation: list = field(default_factory=list)     # [EvalRow] from eval/results.json
    probes: list = field(default_factory=list)         # [(sentence, predictions)] from eval/results.json

    def section(self, name: str) -> dict:
        """The resolved table of section ``name`` ({} without a readable frozen project)."""
        return self.tables.get(name, {})

    @property
    def tokenizer(self) -> dict:
        return self.events.tokenizer or {}

    @property
    def dataset(self) -> dict:
        return self.events.dataset or {}

    @property
    def train_start(self) -> dict:
        return self.events.train_start or {}

    @property
    def last_train(self) -> dict:
        return self.events.last_train or {}

    @property
    def final_eval(self) -> dict:
        return self.events.last_eval or {}


@dataclass
class EvalRow:
    """One evaluation result: task, dataset, split, metric and value (mean over seeds)."""

    task: str
    metric: str
    value: float
    dataset: str = ""
    split: str = ""
    task_type: str = ""
    std: float | None = None
    seeds: int = 1
    dataset_config: str = ""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def read_frozen_project(run: RunDir) -> Project | None:
    """The run's frozen ``project.toml`` through the project loader; None when missing or invalid."""
    try:
        text = run.project_file.read_text(encoding="utf-8")
        return parse_project(text, str(run.project_file), str(run.project_file))
    except (OSError, UnicodeDecodeError, ProjectError):
        return None


def collect(run: RunDir) -> RunFacts:
    """Read everything the card needs from the run directory ``run``.

    The events go through :class:`lmtui.runs.events.RunEvents` (the reducer the TUI's tracker
    is built on), so the card states the numbers the TUI and `lmtui runs` show; the loss
    curves keep the last value logged for each step (a resumed run retrains steps).
    """
    facts = RunFacts(run_id=run.run_id, project=read_frozen_project(run))
    facts.tables = resolved_tables(facts.project) if facts.project else {}
    facts.state = run.read_state()
    facts.config = _read_json(run.model_dir / "config.json")
    facts.tokenizer_config = _read_json(run.model_dir / "tokenizer_config.json")

    train: dict[int, float] = {}
    evals: dict[int, tuple] = {}
    for e in iter_events(run.events_file):
        facts.events.apply(e)
        t = e.get("type")
        if t == "train" and _number(e.get("loss")) is not None and isinstance(e.get("step"), int):
            train[e["step"]] = float(e["loss"])
        elif t == "eval" and _number(e.get("loss")) is not None and isinstance(e.get("step"), int):
            evals[e["step"]] = (e["step"], float(e["loss"]), _number(e.get("perplexity")), _number(e.get("accuracy")))
    facts.train_curve = sorted(train.items())
    facts.eval_curve = [evals[k] for k in sorted(evals)]
    facts.evaluation = read_evaluation(run.eval_dir / "results.json")
    facts.probes = read_probes(run.eval_dir / "results.json")
    return facts


TASK_TYPES = {"classification": "text-classification", "token_classification": "token-classification"}
GLUE = ("sst2", "cola", "mrpc", "qnli", "qqp", "rte", "stsb", "mnli", "wnli")


def _results_entry(data: dict) -> dict:
    """The results entry of the final model in the evaluate stage's results.json (docs/evaluation.md):
    ``models.final``, else ``models.model``; {} when there is none (checkpoint entries are not the
    pushed model)."""
    models = data.get("models")
    if not isinstance(models, dict):
        return {}
    for label in ("final", "model"):
        if isinstance(models.get(label), dict):
            return models[label]
    return {}


def read_evaluation(path: Path) -> list[EvalRow]:
    """Evaluation results of the final model from ``eval/results.json``; [] when absent or unreadable.

    The evaluate stage owns the format (``lmtui/evaluation/results.py``); this reader takes what
    it recognises and skips the rest: ``perplexity`` (full held-out MLM loss, perplexity,
    accuracy), ``pseudo_perplexity``, and ``tasks`` (fine-tuning scores per split, mean and
    standard deviation over seeds).
    """
    entry = _results_entry(_read_json(path))
    rows: list[EvalRow] = []
    p = entry.get("perplexity")
    if isinstance(p, dict):
        for metric in ("perplexity", "loss", "accuracy"):
            if _number(p.get(metric)) is not None:
                scored = p.get("sequences") or p.get("tokens")
                label = f"MLM, held-out ({scored} {'sequences' if p.get('sequences') else 'masked tokens'})" \
                    if scored else "MLM, held-out"
                rows.append(EvalRow(task=label, metric=metric, value=float(p[metric]),
                                    dataset="held-out text", split="validation", task_type="fill-mask"))
    pp = entry.get("pseudo_perplexity")
    if isinstance(pp, dict) and _number(pp.get("pseudo_perplexity")) is not None:
        rows.append(EvalRow(task="pseudo-perplexity (Salazar et al. 2020)", metric="pseudo_perplexity",
                            value=float(pp["pseudo_perplexity"]), dataset="held-out text", split="validation",
                            task_type="fill-mask"))
    tasks = entry.get("tasks")
    for name, task in sorted(tasks.items() if isinstance(tasks, dict) else []):
        if not isinstance(task, dict) or not isinstance(task.get("splits"), dict):
            continue
        preset = str(task.get("preset") or "")
        dataset, config = (("glue", preset) if preset in GLUE else (preset or name, ""))
        for split, values in task["splits"].items():
            if not isinstance(values, dict):
                continue
            order = task.get("metrics_order")
            metrics = [m for m in order if m in values] if isinstance(order, list) and order else \
                [m for m, v in values.items() if isinstance(v, dict)]  # scores are {mean, std, values}
            for metric in metrics:
                value = values[metric]
                if isinstance(value, dict):
                    mean, std, seeds = _number(value.get("mean")), _number(value.get("std")), value.get("values")
                else:
                    mean, std, seeds = _number(value), None, None
                if mean is None:
                    continue
                rows.append(EvalRow(task=str(name), metric=str(metric), value=mean, dataset=dataset,
                                    dataset_config=config, split=str(split),
                                    task_type=TASK_TYPES.get(str(task.get("kind")), "text-classification"),
                                    std=std, seeds=len(seeds) if isinstance(seeds, list) and seeds else 1))
    return rows


def read_probes(path: Path) -> list[tuple[str, str]]:
    """(sentence, top predictions) of the evaluate stage's fill-mask probes of the final model."""
    probes = _results_entry(_read_json(path)).get("probes")
    out = []
    for item in (probes or {}).get("items", []) if isinstance(probes, dict) else []:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            continue
        per_mask = []
        for preds in item.get("predictions") or []:
            if isinstance(preds, list):
                per_mask.append(", ".join(f"{str(p.get('token', '?')).strip() or '?'} ({_number(p.get('score')) or 0:.0%})"
                                          for p in preds[:5] if isinstance(p, dict)))
        out.append((item["text"], " | ".join(per_mask) or "-"))
    return out


# --------------------------------------------------------------------------- formatting helpers
METRIC_TITLES = {"perplexity": "perplexity", "loss": "MLM loss", "accuracy": "accuracy", "f1": "F1",
                 "precision": "precision", "recall": "recall", "matthews_correlation": "MCC",
                 "pseudo_perplexity": "pseudo-perplexity"}


def eval_value(row: EvalRow) -> str:
    """A result as the card's table shows it (:func:`lmtui.evaluation.results.fmt_metric`: accuracy-like
    metrics as ``81.65%``), ``± std (N seeds)`` over two or more seeds; MLM loss with four decimals."""
    if row.task_type == "fill-mask" and row.metric == "loss":
        return f"{row.value:.4f}"
    spread = row.std is not None and row.seeds > 1
    text = fmt_metric(row.metric, row.value, row.std if spread else None)
    return f"{text} ({row.seeds} seeds)" if spread else text


def fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_value(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items()) or "-"
    if value == "":
        return "-"
    return str(value)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _basename(path: str) -> str:
    """A file's name without its folders (the card never shows the machine's absolute paths)."""
    return Path(str(path)).name or str(path)


# --------------------------------------------------------------------------- derived facts
def architecture(facts: RunFacts) -> str:
    return str(facts.config.get("model_type") or facts.section("model").get("architecture") or "")


def model_class(facts: RunFacts) -> str:
    archs = facts.config.get("architectures")
    return archs[0] if isinstance(archs, list) and archs else ""


def parameter_count(facts: RunFacts) -> int | None:
    return facts.events.params


def mask_token(facts: RunFacts) -> str:
    token = facts.tokenizer_config.get("mask_token")
    if isinstance(token, dict):
        token = token.get("content")
    if isinstance(token, str) and token:
        return token
    return "[MASK]" if architecture(facts) in ("bert", "distilbert", "modernbert") else "<mask>"


def shape_rows(facts: RunFacts) -> list[tuple[str, Any]]:
    """(name, value) rows of the model's shape from config.json (names differ by family)."""
    c = facts.config
    pick = lambda *names: next((c[n] for n in names if n in c), None)  # noqa: E731
    rows = [
        ("layers", pick("num_hidden_layers", "n_layers")),
        ("hidden size", pick("hidden_size", "dim")),
        ("attention heads", pick("num_attention_heads", "n_heads")),
        ("feed-forward size", pick("intermediate_size", "hidden_dim")),
        ("max positions", pick("max_position_embeddings")),
        ("vocabulary", pick("vocab_size")),
        ("activation", pick("hidden_act", "activation")),
    ]
    return [(k, v) for k, v in rows if v is not None]


def corpus_names(facts: RunFacts) -> list[str]:
    corpus = facts.section("corpus")
    if corpus.get("hf_dataset"):
        cfg = f" ({corpus['hf_dataset_config']})" if corpus.get("hf_dataset_config") else ""
        return [f"{corpus['hf_dataset']}{cfg}"]
    files = facts.dataset.get("corpus_files") or corpus.get("train_files") or []
    return [_basename(f) for f in files]


def metadata_datasets(facts: RunFacts, hub: Any) -> list[str]:
    datasets = list(getattr(hub, "datasets", None) or [])
    hf = facts.section("corpus").get("hf_dataset")
    if not datasets and hf:
        datasets = [hf]
    return datasets


def final_metrics(facts: RunFacts) -> dict:
    e = facts.final_eval
    return {k: e[k] for k in ("step", "loss", "perplexity", "accuracy", "tokens") if k in e}


def training_seconds(facts: RunFacts) -> float | None:
    """Seconds of optimizer steps over every session: :attr:`RunEvents.train_seconds`, as the TUI shows it."""
    return _number(facts.events.train_seconds)


def wall_seconds(facts: RunFacts) -> float | None:
    """Wall-clock seconds of every session of the run: :meth:`RunEvents.wall_seconds`, as `lmtui runs` shows it."""
    return _number(facts.events.wall_seconds())


# --------------------------------------------------------------------------- loss curve
def loss_curve_png(facts: RunFacts, title: str = "") -> bytes | None:
    """A PNG of the training loss (per logging interval) and the validation loss, or None when the
    run logged no loss. Rendered with matplotlib's Agg backend, without a timestamp, so the
    same run gives the same bytes."""
    if not facts.train_curve and not facts.eval_curve:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    if facts.train_curve:
        steps, losses = zip(*facts.train_curve)
        ax.plot(steps, losses, color="#1f77b4", linewidth=1.5, label="training loss")
    if facts.eval_curve:
        steps = [row[0] for row in facts.eval_curve]
        losses = [row[1] for row in facts.eval_curve]
        ax.plot(steps, losses, color="#d62728", marker="o", linewidth=1.5, label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("masked LM loss (nats)")
    ax.set_title(title or "Loss")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------- the card
def card_metadata(facts: RunFacts, hub: Any, repo_id: str, model_name: str) -> str:
    """The YAML front matter: library, pipeline, language, license, datasets, tags, model-index."""
    from huggingface_hub import EvalResult, ModelCardData

    metrics = final_metrics(facts)
    corpus = ", ".join(corpus_names(facts)) or "training corpus"
    dataset_type = facts.section("corpus").get("hf_dataset") or "text"
    results = []
    for metric, name in (("perplexity", "Perplexity"), ("accuracy", "Masked-token accuracy"),
                         ("loss", "Masked LM loss")):
        if _number(metrics.get(metric)) is not None:
            results.append(EvalResult(task_type="fill-mask", task_name="Masked language modeling",
                                      dataset_type=dataset_type, dataset_name=corpus, dataset_split="validation",
                                      metric_type=metric, metric_name=name, metric_value=round(metrics[metric], 4)))
    for row in facts.evaluation:
        if row.task_type == "fill-mask" and _number(metrics.get(row.metric)) is not None:
            continue  # the run's own final validation result is already in the model-index
        if row.task_type == "fill-mask":
            results.append(EvalResult(task_type="fill-mask", task_name=row.task, dataset_type=dataset_type,
                                      dataset_name=corpus, dataset_split=row.split or None, metric_type=row.metric,
                                      metric_name=METRIC_TITLES.get(row.metric, row.metric),
                                      metric_value=round(row.value, 4)))
            continue
        results.append(EvalResult(task_type=row.task_type or "text-classification", task_name=row.task,
                                  dataset_type=row.dataset or row.task, dataset_name=row.task,
                                  dataset_config=row.dataset_config or None, dataset_split=row.split or None,
                                  metric_type=row.metric, metric_name=METRIC_TITLES.get(row.metric, row.metric),
                                  metric_value=round(row.value, 4)))
    arch = architecture(facts)
    tags = ["lmtui", "fill-mask", "masked-language-modeling"] + ([arch] if arch else [])
    tags += [t for t in (getattr(hub, "tags", None) or []) if t not in tags]
    data = ModelCardData(
        language=list(getattr(hub, "language", None) or []) or None,
        license=getattr(hub, "license", "") or None,
        library_name="transformers",
        pipeline_tag="fill-mask",
        datasets=metadata_datasets(facts, hub) or None,
        tags=tags,
        model_name=model_name,
        eval_results=results or None,
        base_model=distill_base_model(facts),
    )
    return data.to_yaml()


def distill_base_model(facts: RunFacts) -> str | None:
    """A distillation's teacher as a Hub id for ``base_model`` (:func:`lmtui.distill.teacher.teacher_hub_id`), or None."""
    from lmtui.distill.teacher import teacher_hub_id

    teacher = facts.section("distill").get("teacher")
    return teacher_hub_id(teacher) if teacher else None


def distill_teacher_name(facts: RunFacts) -> str:
    """How the card names a distillation's teacher: its Hub id, else its run id (a run's ``model/``) or folder name."""
    folder = Path(str(facts.section("distill")["teacher"]))
    return distill_base_model(facts) or (folder.parent.name if folder.name == "model" else folder.name)


def card_distillation(facts: RunFacts) -> list[str]:
    """### Distillation: the teacher, the student's initialisation and the loss recipe (Sanh et al. 2019)."""
    d = facts.section("distill")
    if not d.get("teacher"):
        return []
    teacher = distill_teacher_name(facts)
    init = (f"the teacher's embeddings, head and layers {d.get('layers') or '(every k-th)'}"
            if d.get("init") == "teacher_layers" else "a random initialisation")
    rows = [(k, fmt_value(d.get(k))) for k in ("init", "layers", "temperature", "alpha_ce", "alpha_mlm", "alpha_cos")]
    return ["### Distillation", "", f"Distilled from `{teacher}` (DistilBERT recipe, Sanh et al. 2019), starting from "
            f"{init}. Loss: alpha_ce x T^2 x KL(teacher || student) on the masked positions + alpha_mlm x the MLM "
            "loss + alpha_cos x the cosine loss between the last hidden states.", ""] + table(("key", "value"), rows) + [""]


def render_card(facts: RunFacts, hub: Any, repo_id: str, *, files: list[tuple[str, int]] | None = None,
                has_curve: bool = True) -> str:
    """The whole README.md: YAML metadata, then the story of the run.

    Args:
        facts: what :func:`collect` read from the run directory.
        hub: the publish settings (a :class:`lmtui.project.sections.hub.HubSection`).
        repo_id: the repository the card is written for (used in the usage snippet).
        files: (path in repo, size) of the other uploaded files, listed at the end.
        has_curve: whether ``loss_curve.png`` is uploaded beside the card.
    """
    model_name = getattr(hub, "model_name", "") or repo_id.split("/")[-1]
    out: list[str] = ["---", card_metadata(facts, hub, repo_id, model_name).rstrip(), "---", ""]
    out += card_intro(facts, model_name)
    out += card_results(facts, has_curve)
    out += card_usage(facts, repo_id)
    out += card_model(facts)
    out += card_tokenizer(facts)
    out += card_data(facts)
    out += card_procedure(facts)
    out += card_hardware(facts)
    out += card_closing(facts, files)
    return "\n".join(out)


def _arch_name(facts: RunFacts) -> str:
    arch = architecture(facts)
    return ARCH_NAMES.get(arch, arch or "transformer")


def card_intro(facts: RunFacts, model_name: str) -> list[str]:
    """The title, the project's description and one sentence on what the model is."""
    p, model = facts.section("project"), facts.section("model")
    params = parameter_count(facts)
    out = [f"# {model_name}", ""]
    if p.get("description"):
        out += [str(p["description"]), ""]
    origin = (f"continued pretraining of `{_basename(model['init_from'])}`" if model.get("init_from")
              else "trained from scratch")
    if facts.section("distill").get("teacher"):
        origin = f"distilled from `{distill_teacher_name(facts)}`"
    size = f" ({fmt_count(params)} parameters)" if params else ""
    corpus_text = ", ".join(f"`{n}`" for n in corpus_names(facts)) or "a private corpus"
    out += [f"A {_arch_name(facts)}-style masked language model{size}, {origin} with masked language modeling on "
            f"{corpus_text} using lmtui (run `{facts.run_id}`).", ""]
    return out


def card_results(facts: RunFacts, has_curve: bool) -> list[str]:
    """## Results: the final validation numbers, the loss curve, `lmtui eval` scores and fill-mask probes."""
    metrics = final_metrics(facts)
    out = ["## Results", ""]
    if metrics:
        rows = [("validation masked LM loss", f"{metrics['loss']:.4f}")] if "loss" in metrics else []
        if "perplexity" in metrics:
            rows.append(("validation perplexity", f"{metrics['perplexity']:.2f}"))
        if "accuracy" in metrics:
            rows.append(("masked-token accuracy", fmt_percent(metrics["accuracy"])))
        if "step" in metrics:
            rows.append(("at step", str(metrics["step"])))
        if "tokens" in metrics:
            rows.append(("masked tokens scored", f"{metrics['tokens']:,}"))
        out += table(("metric", "value"), rows) + [""]
        out += ["Perplexity is exp(mean cross-entropy of the masked tokens) on held-out text; it depends on the "
                "tokenizer and the masking rate, so compare it only between models that share them.", ""]
    else:
        out += ["The run recorded no validation result.", ""]
    if has_curve:
        out += [f"![Training and validation loss]({CURVE_FILE})", ""]
    shown = [r for r in facts.evaluation if not (r.task_type == "fill-mask" and _number(metrics.get(r.metric))
                                                  is not None and abs(metrics[r.metric] - r.value) < 1e-6)]
    if shown:
        out += ["### Evaluation", "", "Scores of the final model from `lmtui eval` (fine-tuning tasks: mean ± "
                "standard deviation over seeds; accuracy-like metrics in %).", ""]
        out += table(("task", "dataset", "split", "metric", "value"),
                     [(r.task, (r.dataset + (f"/{r.dataset_config}" if r.dataset_config else "")) or "-",
                       r.split or "-", METRIC_TITLES.get(r.metric, r.metric), eval_value(r))
                      for r in shown])
        out += [""]
    if facts.probes:
        out += ["### Fill-mask examples", ""]
        out += table(("sentence", "top predictions"), [(f"`{text}`", preds) for text, preds in facts.probes])
        out += [""]
    return out


def card_usage(facts: RunFacts, repo_id: str) -> list[str]:
    """## Usage: a fill-mask pipeline (on a probe sentence when there is one) and loading for fine-tuning."""
    mask = mask_token(facts)
    example = next((text for text, _ in facts.probes if mask in text),
                   f"The quick brown fox jumps over the {mask} dog.")
    return ["## Usage", "", "```python", "from transformers import pipeline", "",
            f'fill_mask = pipeline("fill-mask", model="{repo_id}")',
            f"print(fill_mask({json.dumps(example, ensure_ascii=False)}))", "```", "",
            "Or load it for fine-tuning:", "", "```python",
            "from transformers import AutoModelForMaskedLM, AutoTokenizer", "",
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")',
            f'model = AutoModelForMaskedLM.from_pretrained("{repo_id}")', "```", ""]


def card_model(facts: RunFacts) -> list[str]:
    """## Model: family, class, size preset, shape, parameter counts, config overrides."""
    model, ts = facts.section("model"), facts.train_start
    arch, params = architecture(facts), parameter_count(facts)
    rows = [("family", f"{_arch_name(facts)} (`{arch}`)" if arch else "-")]
    if model_class(facts):
        rows.append(("class", f"`{model_class(facts)}`"))
    if model.get("size"):
        rows.append(("size preset", str(model["size"])))
    rows += [(k, fmt_value(v)) for k, v in shape_rows(facts)]
    if params:
        rows.append(("parameters", f"{params:,}"))
    if isinstance(ts.get("non_embedding_params"), int):
        rows.append(("non-embedding parameters", f"{ts['non_embedding_params']:,}"))
    if model.get("config_overrides"):
        rows.append(("config overrides", fmt_value(model["config_overrides"])))
    return ["## Model", ""] + table(("", ""), rows) + [""]


def card_tokenizer(facts: RunFacts) -> list[str]:
    """## Tokenizer: kind, vocabulary, training settings (or the source of an existing one), mask token."""
    tok = facts.section("tokenizer")
    kind = facts.tokenizer.get("kind") or ("pretrained" if tok.get("path") else tok.get("kind", ""))
    vocab = facts.tokenizer.get("vocab_size") or facts.config.get("vocab_size")
    rows = [("kind", TOKENIZER_NAMES.get(kind, kind or "-")), ("vocabulary size", fmt_value(vocab))]
    if kind != "pretrained" and tok:
        rows += [("target vocabulary size", fmt_value(tok.get("vocab_size"))),
                 ("min frequency", fmt_value(tok.get("min_frequency"))),
                 ("lowercase", fmt_value(tok.get("lowercase")))]
    elif tok.get("path"):
        rows.append(("source", f"`{_basename(tok['path'])}`"))
    rows.append(("mask token", f"`{mask_token(facts)}`"))
    return ["## Tokenizer", ""] + table(("", ""), rows) + [""]


def card_data(facts: RunFacts) -> list[str]:
    """## Training data: the corpus, the validation split and the token counts of the dataset stage."""
    corpus, tr, ds = facts.section("corpus"), facts.section("training"), facts.dataset
    rows = []
    if corpus.get("hf_dataset"):
        rows.append(("dataset", f"`{corpus['hf_dataset']}`" + (f" ({corpus['hf_dataset_config']})"
                                                              if corpus.get("hf_dataset_config") else "")
                     + f", split `{corpus.get('hf_split', 'train')}`"))
    else:
        names = corpus_names(facts)
        rows.append(("training files", ", ".join(f"`{n}`" for n in names) or "-"))
    if corpus.get("validation_files"):
        rows.append(("validation files", ", ".join(f"`{_basename(f)}`" for f in corpus["validation_files"])))
    elif corpus:
        rows.append(("validation", f"{corpus.get('validation_split', 0):.0%} of the training documents, "
                                   f"chosen at random (seed {corpus.get('split_seed', '-')})"))
    if ds.get("corpus_bytes") is not None:
        rows.append(("corpus size", f"{ds['corpus_bytes']:,} bytes ({fmt_bytes_words(ds['corpus_bytes'])})"))
    for key, label in (("documents", "documents"), ("train_tokens", "training tokens"),
                       ("validation_tokens", "validation tokens")):
        if ds.get(key) is not None:
            rows.append((label, f"{ds[key]:,}"))
    if ds.get("train_sequences") is not None:
        rows.append(("training sequences", f"{ds['train_sequences']:,} of {tr.get('max_seq_length', '-')} tokens"))
    for source in ds.get("sources") or [] if len(ds.get("sources") or []) > 1 else []:
        share = f", {source['share']:.0%} of the training stream" if source.get("share") is not None else ""
        rows.append((f"source `{source['name']}`", f"{source['train_tokens']:,} training tokens{share}"))
    if ds.get("duplicates_dropped"):
        rows.append(("duplicates dropped", f"{ds['duplicates_dropped']:,} documents"))
    if corpus.get("max_documents"):
        rows.append(("document limit", f"{corpus['max_documents']:,}"))
    return ["## Training data", ""] + table(("", ""), rows) + [""]


def passes(facts: RunFacts) -> float | None:
    """The passes over the training tokens the run made: the real tokens it trained on (the last
    ``train`` event's count) over the training tokens of its dataset stage; None when either is unknown."""
    seen, total = _number(facts.events.tokens), _number(facts.dataset.get("train_tokens"))
    return seen / total if seen is not None and total else None


def card_procedure(facts: RunFacts) -> list[str]:
    """## Training procedure: every training key (and the values the trainer resolved), the masking."""
    tr, ts = facts.section("training"), facts.train_start
    out = ["## Training procedure", "", "### Hyperparameters", ""]
    hyper = [(k, fmt_value(v)) for k, v in tr.items() if k != "epochs" or not tr.get("max_steps")]
    made = passes(facts)
    if made is not None:  # the [training] epochs key is only read when max_steps is 0: say what was done
        hyper.append(("epochs (passes over the training tokens made)", f"{made:,.2f}"))
    for k in ("max_steps", "warmup_steps", "gradient_accumulation_steps", "tokens_per_step"):
        if k in ts and ts[k] != tr.get(k):
            hyper.append((f"{k} (resolved)", fmt_value(ts[k])))
    out += table(("key", "value"), hyper) if hyper else ["-"]
    out += ["", "Optimizer: AdamW; the masking follows Devlin et al. (2019): of the selected tokens, "
            f"{fmt_value(tr.get('mask_replace_prob', 0.8))} become the mask token, "
            f"{fmt_value(tr.get('random_replace_prob', 0.1))} a random token, the rest stay unchanged.", ""]
    return out + card_distillation(facts)


def card_hardware(facts: RunFacts) -> list[str]:
    """### Hardware and time: device, precision, machines, training time, tokens and throughput."""
    hw, ts, last = facts.section("hardware"), facts.train_start, facts.last_train
    rows = []
    if ts.get("device"):
        rows.append(("device", f"{ts['device']} x {ts.get('num_processes', 1)} process(es)"))
    elif hw:
        rows.append(("device", fmt_value(hw.get("device"))))
    if ts.get("mixed_precision"):
        rows.append(("precision", "fp32" if ts["mixed_precision"] == "no" else ts["mixed_precision"]))
    if hw.get("num_machines", 1) and hw.get("num_machines", 1) > 1:
        rows.append(("machines", fmt_value(hw["num_machines"])))
    if training_seconds(facts) is not None:
        rows.append(("training time", fmt_duration_words(training_seconds(facts)) + " (optimizer steps, without evaluation)"))
    if wall_seconds(facts) is not None:
        n = facts.events.session_count
        rows.append(("wall clock", fmt_duration_words(wall_seconds(facts))
                     + f" (the whole run{f', {n} sessions' if n > 1 else ''})"))
    if _number(facts.events.tokens) is not None:
        rows.append(("tokens seen", f"{int(facts.events.tokens):,}"))
    if _number(last.get("tokens_per_s")) is not None:
        rows.append(("throughput (last interval)", f"{last['tokens_per_s']:,.0f} tokens/s"))
    if _number(last.get("mfu")) is not None:
        rows.append(("model FLOPs utilization", f"{last['mfu']:.0%}"))
    return ["### Hardware and time", ""] + (table(("", ""), rows) if rows else ["-"]) + [""]


def card_closing(facts: RunFacts, files: list[tuple[str, int]] | None) -> list[str]:
    """## Framework versions, ## Files (the other uploaded files) and ## Limitations."""
    out = ["## Framework versions", "", f"- lmtui {__version__}"]
    if facts.config.get("transformers_version"):
        out.append(f"- transformers {facts.config['transformers_version']}")
    out += [""]
    if files:
        out += ["## Files", ""]
        out += table(("file", "size"), [(f"`{name}`", fmt_bytes_words(size)) for name, size in files]) + [""]
    out += ["## Limitations", "",
            "A masked language model reproduces the statistics of its training text, including its biases and "
            "errors. It is a starting point for fine-tuning, not a finished application; small models trained "
            "briefly predict poorly. Check the corpus's license before redistributing the weights.", ""]
    return out
