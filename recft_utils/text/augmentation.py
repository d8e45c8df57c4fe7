"""Text augmentation of product titles, offline and reproducible.

The method this tutorial follows names three augmentations of product text:
synonym replacement, back-translation and adversarial samples. Here:

- **synonym replacement** (:func:`synonym_replace`) takes its "synonyms"
  from the pretrained model itself: the nearest neighbours of a word in the
  model's token-embedding space (:class:`SynonymTable`). No thesaurus is
  downloaded. Neighbours are *related* words (``large`` -> ``huge``, ``big``;
  ``red`` -> ``blue``, ``pink``), not dictionary synonyms: a colour may become
  another colour. For a recommender that is a useful perturbation (the
  product stays a similar product) but not a meaning-preserving one.
- **back-translation** (:func:`back_translate`) needs a translation model
  (e.g. MarianMT en->de->en). None ships with this project, so it is a hook:
  pass any callable ``list[str] -> list[str]``.
- **adversarial samples** at the text level: :func:`typo_perturb` (character
  noise) plus the EDA-style :func:`random_delete` and :func:`random_swap`.
  Adversarial training in embedding space (FGM) is part of fine-tuning
  (step 3), not of this module.

Every function takes a ``numpy.random.Generator`` and returns a new,
normalised string (:func:`~recft_utils.datasets.preparation.normalise_title`); the same generator state gives
the same result. :func:`augment_titles` applies them to an item table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from recft_utils.datasets.preparation import normalise_title
from recft_utils.errors import ParameterError, RecftError

# Never replaced: function words and the quantity words of product titles
# ("SET OF 3", "PACK OF 12"). Words under three letters are never candidates
# anyway; they are listed so the list reads as what it is.
STOP_WORDS = frozenset(
    """
    a an the of and or nor but with without for in on at to by from into onto
    as is are be this that these those it its your our my his her their
    set sets pack packs piece pieces pcs pair pairs lot assorted
    """.split()
)

# Words that tell one product from another of the same kind: a red mug and a blue mug, a small bag and a
# large one, a wooden and a metal sign, a set of two and a set of six are different products. Synonym
# replacement never replaces them and never puts one in: its neighbours of "red" are other colours.
DEFINING_WORDS = {
    "colour": frozenset(
        """
        red blue green yellow pink purple violet orange white black grey gray brown beige cream ivory gold
        golden silver bronze copper turquoise teal navy lilac lavender mauve magenta crimson scarlet
        burgundy maroon khaki olive mint lime peach coral aqua azure cyan amber tan charcoal rose ruby
        emerald sapphire jade indigo multicolour multicolor pastel neon
        """.split()
    ),
    "size": frozenset(
        """
        small large big little tiny huge giant mini jumbo medium tall short long wide narrow slim thin
        thick deep shallow xl xxl xs extra oversized petite regular double single half quarter
        """.split()
    ),
    "material": frozenset(
        """
        wood wooden wood's metal metallic iron steel tin zinc aluminium aluminum brass glass ceramic
        porcelain china enamel paper card cardboard plastic acrylic rubber cotton linen wool woollen felt
        silk velvet leather suede denim canvas jute hessian wicker rattan bamboo cork stone marble slate
        concrete resin vinyl polyester nylon lace crochet knitted
        """.split()
    ),
    "count": frozenset(
        """
        one two three four five six seven eight nine ten eleven twelve dozen twenty hundred single
        double triple pair couple
        """.split()
    ),
}
_DEFINING = frozenset().union(*DEFINING_WORDS.values())

METHODS = ("synonym", "delete", "swap", "typo")
AUGMENT_COLUMNS = ["item_id", "original", "augmented", "method", "seed"]


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(
            f"Parameter rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}."
        )
    return rng


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"Parameter {name} must be a non-negative integer, got {value!r}.")
    return int(value)


# --------------------------------------------------------------------------
# Synonyms from the model's token embeddings
# --------------------------------------------------------------------------


def _is_candidate(piece: str) -> bool:
    """A whole-word, alphabetic vocabulary entry of three letters or more.

    Excludes WordPiece continuations (``##ing``), special and unused tokens
    (``[CLS]``, ``[unused12]``) and anything with digits, punctuation or
    non-ASCII letters.
    """
    return len(piece) >= 3 and piece.isascii() and piece.isalpha()


def _trivial_variants(word: str) -> set[str]:
    """The word itself and its plural/singular by a trailing s or es."""
    variants = {word, word + "s", word + "es"}
    if word.endswith("es"):
        variants.add(word[:-2])
    if word.endswith("s"):
        variants.add(word[:-1])
    return variants


class SynonymTable:
    """Nearest neighbours of words in the model's token-embedding space.

    The candidate words are the whole-word alphabetic vocabulary entries
    (:func:`_is_candidate`); their embedding rows are L2-normalised once, so
    one lookup is one matrix-vector product (cosine similarity to every
    candidate word). Lookups are computed lazily and cached per word.
    A word that the vocabulary splits into pieces (``retrospot``) has no
    single embedding and so no neighbours.
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: np.ndarray,
        top_n: int = 5,
        min_similarity: float = 0.45,
        stop_words: Iterable[str] = STOP_WORDS,
    ):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ParameterError(
                f"SynonymTable needs one vector per word: {len(words)} words, vectors of shape {vectors.shape}."
            )
        if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 1:
            raise ParameterError(f"Parameter top_n must be a positive integer, got {top_n!r}.")
        if not -1.0 <= float(min_similarity) <= 1.0:
            raise ParameterError(f"Parameter min_similarity must be a cosine in [-1, 1], got {min_similarity!r}.")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.words = list(words)
        self.vectors = vectors / np.maximum(norms, 1e-12)
        self.index = {word: i for i, word in enumerate(self.words)}
        self.top_n = int(top_n)
        self.min_similarity = float(min_similarity)
        self.stop_words = frozenset(stop_words)
        self._cache: dict[str, list[tuple[str, float]]] = {}

    @classmethod
    def from_token_embeddings(
        cls,
        tokenizer,
        embedding_matrix: np.ndarray,
        top_n: int = 5,
        min_similarity: float = 0.45,
        stop_words: Iterable[str] = STOP_WORDS,
    ) -> "SynonymTable":
        """The table of a model: ``tokenizer`` (or its vocabulary list) and the
        token-embedding matrix (:func:`~recft_utils.text.encoder.token_embedding_matrix`).

        ``min_similarity=0.45`` keeps ``large`` -> ``huge`` (0.61) and ``vintage``
        -> ``antique`` (0.46) and drops ``white`` -> ``caucasian`` (0.40) and
        ``mug`` -> ``robes`` (0.32); on Online Retail ~92% of the titles still
        have a replaceable word.
        """
        vocabulary = tokenizer.get_vocabulary() if hasattr(tokenizer, "get_vocabulary") else list(tokenizer)
        matrix = np.asarray(embedding_matrix)
        if matrix.ndim != 2 or matrix.shape[0] != len(vocabulary):
            raise ParameterError(
                f"The embedding matrix has shape {matrix.shape} but the vocabulary has {len(vocabulary)} "
                f"entries; pass the token embeddings of the same model as the tokenizer."
            )
        rows = [i for i, piece in enumerate(vocabulary) if _is_candidate(piece)]
        return cls([vocabulary[i] for i in rows], matrix[rows], top_n, min_similarity, stop_words)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def neighbours(self, word: str) -> list[tuple[str, float]]:
        """Up to ``top_n`` (word, cosine) pairs, most similar first.

        Only neighbours with cosine >= ``min_similarity``; never the word
        itself or its trailing-s/es variants, never a word that defines a
        product (:data:`DEFINING_WORDS`). Empty for a stop word, a defining
        word or a word outside the table.
        """
        word = word.lower()
        if word in self._cache:
            return self._cache[word]
        result: list[tuple[str, float]] = []
        if word in self.index and word not in self.stop_words and not _defining(word):
            similarity = self.vectors @ self.vectors[self.index[word]]
            close = np.flatnonzero(similarity >= self.min_similarity)
            close = close[np.argsort(-similarity[close], kind="stable")]
            excluded = _trivial_variants(word)
            for i in close:
                other = self.words[i]
                if other not in excluded and other not in self.stop_words and not _defining(other):
                    result.append((other, float(similarity[i])))
                    if len(result) == self.top_n:
                        break
        self._cache[word] = result
        return result

    def replaceable(self, word: str) -> bool:
        """Whether :func:`synonym_replace` can replace ``word``."""
        return bool(self.neighbours(word))


def _forms(word: str) -> set[str]:
    """The word and, for a plural, its singular (``reds`` -> ``red``, ``boxes`` -> ``box``)."""
    word = word.lower()
    return {word, word[:-1] if word.endswith("s") else word, word[:-2] if word.endswith("es") else word}


def _defining(word: str) -> bool:
    return bool(_forms(word) & _DEFINING)


def defining_attributes(title: str) -> dict[str, list[str]]:
    """The words of ``title`` that tell its product from another of the same kind, by kind, as listed in
    :data:`DEFINING_WORDS` (numbers count as counts): ``{"colour": ["red"], "count": ["12"]}``."""
    found: dict[str, list[str]] = {}
    for word in normalise_title(title).replace("-", " ").split():
        word = word.strip(".,;:!?()\"'")
        if word.isdigit():
            found.setdefault("count", []).append(word)
        for kind, words in DEFINING_WORDS.items():
            if _forms(word) & words:
                found.setdefault(kind, []).append(min(_forms(word) & words))  # the listed form: "reds" -> "red"
    return found


def changed_attributes(original: str, augmented: str) -> list[str]:
    """How ``augmented`` describes another product than ``original``: each defining word it adds (a colour,
    size, material or count that the original does not have), as ``"colour: blue"``. Empty when the
    augmentation keeps the product: it may drop such a word (a deletion), never bring in another."""
    before, after = defining_attributes(original), defining_attributes(augmented)
    return [f"{kind}: {word}" for kind, words in after.items() for word in words if word not in before.get(kind, [])]


# --------------------------------------------------------------------------
# Augmentations of one title
# --------------------------------------------------------------------------


def synonym_replace(title: str, table: SynonymTable, rng: np.random.Generator, n: int = 1) -> str:
    """Replace up to ``n`` distinct replaceable words by a random neighbour.

    A word is replaceable when ``table`` has neighbours for it (not a stop
    word, a whole alphabetic word of the vocabulary). The neighbour is drawn
    uniformly from the word's ``top_n``. A title without a replaceable word is
    returned normalised and otherwise unchanged.
    """
    rng, n = _check_rng(rng), _check_count("n", n)
    words = normalise_title(title).split()
    positions = [i for i, word in enumerate(words) if table.replaceable(word)]
    if positions and n:
        for i in rng.choice(positions, size=min(n, len(positions)), replace=False):
            options = table.neighbours(words[i])
            words[i] = options[int(rng.integers(len(options)))][0]
    return " ".join(words)


def random_delete(title: str, rng: np.random.Generator, p: float = 0.2) -> str:
    """Delete each word with probability ``p``; at least one word always stays.

    If every word is drawn for deletion, one of them (chosen at random) is
    kept, so the result is never empty for a non-empty title.
    """
    rng = _check_rng(rng)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ParameterError(f"Parameter p must be a probability in [0, 1], got {p!r}.")
    words = normalise_title(title).split()
    if len(words) <= 1:
        return " ".join(words)
    keep = rng.random(len(words)) >= p
    if not keep.any():
        keep[int(rng.integers(len(words)))] = True
    return " ".join(word for word, kept in zip(words, keep) if kept)


def random_swap(title: str, rng: np.random.Generator, n: int = 1) -> str:
    """Swap two randomly chosen word positions, ``n`` times.

    The multiset of words is unchanged; a title of one word is returned as is.
    """
    rng, n = _check_rng(rng), _check_count("n", n)
    words = normalise_title(title).split()
    if len(words) >= 2:
        for _ in range(n):
            i, j = rng.choice(len(words), size=2, replace=False)
            words[i], words[j] = words[j], words[i]
    return " ".join(words)


_TYPO_OPERATIONS = ("swap", "drop", "duplicate")


def _typo(word: str, rng: np.random.Generator) -> str:
    """One typo inside ``word`` (length >= 4); first and last letters kept."""
    operation = _TYPO_OPERATIONS[int(rng.integers(len(_TYPO_OPERATIONS)))]
    if operation == "swap":
        # adjacent interior pair (i, i+1) with 1 <= i and i + 1 <= len - 2
        pairs = [i for i in range(1, len(word) - 2) if word[i] != word[i + 1]]
        if pairs:
            i = pairs[int(rng.integers(len(pairs)))]
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        operation = "duplicate"  # e.g. "book": swapping "oo" changes nothing
    i = int(rng.integers(1, len(word) - 1))  # an interior character
    if operation == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def typo_perturb(title: str, rng: np.random.Generator, n: int = 1) -> str:
    """Put one character-level typo into each of up to ``n`` words.

    The candidate words are alphabetic and at least four letters long; for
    each chosen word one operation, at random, on its interior (the first and
    last letters stay, as in real typos): swap two adjacent letters, drop a
    letter, or duplicate a letter. The other words are untouched.

    This is the text-level cousin of adversarial training. The method's
    adversarial samples proper (FGM: a small gradient-direction perturbation
    of the token embeddings during fine-tuning) belong to training, step 3;
    here the model sees inputs it will meet in real catalogues (misspelt
    titles) and should still map near the original.
    """
    rng, n = _check_rng(rng), _check_count("n", n)
    words = normalise_title(title).split()
    positions = [i for i, word in enumerate(words) if len(word) >= 4 and word.isalpha()]
    if positions and n:
        for i in sorted(rng.choice(positions, size=min(n, len(positions)), replace=False)):
            typo = _typo(words[i], rng)
            # "paris" -> "pairs": a typo that spells a defining word would describe another product
            words[i] = words[i] if _defining(typo) and not _defining(words[i]) else typo
    return " ".join(words)


# --------------------------------------------------------------------------
# Back-translation: a hook for a translation model
# --------------------------------------------------------------------------


def back_translate(titles: Sequence[str], translator: Callable[[list[str]], list[str]] | None = None) -> list[str]:
    """Paraphrase titles by translating them to another language and back.

    ``translator`` does the round trip: any callable taking and returning a
    list of strings of the same length, e.g. two MarianMT models
    (Helsinki-NLP/opus-mt-en-de, then opus-mt-de-en) wrapped in one function.
    No translation model ships with this project and nothing is downloaded,
    so without one this raises :class:`~recft_utils.errors.RecftError`.
    The translations are returned normalised (:func:`~recft_utils.datasets.preparation.normalise_title`).
    """
    titles = [normalise_title(title) for title in titles]
    if translator is None:
        raise RecftError(
            "Back-translation needs a translation model, and none is available offline in this "
            "project. To use it, pass translator=<a function list[str] -> list[str]> that translates "
            "the titles to another language and back (for example en->de->en with two MarianMT "
            "models you have installed); the other augmentations (synonym, delete, swap, typo) need "
            "no extra model."
        )
    if not callable(translator):
        raise ParameterError(f"Parameter translator must be a callable list[str] -> list[str], got {translator!r}.")
    translated = translator(list(titles))
    if isinstance(translated, str) or not isinstance(translated, Sequence):
        raise RecftError(f"The translator returned {type(translated).__name__}, not a list of strings.")
    if len(translated) != len(titles):
        raise RecftError(
            f"The translator returned {len(translated)} texts for {len(titles)} titles; "
            f"it must return exactly one translation per title, in order."
        )
    return [normalise_title(text) for text in translated]


# --------------------------------------------------------------------------
# Augmenting an item table
# --------------------------------------------------------------------------


def demonstrate(title: str, table: SynonymTable, seed: int = 0) -> dict[str, str]:
    """Each augmentation of ``title``, by method; every method draws from its own generator seeded with
    ``seed``, so a demonstration does not depend on the order the methods run in."""

    def rng():
        return np.random.default_rng(int(seed))

    return {
        "synonym": synonym_replace(title, table, rng()),
        "delete": random_delete(title, rng()),
        "swap": random_swap(title, rng()),
        "typo": typo_perturb(title, rng()),
    }


def example_title(titles: Sequence[str], table: SynonymTable, seed: int = 0) -> str:
    """The first of ``titles`` that every method of :func:`demonstrate` changes: an example that shows each
    augmentation at work (the most bought title may have no word with a synonym, or lose nothing to a
    deletion draw)."""
    for title in titles:
        if all(changed != title for changed in demonstrate(title, table, seed).values()):
            return title
    raise ParameterError("No title is changed by every augmentation; pass more titles (or longer ones).")


def augment_titles(
    items: pd.DataFrame,
    table: SynonymTable | None,
    seed: int,
    n_items: int | None = None,
    methods: Sequence[str] = METHODS,
) -> pd.DataFrame:
    """Augmented texts of ``items`` (columns ``item_id``, ``item_text``).

    A shop's product text need not be a name: a grocery export's
    "soup: chunky 18.8 oz" describes several products. Each distinct
    (normalised) text is therefore augmented once and its augmentations go to
    every product that carries it, so that products with the same text keep
    the same text, and ``n_items`` counts texts, not products.

    Returns one row per (item, method) with columns ``item_id``, ``original``
    (the normalised text), ``augmented``, ``method`` and ``seed``, items in
    table order and methods in the order given. ``methods`` is a subset of
    ``("synonym", "delete", "swap", "typo")`` (back-translation needs a model:
    call :func:`back_translate` yourself). A row whose augmented title equals
    the original is left out: a title with no replaceable word (synonym), a
    draw that deleted nothing, a one-word title (swap), no word of four
    letters (typo); so an (item, method) pair may have no row.

    Deterministic: one generator ``np.random.default_rng(seed)`` draws the
    ``n_items`` texts (all when ``None`` or more than there are) and then
    every augmentation, so the same inputs and seed give the same table.
    """
    if not isinstance(items, pd.DataFrame) or not {"item_id", "item_text"} <= set(items.columns):
        raise ParameterError("Parameter items must be a DataFrame with columns item_id and item_text.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"Parameter seed must be a non-negative integer, got {seed!r}.")
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ParameterError(
            f"Unknown augmentation method(s) {unknown or methods!r}; use some of {', '.join(METHODS)} "
            f"(back-translation: call back_translate with a translator)."
        )
    if "synonym" in methods and not isinstance(table, SynonymTable):
        raise ParameterError("Method 'synonym' needs a SynonymTable (SynonymTable.from_token_embeddings).")
    if n_items is not None:
        n_items = _check_count("n_items", n_items)

    rng = np.random.default_rng(int(seed))
    chosen = items[["item_id", "item_text"]].reset_index(drop=True)
    chosen = chosen[chosen["item_text"].map(lambda text: isinstance(text, str))]  # a missing text: nothing to augment
    chosen = chosen.assign(original=chosen["item_text"].map(normalise_title))
    texts = chosen["original"].drop_duplicates().to_numpy()  # in table order: first product with each text
    if n_items is not None and n_items < len(texts):
        texts = texts[np.sort(rng.choice(len(texts), size=n_items, replace=False))]

    augment = {
        "synonym": lambda text: synonym_replace(text, table, rng),
        "delete": lambda text: random_delete(text, rng),
        "swap": lambda text: random_swap(text, rng),
        "typo": lambda text: typo_perturb(text, rng),
    }
    augmented = {(text, method): augment[method](text) for text in texts for method in methods}
    rows = [
        (item_id, original, augmented[original, method], method, int(seed))
        for item_id, original in zip(chosen["item_id"], chosen["original"])
        for method in methods
        if (original, method) in augmented and augmented[original, method] != original
    ]
    return pd.DataFrame(rows, columns=AUGMENT_COLUMNS)
