# Pinned versions and cache locations, sourced by bootstrap, tests and benchmarks.
# mlflow[auth]: the tests also run the basic-auth server app.
# The venv lives outside the checkout so every clone (and CI) reuses it.
MLFLOW_VERSION=3.17.2
MLF_CACHE=${MLF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlf}
MLF_VENV=${MLF_VENV:-$MLF_CACHE/mlflow-$MLFLOW_VERSION}
