/*
 * RandomPerspective without perspective (ultralytics/data/augment.py,
 * 8.4.190): the matrix M = T S R P C, the boxes through it, clipped, and
 * box_candidates.  Matrices are float32 as np.eye(3, dtype=np.float32)
 * makes them; products are summed left to right in float (numpy may use
 * BLAS with fused multiply-adds, an ulp apart at most).
 */
#include <math.h>
#include <string.h>

#include "mlf/data.h"

typedef float mat3[3][3];

static void eye(mat3 m)
{
	memset(m, 0, sizeof(mat3));
	m[0][0] = m[1][1] = m[2][2] = 1;
}

static void mul(mat3 a, mat3 b, mat3 out)
{
	mat3 r;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			r[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
	memcpy(out, r, sizeof(mat3));
}

void mlf_affine_draw(struct mlf_rng *r, const struct mlf_augment_hyp *h, int in_w, int in_h, int out_w,
		     int out_h, struct mlf_affine *a)
{
	mat3 C, P, R, S, T, M;
	eye(C);
	C[0][2] = (float)(-in_w / 2.0);
	C[1][2] = (float)(-in_h / 2.0);
	eye(P);
	P[2][0] = (float)mlf_rng_uniform(r, -h->perspective, h->perspective);
	P[2][1] = (float)mlf_rng_uniform(r, -h->perspective, h->perspective);
	eye(R);
	double angle = mlf_rng_uniform(r, -h->degrees, h->degrees);
	double s = mlf_rng_uniform(r, 1 - h->scale, 1 + h->scale);
	/* cv2.getRotationMatrix2D(angle, center=(0, 0), scale=s) */
	double rad = angle * M_PI / 180, alpha = cos(rad) * s, beta = sin(rad) * s;
	R[0][0] = (float)alpha;
	R[0][1] = (float)beta;
	R[1][0] = (float)-beta;
	R[1][1] = (float)alpha;
	eye(S);
	S[0][1] = (float)tan(mlf_rng_uniform(r, -h->shear, h->shear) * M_PI / 180);
	S[1][0] = (float)tan(mlf_rng_uniform(r, -h->shear, h->shear) * M_PI / 180);
	eye(T);
	T[0][2] = (float)(mlf_rng_uniform(r, 0.5 - h->translate, 0.5 + h->translate) * out_w);
	T[1][2] = (float)(mlf_rng_uniform(r, 0.5 - h->translate, 0.5 + h->translate) * out_h);
	mul(T, S, M);
	mul(M, R, M);
	mul(M, P, M);
	mul(M, C, M);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			a->M[3 * i + j] = M[i][j];
	a->scale = (float)s;
	a->out_w = out_w;
	a->out_h = out_h;
}

void mlf_affine_boxes(const struct mlf_affine *a, struct mlf_boxes *b)
{
	const float *M = a->M;
	float W = (float)a->out_w, H = (float)a->out_h, s = a->scale, eps = 1e-16f;
	size_t kept = 0;
	for (size_t i = 0; i < b->n; i++) {
		const float *v = b->box + 4 * i;
		/* corners x1y1, x2y2, x1y2, x2y1 */
		const float cx[4] = { v[0], v[2], v[0], v[2] }, cy[4] = { v[1], v[3], v[3], v[1] };
		float x1 = INFINITY, y1 = INFINITY, x2 = -INFINITY, y2 = -INFINITY;
		for (int k = 0; k < 4; k++) {
			float x = cx[k] * M[0] + cy[k] * M[1] + M[2];
			float y = cx[k] * M[3] + cy[k] * M[4] + M[5];
			x1 = fminf(x1, x);
			x2 = fmaxf(x2, x);
			y1 = fminf(y1, y);
			y2 = fmaxf(y2, y);
		}
		x1 = x1 < 0 ? 0 : x1 > W ? W : x1;
		x2 = x2 < 0 ? 0 : x2 > W ? W : x2;
		y1 = y1 < 0 ? 0 : y1 > H ? H : y1;
		y2 = y2 < 0 ? 0 : y2 > H ? H : y2;
		/* box_candidates(box1 = original * scale, box2 = new) */
		float w1 = v[2] * s - v[0] * s, h1 = v[3] * s - v[1] * s;
		float w2 = x2 - x1, h2 = y2 - y1;
		float ar = fmaxf(w2 / (h2 + eps), h2 / (w2 + eps));
		if (w2 > 2 && h2 > 2 && w2 * h2 / (w1 * h1 + eps) > 0.1f && ar < 100) {
			float *o = b->box + 4 * kept;
			o[0] = x1;
			o[1] = y1;
			o[2] = x2;
			o[3] = y2;
			b->cls[kept++] = b->cls[i];
		}
	}
	b->n = kept;
}
