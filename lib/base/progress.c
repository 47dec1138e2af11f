#include "mlf/base.h"

#include <stdio.h>
#include <unistd.h>

void mlf_progress_start(struct mlf_progress *p, const char *prog, const char *what,
			size_t total, size_t quiet_below)
{
	p->prog = prog;
	p->what = what;
	p->total = total;
	p->done = 0;
	p->tty = isatty(STDERR_FILENO);
	p->active = total >= quiet_below && total > 0;
	p->last_decile = 0;
}

static void draw_bar(const struct mlf_progress *p)
{
	int width = 30, filled = (int)(p->done * (size_t)width / p->total);
	fprintf(stderr, "\r%s: %s [", p->prog, p->what);
	for (int i = 0; i < width; i++)
		fputc(i < filled ? '#' : ' ', stderr);
	fprintf(stderr, "] %zu/%zu", p->done, p->total);
	fflush(stderr);
}

void mlf_progress_step(struct mlf_progress *p)
{
	p->done++;
	if (!p->active)
		return;
	if (p->tty) {
		/* Redraw at most ~200 times over the whole job. */
		if (p->done == p->total || p->done % (p->total / 200 + 1) == 0)
			draw_bar(p);
		return;
	}
	int decile = (int)(p->done * 10 / p->total);
	if (decile > p->last_decile) {
		p->last_decile = decile;
		fprintf(stderr, "%s: %s: %zu/%zu (%d%%)\n", p->prog, p->what, p->done, p->total,
			decile * 10);
	}
}

void mlf_progress_finish(struct mlf_progress *p)
{
	if (p->active && p->tty)
		fputc('\n', stderr);
	p->active = 0;
}
