"""The run layer's small rules, each called directly."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from cbrun.config.loading import load_config
from cbrun.errors import UsageError
from cbrun.output.logsink import LogSink
from cbrun.run.distribute import make_strategy
from cbrun.run.evaluation import evaluate_steps
from cbrun.run.failures import training_failure
from cbrun.run.multi_worker import cluster_from_env
from cbrun.run.resume import differences
from tests.conftest import CONFIGS


def _sink():
    console = Console(file=io.StringIO(), width=120)
    return LogSink(console), console


def test_evaluate_steps_are_capped_at_the_test_split():
    spec = load_config(CONFIGS / "early_stop.yaml")  # 20 steps of 128
    sink, console = _sink()
    assert evaluate_steps(spec, 128 * 20, sink) == 20
    assert evaluate_steps(spec, 300, sink) == 3
    assert "20 steps asked, the test split has 3 batches of 128" in console.file.getvalue()


def test_differences_name_the_dotted_keys():
    old = {"fit": {"epochs": 3, "batch_size": 32}, "seed": 0}
    new = {"fit": {"epochs": 5, "batch_size": 32}, "seed": 1}
    assert differences(old, new) == ["fit.epochs", "seed"]


def test_tf_config_gives_this_task_and_its_peers(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    found = cluster_from_env()
    assert (found.name, found.is_chief, found.peers) == ("worker 1", False, ("127.0.0.1:1",))
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UsageError, match="not a valid cluster description"):
        cluster_from_env()


def test_the_default_strategy_is_one_replica_and_says_nothing():
    said = []
    spec = load_config(CONFIGS / "early_stop.yaml")
    strategy = make_strategy(spec.distribute, 64, said.append)
    assert strategy.num_replicas_in_sync == 1 and said == []


def test_a_bug_keeps_its_traceback_and_tensorflow_refusing_is_one_line(tmp_path):
    import tensorflow as tf

    sink, _ = _sink()
    log = tmp_path / "train.log"
    bug = training_failure(KeyError("x"), [], sink, log, verbose=False, nothing_trained=True)
    assert bug is None  # not the user's: the caller re-raises it
    refused = tf.errors.InvalidArgumentError(None, None, "logits and labels must match")
    error = training_failure(refused, [], sink, log, verbose=False, nothing_trained=True)
    assert error.exit_code == 2 and "logits and labels must match" in str(error)
