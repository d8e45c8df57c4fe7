"""Step 3's training on two workers (MultiWorkerMirroredStrategy, two processes on 127.0.0.1 with TF_CONFIG)
reaches the validation NDCG@10 of one worker, within seed noise; the encoder's fine-tuning runs there too."""

import json

import numpy as np
import pytest

from recft_utils.artefacts import write_item_vectors
from recft_utils.errors import ParameterError
from recft_utils.experiments.worker_quality import validation_ndcg
from recft_utils.multi_worker import free_ports, launch, tf_config


def test_each_worker_is_told_the_cluster_and_its_place():
    ports = free_ports(2)
    config = json.loads(tf_config(ports, 1))
    assert config == {
        "cluster": {"worker": [f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"]},
        "task": {"type": "worker", "index": 1},
    }
    with pytest.raises(ParameterError, match="at least 1"):
        launch(0, None, None, None, 1, [0])


@pytest.mark.integration
def test_two_local_workers_train_to_the_quality_of_one(shop_sample, shop_vectors, tmp_path):
    interactions = shop_sample[0]
    data, vectors = tmp_path / "shop.parquet", tmp_path / "vectors.parquet"
    interactions.to_parquet(data, index=False)
    write_item_vectors(vectors, shop_vectors)
    one = [run["valid_ndcg@10"] for run in validation_ndcg(interactions, shop_vectors, 5, [0, 1, 2])]
    two = launch(2, data, vectors, tmp_path / "two.json", epochs=5, seeds=[0, 1], regime="top_k", regime_steps=2)
    assert two["workers"] == 2 and all(run["replicas"] == 2 for run in two["runs"])
    assert all(0 < run["top_k_valid_ndcg@10"] < 1 for run in two["runs"])  # fine-tuning runs on two workers too
    spread = max(one) - min(one)
    for run in two["runs"]:  # each two-worker seed inside the one-worker seeds' range, widened by that range
        assert min(one) - spread <= run["valid_ndcg@10"] <= max(one) + spread, (one, two)
    assert abs(np.mean([r["valid_ndcg@10"] for r in two["runs"]]) - np.mean(one)) < max(spread, 0.01)
