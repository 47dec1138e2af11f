#!/bin/sh
# The request the application of the Python system mlf replaces sent, against
# mlf-serve (mlf-serve(1)): it waits for the retraining and prints the answer
# ({"success", "experiment_id", "mlflow_run_id", "new_version", "metrics", ...}).
#   MLF_SERVE_URL   default http://127.0.0.1:8080
#   MLF_SERVE_TOKEN the service's bearer token
exec curl -sS -X POST "${MLF_SERVE_URL:-http://127.0.0.1:8080}/api/model/retrain?wait=true" \
	-H "Authorization: Bearer ${MLF_SERVE_TOKEN:?set MLF_SERVE_TOKEN}" \
	-H 'Content-Type: application/json' \
	-d "{\"epochs\": ${EPOCHS:-3}, \"batch_size\": ${BATCH_SIZE:-16}, \"experiment_id\": \"${EXPERIMENT_ID:-1}\"}"
