"""The tokenizer stage: train a tokenizer with `tokenizers` (or load one), save it HF-loadable.

Three kinds, each with the normalizer, pre-tokenizer, post-processor and decoder of the model
family it imitates:

- ``byte_level_bpe``: RoBERTa/GPT-2 byte-level BPE; ``<s> X </s>`` and ``<s> A </s></s> B </s>``
  (RobertaProcessing); ``<mask>`` absorbs the space before it (``lstrip``), as in roberta-base.
- ``wordpiece``: BERT's WordPiece with the BERT normalizer and pre-tokenizer;
  ``[CLS] A [SEP] B [SEP]`` with token type ids.
- ``unigram``: SentencePiece-style Unigram LM over Metaspace pre-tokens, with ``<s>``/``</s>``.

Trained tokenizers are wrapped in ``PreTrainedTokenizerFast`` and saved with
``save_pretrained`` (tokenizer.json + config), so ``AutoTokenizer.from_pretrained(dir)``
reproduces them exactly, lowercasing included (PITFALLS.md: saving through the
Roberta/Bert tokenizer classes is lossy in transformers 5).

Training streams the corpus (:class:`lmtui.data.stream.CorpusStream`, training documents only)
into ``train_from_iterator``: nothing but the trainer's word counts stays in memory.
``[tokenizer] max_training_documents`` and ``max_training_bytes`` sample the documents evenly
across the corpus (:func:`training_documents`), never just the first N.

Trained tokenizers are cached in ``<cache_dir>/tokenizers/<fingerprint>/``; the fingerprint
covers the corpus contents and the [corpus] and [tokenizer] settings.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Iterator

from lmtui.data.corpus import CorpusStats
from lmtui.data.fingerprint import digest_bytes
from lmtui.data.progress import ProgressMeter
from lmtui.data.shards import clean_stale, mark_owner
from lmtui.data.sources import corpus_fingerprint
from lmtui.data.stream import CorpusStream
from lmtui.errors import ProjectError
from lmtui.fsutil import atomic_folder
from lmtui.project.load import project_text
from lmtui.project.paths import cache_dir, resolve_path
from lmtui.project.presets import SPECIAL_TOKENS
from lmtui.runs.modelref import resolve_project_model


def _build(kind: str, lowercase: bool, vocab_size: int, min_frequency: int):
    """An untrained `tokenizers.Tokenizer` and its trainer for ``kind``."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    specials = [AddedToken(s, lstrip=s == "<mask>", rstrip=False, normalized=False, special=True)
                for s in SPECIAL_TOKENS[kind]]
    if kind == "byte_level_bpe":
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.Lowercase() if lowercase else None
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    elif kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=specials, show_progress=False)
    else:
        tok = Tokenizer(models.Unigram())
        norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
        tok.normalizer = normalizers.Sequence(norm)
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>",
                                          show_progress=False)
    return tok, trainer


def _post_processor(kind: str, tok):
    from tokenizers import processors

    if kind == "byte_level_bpe":
        return processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                            trim_offsets=True, add_prefix_space=False)
    if kind == "wordpiece":
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        return processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                             special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    return processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                         special_tokens=[("<s>", bos), ("</s>", eos)])


def wrap_fast(tok, kind: str, model_max_length: int):
    """Wrap a trained `tokenizers.Tokenizer` as a ``PreTrainedTokenizerFast`` with its special tokens."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    if kind == "wordpiece":
        names = dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                     mask_token="[MASK]")
    else:
        names = dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>", unk_token="<unk>",
                     pad_token="<pad>", mask_token=AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=model_max_length, **names)


def train_tokenizer(documents: Iterable[str], kind: str, *, vocab_size: int, min_frequency: int = 2,
                    lowercase: bool = False, model_max_length: int = 512):
    """Train a tokenizer of ``kind`` on ``documents`` (a list or any iterator, consumed once) and
    return it as a ``PreTrainedTokenizerFast``.

    Training uses all cores (the `tokenizers` trainers are multi-threaded).
    """
    tok, trainer = _build(kind, lowercase, vocab_size, min_frequency)
    tok.train_from_iterator(documents, trainer=trainer, length=len(documents) if isinstance(documents, list) else None)
    tok = canonical_ids(tok, kind)
    tok.post_processor = _post_processor(kind, tok)
    return wrap_fast(tok, kind, model_max_length)


def canonical_ids(tok, kind: str):
    """The same tokenizer with its piece ids in a canonical order, so training is reproducible.

    The `tokenizers` WordPiece and Unigram trainers keep pieces in hash maps, so pieces of equal
    count or score get different ids from one training to the next (byte-level BPE is stable):
    the same corpus would give differently initialised models. Special tokens keep their ids;
    WordPiece pieces (whose ids carry no meaning for encoding) follow sorted by text, Unigram
    pieces by decreasing score, then text. (The WordPiece trainer can still break a tie at the
    vocabulary cut-off differently, changing a piece or two; a run reuses its cached tokenizer.)
    Returns ``tok`` itself for byte-level BPE.
    """
    if kind not in ("wordpiece", "unigram"):
        return tok
    from tokenizers import Tokenizer

    spec = json.loads(tok.to_str())
    model = spec["model"]
    specials = {t["content"] for t in spec["added_tokens"] if t.get("special")}
    if kind == "wordpiece":
        ranked = sorted(model["vocab"].items(), key=lambda kv: kv[1])
        head = [t for t, _ in ranked if t in specials]
        rest = sorted(t for t, _ in ranked if t not in specials)
        model["vocab"] = {t: i for i, t in enumerate(head + rest)}
    else:
        pieces = model["vocab"]
        model["vocab"] = [p for p in pieces if p[0] in specials] + sorted(
            (p for p in pieces if p[0] not in specials), key=lambda p: (-p[1], p[0]))
        head = [p[0] for p in pieces if p[0] in specials]
        model["unk_id"] = next(i for i, p in enumerate(model["vocab"]) if p[0] == "<unk>")
    first = {t: i for i, t in enumerate(head)}
    for t in spec["added_tokens"]:  # both trainers put the specials first: their ids do not change
        t["id"] = first.get(t["content"], t["id"])
    return Tokenizer.from_str(json.dumps(spec))


def tokenizer_fingerprint(project) -> str:
    """Fingerprint of a trained tokenizer's inputs: corpus contents and the [tokenizer] settings."""
    t = asdict(project.tokenizer)
    t.pop("path")
    return digest_bytes("tokenizer-v1", corpus_fingerprint(project, cache_dir(project)), t,
                        project.training.max_seq_length)


def training_documents(project, stats: CorpusStats, meter: ProgressMeter | None = None) -> Iterator[str]:
    """The tokenizer's training documents, streamed and sampled evenly across the corpus.

    With ``max_training_documents`` N and/or ``max_training_bytes`` B, a document is kept while
    the sample holds less than N (B) times the fraction of the corpus read so far (bytes on disk
    of the training files, followed line by line): systematic sampling in one pass, spread over
    the whole corpus. A Hub dataset without local files has no known size: its first N
    documents (B bytes) are taken.
    """
    t = project.tokenizer
    stream = CorpusStream(project, stats, training_only=True)
    total = stream.total_bytes
    if meter is not None:
        meter.total = total
    docs = taken = 0
    for n, doc in enumerate(stream.documents()):
        if meter is not None and n % 1024 == 0:
            meter.update(stats.disk_bytes, documents=docs)
        fraction = min(1.0, stats.disk_bytes / total) if total else 1.0
        if t.max_training_documents and docs >= t.max_training_documents * fraction:
            continue
        size = len(doc.text.encode("utf-8")) if t.max_training_bytes else 0
        if t.max_training_bytes and taken + size > t.max_training_bytes * fraction:
            continue
        docs += 1
        taken += size
        yield doc.text
    if meter is not None:
        meter.update(stats.disk_bytes, documents=docs)
        meter.done()


def first_documents(project, n: int = 5) -> list[str]:
    """The first ``n`` training documents (for the preview), read without reading the rest."""
    out = []
    for doc in CorpusStream(project, training_only=True).documents():
        out.append(doc.text)
        if len(out) == n:
            break
    return out


def preview(tokenizer, documents: list[str], n: int = 5) -> list[list[str]]:
    """The pieces of the first ``n`` documents (the seed workflow's ``--test`` preview)."""
    return [tokenizer.convert_ids_to_tokens(tokenizer(doc[:300])["input_ids"]) for doc in documents[:n]]


def cached_tokenizer_ok(folder: Path, log=print) -> bool:
    """Whether the cached tokenizer ``folder`` holds a tokenizer.json (an object with a ``model``)
    and a tokenizer_config.json (an object) that parse: a cut-short or half-written one is
    reported through ``log`` (naming the file) and retrained, never loaded (:mod:`lmtui.state`)."""
    from lmtui.state import object_check, read_json_cache

    if not folder.is_dir():
        return False
    checks = {"tokenizer.json": object_check({"model": dict}), "tokenizer_config.json": object_check()}
    for name, check in checks.items():
        value = read_json_cache(folder / name, check, what=f"the cached tokenizer's {name}",
                                rebuild="training the tokenizer again", on_invalid=lambda m: log(f"warning: {m}"))
        if value is None:
            if not (folder / name).exists():
                log(f"warning: the cached tokenizer {folder} has no {name}: training the tokenizer again")
            return False
    return True


def prepare_tokenizer(project, log=print, progress: Callable[[dict], None] | None = None) -> tuple[Path, bool]:
    """Make sure the project's tokenizer exists in the cache (or at its path).

    ``progress`` receives the ``dataset_progress`` reports of training (phase ``tokenizer``).

    Returns:
        (folder with tokenizer.json loadable by AutoTokenizer, cached): ``cached`` is True when
        nothing was trained.

    Raises:
        ProjectError: ``[tokenizer] path`` (or else the model ``init_from`` names,
            :func:`lmtui.runs.modelref.resolve_project_model`) does not hold a loadable tokenizer.
        CorpusError: the corpus cannot be read, or the disk is full (naming the folder and the space free).
    """
    t = project.tokenizer
    if project.distill.teacher and not t.path:  # a distillation reads the teacher's token ids (lmtui.distill.checks)
        return resolve_project_model(project, project.distill.teacher, "distill.teacher").folder, True
    if project.distill.teacher:  # [tokenizer] path, checked to hold the teacher's vocabulary
        return Path(resolve_path(project, t.path)), True
    if t.path or project.model.init_from:
        folder = (Path(resolve_path(project, t.path)) if t.path
                  else resolve_project_model(project, project.model.init_from, "model.init_from",
                                             project_text(project)).folder)
        if not (folder / "tokenizer.json").is_file():
            key = "tokenizer.path" if t.path else "model.init_from"
            raise ProjectError(f"no tokenizer.json in {folder}", file=project.path, key=key,
                               hint="point it at a folder saved with save_pretrained (tokenizer.json inside)")
        return folder, True
    fp = tokenizer_fingerprint(project)
    folder = Path(cache_dir(project)) / "tokenizers" / fp
    if cached_tokenizer_ok(folder, log):
        return folder, True
    clean_stale(folder.parent)
    limits = [f"{t.max_training_documents:,} documents" if t.max_training_documents else "",
              f"{t.max_training_bytes:,} bytes" if t.max_training_bytes else ""]
    sample = " or ".join(x for x in limits if x)
    log(f"training a {t.kind} tokenizer (vocab_size {t.vocab_size}) on "
        + (f"at most {sample} sampled evenly from the corpus" if sample else "every training document"))
    stats = CorpusStats()
    meter = ProgressMeter("tokenizer", None, progress)
    docs = training_documents(project, stats, meter)
    head: list[str] = []

    def keep_head(documents):
        for doc in documents:
            if len(head) < 5:
                head.append(doc)
            yield doc

    fast = train_tokenizer(keep_head(docs), t.kind, vocab_size=t.vocab_size, min_frequency=t.min_frequency,
                           lowercase=t.lowercase, model_max_length=project.training.max_seq_length)
    log(f"tokenizer trained on {meter.documents:,} documents ({stats.bytes:,} bytes read)")
    try:
        with atomic_folder(folder) as tmp:
            mark_owner(tmp)
            fast.save_pretrained(tmp)
            (tmp / "preview.json").write_text(json.dumps(preview(fast, head)))
            (tmp / "owner.json").unlink()
    except OSError as exc:
        from lmtui.data.token_cache import DISK_FULL, disk_full_error

        if exc.errno not in DISK_FULL:
            raise
        raise disk_full_error(folder, None, "saving the trained tokenizer to", shards=False) from None
    return folder, False
