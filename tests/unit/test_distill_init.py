"""Student initialisation from the teacher's layers (DistilBERT-style), and the distillation loss."""

from __future__ import annotations

import pytest
import torch

from lmtui.distill.init import build_student, copy_teacher_layers, student_config
from lmtui.distill.loss import DistillationObjective, distillation_loss
from lmtui.project.load import parse_project
from lmtui.train.model import MaskedLMObjective


def project(architecture: str, layers: list[int] | None = None, extra: str = "", init: str = "teacher_layers"):
    text = f"""
[corpus]
train_files = ["x.txt"]
[model]
architecture = "{architecture}"
{extra}
[distill]
teacher = "teacher"
init = "{init}"
{"layers = " + str(layers) if layers is not None else ""}
"""
    return parse_project(text, "distill.toml")


def teacher(kind: str, layers: int = 4):
    from transformers import AutoModelForMaskedLM, BertConfig, ModernBertConfig, RobertaConfig

    width = dict(vocab_size=96, hidden_size=32, intermediate_size=48, num_attention_heads=2, num_hidden_layers=layers)
    if kind == "bert":
        config = BertConfig(**width, max_position_embeddings=40, pad_token_id=0)
    elif kind == "roberta":
        config = RobertaConfig(**width, max_position_embeddings=42, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                               type_vocab_size=1)
    else:
        config = ModernBertConfig(**width, max_position_embeddings=40, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                  cls_token_id=1, sep_token_id=2)
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(config, attn_implementation="eager")
    with torch.no_grad():  # no parameter at its default (LayerNorm ones, zero biases): a copy is told from an init
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


@pytest.mark.parametrize("kind,prefix", [("bert", "bert.encoder.layer"), ("roberta", "roberta.encoder.layer"),
                                         ("modernbert", "model.layers")])
def test_teacher_layers_copies_exactly_the_chosen_layers(kind, prefix):
    t = teacher(kind)
    s = build_student(project(kind, [1, 3]), None, t)
    assert s.config.num_hidden_layers == 2
    ts, ss = t.state_dict(), s.state_dict()
    compared = 0
    for name, tensor in ss.items():
        if name.startswith(prefix + "."):
            student_layer, rest = name[len(prefix) + 1:].split(".", 1)
            source = f"{prefix}.{[1, 3][int(student_layer)]}.{rest}"
        else:
            source = name
        if source in ts:
            assert torch.equal(tensor, ts[source]), name
            compared += 1
        else:  # ModernBERT's layer 0 has no attention norm: only that may be missing
            assert kind == "modernbert" and name.endswith("attn_norm.weight"), name
    assert compared >= len(ss) - 1
    # a layer not chosen is not in the student
    assert not torch.equal(ss[f"{prefix}.0.{rest}"], ts[f"{prefix}.0.{rest}"])


def test_modernbert_student_keeps_the_attention_kind_of_each_copied_layer():
    t = teacher("modernbert")
    config = student_config(project("modernbert", [0, 2]), None, t.config)
    assert config.layer_types == [t.config.layer_types[0], t.config.layer_types[2]]


def test_every_kth_layer_by_default():
    t = teacher("bert")
    s = build_student(project("bert"), None, t)  # 4 teacher layers -> 2 student layers: [0, 2]
    assert s.config.num_hidden_layers == 2
    q = "encoder.layer.{}.attention.self.query.weight"
    assert torch.equal(s.state_dict()["bert." + q.format(1)], t.state_dict()["bert." + q.format(2)])


def test_bert_to_distilbert_maps_every_weight_and_computes_the_same_function():
    t = teacher("bert", layers=2)
    s = build_student(project("distilbert", [0, 1]), None, t).eval()
    assert type(s).__name__ == "DistilBertForMaskedLM"
    ts, ss = t.state_dict(), s.state_dict()
    assert torch.equal(ss["distilbert.transformer.layer.1.attention.q_lin.weight"],
                       ts["bert.encoder.layer.1.attention.self.query.weight"])
    assert torch.equal(ss["distilbert.transformer.layer.0.ffn.lin2.bias"], ts["bert.encoder.layer.0.output.dense.bias"])
    assert torch.equal(ss["vocab_layer_norm.weight"], ts["cls.predictions.transform.LayerNorm.weight"])
    type0 = ts["bert.embeddings.token_type_embeddings.weight"][0]  # folded into the positions
    assert torch.equal(ss["distilbert.embeddings.position_embeddings.weight"],
                       ts["bert.embeddings.position_embeddings.weight"] + type0)
    assert copy_teacher_layers(t, s, [0, 1]) == []  # every DistilBERT weight has its BERT counterpart
    ids = torch.randint(5, 96, (2, 12))
    with torch.no_grad():
        assert torch.allclose(s(input_ids=ids).logits, t(input_ids=ids).logits, atol=1e-5)


def test_random_init_takes_the_teachers_vocabulary():
    class Vocab:
        pad_token_id, cls_token_id, sep_token_id = 0, 2, 3

        def __len__(self):
            return 90

    t = teacher("bert")
    s = build_student(project("bert", None, 'size = "tiny"', init="random"), Vocab(), t)
    assert s.config.vocab_size == t.config.vocab_size and s.config.hidden_size == 128


def distillation(kind="bert"):
    t = teacher(kind)
    s = build_student(project(kind, [0, 1, 2, 3], "config_overrides = { num_hidden_layers = 4 }"), None, t)
    return DistillationObjective(s, MaskedLMObjective(t).eval(), project(kind).distill), t


def batch():
    torch.manual_seed(1)
    ids = torch.randint(5, 96, (2, 10))
    labels = torch.full_like(ids, -100)
    labels[:, ::3] = ids[:, ::3]
    return ids, labels


@pytest.mark.parametrize("kind", ["bert", "modernbert"])
def test_kl_and_cosine_terms_vanish_when_student_and_teacher_are_the_same_model(kind):
    objective, _ = distillation(kind)
    objective.train()
    objective.model.eval()  # no dropout, so both compute the same function
    objective.training = True
    ids, labels = batch()
    loss, _, n = objective(ids, labels, torch.ones_like(ids))
    sums, forwards = objective.take_components()
    assert forwards == 1 and n == labels.ne(-100).sum()
    assert abs(float(sums["loss_ce"])) < 1e-5 and abs(float(sums["loss_cos"])) < 1e-5
    assert float(sums["loss_mlm"]) > 1.0
    assert torch.isclose(loss, 2.0 * sums["loss_mlm"], atol=1e-4)


def test_gradients_reach_the_student_only_and_the_teacher_stays_frozen():
    objective, t = distillation()
    before = {k: v.clone() for k, v in t.state_dict().items()}
    objective.train()
    assert not objective.teacher.training  # .train() on the objective does not reach the teacher
    assert all(not name.startswith("teacher") for name in objective.state_dict())
    ids, labels = batch()
    loss, _, _ = objective(ids, labels)
    loss.backward()
    assert all(p.grad is None for p in t.parameters())
    grads = [p.grad for p in objective.model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)
    assert all(torch.equal(v, before[k]) for k, v in t.state_dict().items())


def test_loss_matches_the_distilbert_formula():
    torch.manual_seed(2)
    s, t = torch.randn(6, 11), torch.randn(6, 11)
    targets = torch.randint(0, 11, (6,))
    hs, ht = torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    loss, parts = distillation_loss(s, t, targets, hs, ht, mask, temperature=2.0, alpha_ce=5.0, alpha_mlm=2.0,
                                    alpha_cos=1.0)
    kl = torch.nn.KLDivLoss(reduction="batchmean")(torch.log_softmax(s / 2, -1), torch.softmax(t / 2, -1)) * 4
    real = mask.bool()
    cos = torch.nn.CosineEmbeddingLoss()(hs[real], ht[real], torch.ones(int(real.sum())))
    assert torch.isclose(parts["loss_ce"], kl) and torch.isclose(parts["loss_cos"], cos)
    assert torch.isclose(parts["loss_mlm"], torch.nn.functional.cross_entropy(s, targets))
    assert torch.isclose(loss, 5 * kl + 2 * parts["loss_mlm"] + cos)
    empty, _ = distillation_loss(s[:0], t[:0], targets[:0], hs, ht, None, temperature=2.0, alpha_ce=1.0,
                                 alpha_mlm=1.0, alpha_cos=0.0)
    assert float(empty) == 0.0


def test_throughput_counts_sequences_per_second_of_whole_forwards():
    from lmtui.evaluation.throughput import measure_throughput

    out = measure_throughput(teacher("bert", layers=1), batch_size=2, seq_length=8, device="cpu", min_seconds=0.05)
    assert out["batches"] >= 3 and out["batch_size"] == 2 and out["seq_length"] == 8
    assert out["sequences_per_s"] == pytest.approx(out["batches"] * 2 / out["seconds"], rel=0.02)
    assert out["params"] == sum(p.numel() for p in teacher("bert", layers=1).parameters())
