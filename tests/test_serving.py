"""Step 4: the exported SavedModel, the HTTP service as a real process, the load benchmark and the replay
(on the synthetic shop: serving needs a model, not a good one)."""

import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import requests

from recft_utils.models.training_data import window_histories
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender


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


# no recft code: the SavedModel, the histories table (numpy) and the catalogue (pandas), as another team would
PARITY = """
import sys, json
import numpy as np, pandas as pd, tensorflow as tf
folder, customers = sys.argv[1], json.loads(sys.argv[2])
signature = tf.saved_model.load(folder + "/saved_model").signatures["recommend_items"]
item_ids = pd.read_parquet(folder + "/items.parquet")["item_id"].to_numpy().astype(str)
table = np.load(folder + "/histories.npz")
at = np.searchsorted(table["customer_ids"], [c.encode() for c in customers])
spans = [slice(table["offsets"][i], table["offsets"][i + 1]) for i in at]
width = max(s.stop - s.start for s in spans)
items, ages = np.full((len(spans), width), "", dtype=item_ids.dtype), np.zeros((len(spans), width), np.float32)
for n, span in enumerate(spans):
    items[n, :span.stop - span.start] = item_ids[table["items"][span]]
    ages[n, :span.stop - span.start] = table["ages"][span]
out = signature(items=tf.constant(items), ages=tf.constant(ages), exclude=tf.constant([[""]] * len(customers)),
                exclude_history=tf.constant(False), k=tf.constant(10))
np.savez(sys.argv[3], ids=out["item_ids"].numpy().astype(str), scores=out["scores"].numpy())
"""


def test_saved_model_in_a_fresh_process_returns_what_the_trained_model_ranks(fitted, shop_sample, model_dir, tmp_path):
    _, _, test = shop_sample
    rows = test.eval_rows[:25]
    customers = [str(u) for u in test.users[rows]]
    result = subprocess.run(
        [sys.executable, "-c", PARITY, str(model_dir), json.dumps(customers), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "out.npz")
    logits = fitted.score(rows)
    expected = np.argsort(-logits, axis=1, kind="stable")[:, :10]
    assert (served["ids"] == test.items[expected]).all()
    assert np.allclose(served["scores"], np.take_along_axis(logits, expected, axis=1), atol=1e-5)


@pytest.mark.parametrize("weight, item_model", [(0.6, "EASE"), (0.0, "EASE"), (0.6, "ItemKNN")])
def test_a_served_blend_ranks_as_the_offline_blend(fitted, shop_sample, tmp_path, weight, item_model):
    """The blend (and, at weight 0, the classical bar alone) inside the SavedModel, against ScoreBlend;
    with EASE's dense weights and with ItemKNN's sparse ones (a catalogue too large for EASE)."""
    from recft_utils.models.blend import ScoreBlend
    from recft_utils.models.fair_baselines import classical_with_popularity
    from recft_utils.serving.export import BlendPart, export_recommender
    from recft_utils.serving.model_folder import ServedModel

    _, _, test = shop_sample
    classical = classical_with_popularity(test, {"days": 14, "weight": 0.6, "item_model": item_model})
    short = fitted.like().start_from(test, fitted)  # the same weights reading the 3 most recent items
    short.config = dataclasses.replace(short.config, max_history=3)
    offline = classical if weight == 0 else ScoreBlend(short, classical, weight).fit(test)
    blend = BlendPart.of(classical, weight, "the blend")
    longest = int(np.diff(test.matrix.indptr).max())
    folder = export_recommender(fitted.model, test, tmp_path / "model", blend=blend, max_history=3)
    served = ServedModel.load(folder)
    assert served.search == "exact" and served.metadata["blend"]["weight"] == weight
    assert served.metadata["model"] == "the blend" and served.metadata["stored_history"] == max(3, longest)
    assert served.metadata["blend"]["classical"] == f"{item_model} + recent popularity"
    rows = test.eval_rows[:40]
    expected = test.items[np.argsort(-offline.score(rows), axis=1, kind="stable")[:, :10]]
    lists = [list(served.recommend(10, customer_id=str(test.users[r]), exclude_history=False)["item_id"]) for r in rows]
    assert np.mean([got == list(e) for got, e in zip(lists, expected)]) >= 0.95  # float64 both; ties may swap
    with pytest.raises(Exception, match="exactly"):
        export_recommender(fitted.model, test, tmp_path / "other", blend=blend, ann=True)


def test_a_customer_id_is_answered_from_the_stored_history(shop_sample, model_dir):
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


def test_the_folder_holds_the_histories_beside_the_saved_model_not_in_it(shop_sample, model_dir):
    import tensorflow as tf

    from recft_utils.serving.model_folder import FORMAT, CustomerHistories

    _, _, test = shop_sample
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["format"] == FORMAT and metadata["signatures"] == ["recommend_items", "user_vectors"]
    assert "histories.npz" in metadata["files"] and metadata["ann"] is None  # 120 items: exact search
    assert not (model_dir / "index.usearch").exists()
    loaded = tf.saved_model.load(str(model_dir / "saved_model"))
    assert set(loaded.signatures) == {"recommend_items", "user_vectors"}
    stored = [name for name, _ in tf.train.list_variables(str(model_dir / "saved_model" / "variables" / "variables"))]
    assert any(name.startswith("item_vectors/") for name in stored)
    assert not [name for name in stored if "history" in name or "customer" in name]
    table = CustomerHistories.load(model_dir / "histories.npz")
    padded = window_histories(test, np.arange(len(test.users)), 50)
    assert len(table) == metadata["customers"] == len(test.users)
    for row in test.eval_rows[:20]:
        items, ages = table.history(test.users[row])
        length = int(padded.mask[row].sum())
        assert (items == padded.items[row, :length]).all() and (ages == padded.ages[row, :length]).all()
    assert "no-such-customer" not in table and "x" * 500 not in table


def test_the_histories_table_finds_any_id_by_binary_search(tmp_path):
    from types import SimpleNamespace

    from recft_utils.serving.model_folder import CustomerHistories

    customers = np.array(["b", "é-2", "a", "17850"])
    padded = SimpleNamespace(
        items=np.array([[3, 1, 0], [2, 0, 0], [0, 0, 0], [5, 6, 7]]),
        ages=np.array([[0, 2, 0], [1, 0, 0], [0, 0, 0], [4, 5, 6]], np.float32),
        mask=np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 1, 1]], np.float32),
    )
    table = CustomerHistories.load(CustomerHistories.from_padded(customers, padded).save(tmp_path / "h.npz"))
    assert len(table) == 4 and list(table.lengths()) == [3, 0, 2, 1]  # sorted: 17850, a, b, é-2
    assert [list(table.history(c)[0]) for c in customers] == [[3, 1], [2], [], [5, 6, 7]]
    assert list(table.history("b")[1]) == [0, 2]
    assert "c" not in table and "é" not in table and "17850 " not in table
    with pytest.raises(KeyError):
        table.history("c")
    with pytest.raises(ValueError, match="not unique"):
        CustomerHistories.from_padded(np.array(["a", "a", "b", "c"]), padded)


def test_a_folder_of_the_older_format_is_refused_with_the_command_that_fixes_it(model_dir, tmp_path):
    from recft_utils.serving.model_folder import ModelFolderError, ServedModel

    old = tmp_path / "old"
    shutil.copytree(model_dir, old)
    metadata = json.loads((old / "metadata.json").read_text())
    (old / "metadata.json").write_text(json.dumps({**metadata, "format": "recft-saved-model/1"}))
    with pytest.raises(ModelFolderError, match=r"older export.*`recft export --run-dir RUN --out "):
        ServedModel.load(old)


@pytest.fixture(scope="module")
def ann_dir(fitted, shop_sample, tmp_path_factory):
    """The same model exported with the approximate index forced on (a real catalogue gets one above
    ANN_MIN_ITEMS items)."""
    from recft_utils.serving.export import export_recommender

    titles = shop_sample[0].drop_duplicates("item_id").set_index("item_id")["item_text"]
    return export_recommender(
        fitted.model, shop_sample[2], tmp_path_factory.mktemp("served-ann") / "model", titles, ann=True
    )


def test_the_approximate_index_answers_like_exact_search_and_honours_exclusions(shop_sample, model_dir, ann_dir):
    from recft_utils.serving.model_folder import ServedModel

    _, _, test = shop_sample
    metadata = json.loads((ann_dir / "metadata.json").read_text())
    assert "index.usearch" in metadata["files"] and metadata["ann"]["metric"] == "ip"
    served = ServedModel.load(ann_dir)
    assert served.search == "ann" and ServedModel.load(model_dir).search == "exact"
    same = 0
    for row in test.eval_rows[:20]:
        customer = str(test.users[row])
        approximate = served.recommend(10, customer_id=customer, exclude=[str(test.items[0])])
        exact = served.recommend(10, customer_id=customer, exclude=[str(test.items[0])], search="exact")
        assert approximate.attrs["search"] == "ann" and exact.attrs["search"] == "exact"
        assert (np.diff(approximate["score"]) <= 0).all() and len(approximate) == 10
        same += len(set(approximate["item_id"]) & set(exact["item_id"]))
        bought = set(served.customer_history(customer)[0])
        assert not (bought | {str(test.items[0])}) & set(approximate["item_id"])
    assert same >= 0.95 * 20 * 10  # approximate, even over 120 items: 95 % of the exact top 10s
    user = served.customer_user_vectors([str(test.users[test.eval_rows[0]])])
    assert user.shape == (1, served.item_vectors.shape[1])


def test_the_service_says_which_search_answered(ann_dir, shop_sample):
    from fastapi.testclient import TestClient

    from recft_utils.serving.model_folder import ServedModel
    from recft_utils.serving.service import create_app

    client = TestClient(create_app(ServedModel.load(ann_dir)))
    customer = str(shop_sample[2].users[shop_sample[2].eval_rows[0]])
    body = client.post("/recommend", json={"customer_id": customer, "k": 5}).json()
    assert body["search"] == "ann" and len(body["recommendations"]) == 5
    assert client.get("/health").json()["search"] == "ann"
    missing = client.post("/recommend", json={"customer_id": "no-such-customer"})
    assert missing.status_code == 404 and "has no stored history" in missing.json()["error"]


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
    assert body["model_version"] == version and len(body["recommendations"]) == 7 and body["search"] == "exact"
    scores = [r["score"] for r in body["recommendations"]]
    assert scores == sorted(scores, reverse=True)


def test_unknown_items_are_skipped_and_listed(service, shop_sample):
    known = [str(i) for i in shop_sample[2].items[:3]]
    response = requests.post(f"{service.url}/recommend", json={"items": known + ["NOT-AN-ITEM"], "k": 5}, timeout=10)
    assert response.status_code == 200
    assert response.json()["unknown_items"] == ["NOT-AN-ITEM"] and len(response.json()["recommendations"]) == 5


@pytest.mark.parametrize(
    "body, status, message",
    [
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
    ],
)
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(service, body, status, message):
    kwargs = (
        {"data": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, str) else {"json": body}
    )
    response = requests.post(f"{service.url}/recommend", timeout=10, **kwargs)
    assert response.status_code == status
    assert message in response.json()["error"] and response.json()["model_version"]


def test_unknown_item_page_is_a_404(service):
    response = requests.get(f"{service.url}/items/NOT-AN-ITEM", timeout=10)
    assert response.status_code == 404 and "not in the catalogue" in response.json()["error"]


def test_missing_or_damaged_model_folder_stops_start_up_with_a_clear_message(model_dir, tmp_path):
    def serve(folder):
        return subprocess.run(
            [sys.executable, "-m", "recft_utils.cli", "serve", "--model", str(folder), "--port", "9"],
            capture_output=True,
            text=True,
            timeout=120,
        )

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


def test_replay_hits_follow_the_orders_and_the_interval_covers_the_difference(service, shop_sample):
    from recft_utils.models import EASE
    from recft_utils.serving.replay import (
        classical_bar_recommender,
        daily_hit_rate,
        paired_comparison,
        replay,
        replay_events,
        service_recommender,
    )

    _, _, test = shop_sample
    events, skipped = replay_events(test)
    assert events and skipped["new_customer"] >= 0
    assert all(not (e.new_items & set(e.items)) for e in events)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    sampled, left = replay_events(test, most=30, seed=1)
    assert len(sampled) == 30 and left["not_sampled"] == len(events) - 30 and skipped["not_sampled"] == 0
    assert [e.timestamp for e in sampled] == sorted(e.timestamp for e in sampled) and sampled == [
        e for e in events if e in sampled
    ]
    events = events[:80]
    results = replay(
        events,
        {"served": service_recommender(service.url), "EASE": classical_bar_recommender(EASE().fit(test), test)},
        k=10,
        progress=False,
    )
    assert len(results) == 2 * len(events) and set(results["hit"]) <= {0, 1}
    daily = daily_hit_rate(results)
    assert daily["orders"].sum() == len(events)
    ab = paired_comparison(results, "served", "EASE", samples=200)
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
    failed = subprocess.run(
        [sys.executable, "-c", START_THEN, str(model_dir), "fail"], capture_output=True, text=True, timeout=180
    )
    assert failed.returncode == 1 and "a failing cell" in failed.stderr
    assert _gone(int(failed.stdout.split()[0]))

    parent = subprocess.Popen(
        [sys.executable, "-c", START_THEN, str(model_dir), "sleep"], stdout=subprocess.PIPE, text=True
    )
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


def test_the_classical_bar_replays_as_it_ranks_offline(shop_sample):
    """A customer's first replayed order, with the history they had at the window start, gets the top 10 that the
    bar (item-to-item model + recent popularity, blended) ranks offline for them."""
    from recft_utils.evaluation.metrics import top_k
    from recft_utils.models.fair_baselines import classical_bar_from
    from recft_utils.serving.replay import classical_bar_recommender, replay_events

    _, _, test = shop_sample
    bar = classical_bar_from({"days": 30, "weight": 0.5, "item_model": "EASE"}).fit(test)
    recommend = classical_bar_recommender(bar, test)
    row_of = dict(zip(test.users, range(len(test.users))))
    firsts = {}
    for event in replay_events(test, max_history=10_000)[0]:
        firsts.setdefault(event.customer_id, event)
    checked = 0
    for customer, event in firsts.items():
        row = row_of.get(customer)
        if row is None or set(event.items) != set(test.items[test.matrix[row].indices]):
            continue  # an earlier order of the window is in the history already
        scores = bar.score(np.array([row]))
        scores[0, test.matrix[row].indices] = -np.inf
        scores[0, test.n_warm :] = -np.inf
        assert recommend(event, 10) == list(test.items[top_k(scores, 10)[0]])
        checked += 1
    assert checked >= 20
