"""Read the S3 artifacts of a run (or a logged model) with the real MLflow client,
which reaches S3 itself through boto3, and with boto3 directly.

    s3_artifacts_check.py URI RUN_ID MLF_LISTING.json|- [ARTIFACT=LOCAL_FILE ...]
    s3_artifacts_check.py URI --model MODEL_ID MLF_LISTING.json|- [ARTIFACT=LOCAL_FILE ...]

Checks: the artifact URI is s3://; MLflow's recursive listing (paths and sizes)
is mlf's (track-driver list-artifacts) exactly; every object under the artifact
prefix in the bucket is listed (no temporary or probe object left behind); every
file MLflow downloads has the sha256 of the object boto3 reads, and of the local
file named for it.  Prints "ok - ..." / "not ok - ..."; exits 1 if any failed.
"""
import hashlib
import json
import os
import sys
import tempfile

import boto3
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

failures = 0


def check(what, cond, detail=""):
    global failures
    if cond:
        print(f"ok - {what}")
    else:
        failures += 1
        print(f"not ok - {what}{': ' + str(detail) if detail else ''}")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    args = sys.argv[1:]
    uri = args.pop(0)
    c = MlflowClient(uri)
    if args[0] == "--model":
        model = c.get_logged_model(args[1])
        root, args = model.artifact_location, args[2:]
        what = f"model {model.model_id}"
    else:
        run = c.get_run(args[0])
        root, args = run.info.artifact_uri, args[1:]
        what = f"run {run.info.run_id}"
    ours = None if args[0] == "-" else {e["path"]: e["size"] for e in json.load(open(args[0])) if not e["is_dir"]}
    pairs = dict(a.split("=", 1) for a in args[1:])
    check(f"{what}: artifacts live at an s3:// URI", root.startswith("s3://"), root)

    # MLflow's own repository for the URI: S3ArtifactRepository, over boto3.
    repo = get_artifact_repository(root)
    check(f"{what}: MLflow reads it with {type(repo).__name__}", type(repo).__name__ == "S3ArtifactRepository")
    listed = {}

    def walk_repo(path=None):
        for f in repo.list_artifacts(path):
            if f.is_dir:
                walk_repo(f.path)
            else:
                listed[f.path] = f.file_size
    walk_repo()
    if ours is not None:
        check(f"{what}: MLflow lists exactly what mlf lists ({len(ours)} files, paths and sizes)",
              listed == ours, {"mlflow_only": sorted(set(listed.items()) - set(ours.items())),
                               "mlf_only": sorted(set(ours.items()) - set(listed.items()))})

    bucket, _, prefix = root[len("s3://"):].partition("/")
    s3 = boto3.client("s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL"))
    keys = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for o in page.get("Contents", []):
            keys[o["Key"][len(prefix.rstrip("/")) + 1:]] = o["Size"]
    check(f"{what}: the bucket holds nothing else under the artifact prefix", keys == listed,
          sorted(set(keys) ^ set(listed)))

    with tempfile.TemporaryDirectory() as d:
        got = download_artifacts(artifact_uri=root, dst_path=d)
        bad = []
        for path in sorted(listed):
            mine = sha256(os.path.join(got, path))
            raw = hashlib.sha256(s3.get_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{path}")["Body"].read()).hexdigest()
            if mine != raw:
                bad.append(path)
        check(f"{what}: every file MLflow downloads is byte for byte the stored object ({len(listed)})",
              not bad and listed, bad)
        for path, local in sorted(pairs.items()):
            check(f"{what}: {path} is {os.path.basename(local)} (sha256)",
                  path in listed and sha256(os.path.join(got, path)) == sha256(local), path)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
