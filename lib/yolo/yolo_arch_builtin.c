/*
 * The released YOLOv8 and YOLO11 detection descriptions (ultralytics
 * cfg/models/v8/yolov8.yaml and cfg/models/11/yolo11.yaml), as JSON in the
 * shape a checkpoint's meta["yaml"] has.
 */
#include <stdio.h>
#include <string.h>

#include "mlf/yolo.h"

static const char yolov8_json[] =
	"{\"nc\": 80,"
	" \"scales\": {\"n\": [0.33, 0.25, 1024], \"s\": [0.33, 0.50, 1024], \"m\": [0.67, 0.75, 768],"
	"  \"l\": [1.00, 1.00, 512], \"x\": [1.00, 1.25, 512]},"
	" \"backbone\": ["
	"  [-1, 1, \"Conv\", [64, 3, 2]], [-1, 1, \"Conv\", [128, 3, 2]], [-1, 3, \"C2f\", [128, true]],"
	"  [-1, 1, \"Conv\", [256, 3, 2]], [-1, 6, \"C2f\", [256, true]], [-1, 1, \"Conv\", [512, 3, 2]],"
	"  [-1, 6, \"C2f\", [512, true]], [-1, 1, \"Conv\", [1024, 3, 2]], [-1, 3, \"C2f\", [1024, true]],"
	"  [-1, 1, \"SPPF\", [1024, 5]]],"
	" \"head\": ["
	"  [-1, 1, \"nn.Upsample\", [\"None\", 2, \"nearest\"]], [[-1, 6], 1, \"Concat\", [1]],"
	"  [-1, 3, \"C2f\", [512]], [-1, 1, \"nn.Upsample\", [\"None\", 2, \"nearest\"]],"
	"  [[-1, 4], 1, \"Concat\", [1]], [-1, 3, \"C2f\", [256]], [-1, 1, \"Conv\", [256, 3, 2]],"
	"  [[-1, 12], 1, \"Concat\", [1]], [-1, 3, \"C2f\", [512]], [-1, 1, \"Conv\", [512, 3, 2]],"
	"  [[-1, 9], 1, \"Concat\", [1]], [-1, 3, \"C2f\", [1024]], [[15, 18, 21], 1, \"Detect\", [\"nc\"]]]}";

static const char yolo11_json[] =
	"{\"nc\": 80,"
	" \"scales\": {\"n\": [0.50, 0.25, 1024], \"s\": [0.50, 0.50, 1024], \"m\": [0.50, 1.00, 512],"
	"  \"l\": [1.00, 1.00, 512], \"x\": [1.00, 1.50, 512]},"
	" \"backbone\": ["
	"  [-1, 1, \"Conv\", [64, 3, 2]], [-1, 1, \"Conv\", [128, 3, 2]], [-1, 2, \"C3k2\", [256, false, 0.25]],"
	"  [-1, 1, \"Conv\", [256, 3, 2]], [-1, 2, \"C3k2\", [512, false, 0.25]], [-1, 1, \"Conv\", [512, 3, 2]],"
	"  [-1, 2, \"C3k2\", [512, true]], [-1, 1, \"Conv\", [1024, 3, 2]], [-1, 2, \"C3k2\", [1024, true]],"
	"  [-1, 1, \"SPPF\", [1024, 5]], [-1, 2, \"C2PSA\", [1024]]],"
	" \"head\": ["
	"  [-1, 1, \"nn.Upsample\", [\"None\", 2, \"nearest\"]], [[-1, 6], 1, \"Concat\", [1]],"
	"  [-1, 2, \"C3k2\", [512, false]], [-1, 1, \"nn.Upsample\", [\"None\", 2, \"nearest\"]],"
	"  [[-1, 4], 1, \"Concat\", [1]], [-1, 2, \"C3k2\", [256, false]], [-1, 1, \"Conv\", [256, 3, 2]],"
	"  [[-1, 13], 1, \"Concat\", [1]], [-1, 2, \"C3k2\", [512, false]], [-1, 1, \"Conv\", [512, 3, 2]],"
	"  [[-1, 10], 1, \"Concat\", [1]], [-1, 2, \"C3k2\", [1024, true]], [[16, 19, 22], 1, \"Detect\", [\"nc\"]]]}";

json_t *mlf_yolo_arch_builtin_yaml(const char *family, char scale, int nc, struct mlf_error *err)
{
	const char *text = !strcmp(family, "yolov8") ? yolov8_json : !strcmp(family, "yolo11") ? yolo11_json : NULL;
	if (!text) {
		mlf_fail(err, MLF_EX_DATAERR, "unknown model family '%s' (known: yolov8, yolo11)", family);
		return NULL;
	}
	if (!scale || !strchr("nslmx", scale)) {
		mlf_fail(err, MLF_EX_DATAERR, "unknown scale '%c' for %s (known: n, s, m, l, x)",
			 scale ? scale : '?', family);
		return NULL;
	}
	if (nc < 1) {
		mlf_fail(err, MLF_EX_DATAERR, "%s: number of classes must be positive, got %d", family, nc);
		return NULL;
	}
	json_error_t jerr;
	json_t *y = json_loads(text, 0, &jerr);
	if (!y) {
		mlf_fail(err, MLF_EX_SOFTWARE, "built-in %s description: %s", family, jerr.text);
		return NULL;
	}
	char s[2] = { scale, 0 }, file[32];
	snprintf(file, sizeof(file), "%s%c.yaml", family, scale);
	if (json_object_set_new(y, "nc", json_integer(nc)) || json_object_set_new(y, "scale", json_string(s)) ||
	    json_object_set_new(y, "yaml_file", json_string(file)) ||
	    json_object_set_new(y, "channels", json_integer(3))) {
		json_decref(y);
		mlf_fail(err, MLF_EX_SOFTWARE, "built-in %s description: out of memory", family);
		return NULL;
	}
	return y;
}

int mlf_yolo_arch_builtin(struct mlf_yolo_arch *a, const char *family, char scale, int nc,
			  struct mlf_error *err)
{
	mlf_yolo_arch_init(a);
	json_t *y = mlf_yolo_arch_builtin_yaml(family, scale, nc, err);
	if (!y)
		return -1;
	int rc = mlf_yolo_arch_from_yaml(a, y, err);
	json_decref(y);
	return rc;
}
