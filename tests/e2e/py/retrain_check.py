"""Read a retrain-run run back with the real MLflow client and check it.

    retrain_check.py URI RUN_ID --experiment ID --version vN --epochs N
                     [--status FINISHED] [--registry NAME] [--aliases a,b]
                     [--model-sha SHA] [--no-registry]

Prints "ok - ..." / "not ok - ..." per check; exits 1 if any failed.
"""
import argparse
import hashlib
import os
import sys
import tempfile

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

failures = 0


def check(what, cond, detail=""):
    global failures
    if cond:
        print(f"ok - {what}")
    else:
        failures += 1
        print(f"not ok - {what}{': ' + str(detail) if detail else ''}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("run_id")
    ap.add_argument("--experiment", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--status", default="FINISHED")
    ap.add_argument("--registry", default="", help="default: the experiment's name (mlf's default)")
    ap.add_argument("--aliases", default="")
    ap.add_argument("--model-sha", default="")
    ap.add_argument("--no-registry", action="store_true")
    a = ap.parse_args()

    c = MlflowClient(tracking_uri=a.uri, registry_uri=None if a.no_registry else a.uri)
    run = c.get_run(a.run_id)
    if not a.registry:
        a.registry = c.get_experiment(a.experiment).name.replace("/", "-").replace(":", "-")
    info, data = run.info, run.data
    check("run is in the exact experiment", info.experiment_id == a.experiment, info.experiment_id)
    check(f"run status is {a.status}", info.status == a.status, info.status)
    check("run name is retrained_" + a.version, info.run_name == "retrained_" + a.version, info.run_name)
    tags = data.tags
    for key, want in [("type", "retraining"), ("version", a.version), ("experiment_id", a.experiment),
                      ("training_type", "fine_tune"), ("mlf.tool", "retrain-run")]:
        check(f"tag {key}={want}", tags.get(key) == want, tags.get(key))
    for key in ("model_type", "dataset_digest", "base_model_sha256", "mlflow.user", "mlflow.source.name"):
        check(f"tag {key} present", bool(tags.get(key)))
    if a.status == "FINISHED":
        check("no failure reason on a finished run",
              tags.get("mlf.failure_reason", "none").startswith("none"), tags.get("mlf.failure_reason"))
    else:
        check("failure reason tagged", bool(tags.get("mlf.failure_reason")))
    params = data.params
    for key in ("epochs", "imgsz", "batch", "optimizer", "lr0", "seed", "data", "dataset_digest"):
        check(f"param {key} present", key in params)
    check("param epochs as trained", params.get("epochs") == str(a.epochs), params.get("epochs"))
    check("every training setting is a param (more than 60)", len(params) > 60, len(params))
    # as Ultralytics' callback logs them through MLflow's Python client: str(value)
    for key, want in (("iou", "0.7"), ("momentum", "0.937"), ("amp", "True"), ("freeze", "None"),
                      ("warmup_bias_lr", "0.1"), ("mosaic", "1.0")):
        check(f"param {key} as Python writes it", params.get(key) == want, params.get(key))
    found = c.search_runs([a.experiment], "params.iou = '0.7' and params.momentum = '0.937'")
    check("search_runs finds the run by params.iou = '0.7'", a.run_id in [r.info.run_id for r in found],
          [r.info.run_id for r in found])
    if a.status != "FINISHED":
        return
    inputs = [d.dataset.name for d in (run.inputs.dataset_inputs if run.inputs else [])]
    check("the dataset is a run input", f"retrain_{a.version}" in inputs, inputs)
    for d in (run.inputs.dataset_inputs if run.inputs else []):
        try:
            source = mlflow.data.get_source(d)
            check("mlflow.data.get_source() reads the dataset's source", source.uri.endswith(
                  f"/retrain_{a.version}") and os.path.isdir(source.uri), source.uri)
        except Exception as e:  # noqa: BLE001 - the failure is what is checked
            check("mlflow.data.get_source() reads the dataset's source", False, repr(e))
        check("the dataset's source type is local", d.dataset.source_type == "local", d.dataset.source_type)
        try:  # the digest, schema and profile mlflow.data's own MetaDataset gives it
            from mlflow.data.meta_dataset import MetaDataset
            same = MetaDataset(source=mlflow.data.get_source(d), name=d.dataset.name)
            check("the dataset's digest is MetaDataset's", d.dataset.digest == same.digest,
                  (d.dataset.digest, same.digest))
            check("... and its schema and profile too (none)", not d.dataset.schema and not d.dataset.profile,
                  (d.dataset.schema, d.dataset.profile))
        except Exception as e:  # noqa: BLE001 - the failure is what is checked
            check("the dataset's digest is MetaDataset's", False, repr(e))
    m = data.metrics
    for key in ("pre_precision", "pre_recall", "pre_mAP50", "pre_mAP50-95", "val_precision",
                "val_recall", "val_mAP50", "val_mAP50-95", "retraining_dataset_samples",
                "mAP50", "mAP50-95", "precision", "recall"):
        check(f"metric {key} present", key in m)
    for key in ("mAP50", "mAP50-95", "precision", "recall"):
        check(f"metric {key} is val_{key}'s value", m.get(key) == m.get("val_" + key),
              (m.get(key), m.get("val_" + key)))
    found = c.search_runs([a.experiment], "metrics.mAP50 > 0")
    check("search_runs finds the run by metrics.mAP50 > 0", a.run_id in [r.info.run_id for r in found])
    check("val_mAP50 > 0", m.get("val_mAP50", 0) > 0, m.get("val_mAP50"))
    check("val_precision > 0", m.get("val_precision", 0) > 0, m.get("val_precision"))
    for key in ("metrics/mAP50-95B", "train/box_loss", "val/cls_loss", "lr/pg0"):
        hist = c.get_metric_history(a.run_id, key)
        steps = sorted(x.step for x in hist)
        check(f"{key} logged at every epoch", steps == list(range(a.epochs)), steps)
    files = set()

    def walk(path=None):
        for f in c.list_artifacts(a.run_id, path):
            if f.is_dir:
                walk(f.path)
            else:
                files.add(f.path)
    walk()
    v = a.version
    for f in ("retraining_dataset/corrections_applied.json",
              "retraining_dataset/retraining_dataset_metadata.json", "retraining_dataset/data.yaml",
              f"models/retrained_{v}.pt", f"models/retrained_{v}_metadata.json",
              f"models/retrained_{v}.safetensors", "config/args.yaml", "plots/results.csv",
              "plots/results.png"):
        check(f"artifact {f}", f in files, sorted(files))
    if a.model_sha:
        with tempfile.TemporaryDirectory() as d:
            p = c.download_artifacts(a.run_id, f"models/retrained_{v}.pt", d)
            with open(p, "rb") as fh:
                sha = hashlib.sha256(fh.read()).hexdigest()
        check("the model artifact has the model's sha256", sha == a.model_sha, sha)
    if a.no_registry:
        return
    versions = c.search_model_versions(f"run_id='{a.run_id}'")
    check("one registry version for the run", len(versions) == 1, versions)
    if versions:
        mv = versions[0]
        check("registry version name", mv.name == a.registry, mv.name)
        check("registry version tag matches", tags.get("registry_version") == str(mv.version),
              (tags.get("registry_version"), mv.version))
        check("no run tag repeats the aliases (the registry alone says where they are)",
              "registry_aliases" not in tags, tags.get("registry_aliases"))
        got = c.get_model_version(a.registry, mv.version)
        for alias in filter(None, a.aliases.split(",")):
            check(f"alias {alias} on version {mv.version}", alias in got.aliases, got.aliases)


if __name__ == "__main__":
    main()
    sys.exit(1 if failures else 0)
