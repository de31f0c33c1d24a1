#!/usr/bin/env bash
# The smoke run: every command a user can type, for a few steps each, each checked for
# its exit code and the artifact it promises. Usage: scripts/smoke.sh [CBRUN]
# Data comes from the sample bundled with cbrun, so no step waits on a download.
set -euo pipefail
cd "$(dirname "$0")/.."

CBRUN=${1:-.venv/bin/cbrun}

# Every step runs on pipes, as in CI: its stderr is kept too, and a line of TensorFlow's
# start-up chatter in it fails the smoke run (tests/cli/test_console.py does the same on
# terminals). The script runs itself once more with stderr through tee.
CHATTER='absl::InitializeLog|oneDNN custom operations|cuda drivers|TF-TRT|This TensorFlow binary|^[IWEF][0-9]{4} [0-9:. ]+ [0-9]+ [^ ]+\.cc:[0-9]+\]'
if [ -z "${SMOKE_STDERR:-}" ]; then
  SMOKE_STDERR=$(mktemp "${TMPDIR:-/tmp}/cbrun-smoke-stderr.XXXXXX")
  export SMOKE_STDERR
  code=0
  # stdout straight through (fd 3); stderr through tee. pipefail keeps the script's code.
  { bash scripts/smoke.sh "$@" 2>&1 1>&3 3>&- | tee "$SMOKE_STDERR" >&2 3>&-; } 3>&1 || code=$?
  if grep -nE "$CHATTER" "$SMOKE_STDERR" >&2; then
    printf "smoke FAILED: TensorFlow's start-up lines reached stderr (above)\n" >&2
    code=1
  fi
  rm -f "$SMOKE_STDERR"
  exit "$code"
fi
OUT=$(mktemp -d "${TMPDIR:-/tmp}/cbrun-smoke.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
SHORT=(--set data.source=bundled --set fit.epochs=1 --set fit.steps_per_epoch=3 --quiet)

LANE=""  # which lane a step runs in (below)
# No `cbrun ... | grep -q`: grep leaves at its first match, cbrun's next write meets a
# closed pipe (click exits 1 then), and pipefail fails the step. Output goes to a file.
step() { printf "== %s%s (at %s s)\n" "$LANE" "$*" "$SECONDS"; }
fail() { printf 'smoke FAILED: %s\n' "$*" >&2; exit 1; }
has() { [ -s "$1" ] || fail "missing or empty: $1"; }
PY=$(dirname "$CBRUN")/python
summary_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
status_of() { summary_of "$1" status; }

# 1. Every shipped config and example trains, and leaves a complete run folder. The
#    own-data example reads the arrays its script writes (from the bundled sample).
#    `cbrun train` runs as a command once; the other configs train through the Python
#    API in one process (checking what it returns), so the smoke run pays for
#    TensorFlow's import once, not per config.
check_run() {
  for artifact in config.yaml summary.json history.csv train.log model.keras; do
    has "$1/$artifact"
  done
  case $(status_of "$1/summary.json") in
    completed | stopped_early) ;;
    *) fail "$1 ended $(status_of "$1/summary.json")" ;;
  esac
}
step "examples/own_data/make_data.py"
"$PY" examples/own_data/make_data.py examples/own_data/digits5.npz >/dev/null
step "examples/own_images/make_images.py"
"$PY" examples/own_images/make_images.py >/dev/null
step "examples/transfer/make_images.py"
"$PY" examples/transfer/make_images.py >/dev/null
export XDG_CACHE_HOME="$OUT/cache" # the image folder's decoded cache stays in the smoke's folder
# What `cbrun init` writes trains in lane b, with the shipped configs.
step "init"
"$CBRUN" init "$OUT/first.yaml" --model cnn --callbacks EarlyStopping >/dev/null
has "$OUT/cbrun.schema.json"
"$CBRUN" init "$OUT/example.yaml" --example early_stop >/dev/null
"$CBRUN" init "$OUT/backbone.yaml" --model MobileNetV3Small --dataset image_folder >/dev/null
has "$OUT/backbone_images/0/000.png"
"$CBRUN" validate "$OUT/backbone.yaml" >/dev/null  # it trains as the example does (lane a)
cmp -s "$OUT/example.yaml" configs/early_stop.yaml || fail "init --example is not the shipped config"
# Two lanes side by side, one per core: most of a step is `import tensorflow` in a process
# of its own, so two lanes nearly halve the wait. Lane a trains the early-stop run, reads
# it and stops a run with Ctrl-C; lane b trains the other configs and sweeps. `runs` and
# `diff` read what both made.
run="$OUT/train/early_stop"
lane_a() {
  LANE="[a] "
  step "train configs/early_stop.yaml"
  "$CBRUN" train configs/early_stop.yaml --run-dir "$run" "${SHORT[@]}" >/dev/null
  check_run "$run"
  # 2. Everything that reads a finished run, on the early-stop smoke run.
  step "evaluate $run"
  "$CBRUN" evaluate "$run" --json >"$OUT/evaluate.json"
  has "$run/evaluate.json"
  "$PY" -c 'import json,sys; assert "loss" in json.load(open(sys.argv[1]))' "$OUT/evaluate.json"
  step "predict $run"
  "$CBRUN" predict "$run" --count 4 --json >"$OUT/predict.json"
  "$PY" -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 4' "$OUT/predict.json"
  step "track $run --track tensorboard"
  "$CBRUN" track "$run" --track tensorboard --json >"$OUT/track.json"
  ls "$run"/tensorboard/train/events.out.tfevents.* >/dev/null || fail "track wrote no scalars"
  step "track $run --uri sqlite:///.../sent.db (to another store)"
  "$CBRUN" track "$run" --uri "sqlite:///$OUT/sent.db" --json >"$OUT/track-uri.json"
  "$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["mlflow"]["sent"]' "$OUT/track-uri.json"
  step "plot $run"
  "$CBRUN" plot "$run" -o "$OUT/curves.png" >/dev/null
  has "$OUT/curves.png"
  # A keras.applications backbone: the head on the frozen backbone, fine-tuned from epoch 2
  # (UnfreezeBackbone), then exported and verified in all three formats.
  step "train examples/transfer/transfer.yaml (fine-tunes at epoch 2), export it"
  tuned="$OUT/transfer"
  "$CBRUN" train examples/transfer/transfer.yaml --run-dir "$tuned" --set fit.epochs=2 \
    --set fit.steps_per_epoch=2 >"$OUT/transfer.log"
  check_run "$tuned"
  grep -q "epoch 2: UnfreezeBackbone made" "$OUT/transfer.log" || fail "no unfreeze line"
  step "export $tuned --format saved_model --format onnx --format litert"
  "$CBRUN" export "$tuned" --format saved_model --format onnx --format litert \
    -o "$OUT/export" >/dev/null || fail "the fine-tuned backbone's export did not verify"
  "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert all(f["verified"] for f in r["formats"].values()) and len(r["formats"]) == 3' \
    "$OUT/export/export.json"

  # 3. The commands that answer before TensorFlow, and a mistake's one line.
  step "train --runs-dir under /sys (read-only: refused before anything, exit 2)"
  code=0
  "$CBRUN" train configs/early_stop.yaml --runs-dir /sys/cbrun-smoke 2>"$OUT/refused.txt" || code=$?
  [ "$code" = 2 ] || fail "a read-only runs folder: exit $code, expected 2"
  grep -q "^Error: --runs-dir: cannot write /sys/cbrun-smoke: /sys: " "$OUT/refused.txt" ||
    fail "a read-only runs folder: $(cat "$OUT/refused.txt")"
  step "validate configs/early_stop.yaml"
  "$CBRUN" validate configs/early_stop.yaml --set fit.epochs=2 >"$OUT/resolved.yaml"
  grep -q "epochs: 2" "$OUT/resolved.yaml" || fail "validate did not apply --set"
  step "validate --set backend=jax (checked, no backend imported)"
  "$CBRUN" validate configs/early_stop.yaml --set backend=jax | grep -q "^backend: jax" ||
    fail "validate --set backend=jax"
  step "list-callbacks"
  "$CBRUN" list-callbacks --json >"$OUT/callbacks.json"
  "$PY" -c 'import json,sys; assert any(c["name"] == "EarlyStopping" for c in json.load(open(sys.argv[1])))' \
    "$OUT/callbacks.json"
  "$CBRUN" list-callbacks EarlyStopping >/dev/null
  step "check-plugin examples/plugin/epoch_timer.py"
  "$CBRUN" check-plugin examples/plugin/epoch_timer.py >/dev/null 2>&1
  step "schema"
  "$CBRUN" schema >"$OUT/schema.json"
  "$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["title"] == "cbrun config"' "$OUT/schema.json"
  step "validate --origins"
  "$CBRUN" validate configs/early_stop.yaml --origins >"$OUT/origins.txt"
  grep -q "^fit.epochs = " "$OUT/origins.txt" || fail "no origins"
  # 4. trace records every hook.
  step "trace configs/loss_printing.yaml"
  "$CBRUN" trace configs/loss_printing.yaml --runs-dir "$OUT/trace" \
    --set data.source=bundled --set fit.epochs=1 --set fit.steps_per_epoch=3 >/dev/null
  has "$(ls -d "$OUT"/trace/*/)trace.jsonl"
  # 5. Ctrl-C stops a run with exit 130 and a run that --resume finishes.
  step "train (stopped by SIGINT), then --resume"
  stopped="$OUT/stopped"
  # 30 epochs: Ctrl-C comes right after the first checkpoint, and --resume trains the rest.
  "$CBRUN" train configs/mnist_mlp.yaml --run-dir "$stopped" --set data.source=bundled \
    --set fit.epochs=30 --set fit.steps_per_epoch=3 --quiet >"$OUT/stopped.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do  # the first checkpoint exists after epoch 1 (at most 60 s)
    [ -d "$stopped/backup" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$pid"
  code=0
  wait "$pid" || code=$?
  [ "$code" = 130 ] || fail "SIGINT: exit $code, expected 130 ($(tail -2 "$OUT/stopped.log"))"
  [ "$(status_of "$stopped/summary.json")" = interrupted ] || fail "SIGINT: not interrupted"
  before=$(summary_of "$stopped/summary.json" epochs_run)
  "$CBRUN" train --resume "$stopped" --quiet >/dev/null || fail "--resume after SIGINT failed"
  case $(status_of "$stopped/summary.json") in
    completed | stopped_early) ;;
    *) fail "--resume ended $(status_of "$stopped/summary.json")" ;;
  esac
  [ "$(summary_of "$stopped/summary.json" epochs_run)" -gt "$before" ] || fail "--resume ran no epoch"
  has "$stopped/model.keras"
}
lane_b() {
  LANE="[b] "
  configs=()
  for config in configs/*.yaml examples/*/*.yaml "$OUT/first.yaml"; do
    # early_stop and the transfer example train in lane a (the latter to its fine-tuning)
    case $config in configs/early_stop.yaml | examples/transfer/*) ;; *) configs+=("$config") ;; esac
  done
  step "train (Python API) ${configs[*]}"
  "$PY" - "$OUT/train" "${configs[@]}" <<'PYTHON' >/dev/null
import pathlib, sys
import cbrun
out = pathlib.Path(sys.argv[1])
for config in sys.argv[2:]:
    short = ["fit.epochs=1", "fit.steps_per_epoch=3"]
    text = pathlib.Path(config).read_text()
    if "dataset: arrays" not in text and "dataset: image_folder" not in text:
        short.insert(0, "data.source=bundled")
    result = cbrun.train(config, short, run_dir=out / pathlib.Path(config).stem, quiet=True)
    assert result.status in ("completed", "stopped_early") and len(result.history) == 1, config
PYTHON
  for config in "${configs[@]}"; do
    check_run "$OUT/train/$(basename "$config" .yaml)"
  done

  step "sweep configs/sweep_mlp.yaml (2 trials, 1 epoch, 2 workers, tracked)"
  "$CBRUN" sweep configs/sweep_mlp.yaml --runs-dir "$OUT/sweep" --trials 2 --jobs 2 \
    --track tensorboard --track mlflow --set "tracking.mlflow.uri=sqlite:///$OUT/mlflow.db" \
    --set data.source=bundled --set fit.epochs=1 --set fit.steps_per_epoch=3 >"$OUT/sweep.out"
  grep -q "^2 workers, " "$OUT/sweep.out" || fail "no workers line"
  sweep_dir=$(ls -d "$OUT"/sweep/*/)
  "$PY" - "$sweep_dir" "sqlite:///$OUT/mlflow.db" <<'PYTHON' || fail "the sweep's trials are not tracked"
import glob, json, sys
from mlflow.tracking import MlflowClient
parent = json.load(open(sys.argv[1] + "tracking.json"))["mlflow"]["run_id"]
client = MlflowClient(sys.argv[2])
runs = client.search_runs([client.get_run(parent).info.experiment_id])
assert len([r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]) == 2
assert glob.glob(sys.argv[1] + "events.out.tfevents.*")  # the HParams experiment
assert len(glob.glob(sys.argv[1] + "trials/*/tensorboard/train/events.out.tfevents.*")) == 2
PYTHON
  step "sweep --resume (a finished sweep: nothing to run)"
  "$CBRUN" sweep --resume "$sweep_dir" >"$OUT/sweep-resume.out"
  grep -q "^2 of 2 trials finished" "$OUT/sweep-resume.out" || fail "resume"
  has "${sweep_dir}sweep.json"
  has "${sweep_dir}best.yaml"
  "$PY" -c 'import json,sys; assert len(json.load(open(sys.argv[1]))["trials"]) == 2' "${sweep_dir}sweep.json"
  "$CBRUN" runs "$sweep_dir" --json >"$OUT/trials.json"
  "$PY" -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 2' "$OUT/trials.json"
  "$CBRUN" plot "$sweep_dir" >/dev/null
  has "${sweep_dir}sweep.png"
}
lane_a &
a=$!
lane_b &
b=$!
lanes=0
wait "$a" || lanes=$?
wait "$b" || lanes=$?
[ "$lanes" = 0 ] || fail "a lane failed (its line is above)"

# 6. What reads both lanes' runs.
step "runs $OUT/train"
"$CBRUN" runs --runs-dir "$OUT/train" --json >"$OUT/runs.json"
"$PY" -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) >= 11' "$OUT/runs.json"
step "diff $run and the API run of mnist_mlp"
"$CBRUN" diff "$run" "$OUT/train/mnist_mlp" --json >"$OUT/diff.json"
"$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["config"]' "$OUT/diff.json"
"$CBRUN" diff "$run" "$OUT/train/mnist_mlp" --md >"$OUT/diff.md"
grep -q "^| metric |" "$OUT/diff.md" || fail "diff --md"
echo "smoke: every command passed"
