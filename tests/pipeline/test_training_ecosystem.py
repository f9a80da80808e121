"""The corpus drops straight into the training ecosystem: every table loads by config name with
Hugging Face `datasets` (the dataset card's `configs:`), images load as `Image` features, and TRL's
own trainers take the `sft` and `preference` configs as loaded (one training step each on a tiny
randomly initialised model with a tokenizer built from the rows: no download).

Uses the session's shared in-memory sample build; about 40 s, most of it importing torch/TRL.
"""
from __future__ import annotations

import pytest

from schemas.tables import LAYOUT, SPLITS
from tests.pipeline.helpers import read_table, shared_build


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return shared_build(tmp_path_factory, "sample-in-memory", "--direct_running_mode", "in_memory")


@pytest.fixture()
def hf(tmp_path, monkeypatch):
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    import datasets

    return lambda *a, **k: datasets.load_dataset(*a, cache_dir=str(tmp_path / "hf"), **k)


def _card_configs(out):
    import yaml

    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return {c["config_name"]: c for c in yaml.safe_load(text.split("---\n")[1])["configs"]}


def test_every_table_loads_by_config_name_and_the_default_is_sft(corpus, hf):
    import json

    manifest = json.loads((corpus / "manifest.json").read_text())
    configs = _card_configs(corpus)
    assert {"pretraining", "sft", "preference", "evaluation", "pretraining_images"} <= set(configs)
    for name, config in configs.items():
        split = config["data_files"][0]["split"]
        assert split == ("test" if name.startswith("evaluation") else "train")
        ds = hf(str(corpus), name, split=split)
        assert ds.num_rows == manifest["counts"]["by_split"][name] > 0, name
    for name in set(SPLITS) - set(configs):  # a table without rows is left out of the card
        assert manifest["counts"]["by_split"][name] == 0
    default = hf(str(corpus))
    assert list(default) == ["train"] and default["train"].num_rows == manifest["counts"]["by_split"]["sft"]
    assert "messages" in default["train"].column_names


def test_images_load_as_image_features_and_text_configs_have_no_image_column(corpus, hf):
    from PIL import Image as PILImage

    for text, _ in LAYOUT.values():
        ds = hf(str(corpus), text, split="test" if text == "evaluation" else "train")
        assert not {"image", "images"} & set(ds.column_names), text
    images = hf(str(corpus), "pretraining_images", split="train")
    assert type(images.features["image"]).__name__ == "Image"
    assert isinstance(images[0]["image"], PILImage.Image)
    # also straight from the Parquet files, without the card: the features are in the schema metadata
    plain = hf("parquet", data_dir=str(corpus / "evaluation_multimodal"), split="train")
    assert type(plain.features["images"].feature).__name__ == "Image"


def _tiny_model_and_tokenizer(rows):
    """A word-level tokenizer over the rows' words with a chat template, and a 1-layer Llama."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = {m["role"] for r in rows for k in ("messages", "prompt", "chosen", "rejected") for m in r.get(k) or []}
    words |= {w for r in rows for k in ("messages", "prompt", "chosen", "rejected") for m in r.get(k) or []
              for w in m["content"].split()}
    special = ["[UNK]", "[PAD]", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]
    vocab = {w: i for i, w in enumerate(special + sorted(words - set(special)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", bos_token="<s>",
                                        eos_token="</s>")
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|> {% if m['role'] == 'assistant' %}{% generation %}"
        "{{ m['content'] }} </s> {% endgeneration %}{% else %}{{ m['content'] }} {% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|> {% endif %}")
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                         pad_token_id=1, bos_token_id=2, eos_token_id=3)
    return (lambda: LlamaForCausalLM(config)), tokenizer


def test_trl_trains_on_the_sft_and_preference_configs_as_loaded(corpus, hf, tmp_path):
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer
    from trl.data_utils import is_conversational, maybe_extract_prompt

    sft = hf(str(corpus), "sft", split="train")
    pref = hf(str(corpus), "preference", split="train")
    assert all(is_conversational(r) for r in sft) and all(is_conversational(r) for r in pref)
    for r in pref:
        assert r["corruption"]  # the recorded corruption kind is kept beside TRL's columns
        assert maybe_extract_prompt(r) is r  # prompt, chosen and rejected are already split as TRL wants
        assert r["prompt"][-1]["role"] == "user" and [m["role"] for m in r["chosen"] + r["rejected"]] == \
            ["assistant"] * (len(r["chosen"]) + len(r["rejected"]))
    sft, pref = sft.select(range(4)), pref.select(range(4))
    model, tokenizer = _tiny_model_and_tokenizer(list(sft) + list(pref))
    common = dict(max_steps=1, per_device_train_batch_size=2, report_to=[], use_cpu=True, max_length=256,
                  save_strategy="no")
    trainer = SFTTrainer(model=model(), args=SFTConfig(output_dir=str(tmp_path / "sft"), **common),
                         train_dataset=sft, processing_class=tokenizer)
    assert not trainer._is_vision_dataset
    assert trainer.train().training_loss > 0
    trainer = DPOTrainer(model=model(), ref_model=model(), args=DPOConfig(output_dir=str(tmp_path / "dpo"), **common),
                         train_dataset=pref, processing_class=tokenizer)
    assert not trainer._is_vision_dataset
    assert trainer.train().training_loss > 0


def test_the_dataset_card_carries_the_data_card(corpus):
    card = (corpus / "README.md").read_text(encoding="utf-8")
    data_card = (corpus / "DATA_CARD.md").read_text(encoding="utf-8")
    assert "## Loading" in card and "load_dataset" in card
    for section in ("## Sources", "## Policies and tables", "## Counts", "## Known gaps"):
        assert section in card and section in data_card
    assert read_table(corpus, "sft").num_rows > 0
