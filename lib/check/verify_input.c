/* The document piped into mlf-verify: all of it read, parsed, and told apart. */
#include <stdio.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/check.h"

int mlf_verify_read_input(FILE *in, struct mlf_buf *text, json_t **doc, struct mlf_error *err)
{
	char chunk[65536];
	size_t got;
	json_error_t je;

	*doc = NULL;
	/* all of it: a run document is one line, but a pretty-printed one is accepted too */
	while ((got = fread(chunk, 1, sizeof(chunk), in)) > 0)
		mlf_buf_add(text, chunk, got);
	if (ferror(in))
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot read the run document from standard "
				      "input");
	if (text->len == strspn(text->data, " \t\r\n"))
		return mlf_fail(err, MLF_EX_DATAERR, "standard input is empty: expected the run "
				"document retrain-run prints (did retrain-run fail before printing one?)");
	*doc = json_loadb(text->data, text->len, 0, &je);
	if (!*doc)
		return mlf_fail(err, MLF_EX_DATAERR, "standard input is not one JSON document "
				"(line %d: %s); expected the run document retrain-run prints",
				je.line, je.text);
	return mlf_verify_document_kind(*doc, err);
}
