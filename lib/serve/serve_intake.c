/*
 * Corrections intake: one corrected image (its picture and its correction in the
 * native format) checked as retrain-prep checks every correction, then added
 * to the corrections folder whole or not at all.  The two files are written
 * into a hidden folder of the corrections folder (which the readers skip),
 * checked there, flushed, and the folder renamed to a visible one:
 * corrections/api-<UTC time>-<random>/<image> and <stem>.json.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mlf/base.h"
#include "mlf/prep.h"
#include "mlf/tracking.h"
#include "serve_internal.h"

#define STAGING_PREFIX ".incoming."

/* A plain file name with a picture's extension: no path, nothing hidden. */
static int image_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (!n || n > 128 || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return 0;
	const char *dot = strrchr(name, '.');
	return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static char *corrections_dir(struct server *s)
{
	return mlf_config_path(s->o->cfg, "paths.corrections");
}

void serve_intake_clean(struct server *s)
{
	char *dir = corrections_dir(s);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, STAGING_PREFIX, strlen(STAGING_PREFIX)))
			continue;
		/* left by a service that died mid-intake: never part of the corrections */
		char *path = mlf_path_join(dir, e->d_name);
		struct mlf_error err = MLF_ERROR_INIT;
		mlf_remove_tree(path, &err);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
}

static json_t *failure(unsigned status, const char *code, const char *msg)
{
	return json_pack("{s:b, s:i, s:s, s:s}", "success", 0, "status", (int)status, "code", code,
			 "error", msg);
}

unsigned serve_intake(struct server *s, const char *name, const char *image, size_t image_len,
		      const char *correction, size_t correction_len, json_t **answer)
{
	json_error_t je;
	struct mlf_error err = MLF_ERROR_INIT;
	if (!image_name_ok(name)) {
		*answer = failure(400, "bad_request", "the image needs a plain file name ending in .jpg, "
				  ".jpeg or .png (letters, digits, '.', '_', '-'; at most 128)");
		return 400;
	}
	if (!image_len) {
		*answer = failure(400, "bad_request", "the image is empty");
		return 400;
	}
	json_t *doc = correction ? json_loadb(correction, correction_len, 0, &je) : NULL;
	if (!json_is_object(doc)) {
		char *msg = mlf_xasprintf("the correction must be a JSON object in the native format "
					  "(\"format\": \"mlf.correction\"; see retrain-prep(1))%s%s",
					  doc || !correction ? "" : ": ", doc || !correction ? "" : je.text);
		*answer = failure(400, "bad_request", msg);
		free(msg);
		json_decref(doc);
		return 400;
	}
	const char *said = mlf_json_str(doc, "image", NULL);
	if (said && strcmp(said, name)) {
		char *msg = mlf_xasprintf("the correction names image '%s', but the image sent is '%s'",
					  said, name);
		*answer = failure(400, "bad_request", msg);
		free(msg);
		json_decref(doc);
		return 400;
	}
	json_object_set_new(doc, "image", json_string(name));

	char hex[33], stamp[32];
	mlf_random_hex32(hex);
	hex[12] = '\0';
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	char *dir = corrections_dir(s);
	char *staging_leaf = mlf_xasprintf(STAGING_PREFIX "%s", hex);
	char *final_leaf = mlf_xasprintf("api-%s-%s", stamp, hex);
	char *staging = mlf_path_join(dir, staging_leaf), *final = mlf_path_join(dir, final_leaf);
	char *stem = mlf_xstrndup(name, (size_t)(strrchr(name, '.') - name));
	char *json_leaf = mlf_xasprintf("%s.json", stem);
	char *image_path = mlf_path_join(staging, name), *json_path = mlf_path_join(staging, json_leaf);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	unsigned status = 0;

	struct mlf_prep_options opts;
	struct mlf_problems problems = { 0 };
	size_t usable = 0;
	if (mlf_mkdir_p(staging, 0777, &err) || mlf_write_file_excl(image_path, image, image_len, &err) ||
	    mlf_write_file_excl(json_path, text, strlen(text), &err) ||
	    mlf_prep_options_from_config(&opts, s->o->cfg, &err)) {
		status = 500;
	} else {
		opts.prog = "mlf-serve";
		if (mlf_prep_check_dir(&opts, staging, &usable, &problems, &err))
			status = err.status == MLF_EX_CONFIG ? 503 : 500;
		else if (problems.n || usable != 1)
			status = 422;
		mlf_prep_options_release(&opts);
	}
	if (status == 422) {
		json_t *list = mlf_problems_json(&problems);
		/* the files were checked where they waited: name them as they would have been */
		*answer = json_pack("{s:b, s:i, s:s, s:s, s:o}", "success", 0, "status", 422, "code",
				    "invalid_correction", "error", "the correction was refused, as retrain-prep "
				    "would refuse it; nothing was written", "problems", list);
	} else if (status) {
		*answer = failure(status, "intake_failed", err.msg);
	} else if (mlf_sync_fs(staging, &err) || mlf_failpoint(final, &err) || rename(staging, final)) {
		status = 500;
		*answer = failure(500, "intake_failed", err.msg[0] ? err.msg : "cannot move the correction "
				  "into the corrections folder");
	} else {
		char *image_final = mlf_path_join(final, name), *json_final = mlf_path_join(final, json_leaf);
		status = 201;
		*answer = json_pack("{s:b, s:s, s:s, s:I}", "success", 1, "correction", json_final, "image",
				    image_final, "boxes", (json_int_t)json_array_size(json_object_get(doc, "boxes")));
		free(image_final);
		free(json_final);
	}
	if (status != 201) {
		struct mlf_error e2 = MLF_ERROR_INIT;
		mlf_remove_tree(staging, &e2);  /* nothing of a refused correction stays */
	}
	mlf_problems_release(&problems);
	free(text);
	free(json_path);
	free(image_path);
	free(json_leaf);
	free(stem);
	free(final);
	free(staging);
	free(final_leaf);
	free(staging_leaf);
	free(dir);
	json_decref(doc);
	return status;
}

/* {"image": {"name": "x.jpg", "data": "<base64>"}, "correction": {...}} */
unsigned serve_intake_json(struct server *s, const char *body, size_t len, json_t **answer)
{
	json_error_t je;
	json_t *doc = json_loadb(body, len, 0, &je);
	const json_t *img = json_object_get(doc, "image");
	const char *name = mlf_json_str(img, "name", NULL), *b64 = mlf_json_str(img, "data", NULL);
	const json_t *corr = json_object_get(doc, "correction");
	if (!json_is_object(doc) || !name || !b64 || !json_is_object(corr)) {
		json_decref(doc);
		*answer = failure(400, "bad_request", "a JSON intake is {\"image\": {\"name\": \"x.jpg\", "
				  "\"data\": \"<base64>\"}, \"correction\": {the native format}}");
		return 400;
	}
	size_t n = strlen(b64);
	unsigned char *bytes = malloc(n / 4 * 3 + 4);
	int got = bytes ? mlf_serve_base64_decode(b64, n, bytes) : -1;
	unsigned status;
	if (got < 0) {
		*answer = failure(400, "bad_request", "image.data is not base64");
		status = 400;
	} else {
		char *text = json_dumps(corr, JSON_COMPACT);
		status = serve_intake(s, name, (const char *)bytes, (size_t)got, text, strlen(text), answer);
		free(text);
	}
	free(bytes);
	json_decref(doc);
	return status;
}

unsigned serve_corrections_status(struct server *s, json_t **answer)
{
	struct mlf_prep_options opts;
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_prep_options_from_config(&opts, s->o->cfg, &err)) {
		*answer = failure(503, "not_configured", err.msg);
		return 503;
	}
	opts.prog = "mlf-serve";
	int rc = mlf_prep_status(&opts, answer, &err);
	mlf_prep_options_release(&opts);
	if (rc) {
		*answer = failure(err.status == MLF_EX_CONFIG ? 503 : 500, "status_failed", err.msg);
		return err.status == MLF_EX_CONFIG ? 503 : 500;
	}
	return 200;
}
