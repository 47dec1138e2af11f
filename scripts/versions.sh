# Pinned versions and cache locations, sourced by bootstrap, tests and benchmarks.
# mlflow[auth]: the tests also run the basic-auth server app.
# The venv lives outside the checkout so every clone (and CI) reuses it.
MLFLOW_VERSION=3.17.2
# In the same venv, for the S3 tests: boto3 (MLflow's client reads s3:// artifacts
# through it) and moto's S3 server (the S3 endpoint on loopback; no real S3 server
# installs from the package registries).
BOTO3_VERSION=1.44.18
MOTO_VERSION=5.2.6
MLF_CACHE=${MLF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlf}
MLF_VENV=${MLF_VENV:-$MLF_CACHE/mlflow-$MLFLOW_VERSION}
# libtorch: the PyPI torch wheel's package folder (headers + shared libraries),
# installed with --target outside the checkout.  The Linux wheel is a CUDA build:
# libtorch_cpu.so itself needs libcudart and libcupti (found through its RPATH
# in ../../nvidia/cu13/lib), so those two small wheels come with it; the rest of
# CUDA (cuDNN, cuBLAS, ... several GB) only with MLF_TORCH_CUDA=1.
TORCH_VERSION=2.11.0
TORCH_CPU_DEPS="nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85"
MLF_TORCH_CUDA=${MLF_TORCH_CUDA:-0}
if [ "$MLF_TORCH_CUDA" = 1 ]; then
	MLF_TORCH_DIR=${MLF_TORCH_DIR:-$MLF_CACHE/torch-$TORCH_VERSION-cuda}
else
	MLF_TORCH_DIR=${MLF_TORCH_DIR:-$MLF_CACHE/torch-$TORCH_VERSION}
fi
