"""logged_model_check.py URI EXPERIMENT RUN_ID MODEL VERSION SHA256: read back with the
real MLflow client the MLflow Model retrain-run logged for RUN_ID: a READY logged model
of the experiment, the run's output, with the run's params, listing its registry
version; the version (@champion) is of it; MLflow's own loaders read its MLmodel and
find the weights; pyfunc gets as far as importing Ultralytics (absent here)."""
import hashlib
import json
import os
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.models import Model

uri, experiment, run_id, name, version, sha = sys.argv[1:7]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
c = MlflowClient(uri, registry_uri=uri)

models = [m for m in mlflow.search_logged_models(experiment_ids=[experiment], output_format="list")
          if m.source_run_id == run_id]
assert len(models) == 1, models
m = models[0]
assert m.status.to_int() == 2 or str(m.status).endswith("READY"), m.status
assert m.name == "retrained_" + version and m.model_type, m
run = c.get_run(run_id)
assert [o.model_id for o in run.outputs.model_outputs] == [m.model_id], run.outputs
assert m.params == run.data.params, (m.params, run.data.params)
listed = json.loads(m.tags["mlflow.modelVersions"])
assert [(e["name"], str(e["version"])) for e in listed][:1] == [(name, "1")], listed

mv = c.get_model_version_by_alias(name, "champion")
assert mv.source == "models:/" + m.model_id and mv.run_id == run_id, mv
folder = mlflow.artifacts.download_artifacts(f"models:/{name}@champion")
mlmodel = Model.load(folder)
pf = mlmodel.flavors["python_function"]
assert pf["loader_module"] == "mlf_yolo" and pf["code"] == "code", pf
assert mlmodel.model_id == m.model_id and mlmodel.run_id == run_id, mlmodel.to_dict()
with open(os.path.join(folder, pf["data"]), "rb") as f:
    assert hashlib.sha256(f.read()).hexdigest() == sha, "the weights differ from the model"
assert os.path.isfile(os.path.join(folder, "code", "mlf_yolo.py"))
reqs = open(os.path.join(folder, "requirements.txt")).read().split()
assert any(r.startswith("ultralytics==") for r in reqs) and any(r.startswith("mlflow==") for r in reqs), reqs
try:
    mlflow.pyfunc.load_model(f"models:/{name}@champion")
    raise SystemExit("pyfunc loaded without Ultralytics?")
except ModuleNotFoundError as e:
    assert e.name == "ultralytics", e
print("logged model %s READY, registered as %s version %s, MLmodel read" % (m.model_id, name, mv.version))
