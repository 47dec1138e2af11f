/*
 * SiLU(BatchNorm2d(x)) in training, fused for channels-last float32 tensors
 * on the CPU: what every Conv block of the model does after its convolution.
 *
 * Why: on the CPU an epoch spends about a fifth of its time in batch norm and
 * SiLU, and they are memory bound.  libtorch runs them as separate kernels:
 * forward, statistics (read x), normalise (read x, write z), SiLU (read z,
 * write y); backward, SiLU (read dy and z, write dz), then batch norm's two
 * passes (read dz and x; read dz and x, write dx), and z and dz are whole maps
 * allocated each step.  Here the forward reads x twice and writes y; the
 * backward recomputes z and dz from x as it goes, reads dy and x twice and
 * writes dx; z is never stored.  The arithmetic is batch norm's and SiLU's:
 *   mean, var = over N*H*W per channel (var biased; the running variance
 *               takes the unbiased one, as nn.BatchNorm2d)
 *   z = (x - mean) * invstd * w + b,  y = z * sigmoid(z)
 *   dz = dy * s * (1 + z * (1 - s)),  s = sigmoid(z)
 *   dw = sum(dz * xhat), db = sum(dz),
 *   dx = w * invstd * (dz - db / M - xhat * dw / M),  xhat = (x - mean) * invstd
 * Sums are accumulated in double per thread (the backward's in float over a
 * few rows first, see block_back_sums).  The exponential is a polynomial
 * accurate to a few float ulps, written so that the compiler vectorises the
 * per-channel loops (the Makefile builds this file with -O3 -fno-math-errno
 * -fno-trapping-math -ffp-contract=off; the cloned variants below are picked
 * at load time for the CPU).  Rows are split over libtorch's OpenMP threads
 * (hence -fopenmp for this file: at::parallel_for is inline code).
 *
 * For a given number of threads the results are the same bits from run to
 * run, wherever the data lie, as libtorch's kernels are (a resumed training
 * must repeat the uninterrupted one exactly): each element's arithmetic is
 * written out to the rounding (see exp_poly), and each thread's sums cover
 * a fixed range of rows, added up in a fixed order.
 *
 * Anything else (NCHW, CUDA, half precision, eval mode) takes libtorch's own
 * batch_norm and silu: mlf_th_batch_norm_silu decides, in one place.
 */
#include <torch/csrc/autograd/custom_function.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "shim_internal.hpp"

using namespace mlf_shim;

namespace {

/* expf(v) for v in [-87, 88], branch-free: v = n ln2 + r, |r| <= ln2/2,
 * e^r by a degree-6 polynomial, 2^n by the exponent bits.  Every fused
 * multiply-add is written out (the file is built with -ffp-contract=off):
 * left to the compiler, contraction differed between a loop's vector body
 * and the scalar iterations it peels or falls back to, and which iterations
 * those are depends on where malloc put the buffers, so a training's results
 * changed from run to run by an ulp here and there. */
inline float exp_poly(float v)
{
	v = std::max(-87.0f, std::min(88.0f, v));
	/* round to nearest by adding and removing 1.5 * 2^23 (no libm call) */
	const float n = std::fma(v, 1.44269504088896341f, 12582912.0f) - 12582912.0f;
	float r = std::fma(n, -0.693359375f, v);        /* ln2 in two parts (Cody-Waite) */
	r = std::fma(n, 2.12194440e-4f, r);
	float p = 1.3981999507e-3f;
	p = std::fma(p, r, 8.3334519073e-3f);
	p = std::fma(p, r, 4.1665795894e-2f);
	p = std::fma(p, r, 1.6666665459e-1f);
	p = std::fma(p, r, 5.0000001201e-1f);
	p = std::fma(p, r * r, r) + 1.0f;
	int32_t bits = ((int32_t)n + 127) << 23;
	float scale;
	std::memcpy(&scale, &bits, sizeof(scale));
	return p * scale;
}

/* x86-64-v3 and v4 have FMA instructions (AVX2's clone alone would not, and
 * std::fma would be a libm call there); the default clone calls libm's fma,
 * which rounds the same way. */
#define MLF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

/* The kernels below each take a block of `rows` rows of C channels (one call
 * per block: per-row calls cost more than the arithmetic when C is small).
 * The incoming gradient's rows lie ldy floats apart (ldy >= C): a gradient
 * that arrives as a channel slice of a concatenation's is read in place. */

/* Sums of x and x*x per channel, added to s1 and s2. */
MLF_CLONES void block_stats(const float *x, int64_t rows, int64_t C, double *s1, double *s2)
{
	for (int64_t r = 0; r < rows; r++, x += C)
		for (int64_t c = 0; c < C; c++) {
			double v = x[c];
			s1[c] += v;
			s2[c] += v * v;
		}
}

/* y = silu(x * a + b). */
MLF_CLONES void block_forward(const float *x, int64_t rows, int64_t C, const float *a, const float *b,
			      float *y)
{
	for (int64_t r = 0; r < rows; r++, x += C, y += C)
		for (int64_t c = 0; c < C; c++) {
			float z = std::fma(x[c], a[c], b[c]);
			y[c] = z / (1.0f + exp_poly(-z));
		}
}

/* dz of one element, z = x * a + b. */
inline float dz_of(float x, float dy, float a, float b)
{
	float z = std::fma(x, a, b);
	float s = 1.0f / (1.0f + exp_poly(-z));
	return dy * s * std::fma(z, 1.0f - s, 1.0f);
}

/* Sums of dz and dz * xhat per channel, added to sdz and sdzx: in float over
 * SUM_ROWS rows at a time, then in double.  (Converting every term to double
 * cost as much as computing it: the backward of a 64-channel 40x40 map,
 * batch 16, took 1.9 ms that way and 1.3 ms this way.  A float sum of 32
 * terms loses nothing that matters next to the double total.) */
enum { SUM_ROWS = 32 };
MLF_CLONES void block_back_sums(const float *x, const float *dy, int64_t ldy, int64_t rows, int64_t C,
				const float *a, const float *b, const float *mean, const float *invstd,
				double *sdz, double *sdzx)
{
	std::vector<float> acc((size_t)(2 * C));
	float *fa = acc.data(), *fb = fa + C;
	for (int64_t r0 = 0; r0 < rows; r0 += SUM_ROWS) {
		const int64_t r1 = std::min<int64_t>(rows, r0 + SUM_ROWS);
		std::fill(acc.begin(), acc.end(), 0.0f);
		for (int64_t r = r0; r < r1; r++) {
			const float *xr = x + r * C, *dr = dy + r * ldy;
			for (int64_t c = 0; c < C; c++) {
				float dz = dz_of(xr[c], dr[c], a[c], b[c]);
				fa[c] += dz;
				fb[c] = std::fma(dz, (xr[c] - mean[c]) * invstd[c], fb[c]);
			}
		}
		for (int64_t c = 0; c < C; c++) {
			sdz[c] += fa[c];
			sdzx[c] += fb[c];
		}
	}
}

/* dx = k * (dz - db/M - xhat * dw/M), k = w * invstd. */
MLF_CLONES void block_back_dx(const float *x, const float *dy, int64_t ldy, int64_t rows, int64_t C,
			      const float *a, const float *b, const float *mean, const float *invstd,
			      const float *k, const float *dbm, const float *dwm, float *dx)
{
	for (int64_t r = 0; r < rows; r++, x += C, dy += ldy, dx += C)
		for (int64_t c = 0; c < C; c++) {
			float dz = dz_of(x[c], dy[c], a[c], b[c]);
			float xhat = (x[c] - mean[c]) * invstd[c];
			dx[c] = k[c] * std::fma(-xhat, dwm[c], dz - dbm[c]);
		}
}

/* Rows [0, M) of an M x C matrix, split over libtorch's threads; f(begin,
 * end, t) with t the thread's slot in 0..slots-1 for its partial sums. */
template <class F>
void over_rows(int64_t M, int64_t C, int slots, F &&f)
{
	const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(C, 1));
	const int64_t chunk = (M + slots - 1) / slots;
	at::parallel_for(0, slots, 1, [&](int64_t s0, int64_t s1) {
		for (int64_t s = s0; s < s1; s++) {
			const int64_t b = s * chunk, e = std::min(M, b + chunk);
			for (int64_t r = b; r < e; r += grain)
				f(r, std::min(e, r + grain), (int)s);
		}
	});
}

/* Partial sums of `slots` threads, C each, two arrays, reduced into oa/ob. */
struct partials {
	std::vector<double> a, b;
	int64_t C;
	partials(int slots, int64_t c) : a((size_t)slots * c, 0.0), b((size_t)slots * c, 0.0), C(c) {}
	double *pa(int s) { return a.data() + (size_t)s * C; }
	double *pb(int s) { return b.data() + (size_t)s * C; }
	void reduce(int slots, std::vector<double> &oa, std::vector<double> &ob) const
	{
		oa.assign((size_t)C, 0.0);
		ob.assign((size_t)C, 0.0);
		for (int s = 0; s < slots; s++)
			for (int64_t c = 0; c < C; c++) {
				oa[(size_t)c] += a[(size_t)s * C + c];
				ob[(size_t)c] += b[(size_t)s * C + c];
			}
	}
};

/* The distance in floats between consecutive rows (pixels) of a float32
 * NCHW-shaped tensor whose rows hold C adjacent channels and follow each
 * other evenly, as channels-last tensors and their channel slices do; 0 when
 * it is not such a tensor of this shape. */
int64_t row_stride(const at::Tensor &t, at::IntArrayRef shape)
{
	if (t.scalar_type() != at::kFloat || !t.device().is_cpu() || t.sizes() != shape || t.stride(1) != 1)
		return 0;
	const int64_t ld = t.stride(3), H = t.size(2), W = t.size(3);
	if (ld < t.size(1) || t.stride(2) != ld * W || t.stride(0) != ld * W * H)
		return 0;
	return ld;
}

int slot_count(int64_t M)
{
	return (int)std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), M));
}

struct BnSilu : public torch::autograd::Function<BnSilu> {
	static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x,
				  const at::Tensor &w, const at::Tensor &b, at::Tensor running_mean,
				  at::Tensor running_var, double momentum, double eps)
	{
		const int64_t C = x.size(1), M = x.numel() / C;
		TORCH_CHECK(M > 1, "batch norm in training needs more than one value per channel, got ",
			    describe_tensor(x));
		const float *xp = x.const_data_ptr<float>();
		const int slots = slot_count(M);
		partials p(slots, C);
		over_rows(M, C, slots, [&](int64_t r0, int64_t r1, int s) {
			block_stats(xp + r0 * C, r1 - r0, C, p.pa(s), p.pb(s));
		});
		std::vector<double> s1, s2;
		p.reduce(slots, s1, s2);
		at::Tensor mean = at::empty({ C }, x.options()), invstd = at::empty({ C }, x.options());
		at::Tensor a = at::empty({ C }, x.options()), shift = at::empty({ C }, x.options());
		at::Tensor var_unbiased = at::empty({ C }, x.options());
		float *mp = mean.data_ptr<float>(), *ip = invstd.data_ptr<float>();
		float *ap = a.data_ptr<float>(), *bp = shift.data_ptr<float>();
		float *vu = var_unbiased.data_ptr<float>();
		at::Tensor wc = w.contiguous(), bc = b.contiguous();
		const float *wp = wc.const_data_ptr<float>(), *bb = bc.const_data_ptr<float>();
		for (int64_t c = 0; c < C; c++) {
			double m = s1[(size_t)c] / (double)M;
			double var = std::max(0.0, s2[(size_t)c] / (double)M - m * m);
			mp[c] = (float)m;
			ip[c] = (float)(1.0 / std::sqrt(var + eps));
			vu[c] = (float)(var * (double)M / (double)(M - 1));
			ap[c] = wp[c] * ip[c];
			bp[c] = bb[c] - mp[c] * ap[c];
		}
		{
			at::NoGradGuard ng;
			running_mean.mul_(1.0 - momentum).add_(mean, momentum);
			running_var.mul_(1.0 - momentum).add_(var_unbiased, momentum);
		}
		at::Tensor y = at::empty_like(x, at::MemoryFormat::ChannelsLast);
		float *yp = y.data_ptr<float>();
		over_rows(M, C, slots, [&](int64_t r0, int64_t r1, int) {
			block_forward(xp + r0 * C, r1 - r0, C, ap, bp, yp + r0 * C);
		});
		ctx->save_for_backward({ x, w, mean, invstd, a, shift });
		return y;
	}

	static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
						       torch::autograd::variable_list grads)
	{
		auto saved = ctx->get_saved_variables();
		const at::Tensor &x = saved[0], &w = saved[1], &mean = saved[2], &invstd = saved[3];
		const at::Tensor &a = saved[4], &shift = saved[5];
		at::Tensor dy = grads[0];
		int64_t ldy = row_stride(dy, x.sizes());
		if (ldy == 0) {
			dy = dy.contiguous(at::MemoryFormat::ChannelsLast);
			ldy = x.size(1);
		}
		const int64_t C = x.size(1), M = x.numel() / C;
		const float *xp = x.const_data_ptr<float>(), *gp = dy.const_data_ptr<float>();
		const float *ap = a.const_data_ptr<float>(), *bp = shift.const_data_ptr<float>();
		const float *mp = mean.const_data_ptr<float>(), *ip = invstd.const_data_ptr<float>();
		const int slots = slot_count(M);
		partials p(slots, C);
		over_rows(M, C, slots, [&](int64_t r0, int64_t r1, int s) {
			block_back_sums(xp + r0 * C, gp + r0 * ldy, ldy, r1 - r0, C, ap, bp, mp, ip, p.pa(s),
					p.pb(s));
		});
		std::vector<double> sdz, sdzx;
		p.reduce(slots, sdz, sdzx);
		at::Tensor dw = at::empty({ C }, w.options()), db = at::empty({ C }, w.options());
		std::vector<float> k((size_t)C), dbm((size_t)C), dwm((size_t)C);
		at::Tensor wc = w.contiguous();
		const float *wp = wc.const_data_ptr<float>();
		float *dwp = dw.data_ptr<float>(), *dbp = db.data_ptr<float>();
		for (int64_t c = 0; c < C; c++) {
			dwp[c] = (float)sdzx[(size_t)c];
			dbp[c] = (float)sdz[(size_t)c];
			k[(size_t)c] = wp[c] * ip[c];
			dbm[(size_t)c] = (float)(sdz[(size_t)c] / (double)M);
			dwm[(size_t)c] = (float)(sdzx[(size_t)c] / (double)M);
		}
		at::Tensor dx = at::empty_like(x, at::MemoryFormat::ChannelsLast);
		float *dxp = dx.data_ptr<float>();
		over_rows(M, C, slots, [&](int64_t r0, int64_t r1, int) {
			block_back_dx(xp + r0 * C, gp + r0 * ldy, ldy, r1 - r0, C, ap, bp, mp, ip, k.data(),
				      dbm.data(), dwm.data(), dxp + r0 * C);
		});
		return { dx, dw, db, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor() };
	}
};

/* On by default; the tests turn it off to check libtorch's path. */
std::atomic<bool> fused_enabled{ true };

bool fusable(const at::Tensor &x, const mlf_th *w, const mlf_th *b, const mlf_th *rm, const mlf_th *rv,
	     int training)
{
	if (!fused_enabled.load(std::memory_order_relaxed))
		return false;
	if (!(training && w && b && rm && rv && at::GradMode::is_enabled() && x.dim() == 4))
		return false;
	/* per-channel parameters of another size go to libtorch, which says so */
	auto fits = [&](const at::Tensor &t) {
		return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.dim() == 1 &&
		       t.size(0) == x.size(1);
	};
	return x.device().is_cpu() && x.scalar_type() == at::kFloat &&
	       x.is_contiguous(at::MemoryFormat::ChannelsLast) && fits(w->t) && fits(b->t) && fits(rm->t) &&
	       fits(rv->t) && !at::autocast::is_autocast_enabled(at::kCPU);
}

std::atomic<uint64_t> fused_calls{ 0 };

} // namespace

extern "C" void mlf_th_batch_norm_silu_enable(int on)
{
	fused_enabled.store(on != 0, std::memory_order_relaxed);
}

extern "C" uint64_t mlf_th_batch_norm_silu_fused_calls(void)
{
	return fused_calls.load(std::memory_order_relaxed);
}

extern "C" mlf_th *mlf_th_batch_norm_silu(const mlf_th *x, const mlf_th *weight, const mlf_th *bias,
					  mlf_th *running_mean, mlf_th *running_var, int training,
					  double momentum, double eps)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] {
		if (fusable(x->t, weight, bias, running_mean, running_var, training)) {
			fused_calls.fetch_add(1, std::memory_order_relaxed);
			return BnSilu::apply(x->t, weight->t, bias->t, running_mean->t, running_var->t,
					     momentum, eps);
		}
		at::Tensor z = batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps);
		/* in place only where autograd need not keep z (it would clone it) */
		return at::GradMode::is_enabled() && z.requires_grad() ? at::silu(z) : at::silu_(z);
	});
}
