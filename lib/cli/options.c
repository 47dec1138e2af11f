/*
 * Command lines from one table per program (struct mlf_program): getopt_long
 * does the parsing, and --help and the man page's OPTIONS and EXIT STATUS
 * sections are printed from the same entries, so the three cannot drift.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/cli.h"

enum { HELP_COLUMN = 28, HELP_WIDTH = 80 };

static size_t count_options(const struct mlf_option *o)
{
	size_t n = 0;
	while (o[n].name)
		n++;
	return n;
}

/* The option `id` of the table, or NULL. */
static const struct mlf_option *find(const struct mlf_program *p, int id)
{
	for (const struct mlf_option *o = p->options; o->name; o++)
		if (o->id == id)
			return o;
	return NULL;
}

/* Is `o` one of the shared entries of mlf/cli.h?  Its id and long name both say so: a
 * program may give a letter another meaning only by giving it another name too. */
static int is_shared(const struct mlf_option *o)
{
	static const struct { int id; const char *name; } shared[] = {
		{ 'C', "workspace" }, { 'c', "config" }, { 's', "set" }, { 'f', "format" },
		{ 'q', "quiet" }, { MLF_OPT_LONG + 100, "no-wait" }, { 'h', "help" }, { 'V', "version" },
	};
	for (size_t i = 0; o && i < sizeof(shared) / sizeof(shared[0]); i++)
		if (o->id == shared[i].id && !strcmp(o->name, shared[i].name))
			return 1;
	return 0;
}

/* "name=value" where name is a flag of the table (getopt calls that an unknown option). */
static int takes_no_argument(const struct mlf_program *p, const char *word)
{
	size_t len = strcspn(word, "=");
	for (const struct mlf_option *o = p->options; o->name; o++)
		if (!o->arg && o->id != 'h' && strlen(o->name) == len && !strncmp(o->name, word, len))
			return 1;
	return 0;
}

/* getopt_long's tables, made from ours: "C:c:qhV" and the struct option list. */
static void getopt_tables(const struct mlf_program *p, char *shorts, struct option *longs)
{
	size_t k = 0, s = 0;
	shorts[s++] = ':';  /* a missing argument is ':', not '?', so the message can say so */
	for (const struct mlf_option *o = p->options; o->name; o++, k++) {
		int has = !o->arg ? no_argument : (o->flags & MLF_OPT_OPTIONAL) ? optional_argument
									    : required_argument;
		/* --help=man is the man page's sections: accept an argument on --help. */
		if (o->id == 'h' && is_shared(o))
			has = optional_argument;
		longs[k] = (struct option){ o->name, has, NULL, o->id };
		if (o->id < MLF_OPT_LONG) {
			shorts[s++] = (char)o->id;
			/* a short option with an optional argument still takes it as its own word
			 * only through the long form: "-V" alone is the version */
			if (o->arg && !(o->flags & MLF_OPT_OPTIONAL))
				shorts[s++] = ':';
		}
	}
	shorts[s] = 0;
	longs[k] = (struct option){ 0 };
}

static int shared_option(const struct mlf_program *p, struct mlf_cli *c, int id, const char *arg)
{
	switch (id) {
	case 'C': c->config.workspace = arg; return 0;
	case 'c': c->config.file = arg; return 0;
	case 's': return mlf_cli_override(&c->config, NULL, arg) ? MLF_EX_USAGE : 0;
	case 'f': return mlf_cli_parse_format(arg, &c->text) ? MLF_EX_USAGE : 0;
	case 'q': c->quiet = 1; return 0;
	case MLF_OPT_LONG + 100: c->no_wait = 1; return 0;
	case 'h':
		if (arg && strcmp(arg, "man"))
			return mlf_cli_usage_error("--help takes no argument");
		if (arg)
			mlf_cli_print_man(p, stdout);
		else
			mlf_cli_print_help(p, stdout);
		return mlf_cli_exit(0);
	case 'V':
		mlf_cli_print_version();
		return mlf_cli_exit(0);
	}
	return -1;  /* not a shared option */
}

int mlf_cli_parse(const struct mlf_program *p, int argc, char **argv, struct mlf_cli *c,
		  mlf_option_fn fn, void *ctx)
{
	size_t n = count_options(p->options);
	char *shorts = mlf_xcalloc(2 * n + 2, 1);
	struct option *longs = mlf_xcalloc(n + 1, sizeof(*longs));
	int status = -1, id;

	getopt_tables(p, shorts, longs);
	memset(c, 0, sizeof(*c));
	optind = 1;
	opterr = 0;  /* our own messages, naming the program as every other message does */
	while (status < 0) {
		int longindex = -1;
		id = getopt_long(argc, argv, shorts, longs, &longindex);
		if (id == -1)
			break;
		if (id == '?' || id == ':') {
			const char *word = argv[optind - 1];
			if (optopt && optopt < MLF_OPT_LONG && (word[0] != '-' || word[1] != '-'))
				status = mlf_cli_usage_error(id == ':' ? "option -%c needs an argument"
								: "unknown option -%c", optopt);
			else if (id == '?' && strchr(word, '=') && takes_no_argument(p, word + 2))
				status = mlf_cli_usage_error("option %.*s takes no argument",
							     (int)strcspn(word, "="), word);
			else
				status = mlf_cli_usage_error(id == ':' ? "option %s needs an argument"
								: "unknown option %s", word);
			break;
		}
		const struct mlf_option *o = find(p, id);
		const char *arg = optarg;
		/* "--version N" as two words: the next word, when it is not an option, is N. */
		if (o && (o->flags & MLF_OPT_OPTIONAL) && !arg && longindex >= 0 && optind < argc &&
		    argv[optind][0] != '-')
			arg = argv[optind++];
		if (o && o->key) {
			if (mlf_cli_override(&c->config, o->key, arg))
				status = MLF_EX_USAGE;
			continue;
		}
		/* A shared entry is handled here, unless the program gave it an optional argument
		 * and it came with one (mlf-verify's --version N): then it is the program's. */
		int own = !is_shared(o) || ((o->flags & MLF_OPT_OPTIONAL) && arg);
		int rc = own ? -1 : shared_option(p, c, id, arg);
		if (rc < 0)
			rc = fn ? fn(ctx, id, arg) : mlf_cli_usage_error("%s is not handled", argv[optind - 1]);
		else if (id == 'h' || id == 'V')
			status = rc;  /* printed: stop here, with 0 or 74 */
		if (rc)
			status = rc;
	}
	if (status < 0) {
		c->nargs = argc - optind;
		c->args = argv + optind;
		if (c->nargs > p->max_operands)
			status = mlf_cli_usage_error("unexpected argument '%s'", c->args[p->max_operands]);
	}
	free(shorts);
	free(longs);
	return status;
}

/* ---- --help ---------------------------------------------------------------- */

/* `text` from column `col` on, wrapped at HELP_WIDTH, continuation lines at `indent`. */
static void wrap(FILE *out, const char *text, int col, int indent)
{
	const char *w = text;
	while (*w) {
		size_t len = strcspn(w, " ");
		if (col > indent && col + 1 + (int)len > HELP_WIDTH) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(w, 1, len, out);
		col += (int)len;
		w += len;
		w += strspn(w, " ");
	}
	fputc('\n', out);
}

static void print_option_help(const struct mlf_option *o, FILE *out)
{
	struct mlf_buf left = MLF_BUF_INIT, help = MLF_BUF_INIT;
	if (o->id < MLF_OPT_LONG)
		mlf_buf_addf(&left, "  -%c, --%s", o->id, o->name);
	else
		mlf_buf_addf(&left, "      --%s", o->name);
	if (o->arg)
		mlf_buf_addf(&left, (o->flags & MLF_OPT_OPTIONAL) ? " [%s]" : " %s", o->arg);
	mlf_buf_adds(&help, o->help);
	if (o->key)
		mlf_buf_addf(&help, " (%s)", o->key);
	fputs(left.data, out);
	int col = (int)left.len;
	if (col + 2 > HELP_COLUMN) {
		fputc('\n', out);
		col = 0;
	}
	fprintf(out, "%*s", HELP_COLUMN - col, "");
	wrap(out, help.data, HELP_COLUMN, HELP_COLUMN);
	mlf_buf_release(&left);
	mlf_buf_release(&help);
}

void mlf_cli_print_help(const struct mlf_program *p, FILE *out)
{
	const char *line = p->synopsis;
	const char *lead = "usage:";
	do {
		size_t len = strcspn(line, "\n");
		fprintf(out, "%-6s %s %.*s\n", lead, p->name, (int)len, line);
		lead = "";
		line += len;
		line += *line == '\n';
	} while (*line);
	fputc('\n', out);
	wrap(out, p->about, 0, 0);
	fputc('\n', out);
	for (const struct mlf_option *o = p->options; o->name; o++)
		if (!(o->flags & MLF_OPT_HIDDEN))
			print_option_help(o, out);
	fputs("\nExit status:\n", out);
	for (const struct mlf_exit_doc *e = p->exits; e->status >= 0; e++) {
		fprintf(out, "  %-5d", e->status);
		wrap(out, e->text, 7, 7);
	}
}

/* ---- the man page's sections ------------------------------------------------ */

/* Text for roff: backslashes and hyphens escaped, a leading '.' or '\'' made literal. */
static void roff(FILE *out, const char *s, int capital)
{
	const char *start = s;
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-' && (s == start || s[-1] == ' ' || s[-1] == '-' || s[-1] == '('))
			fputs("\\-", out);  /* an option's dash, not a hyphen inside a word */
		else if (capital) {
			fputc(toupper((unsigned char)*s), out);
		} else
			fputc(*s, out);
		capital = 0;
		if (*s == '\n' && (s[1] == '.' || s[1] == '\''))
			fputs("\\&", out);
	}
}

/* A sentence: capitalised, ending with a full stop. */
static void sentence(FILE *out, const char *s, const char *key)
{
	roff(out, s, 1);
	if (key) {
		fputs(" (\\fB", out);
		roff(out, key, 0);
		fputs("\\fR)", out);
	}
	size_t len = strlen(s);
	if (key || (len && !strchr(".!?", s[len - 1])))
		fputc('.', out);
	fputc('\n', out);
}

void mlf_cli_print_man(const struct mlf_program *p, FILE *out)
{
	fprintf(out, ".\\\" BEGIN SYNOPSIS: made by scripts/gen-man from %s's option table\n", p->name);
	fputs(".SH SYNOPSIS\n", out);
	for (const char *line = p->synopsis; *line;) {
		size_t len = strcspn(line, "\n");
		char *one = mlf_xstrndup(line, len);
		fprintf(out, "%s.B %s\n", line == p->synopsis ? "" : ".br\n", p->name);
		roff(out, one, 0);
		fputc('\n', out);
		free(one);
		line += len;
		line += *line == '\n';
	}
	fputs(".\\\" END SYNOPSIS\n", out);
	fprintf(out, ".\\\" BEGIN OPTIONS: made by scripts/gen-man from %s's option table\n", p->name);
	fputs(".SH OPTIONS\n", out);
	for (const struct mlf_option *o = p->options; o->name; o++) {
		if (o->flags & MLF_OPT_HIDDEN)
			continue;
		fputs(".TP\n", out);
		if (o->id < MLF_OPT_LONG)
			fprintf(out, "\\fB\\-%c\\fR, ", o->id);
		fputs("\\fB\\-\\-", out);
		roff(out, o->name, 0);
		fputs("\\fR", out);
		if (o->arg) {
			fputs((o->flags & MLF_OPT_OPTIONAL) ? " [\\fI" : " \\fI", out);
			roff(out, o->arg, 0);
			fputs((o->flags & MLF_OPT_OPTIONAL) ? "\\fR]" : "\\fR", out);
		}
		fputc('\n', out);
		sentence(out, o->help, o->key);
		if (o->more) {
			roff(out, o->more, 0);
			fputc('\n', out);
		}
	}
	fputs(".\\\" END OPTIONS\n", out);
	fprintf(out, ".\\\" BEGIN EXIT STATUS: made by scripts/gen-man from %s's option table\n", p->name);
	fputs(".SH EXIT STATUS\n", out);
	for (const struct mlf_exit_doc *e = p->exits; e->status >= 0; e++) {
		fprintf(out, ".TP\n.B %d\n", e->status);
		sentence(out, e->text, NULL);
	}
	fputs(".\\\" END EXIT STATUS\n", out);
}
