/*
 * Artifact paths: the '/'-separated paths of artifacts relative to a run's
 * artifact root, as artifacts_local.c and artifacts_proxy.c take and give
 * them (internal to lib/tracking/).
 *
 * Ownership: the functions borrow their arguments.  Those returning `char *`
 * return a new string the caller frees; mlf_artifact_path_base returns a
 * pointer into its argument.
 */
#ifndef MLF_TRACKING_ARTIFACT_PATHS_H
#define MLF_TRACKING_ARTIFACT_PATHS_H

#include "mlf/error.h"

/* "a//b/" -> "a/b"; NULL or "" -> "". */
char *mlf_artifact_path_clean(const char *path);
/* "a" + "b" -> "a/b"; an empty side gives the other one. */
char *mlf_artifact_path_join(const char *a, const char *b);
/* What follows the last '/' ("a/b" -> "b", "a/" -> ""). */
const char *mlf_artifact_path_base(const char *path);
/*
 * An artifact path stays inside the artifact root: relative, no "." or ".."
 * parts.  NULL passes.  `what` names the path in the message ("artifact path").
 */
int mlf_artifact_path_check(const char *what, const char *path, struct mlf_error *err);

#endif
