"""Step 4: the exported SavedModel, the HTTP service as a real process, the load benchmark and the replay
(on the synthetic shop: serving needs a model, not a good one)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import requests

from recft_utils.models.training_data import window_histories
from recft_utils.models.two_tower import TwoTowerConfig, TwoTowerRecommender


@pytest.fixture(scope="module")
def fitted(shop_sample, shop_vectors):
    """A two-tower model on the shop_sample's test task (one epoch: serving does not need a good model)."""
    return TwoTowerRecommender(shop_vectors, TwoTowerConfig(epochs=1), seed=0).fit(shop_sample[2])


@pytest.fixture(scope="module")
def model_dir(fitted, shop_sample, tmp_path_factory):
    from recft_utils.serving.export import export_recommender

    titles = shop_sample[0].drop_duplicates("item_id").set_index("item_id")["item_text"]
    return export_recommender(fitted.model, shop_sample[2], tmp_path_factory.mktemp("served") / "model", titles)


@pytest.fixture(scope="module")
def service(model_dir):
    from recft_utils.serving.process import ServiceProcess

    with ServiceProcess(model_dir) as running:
        yield running


PARITY = """
import sys, json
import numpy as np, tensorflow as tf
signature = tf.saved_model.load(sys.argv[1]).signatures["recommend_customer"]
customers = json.loads(sys.argv[2])
out = signature(customer_ids=tf.constant(customers), exclude=tf.constant([[""]] * len(customers)),
                exclude_history=tf.constant(False), k=tf.constant(10))
np.savez(sys.argv[3], ids=out["item_ids"].numpy().astype(str), scores=out["scores"].numpy())
"""


def test_saved_model_in_a_fresh_process_returns_what_the_trained_model_ranks(fitted, shop_sample, model_dir, tmp_path):
    _, _, test = shop_sample
    rows = test.eval_rows[:25]
    customers = [str(u) for u in test.users[rows]]
    result = subprocess.run([sys.executable, "-c", PARITY, str(model_dir / "saved_model"), json.dumps(customers),
                             str(tmp_path / "out.npz")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "out.npz")
    logits = fitted.score(rows)
    expected = np.argsort(-logits, axis=1, kind="stable")[:, :10]
    assert (served["ids"] == test.items[expected]).all()
    assert np.allclose(served["scores"], np.take_along_axis(logits, expected, axis=1), atol=1e-5)


def test_item_history_signature_matches_the_customer_signature(shop_sample, model_dir):
    from recft_utils.serving.model_folder import ServedModel

    _, _, test = shop_sample
    served = ServedModel.load(model_dir)
    row = test.eval_rows[3]
    history = window_histories(test, np.array([row]), 50)
    length = int(history.mask[0].sum())
    by_items = served.recommend(10, items=test.items[history.items[0, :length]], ages=history.ages[0, :length])
    by_customer = served.recommend(10, customer_id=str(test.users[row]))
    assert list(by_items["item_id"]) == list(by_customer["item_id"])
    bought = set(test.items[history.items[0, :length]])
    assert not bought & set(by_items["item_id"])  # exclude_history is the default
    kept = served.recommend(5, items=list(bought)[:3], exclude=list(by_items["item_id"][:2]))
    assert not set(by_items["item_id"][:2]) & set(kept["item_id"])


def test_health_item_and_recommend_carry_the_model_version(service, model_dir, shop_sample):
    version = json.loads((model_dir / "metadata.json").read_text())["version"]
    health = requests.get(f"{service.url}/health", timeout=10)
    assert health.status_code == 200 and health.json()["model_version"] == version
    assert health.headers["X-Model-Version"] == version
    item_id = str(shop_sample[2].items[0])
    item = requests.get(f"{service.url}/items/{item_id}", timeout=10).json()
    assert item["item_id"] == item_id and item["title"] and item["warm"] is True
    customer = str(shop_sample[2].users[shop_sample[2].eval_rows[0]])
    body = requests.post(f"{service.url}/recommend", json={"customer_id": customer, "k": 7}, timeout=10).json()
    assert body["model_version"] == version and len(body["recommendations"]) == 7
    scores = [r["score"] for r in body["recommendations"]]
    assert scores == sorted(scores, reverse=True)


def test_unknown_items_are_skipped_and_listed(service, shop_sample):
    known = [str(i) for i in shop_sample[2].items[:3]]
    response = requests.post(f"{service.url}/recommend", json={"items": known + ["NOT-AN-ITEM"], "k": 5}, timeout=10)
    assert response.status_code == 200
    assert response.json()["unknown_items"] == ["NOT-AN-ITEM"] and len(response.json()["recommendations"]) == 5


@pytest.mark.parametrize("body, status, message", [
    ("{not json", 400, "not valid JSON"),
    ({"items": [], "k": 5}, 422, "'items' is empty"),
    ({"items": ["85123A"], "k": 0}, 422, "greater than or equal to 1"),
    ({"items": ["85123A"], "k": 101}, 422, "less than or equal to 100"),
    ({"items": ["NOT-AN-ITEM"]}, 422, "none of the items is in the catalogue"),
    ({"k": 5}, 422, "either 'items'"),
    ({"items": ["85123A"], "ages_days": [1, 2]}, 422, "one age"),
    ({"items": ["85123A"], "ages_days": [1e308]}, 422, "less than or equal to 36500"),
    ({"items": ["85123A"], "ages_days": ["NaN"]}, 422, "finite number"),
    ({"items": ["85123A"], "ages_days": [-1]}, 422, "greater than or equal to 0"),
    ({"items": ["85123A"], "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ({"customer_id": "no-such-customer"}, 404, "has no stored history"),
])
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(service, body, status, message):
    kwargs = {"data": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, str) else {
        "json": body}
    response = requests.post(f"{service.url}/recommend", timeout=10, **kwargs)
    assert response.status_code == status
    assert message in response.json()["error"] and response.json()["model_version"]


def test_unknown_item_page_is_a_404(service):
    response = requests.get(f"{service.url}/items/NOT-AN-ITEM", timeout=10)
    assert response.status_code == 404 and "not in the catalogue" in response.json()["error"]


def test_missing_or_damaged_model_folder_stops_start_up_with_a_clear_message(model_dir, tmp_path):
    def serve(folder):
        return subprocess.run([sys.executable, "-m", "recft_utils.cli", "serve", "--model", str(folder),
                               "--port", "9"], capture_output=True, text=True, timeout=120)

    missing = serve(tmp_path / "nothing-here")
    assert missing.returncode == 2 and "no metadata.json" in missing.stderr
    damaged = tmp_path / "damaged"
    shutil.copytree(model_dir, damaged)
    with open(damaged / "saved_model" / "saved_model.pb", "ab") as handle:
        handle.write(b"\0")
    result = serve(damaged)
    assert result.returncode == 2 and "saved_model/saved_model.pb does not match its checksum" in result.stderr


def test_load_benchmark_reports_percentiles_without_errors(service, shop_sample):
    from recft_utils.serving.load_test import history_payloads, load_test, target_check

    payloads = history_payloads(shop_sample[2], n=50)
    records = [load_test(service.url, payloads, concurrency, requests=60, warmup=5) for concurrency in (1, 8)]
    for record in records:
        assert record["errors"] == 0 and record["requests"] == 60
        assert 0 < record["p50_ms"] <= record["p95_ms"] <= record["p99_ms"]
    assert set(target_check(records)) == {"errors", "p99_ms_at_1", "requests_per_second_at_8", "met"}


def test_replay_hits_follow_the_orders_and_the_ab_interval_covers_the_difference(service, shop_sample):
    from recft_utils.models import EASE
    from recft_utils.serving.replay import (ab_comparison, daily_hit_rate, ease_recommender, replay,
                                            replay_events, service_recommender)

    _, _, test = shop_sample
    events, skipped = replay_events(test)
    assert events and skipped["new_customer"] >= 0
    assert all(not (e.new_items & set(e.items)) for e in events)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    events = events[:80]
    results = replay(events, {"served": service_recommender(service.url),
                              "EASE": ease_recommender(EASE().fit(test), test)}, k=10, progress=False)
    assert len(results) == 2 * len(events) and set(results["hit"]) <= {0, 1}
    daily = daily_hit_rate(results)
    assert daily["orders"].sum() == len(events)
    ab = ab_comparison(results, "served", "EASE", samples=200)
    assert ab["low"] <= ab["difference"] <= ab["high"] and ab["orders"] == len(events)


START_THEN = """
import sys, time
from recft_utils.serving.process import ServiceProcess
service = ServiceProcess(sys.argv[1]).start()
print(service.process.pid, flush=True)
if sys.argv[2] == "fail":
    raise RuntimeError("a failing cell")
time.sleep(600)
"""


def _gone(pid: int, seconds: float = 20) -> bool:
    """The process has exited (a zombie waiting for its new parent to reap it counts as exited)."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status")
        try:
            if "\tZ" in next(line for line in status.read_text().splitlines() if line.startswith("State:")):
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.2)
    return False


def test_the_service_stops_when_the_python_that_started_it_fails_or_dies(model_dir):
    failed = subprocess.run([sys.executable, "-c", START_THEN, str(model_dir), "fail"], capture_output=True,
                            text=True, timeout=180)
    assert failed.returncode == 1 and "a failing cell" in failed.stderr
    assert _gone(int(failed.stdout.split()[0]))

    parent = subprocess.Popen([sys.executable, "-c", START_THEN, str(model_dir), "sleep"], stdout=subprocess.PIPE,
                              text=True)
    server = int(parent.stdout.readline())
    parent.kill()  # SIGKILL: no Python clean-up runs; the kernel's death signal stops the server
    parent.wait()
    assert _gone(server)


def test_a_promoted_model_is_hot_reloaded_without_failing_a_request(fitted, shop_sample, tmp_path):
    import threading
    import time

    from recft_utils.lifecycle.registry import ModelRegistry
    from recft_utils.serving.export import export_recommender
    from recft_utils.serving.process import ServiceProcess

    _, _, test = shop_sample
    registry = ModelRegistry(tmp_path / "registry")
    for version in ("v1", "v2"):
        export_recommender(fitted.model, test, registry.new_version_dir(version), version=version)
    registry.promote("v1", "first model")
    customer = str(test.users[test.eval_rows[0]])
    seen, failures, stop = [], [], threading.Event()

    def client(url):
        session = requests.Session()
        while not stop.is_set():
            response = session.post(f"{url}/recommend", json={"customer_id": customer, "k": 5}, timeout=30)
            (seen if response.status_code == 200 else failures).append(response.json()["model_version"])

    with ServiceProcess(registry=registry.root) as service:
        threads = [threading.Thread(target=client, args=(service.url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        registry.promote("v2", "the challenger won")
        deadline = time.monotonic() + 30
        while service.health()["model_version"] != "v2" and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
        assert service.health()["model_version"] == "v2"
        assert "reloaded: now serving v2" in service.output()
    assert failures == [] and {"v1", "v2"} <= set(seen)
    first_v2 = seen.index("v2")
    assert seen[first_v2:].count("v1") <= len(threads)  # only requests already in flight finish with v1
