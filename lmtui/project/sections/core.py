"""The sections of the pretraining pipeline: [project], [corpus], [tokenizer], [model], [training], [hardware].

The keys follow the names of the Hugging Face ``run_mlm.py`` example and
``TrainingArguments`` where one exists (mlm_probability, max_seq_length, line_by_line,
warmup_ratio, lr_scheduler, max_grad_norm, save_total_limit, config_overrides).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmtui.project.sections import key


@dataclass
class ProjectSection:
    name: str = key("", "Project name; runs are named after it. Default: the file's stem.")
    description: str = key("", "Free text shown in the TUI and the model card.")
    output_dir: str = key("runs", "Folder for run directories, relative to the project file.")
    cache_dir: str = key("", "Folder for tokenizer and token caches, shared by runs. Default: <output_dir>/cache.")


@dataclass
class CorpusSection:
    train_files: list = key(None, "Training text: paths, globs or folders (any extension, .gz too; "
                            ".jsonl/.csv/.tsv/.parquet read text_column). {stdlib} and {purelib} expand to "
                            "this Python's library folders.", factory=list)
    validation_files: list = key(None, "Held-out text, same forms as train_files. Empty: a seeded random "
                                 "validation_split of the training documents.", factory=list)
    validation_split: float = key(0.05, "Fraction of training documents held out when validation_files is "
                                  "empty (chosen at random with split_seed, never the first N%).",
                                  minimum=0.0, maximum=0.5)
    split_seed: int = key(42, "Seed of the random validation split.")
    format: str = key("auto", "How files are read: auto (by extension), text, jsonl, csv, tsv, parquet, "
                      "python (the string literals of a .py file, parsed, never run), or conllu (the "
                      "'# text = ' sentences of a CoNLL-U file, .conllu).",
                      choices=("auto", "text", "jsonl", "csv", "tsv", "parquet", "python", "conllu"))
    text_column: str = key("text", "Column holding the text in JSON Lines / CSV / Parquet files and Hub datasets.")
    document_delimiter: str = key("line", "Text files: one document per line (line) or documents separated "
                                  "by blank lines (blank_line).", choices=("line", "blank_line"))
    hf_dataset: str = key("", "A Hugging Face dataset name used instead of train_files (needs the internet "
                          "or a local datasets cache).")
    hf_dataset_config: str = key("", "Configuration name of hf_dataset (for example wikitext-2-raw-v1).")
    hf_split: str = key("train", "Split of hf_dataset used for training.")
    hf_data_files: list = key(None, "Local files given to load_dataset(hf_dataset, data_files=...), e.g. with "
                              "hf_dataset = \"json\", \"text\" or \"parquet\"; read streaming, like a Hub dataset.",
                              factory=list)
    max_documents: int = key(0, "Use at most this many training documents (0: all). For quick trials: reading "
                             "stops there, so validation documents come from the part read.", minimum=0)
    deduplicate: bool = key(False, "Drop exact duplicate documents (a 64-bit hash of each document's text; "
                            "the first copy is kept, the number dropped is reported).")
    sources: dict = key(None, "A mixture of corpora: one [corpus.sources.NAME] table per source, with files (or "
                        "hf_dataset, hf_data_files), optionally validation_files, format, text_column, "
                        "document_delimiter, and weight (its share of the training tokens) or epochs (passes "
                        "over it per pass over the stream). Replaces train_files.", factory=dict)
    csv_delimiter: str = key("", "CSV/TSV files: the field separator, one character (e.g. \";\" or \"|\"). "
                             "Default: a comma for .csv, a tab for .tsv.")
    csv_quotechar: str = key('"', "CSV/TSV files: the character quoting fields that hold the separator "
                             "(e.g. \"'\").")
    csv_header: bool = key(True, "CSV/TSV files: the first row names the columns and text_column picks one. "
                           "false: every row is data and csv_column picks the text.")
    csv_column: int = key(0, "CSV/TSV files with csv_header = false: the 0-based number of the text column.",
                          minimum=0)


@dataclass
class TokenizerSection:
    kind: str = key("byte_level_bpe", "Tokenizer to train: byte_level_bpe (RoBERTa-style), wordpiece "
                    "(BERT-style) or unigram (SentencePiece-style).",
                    choices=("byte_level_bpe", "wordpiece", "unigram"))
    path: str = key("", "Use this existing tokenizer (a folder with tokenizer.json, or a model folder) "
                    "instead of training one.")
    vocab_size: int = key(32000, "Target vocabulary size, special tokens included.", minimum=1)
    min_frequency: int = key(2, "Minimum count for a merge or piece to enter the vocabulary.", minimum=1)
    lowercase: bool = key(False, "Lowercase the text before tokenizing (kept when the tokenizer is reloaded).")
    max_training_documents: int = key(0, "Train the tokenizer on at most this many documents (0: all), "
                                      "sampled evenly across the corpus, not the first N.", minimum=0)
    max_training_bytes: int = key(0, "Train the tokenizer on at most this many bytes of text (0: all), "
                                  "sampled evenly across the corpus.", minimum=0)


ARCHITECTURES = ("bert", "roberta", "distilbert", "modernbert")


@dataclass
class ModelSection:
    architecture: str = key("roberta", "Model family: bert, roberta, distilbert or modernbert.",
                            choices=ARCHITECTURES)
    size: str = key("small", "Size preset from Google's BERT miniatures (Turc et al. 2019): tiny (L2/H128), "
                    "mini (L4/H256), small (L4/H512), medium (L8/H512), base (L12/H768), large (L24/H1024).",
                    choices=("tiny", "mini", "small", "medium", "base", "large"))
    config_overrides: dict = key(None, "Any config field of the architecture, as a table "
                                 "(like run_mlm.py's --config_overrides), applied after the preset.",
                                 factory=dict)
    init_from: str = key("", "Continue pretraining from this model instead of a random init: a model folder, a run "
                         "(id, unique prefix or directory), a project name (its latest finished run) or a Hub "
                         "model id in the local Hugging Face cache. Its config and tokenizer win (unless "
                         "[tokenizer] path is set): size, config_overrides and tokenizer training keys are refused.")
    attn_implementation: str = key("sdpa", "Attention kernel: sdpa (PyTorch scaled_dot_product_attention) or "
                                   "eager.", choices=("sdpa", "eager"))


@dataclass
class TrainingSection:
    max_seq_length: int = key(128, "Tokens per sequence, special tokens included.", minimum=8)
    line_by_line: bool = key(False, "false: pack documents into full max_seq_length blocks (no padding). "
                             "true: one sequence per document, truncated, padded to the batch's longest.")
    packing: str = key("concat", "Packed blocks (line_by_line = false): concat lets documents in a block attend to "
                       "each other (run_mlm.py's group_texts); document keeps attention inside each document "
                       "and restarts positions at each (block-diagonal mask; FlexAttention on CUDA).",
                       choices=("concat", "document"))
    recipe: str = key("none", "Preset of published pretraining hyperparameters: bert (Devlin et al. 2019), roberta "
                      "(Liu et al. 2019), cramming (Geiping & Goldstein 2023), modernbert (Warner et al. 2024) or "
                      "none. Keys written in [training] override it; `lmtui check` prints the resolved recipe.",
                      choices=("none", "bert", "roberta", "cramming", "modernbert"))
    mlm_probability: float = key(0.15, "Fraction of tokens selected for masked language modeling "
                                 "(Devlin et al. 2019).", minimum=0.01, maximum=0.9)
    mask_replace_prob: float = key(0.8, "Of the selected tokens, the fraction replaced by the mask token.",
                                   minimum=0.0, maximum=1.0)
    random_replace_prob: float = key(0.1, "Of the selected tokens, the fraction replaced by a random token "
                                     "(the rest stay unchanged).", minimum=0.0, maximum=1.0)
    batch_size: int = key(64, "Global batch size in sequences per optimizer step (all processes, after "
                          "gradient accumulation).", minimum=1)
    micro_batch_size: int = key(16, "Sequences per forward pass on one device; gradient accumulation = "
                                "batch_size / (micro_batch_size x processes).", minimum=1)
    max_steps: int = key(0, "Optimizer steps to train. 0: derive from epochs.", minimum=0)
    epochs: float = key(1.0, "Passes over the training data, used when max_steps is 0.", minimum=0.0)
    learning_rate: float = key(5e-4, "Peak learning rate of AdamW.", minimum=0.0)
    weight_decay: float = key(0.01, "AdamW decoupled weight decay (not applied to biases and LayerNorm).",
                              minimum=0.0)
    adam_beta1: float = key(0.9, "AdamW beta1.", minimum=0.0, maximum=1.0)
    adam_beta2: float = key(0.98, "AdamW beta2 (0.98 as in RoBERTa, Liu et al. 2019).", minimum=0.0, maximum=1.0)
    adam_epsilon: float = key(1e-6, "AdamW epsilon.", minimum=0.0)
    warmup_steps: int = key(0, "Linear warmup steps; when 0, warmup_ratio x max_steps.", minimum=0)
    warmup_ratio: float = key(0.06, "Warmup as a fraction of the total steps (used when warmup_steps is 0).",
                              minimum=0.0, maximum=1.0)
    lr_scheduler: str = key("linear", "Learning-rate decay after warmup: linear, cosine, constant, or wsd "
                            "(warmup-stable-decay: constant, then a 1-sqrt decay to 0 over the last decay_ratio "
                            "of the steps; Hägele et al. 2024, Hu et al. 2024).",
                            choices=("linear", "cosine", "constant", "wsd"))
    decay_ratio: float = key(0.2, "wsd only: the final fraction of the steps over which the learning rate decays "
                             "to 0 (Hägele et al. 2024: 20% matches a cosine schedule).", minimum=0.0, maximum=1.0)
    max_grad_norm: float = key(1.0, "Gradient clipping norm (0: no clipping).", minimum=0.0)
    seed: int = key(42, "Seed of the model init, data order and masking.")
    logging_steps: int = key(10, "Report the training loss every N optimizer steps.", minimum=1)
    eval_steps: int = key(200, "Evaluate held-out MLM loss and perplexity every N steps (and at the end).",
                          minimum=1)
    max_eval_samples: int = key(512, "Sequences of the validation set used per evaluation (0: all).", minimum=0)
    save_steps: int = key(500, "Write a checkpoint every N steps (and on stop and at the end).", minimum=1)
    save_total_limit: int = key(2, "Checkpoints kept; older ones are deleted.", minimum=1)
    compile: bool = key(False, "Compile the model with torch.compile.")


@dataclass
class HardwareSection:
    device: str = key("auto", "auto (CUDA when available), cpu, cuda, or tpu (through accelerate and torch_xla).",
                      choices=("auto", "cpu", "cuda", "tpu"))
    num_processes: int = key(1, "Processes (GPUs) per machine; more than 1 runs data parallel through "
                             "accelerate (gloo on CPU).", minimum=1)
    num_machines: int = key(1, "Machines in a multi-node run.", minimum=1)
    machine_rank: int = key(0, "This machine's rank in a multi-node run.", minimum=0)
    main_process_ip: str = key("", "Address of the rank-0 machine in a multi-node run.")
    main_process_port: int = key(29500, "Port of the rank-0 machine in a multi-node run.", minimum=1)
    mixed_precision: str = key("auto", "no, fp16, bf16, or auto (bf16 on a GPU that supports it, else no).",
                               choices=("auto", "no", "fp16", "bf16"))
    dataloader_num_workers: int = key(1, "Data-loading worker processes per training process.", minimum=0)
    accelerate_config: str = key("", "An accelerate config file (from `accelerate config`) for DeepSpeed, "
                                 "FSDP or other setups; passed to accelerate launch.")
    gpus: int = key(0, "GPUs the run reserves on this machine (0: one per process, num_processes); it waits "
                    "in the queue (`lmtui queue`) until they are free.", minimum=0)
    gpu_ids: str = key("", "Reserve these GPUs and no others, as CUDA_VISIBLE_DEVICES counts them, e.g. \"2,3\" "
                       "(empty: any free ones).")
    slots: int = key(0, "On a machine without GPUs: queue slots the run takes (the machine has LMTUI_SLOTS, "
                     "default 1); 0: the run does not queue.", minimum=0)
    use_busy_gpus: bool = key(False, "Also use GPUs that NVML shows busy with a program that is not an lmtui run.")
