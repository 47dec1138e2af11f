#include "mlf/base.h"

#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


char *mlf_login_name(void)
{
	const char *vars[] = { "USER", "LOGNAME" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return mlf_xstrdup(v);
	}
	struct passwd *pw = getpwuid(geteuid());
	return mlf_xstrdup(pw && pw->pw_name ? pw->pw_name : "unknown");
}

static int is_sha1_hex(const char *s)
{
	for (int i = 0; i < 40; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return s[40] == '\0' || isspace((unsigned char)s[40]);
}

static char *read_trimmed(const char *path)
{
	char *data = NULL;
	if (mlf_read_file(path, &data, NULL, NULL) != 0)
		return NULL;
	size_t n = strlen(data);
	while (n && isspace((unsigned char)data[n - 1]))
		data[--n] = '\0';
	return data;
}

/* Find `ref` ("refs/heads/main") in a packed-refs file: lines "<sha> <ref>". */
static char *packed_ref(const char *gitdir, const char *ref)
{
	char *path = mlf_path_join(gitdir, "packed-refs");
	char *data = read_trimmed(path);
	char *found = NULL;
	free(path);
	if (!data)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) > 41 && line[40] == ' ' && !strcmp(line + 41, ref) && is_sha1_hex(line)) {
			found = mlf_xstrndup(line, 40);
			break;
		}
	}
	free(data);
	return found;
}

/* The .git folder for `dir`: walk up until one is found.  Handles "gitdir:" files. */
static char *find_gitdir(const char *dir)
{
	char *cur = mlf_path_absolute(NULL, dir);
	for (;;) {
		char *candidate = mlf_path_join(cur, ".git");
		if (mlf_is_dir(candidate)) {
			free(cur);
			return candidate;
		}
		if (mlf_is_file(candidate)) {  /* worktree or submodule: "gitdir: <path>" */
			char *text = read_trimmed(candidate);
			free(candidate);
			char *result = NULL;
			if (text && !strncmp(text, "gitdir: ", 8))
				result = mlf_path_absolute(cur, text + 8);
			free(text);
			free(cur);
			return result;
		}
		free(candidate);
		char *slash = strrchr(cur, '/');
		if (!slash || slash == cur) {
			free(cur);
			return NULL;
		}
		*slash = '\0';
	}
}

char *mlf_git_head_commit(const char *dir)
{
	char *gitdir = find_gitdir(dir ? dir : ".");
	if (!gitdir)
		return NULL;
	char *head_path = mlf_path_join(gitdir, "HEAD");
	char *head = read_trimmed(head_path);
	char *commit = NULL;
	free(head_path);
	if (head && !strncmp(head, "ref: ", 5)) {
		char *ref_path = mlf_path_join(gitdir, head + 5);
		char *sha = read_trimmed(ref_path);
		free(ref_path);
		if (!sha) {
			/* Worktrees keep branch refs in the common dir. */
			char *common_file = mlf_path_join(gitdir, "commondir");
			char *common = read_trimmed(common_file);
			free(common_file);
			if (common) {
				char *cdir = mlf_path_absolute(gitdir, common);
				char *p = mlf_path_join(cdir, head + 5);
				sha = read_trimmed(p);
				if (!sha)
					sha = packed_ref(cdir, head + 5);
				free(p);
				free(cdir);
				free(common);
			}
		}
		if (!sha)
			sha = packed_ref(gitdir, head + 5);
		if (sha && is_sha1_hex(sha))
			commit = mlf_xstrndup(sha, 40);
		free(sha);
	} else if (head && is_sha1_hex(head)) {
		commit = mlf_xstrndup(head, 40);
	}
	free(head);
	free(gitdir);
	return commit;
}

void mlf_time_rfc3339(time_t t, char out[32])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		out[0] = '\0';
}

char *mlf_now_rfc3339(void)
{
	char buf[32];
	mlf_time_rfc3339(time(NULL), buf);
	return mlf_xstrdup(buf);
}
