/*
 * The shim's operations: elementwise, reductions and ordering, shapes,
 * indexing and the network operations a YOLO model and its loss need.
 */
#include "shim_internal.hpp"

#include <ATen/ScalarOps.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <optional>
#include <tuple>

using namespace mlf_shim;

/* ---- elementwise -------------------------------------------------------- */

extern "C" mlf_th *mlf_th_unary(enum mlf_th_unary op, const mlf_th *x)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&]() -> at::Tensor {
		const at::Tensor &a = x->t;
		switch (enum_value(op)) {
		case MLF_TH_NEG: return at::neg(a);
		case MLF_TH_ABS: return at::abs(a);
		case MLF_TH_EXP: return at::exp(a);
		case MLF_TH_LOG: return at::log(a);
		case MLF_TH_SQRT: return at::sqrt(a);
		case MLF_TH_RSQRT: return at::rsqrt(a);
		case MLF_TH_SIGMOID: return at::sigmoid(a);
		case MLF_TH_SILU: return at::silu(a);
		case MLF_TH_RELU: return at::relu(a);
		case MLF_TH_TANH: return at::tanh(a);
		case MLF_TH_ATAN: return at::atan(a);
		case MLF_TH_FLOOR: return at::floor(a);
		case MLF_TH_CEIL: return at::ceil(a);
		case MLF_TH_ROUND: return at::round(a);
		case MLF_TH_RECIPROCAL: return at::reciprocal(a);
		case MLF_TH_SQUARE: return at::square(a);
		case MLF_TH_LOGICAL_NOT: return at::logical_not(a);
		case MLF_TH_ISNAN: return at::isnan(a);
		case MLF_TH_ISFINITE: return at::isfinite(a);
		}
		TORCH_CHECK(false, "unknown unary operation ", enum_value(op));
	});
}

static at::Tensor binary(const enum mlf_th_binary &op, const at::Tensor &a, const at::Tensor &b)
{
	switch (enum_value(op)) {
	case MLF_TH_ADD: return at::add(a, b);
	case MLF_TH_SUB: return at::sub(a, b);
	case MLF_TH_MUL: return at::mul(a, b);
	case MLF_TH_DIV: return at::div(a, b);
	case MLF_TH_POW: return at::pow(a, b);
	case MLF_TH_MAXIMUM: return at::maximum(a, b);
	case MLF_TH_MINIMUM: return at::minimum(a, b);
	case MLF_TH_ATAN2: return at::atan2(a, b);
	case MLF_TH_FMOD: return at::fmod(a, b);
	case MLF_TH_EQ: return at::eq(a, b);
	case MLF_TH_NE: return at::ne(a, b);
	case MLF_TH_LT: return at::lt(a, b);
	case MLF_TH_LE: return at::le(a, b);
	case MLF_TH_GT: return at::gt(a, b);
	case MLF_TH_GE: return at::ge(a, b);
	case MLF_TH_AND: return at::logical_and(a, b);
	case MLF_TH_OR: return at::logical_or(a, b);
	}
	TORCH_CHECK(false, "unknown binary operation ", enum_value(op));
}

/* A scalar operand as PyTorch makes one from a Python number: a CPU 0-d
 * "wrapped number", which takes part in type promotion as a scalar does. */
static at::Tensor wrapped(const at::Scalar &s)
{
	return at::native::wrapped_scalar_tensor(s);
}

extern "C" mlf_th *mlf_th_binary(enum mlf_th_binary op, const mlf_th *a, const mlf_th *b)
{
	if (!a || !b)
		return nullptr;
	return guard_t(__func__, [&] { return binary(op, a->t, b->t); });
}

extern "C" mlf_th *mlf_th_binary_s(enum mlf_th_binary op, const mlf_th *a, double s)
{
	if (!a)
		return nullptr;
	return guard_t(__func__, [&]() -> at::Tensor {
		const at::Tensor &x = a->t;
		at::Scalar v = scalar_for(x, s);
		/* The Scalar overloads where libtorch has them: they take the
		 * fast paths PyTorch takes for `x ** 2`, `x * 0.5`, ... */
		switch (enum_value(op)) {
		case MLF_TH_ADD: return at::add(x, v);
		case MLF_TH_SUB: return at::sub(x, v);
		case MLF_TH_MUL: return at::mul(x, v);
		case MLF_TH_DIV: return at::div(x, v);
		case MLF_TH_POW: return at::pow(x, v);
		case MLF_TH_FMOD: return at::fmod(x, v);
		case MLF_TH_EQ: return at::eq(x, v);
		case MLF_TH_NE: return at::ne(x, v);
		case MLF_TH_LT: return at::lt(x, v);
		case MLF_TH_LE: return at::le(x, v);
		case MLF_TH_GT: return at::gt(x, v);
		case MLF_TH_GE: return at::ge(x, v);
		default: return binary(op, x, wrapped(v));
		}
	});
}

extern "C" mlf_th *mlf_th_s_binary(enum mlf_th_binary op, double s, const mlf_th *b)
{
	if (!b)
		return nullptr;
	return guard_t(__func__, [&]() -> at::Tensor {
		const at::Tensor &x = b->t;
		at::Scalar v = scalar_for(x, s);
		switch (enum_value(op)) {
		case MLF_TH_ADD: return at::add(x, v);
		case MLF_TH_MUL: return at::mul(x, v);
		case MLF_TH_SUB: return at::rsub(x, v);
		case MLF_TH_POW: return at::pow(v, x);
		case MLF_TH_EQ: return at::eq(x, v);
		case MLF_TH_NE: return at::ne(x, v);
		case MLF_TH_LT: return at::gt(x, v);
		case MLF_TH_LE: return at::ge(x, v);
		case MLF_TH_GT: return at::lt(x, v);
		case MLF_TH_GE: return at::le(x, v);
		default: return binary(op, wrapped(v), x);
		}
	});
}

extern "C" mlf_th *mlf_th_clamp(const mlf_th *x, double lo, double hi)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] {
		std::optional<at::Scalar> l, h;
		if (!std::isnan(lo))
			l = scalar_for(x->t, lo);
		if (!std::isnan(hi))
			h = scalar_for(x->t, hi);
		if (!l && !h)
			return x->t.clone();
		return at::clamp(x->t, l, h);
	});
}

extern "C" mlf_th *mlf_th_where(const mlf_th *cond, const mlf_th *a, const mlf_th *b)
{
	if (!cond || !a || !b)
		return nullptr;
	return guard_t(__func__, [&] { return at::where(cond->t, a->t, b->t); });
}

extern "C" mlf_th *mlf_th_masked_fill(const mlf_th *x, const mlf_th *mask, double value)
{
	if (!x || !mask)
		return nullptr;
	return guard_t(__func__, [&] { return at::masked_fill(x->t, mask->t, scalar_for(x->t, value)); });
}

/* ---- reductions and ordering ------------------------------------------- */

extern "C" mlf_th *mlf_th_reduce(enum mlf_th_reduce op, const mlf_th *x, int dim, int keepdim)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&]() -> at::Tensor {
		const at::Tensor &a = x->t;
		if (dim == MLF_TH_ALL_DIMS) {
			switch (enum_value(op)) {
			case MLF_TH_SUM: return at::sum(a);
			case MLF_TH_MEAN: return at::mean(a);
			case MLF_TH_AMAX: return at::amax(a, at::IntArrayRef{});
			case MLF_TH_AMIN: return at::amin(a, at::IntArrayRef{});
			case MLF_TH_PROD: return at::prod(a);
			case MLF_TH_ANY: return at::any(a);
			case MLF_TH_ALL: return at::all(a);
			case MLF_TH_ARGMAX: return at::argmax(a);
			case MLF_TH_ARGMIN: return at::argmin(a);
			}
		} else {
			const int64_t d = dim;
			const bool k = keepdim != 0;
			switch (enum_value(op)) {
			case MLF_TH_SUM: return at::sum(a, at::IntArrayRef(d), k);
			case MLF_TH_MEAN: return at::mean(a, at::IntArrayRef(d), k);
			case MLF_TH_AMAX: return at::amax(a, at::IntArrayRef(d), k);
			case MLF_TH_AMIN: return at::amin(a, at::IntArrayRef(d), k);
			case MLF_TH_PROD: return at::prod(a, d, k);
			case MLF_TH_ANY: return at::any(a, d, k);
			case MLF_TH_ALL: return at::all(a, d, k);
			case MLF_TH_ARGMAX: return at::argmax(a, d, k);
			case MLF_TH_ARGMIN: return at::argmin(a, d, k);
			}
		}
		TORCH_CHECK(false, "unknown reduction ", enum_value(op));
	});
}

extern "C" mlf_th *mlf_th_cumsum(const mlf_th *x, int dim)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::cumsum(x->t, dim); });
}

/* Both outputs or neither; either pointer may be NULL when not wanted. */
static int two_outputs(const char *fn, const std::tuple<at::Tensor, at::Tensor> &r, mlf_th **a,
		       mlf_th **b)
{
	return guard_i(fn, [&] {
		mlf_th *ha = a ? wrap(std::get<0>(r)) : nullptr;
		try {
			if (b)
				*b = wrap(std::get<1>(r));
		} catch (...) {
			if (ha)
				release(ha);
			throw;
		}
		if (a)
			*a = ha;
	});
}

extern "C" int mlf_th_topk(const mlf_th *x, int64_t k, int dim, int largest, int sorted,
			   mlf_th **values, mlf_th **indices)
{
	if (values)
		*values = nullptr;
	if (indices)
		*indices = nullptr;
	if (!x)
		return -1;
	std::tuple<at::Tensor, at::Tensor> r;
	if (guard_i(__func__, [&] { r = at::topk(x->t, k, dim, largest != 0, sorted != 0); }) < 0)
		return -1;
	return two_outputs(__func__, r, values, indices);
}

extern "C" int mlf_th_sort(const mlf_th *x, int dim, int descending, int stable,
			   mlf_th **values, mlf_th **indices)
{
	if (values)
		*values = nullptr;
	if (indices)
		*indices = nullptr;
	if (!x)
		return -1;
	std::tuple<at::Tensor, at::Tensor> r;
	if (guard_i(__func__, [&] { r = at::sort(x->t, stable != 0, dim, descending != 0); }) < 0)
		return -1;
	return two_outputs(__func__, r, values, indices);
}

/* ---- shapes -------------------------------------------------------------- */

extern "C" mlf_th *mlf_th_reshape(const mlf_th *x, int ndim, const int64_t *shape)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::reshape(x->t, to_shape(ndim, shape)); });
}

extern "C" mlf_th *mlf_th_permute(const mlf_th *x, int ndim, const int *dims)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] {
		TORCH_CHECK(ndim >= 0 && ndim <= MLF_TH_MAX_DIMS, "ndim ", ndim, " is out of range");
		TORCH_CHECK(ndim == 0 || dims, "dims is NULL");
		int64_t d[MLF_TH_MAX_DIMS];
		for (int i = 0; i < ndim; i++)
			d[i] = dims[i];
		return at::permute(x->t, at::IntArrayRef(d, (size_t)ndim));
	});
}

extern "C" mlf_th *mlf_th_transpose(const mlf_th *x, int d0, int d1)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::transpose(x->t, d0, d1); });
}

extern "C" mlf_th *mlf_th_unsqueeze(const mlf_th *x, int dim)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::unsqueeze(x->t, dim); });
}

extern "C" mlf_th *mlf_th_squeeze(const mlf_th *x, int dim)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::squeeze(x->t, (int64_t)dim); });
}

extern "C" mlf_th *mlf_th_flatten(const mlf_th *x, int start, int end)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::flatten(x->t, start, end); });
}

extern "C" mlf_th *mlf_th_expand(const mlf_th *x, int ndim, const int64_t *shape)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return x->t.expand(to_shape(ndim, shape)); });
}

extern "C" mlf_th *mlf_th_repeat(const mlf_th *x, int ndim, const int64_t *reps)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return x->t.repeat(to_shape(ndim, reps)); });
}

extern "C" mlf_th *mlf_th_slice(const mlf_th *x, int dim, int64_t start, int64_t end, int64_t step)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::slice(x->t, dim, start, end, step); });
}

extern "C" mlf_th *mlf_th_select(const mlf_th *x, int dim, int64_t index)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::select(x->t, dim, index); });
}

/* The tensors of a C array, or false when one is NULL (an earlier failure). */
static bool tensor_list(size_t n, mlf_th *const *ts, std::vector<at::Tensor> &out)
{
	if (n > 0 && !ts)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ts[i])
			return false;
	out.reserve(n);
	for (size_t i = 0; i < n; i++)
		out.push_back(ts[i]->t);
	return true;
}

extern "C" mlf_th *mlf_th_cat(size_t n, mlf_th *const *ts, int dim)
{
	if (n > 0 && ts)
		for (size_t i = 0; i < n; i++)
			if (!ts[i])
				return nullptr;
	return guard_t(__func__, [&] {
		std::vector<at::Tensor> v;
		TORCH_CHECK(n > 0 && tensor_list(n, ts, v), "no tensors to concatenate");
		return at::cat(v, dim);
	});
}

extern "C" mlf_th *mlf_th_stack(size_t n, mlf_th *const *ts, int dim)
{
	if (n > 0 && ts)
		for (size_t i = 0; i < n; i++)
			if (!ts[i])
				return nullptr;
	return guard_t(__func__, [&] {
		std::vector<at::Tensor> v;
		TORCH_CHECK(n > 0 && tensor_list(n, ts, v), "no tensors to stack");
		return at::stack(v, dim);
	});
}

extern "C" int mlf_th_split(const mlf_th *x, size_t n, const int64_t *sizes, int dim, mlf_th **out)
{
	if (out)
		for (size_t i = 0; i < n; i++)
			out[i] = nullptr;
	if (!x)
		return -1;
	return guard_i(__func__, [&] {
		TORCH_CHECK(n > 0 && sizes && out, "split needs n > 0 sizes and outputs");
		std::vector<at::Tensor> parts =
			at::split_with_sizes(x->t, at::IntArrayRef(sizes, n), dim);
		wrap_all(parts, out);
	});
}

/* ---- indexing -------------------------------------------------------------- */

extern "C" mlf_th *mlf_th_index_select(const mlf_th *x, int dim, const mlf_th *index)
{
	if (!x || !index)
		return nullptr;
	return guard_t(__func__, [&] { return at::index_select(x->t, dim, index->t); });
}

extern "C" mlf_th *mlf_th_gather(const mlf_th *x, int dim, const mlf_th *index)
{
	if (!x || !index)
		return nullptr;
	return guard_t(__func__, [&] { return at::gather(x->t, dim, index->t); });
}

extern "C" mlf_th *mlf_th_scatter(const mlf_th *x, int dim, const mlf_th *index, const mlf_th *src)
{
	if (!x || !index || !src)
		return nullptr;
	return guard_t(__func__, [&] { return at::scatter(x->t, dim, index->t, src->t); });
}

extern "C" mlf_th *mlf_th_scatter_s(const mlf_th *x, int dim, const mlf_th *index, double value)
{
	if (!x || !index)
		return nullptr;
	return guard_t(__func__, [&] {
		return at::scatter(x->t, dim, index->t, scalar_for(x->t, value));
	});
}

extern "C" mlf_th *mlf_th_mask_select(const mlf_th *x, const mlf_th *mask)
{
	if (!x || !mask)
		return nullptr;
	return guard_t(__func__, [&] {
		TORCH_CHECK(mask->t.scalar_type() == at::kBool, "mask must be bool, got ",
			    describe_tensor(mask->t));
		c10::List<std::optional<at::Tensor>> idx;
		idx.push_back(mask->t);
		return at::index(x->t, idx);
	});
}

extern "C" mlf_th *mlf_th_nonzero(const mlf_th *x)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::nonzero(x->t); });
}

extern "C" mlf_th *mlf_th_one_hot(const mlf_th *index, int64_t nclasses)
{
	if (!index)
		return nullptr;
	return guard_t(__func__, [&] { return at::one_hot(index->t, nclasses); });
}

/* ---- network operations ---------------------------------------------------- */

extern "C" mlf_th *mlf_th_conv2d(const mlf_th *x, const mlf_th *weight, const mlf_th *bias,
				 int stride, int padding, int dilation, int groups)
{
	if (!x || !weight)
		return nullptr;
	return guard_t(__func__, [&] {
		const int64_t s[2] = { stride, stride };
		const int64_t p[2] = { padding, padding };
		const int64_t d[2] = { dilation, dilation };
		return at::conv2d(x->t, weight->t, opt(bias), s, p, d, groups);
	});
}

at::Tensor mlf_shim::batch_norm(const mlf_th *x, const mlf_th *weight, const mlf_th *bias,
				mlf_th *running_mean, mlf_th *running_var, int training, double momentum,
				double eps)
{
	TORCH_CHECK(!running_mean == !running_var,
		    "running_mean and running_var must both be given or both be NULL");
	return at::batch_norm(x->t, opt(weight), opt(bias), opt(running_mean), opt(running_var),
			      training != 0, momentum, eps, true);
}

extern "C" mlf_th *mlf_th_batch_norm(const mlf_th *x, const mlf_th *weight, const mlf_th *bias,
				     mlf_th *running_mean, mlf_th *running_var, int training,
				     double momentum, double eps)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] {
		return batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps);
	});
}

extern "C" mlf_th *mlf_th_max_pool2d(const mlf_th *x, int kernel, int stride, int padding)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] {
		const int64_t k[2] = { kernel, kernel };
		const int64_t s[2] = { stride ? stride : kernel, stride ? stride : kernel };
		const int64_t p[2] = { padding, padding };
		return at::max_pool2d(x->t, k, s, p);
	});
}

extern "C" mlf_th *mlf_th_upsample_nearest(const mlf_th *x, int scale)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] {
		TORCH_CHECK(x->t.dim() == 4, "upsample_nearest needs a 4-d NCHW tensor, got ",
			    describe_tensor(x->t));
		TORCH_CHECK(scale >= 1, "scale must be at least 1, got ", scale);
		const int64_t out[2] = { x->t.size(2) * scale, x->t.size(3) * scale };
		return at::upsample_nearest2d(x->t, out, (double)scale, (double)scale);
	});
}

extern "C" mlf_th *mlf_th_softmax(const mlf_th *x, int dim)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::softmax(x->t, dim); });
}

extern "C" mlf_th *mlf_th_log_softmax(const mlf_th *x, int dim)
{
	if (!x)
		return nullptr;
	return guard_t(__func__, [&] { return at::log_softmax(x->t, dim); });
}

extern "C" mlf_th *mlf_th_matmul(const mlf_th *a, const mlf_th *b)
{
	if (!a || !b)
		return nullptr;
	return guard_t(__func__, [&] { return at::matmul(a->t, b->t); });
}

static int64_t reduction(const enum mlf_th_reduction &r)
{
	switch (enum_value(r)) {
	case MLF_TH_REDUCE_NONE: return at::Reduction::None;
	case MLF_TH_REDUCE_MEAN: return at::Reduction::Mean;
	case MLF_TH_REDUCE_SUM: return at::Reduction::Sum;
	}
	TORCH_CHECK(false, "unknown loss reduction ", enum_value(r));
}

extern "C" mlf_th *mlf_th_bce_with_logits(const mlf_th *logits, const mlf_th *target,
					  const mlf_th *weight, enum mlf_th_reduction r)
{
	if (!logits || !target)
		return nullptr;
	return guard_t(__func__, [&] {
		return at::binary_cross_entropy_with_logits(logits->t, target->t, opt(weight),
							    std::nullopt, reduction(r));
	});
}

extern "C" mlf_th *mlf_th_cross_entropy(const mlf_th *logits, const mlf_th *target,
					enum mlf_th_reduction r)
{
	if (!logits || !target)
		return nullptr;
	return guard_t(__func__, [&] {
		return at::cross_entropy_loss(logits->t, target->t, std::nullopt, reduction(r));
	});
}
