"""The same validation mlf-validate does, written with the MLflow Python client.

Used only by scripts/bench-validate as the peer to compare against.
usage: validate_peer.py WORKSPACE EXPERIMENT_ID [--probe]
"""
import os
import shutil
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
from mlflow.tracking import MlflowClient  # noqa: E402

ws, exp_id, probe = sys.argv[1], sys.argv[2], "--probe" in sys.argv
db = os.path.join(ws, "runs/mlflow/mlflow.db")
client = MlflowClient(tracking_uri=f"sqlite:///{db}")
exp = client.get_experiment(exp_id)
assert exp.lifecycle_stage == "active"
assert exp.artifact_location == "file://" + os.path.join(ws, "runs/mlflow", exp_id)
art_dir = exp.artifact_location[len("file://"):]
probe_file = os.path.join(art_dir, ".write-probe")
with open(probe_file, "w") as f:
    f.write("probe")
os.unlink(probe_file)
assert shutil.disk_usage(ws).free > (1 << 20)
if probe:
    run = client.create_run(exp_id, run_name="peer-probe", tags={"mlf.probe": "true"})
    rid = run.info.run_id
    client.log_param(rid, "mlf.probe.param", "x")
    client.log_metric(rid, "mlf.probe.metric", 0.5)
    client.set_tag(rid, "mlf.probe.tag", "x")
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "mlf-probe.txt"), "w") as f:
        f.write("x")
    client.log_artifact(rid, os.path.join(tmp, "mlf-probe.txt"))
    got = client.get_run(rid)
    assert got.data.params["mlf.probe.param"] == "x" and got.data.metrics["mlf.probe.metric"] == 0.5
    assert [a.path for a in client.list_artifacts(rid)] == ["mlf-probe.txt"]
    client.set_terminated(rid, "FINISHED")
    client.delete_run(rid)
    shutil.rmtree(os.path.join(art_dir, rid), ignore_errors=True)
    shutil.rmtree(tmp)
print("ok")
