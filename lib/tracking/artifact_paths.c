#include "tracking_internal.h"

#include <string.h>

#include "mlf/base.h"

char *mlf_artifact_path_clean(const char *path)
{
	struct mlf_buf b = MLF_BUF_INIT;
	for (const char *p = path ? path : ""; *p; ) {
		size_t n = strcspn(p, "/");
		if (n) {
			if (b.len)
				mlf_buf_addc(&b, '/');
			mlf_buf_add(&b, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return mlf_buf_detach(&b);
}

char *mlf_artifact_path_join(const char *a, const char *b)
{
	if (!*a)
		return mlf_xstrdup(b);
	if (!*b)
		return mlf_xstrdup(a);
	return mlf_xasprintf("%s/%s", a, b);
}

const char *mlf_artifact_path_base(const char *path)
{
	const char *s = path + strlen(path);
	while (s > path && s[-1] != '/')
		s--;
	return s;
}

int mlf_artifact_path_check(const char *what, const char *path, struct mlf_error *err)
{
	if (!path)
		return 0;
	if (path[0] == '/')
		goto bad;
	for (const char *p = path; *p; ) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
bad:
	return mlf_fail(err, MLF_EX_DATAERR,
			"%s '%s' must be a relative path inside the run's artifacts (no '.' or "
			"'..' parts, no leading '/')", what, path);
}
