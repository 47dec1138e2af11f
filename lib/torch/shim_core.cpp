/*
 * The shim's core: runtime, errors, scopes and handles, making, inspecting,
 * converting and in-place operations.
 */
#include "shim_internal.hpp"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <new>

using namespace mlf_shim;

/* Under AddressSanitizer handle structs are freed at once, so that a use after
 * free of a handle is reported instead of hitting a recycled struct. */
#if defined(__SANITIZE_ADDRESS__)
#define MLF_SHIM_FREE_LIST 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLF_SHIM_FREE_LIST 0
#endif
#endif
#ifndef MLF_SHIM_FREE_LIST
#define MLF_SHIM_FREE_LIST 1
#endif

namespace mlf_shim {

/* Enough recycled structs for the handles of a few forward passes. */
constexpr size_t free_list_max = 8192;

static thread_local thread_state tls;

thread_state &state()
{
	return tls;
}

thread_state::thread_state()
{
	scopes.reserve(32);
}

thread_state::~thread_state()
{
	/* The thread ends with scopes open: their handles go with it.  Handles
	 * owned by the caller are left alone; another thread may still use them. */
	while (!scopes.empty()) {
		mlf_th *h = scopes.back();
		while (h) {
			mlf_th *next = h->next;
			h->scope = 0;
			h->magic = 0;
			delete h;
			h = next;
		}
		scopes.pop_back();
	}
	while (free_list) {
		mlf_th *next = free_list->next;
		delete free_list;
		free_list = next;
	}
}

static void link(thread_state &s, mlf_th *h, uint32_t depth)
{
	h->scope = depth;
	h->prev = nullptr;
	if (depth == 0) {
		h->next = nullptr;
		return;
	}
	mlf_th *&head = s.scopes[depth - 1];
	h->next = head;
	if (head)
		head->prev = h;
	head = h;
}

static void unlink(thread_state &s, mlf_th *h)
{
	if (h->scope == 0)
		return;
	if (h->prev)
		h->prev->next = h->next;
	else
		s.scopes[h->scope - 1] = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = nullptr;
	h->scope = 0;
}

mlf_th *wrap(at::Tensor t)
{
	TORCH_CHECK(t.defined(), "the operation gave no tensor");
	thread_state &s = tls;
	mlf_th *h;
	if (s.free_list) {
		h = s.free_list;
		s.free_list = h->next;
		s.nfree--;
		h->t = std::move(t);
	} else {
		h = new mlf_th{ std::move(t), nullptr, nullptr, 0, 0 };
	}
	h->magic = handle_magic;
	link(s, h, (uint32_t)s.scopes.size());
	s.live++;
	return h;
}

void release(mlf_th *h)
{
	thread_state &s = tls;
	unlink(s, h);
	h->magic = 0;
	h->t.reset();
	s.live--;
	if (MLF_SHIM_FREE_LIST && s.nfree < free_list_max) {
		h->next = s.free_list;
		s.free_list = h;
		s.nfree++;
	} else {
		delete h;
	}
}

void wrap_all(const std::vector<at::Tensor> &ts, mlf_th **out)
{
	size_t i = 0;
	try {
		for (; i < ts.size(); i++)
			out[i] = wrap(ts[i]);
	} catch (...) {
		while (i > 0)
			release(out[--i]);
		throw;
	}
}

static void set_error(const char *fn, const char *msg, size_t len) noexcept
{
	try {
		std::string &e = tls.error;
		while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
			len--;
		e.assign(fn);
		e.append(": ");
		e.append(msg, len);
	} catch (...) {
		/* Out of memory while reporting: keep whatever fits. */
		tls.error.clear();
	}
}

void record_error(const char *fn, const char *msg) noexcept
{
	set_error(fn, msg, std::strlen(msg));
}

void record_exception(const char *fn) noexcept
{
	try {
		throw;
	} catch (const c10::Error &e) {
		const std::string &m = e.what_without_backtrace();
		set_error(fn, m.data(), m.size());
	} catch (const std::bad_alloc &) {
		record_error(fn, "out of memory");
	} catch (const std::exception &e) {
		record_error(fn, e.what());
	} catch (...) {
		record_error(fn, "unknown C++ exception");
	}
}

at::ScalarType to_scalar_type(const enum mlf_dtype &d)
{
	switch (enum_value(d)) {
	case MLF_DTYPE_F32: return at::kFloat;
	case MLF_DTYPE_F16: return at::kHalf;
	case MLF_DTYPE_BF16: return at::kBFloat16;
	case MLF_DTYPE_F64: return at::kDouble;
	case MLF_DTYPE_I64: return at::kLong;
	case MLF_DTYPE_I32: return at::kInt;
	case MLF_DTYPE_I16: return at::kShort;
	case MLF_DTYPE_I8: return at::kChar;
	case MLF_DTYPE_U8: return at::kByte;
	case MLF_DTYPE_BOOL: return at::kBool;
	}
	TORCH_CHECK(false, "invalid dtype ", enum_value(d));
}

bool from_scalar_type(at::ScalarType s, enum mlf_dtype *d)
{
	switch (s) {
	case at::kFloat: *d = MLF_DTYPE_F32; return true;
	case at::kHalf: *d = MLF_DTYPE_F16; return true;
	case at::kBFloat16: *d = MLF_DTYPE_BF16; return true;
	case at::kDouble: *d = MLF_DTYPE_F64; return true;
	case at::kLong: *d = MLF_DTYPE_I64; return true;
	case at::kInt: *d = MLF_DTYPE_I32; return true;
	case at::kShort: *d = MLF_DTYPE_I16; return true;
	case at::kChar: *d = MLF_DTYPE_I8; return true;
	case at::kByte: *d = MLF_DTYPE_U8; return true;
	case at::kBool: *d = MLF_DTYPE_BOOL; return true;
	default: return false;
	}
}

const char *scalar_type_name(at::ScalarType s)
{
	switch (s) {
	case at::kFloat: return "float32";
	case at::kHalf: return "float16";
	case at::kBFloat16: return "bfloat16";
	case at::kDouble: return "float64";
	case at::kLong: return "int64";
	case at::kInt: return "int32";
	case at::kShort: return "int16";
	case at::kChar: return "int8";
	case at::kByte: return "uint8";
	case at::kBool: return "bool";
	default: return c10::toString(s);
	}
}

int cuda_device_count() noexcept
{
	/* Asked once: the answer cannot change while the process runs, and
	 * libtorch's own query may initialise the CUDA runtime. */
	static const int n = [] {
		try {
			if (!at::detail::getCUDAHooks().hasCUDA())
				return 0;
			return (int)at::detail::getCUDAHooks().getNumGPUs();
		} catch (...) {
			return 0;
		}
	}();
	return n;
}

at::Device to_device(int device)
{
	if (device == MLF_TH_CPU)
		return at::Device(at::kCPU);
	TORCH_CHECK(device >= 0, "invalid device ", device, " (MLF_TH_CPU or a CUDA index)");
	int n = cuda_device_count();
	TORCH_CHECK(device < n, "CUDA device ", device, " is not available (",
		    n == 0 ? "libtorch has no CUDA or no GPU is present" : "fewer devices", ", ",
		    n, " found)");
	return at::Device(at::kCUDA, (c10::DeviceIndex)device);
}

int from_device(const at::Device &d)
{
	if (d.is_cpu())
		return MLF_TH_CPU;
	if (d.is_cuda())
		return d.has_index() ? (int)d.index() : 0;
	return MLF_TH_NO_DEVICE;
}

at::IntArrayRef to_shape(int ndim, const int64_t *shape)
{
	TORCH_CHECK(ndim >= 0 && ndim <= MLF_TH_MAX_DIMS, "ndim ", ndim, " is out of range 0..",
		    MLF_TH_MAX_DIMS);
	TORCH_CHECK(ndim == 0 || shape, "shape is NULL");
	return at::IntArrayRef(shape, (size_t)ndim);
}

at::Scalar scalar_for(const at::Tensor &like, double v)
{
	if (!at::isFloatingType(like.scalar_type()) && !at::isComplexType(like.scalar_type()) &&
	    std::floor(v) == v && std::fabs(v) <= 9007199254740992.0)
		return at::Scalar((int64_t)v);
	return at::Scalar(v);
}

} /* namespace mlf_shim */

/* ---- runtime -------------------------------------------------------------- */

extern "C" const char *mlf_th_version(void)
{
	return TORCH_VERSION;
}

extern "C" int mlf_th_cuda_device_count(void)
{
	return cuda_device_count();
}

extern "C" int mlf_th_cuda_training_mode(int deterministic)
{
	return guard_i(__func__, [&] {
		at::Context &c = at::globalContext();
		if (deterministic) {
			setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);
			c.setDeterministicAlgorithms(true, true);
			c.setDeterministicCuDNN(true);
			c.setDeterministicFillUninitializedMemory(false);
			c.setBenchmarkCuDNN(false);
		} else {
			c.setDeterministicAlgorithms(false, false);
			c.setDeterministicCuDNN(false);
			c.setBenchmarkCuDNN(true);
		}
	});
}

extern "C" int mlf_th_set_threads(int n)
{
	return guard_i(__func__, [&] {
		TORCH_CHECK(n > 0, "thread count must be positive, got ", n);
		at::set_num_threads(n);
	});
}

extern "C" int mlf_th_threads(void)
{
	return guard_v(__func__, -1, [] { return (int)at::get_num_threads(); });
}

extern "C" int mlf_th_set_interop_threads(int n)
{
	return guard_i(__func__, [&] {
		TORCH_CHECK(n > 0, "thread count must be positive, got ", n);
		at::set_num_interop_threads(n);
	});
}

extern "C" void mlf_th_manual_seed(uint64_t seed)
{
	guard_i(__func__, [&] { at::manual_seed(seed); });
}

extern "C" int mlf_th_synchronize(int device)
{
	if (device == MLF_TH_CPU)
		return 0;
	return guard_i(__func__, [&] {
		at::Device d = to_device(device);
		at::detail::getCUDAHooks().deviceSynchronize(d.index());
	});
}

extern "C" const char *mlf_th_error(void)
{
	return tls.error.c_str();
}

extern "C" void mlf_th_clear_error(void)
{
	tls.error.clear();
}

/* ---- scopes and handles ---------------------------------------------------- */

extern "C" size_t mlf_th_scope_open(void)
{
	thread_state &s = tls;
	size_t mark = s.scopes.size();
	try {
		s.scopes.push_back(nullptr);
	} catch (...) {
		/* Handles then go to the enclosing scope; close(mark) still works. */
		record_exception(__func__);
	}
	return mark;
}

extern "C" void mlf_th_scope_close(size_t mark)
{
	thread_state &s = tls;
	while (s.scopes.size() > mark) {
		mlf_th *h;
		while ((h = s.scopes.back()) != nullptr)
			release(h);
		s.scopes.pop_back();
	}
}

extern "C" mlf_th *mlf_th_keep(mlf_th *t)
{
	if (!t || t->scope == 0)
		return t;
	thread_state &s = tls;
	uint32_t parent = t->scope - 1;
	unlink(s, t);
	link(s, t, parent);
	return t;
}

extern "C" void mlf_th_free(mlf_th *t)
{
	if (!t)
		return;
	if (t->magic != handle_magic) {
		record_error(__func__, "not a live handle (freed twice?)");
		return;
	}
	release(t);
}

extern "C" mlf_th *mlf_th_ref(const mlf_th *t)
{
	if (!t)
		return nullptr;
	return guard_t(__func__, [&] { return t->t; });
}

extern "C" size_t mlf_th_live_handles(void)
{
	int64_t n = tls.live;
	return n > 0 ? (size_t)n : 0;
}

/* ---- making tensors -------------------------------------------------------- */

static at::TensorOptions options(const enum mlf_dtype &dtype, int device)
{
	return at::TensorOptions().dtype(to_scalar_type(dtype)).device(to_device(device));
}

extern "C" mlf_th *mlf_th_from_data(const void *data, enum mlf_dtype dtype, int ndim,
				    const int64_t *shape, int device)
{
	return guard_t(__func__, [&] {
		at::IntArrayRef sz = to_shape(ndim, shape);
		at::ScalarType st = to_scalar_type(dtype);
		at::Device dev = to_device(device);
		/* For a GPU, staged in pinned memory (libtorch's caching host
		 * allocator reuses it) and copied without waiting: the copy overlaps
		 * whatever the GPU is still doing, and the block is not reused
		 * before the copy is done. */
		at::Tensor cpu = at::empty(sz, at::TensorOptions().dtype(st).pinned_memory(!dev.is_cpu()));
		size_t nbytes = cpu.nbytes();
		if (nbytes > 0) {
			TORCH_CHECK(data, "data is NULL for ", cpu.numel(), " elements");
			std::memcpy(cpu.data_ptr(), data, nbytes);
		}
		return dev.is_cpu() ? cpu : cpu.to(dev, /*non_blocking=*/true);
	});
}

extern "C" mlf_th *mlf_th_empty(int ndim, const int64_t *shape, enum mlf_dtype dtype, int device)
{
	return guard_t(__func__, [&] { return at::empty(to_shape(ndim, shape), options(dtype, device)); });
}

extern "C" mlf_th *mlf_th_full(int ndim, const int64_t *shape, double value, enum mlf_dtype dtype,
			       int device)
{
	return guard_t(__func__, [&] {
		return at::full(to_shape(ndim, shape), value, options(dtype, device));
	});
}

extern "C" mlf_th *mlf_th_zeros_like(const mlf_th *t)
{
	if (!t)
		return nullptr;
	return guard_t(__func__, [&] { return at::zeros_like(t->t); });
}

extern "C" mlf_th *mlf_th_full_like(const mlf_th *t, double value)
{
	if (!t)
		return nullptr;
	return guard_t(__func__, [&] { return at::full_like(t->t, value); });
}

extern "C" mlf_th *mlf_th_scalar(double value, enum mlf_dtype dtype, int device)
{
	return guard_t(__func__, [&] { return at::scalar_tensor(value, options(dtype, device)); });
}

extern "C" mlf_th *mlf_th_arange(double start, double end, double step, enum mlf_dtype dtype,
				 int device)
{
	return guard_t(__func__, [&] { return at::arange(start, end, step, options(dtype, device)); });
}

/* GCC 12 at -O1 (the ASan build) warns that the defaulted
 * std::optional<at::Generator> of uniform_/normal_ "may be used
 * uninitialized" inside libtorch's intrusive_ptr.h: a known false positive of
 * -Wmaybe-uninitialized with std::optional. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

extern "C" mlf_th *mlf_th_rand(int ndim, const int64_t *shape, double lo, double hi,
			       enum mlf_dtype dtype, int device)
{
	return guard_t(__func__, [&] {
		return at::empty(to_shape(ndim, shape), options(dtype, device)).uniform_(lo, hi);
	});
}

extern "C" mlf_th *mlf_th_randn(int ndim, const int64_t *shape, double mean, double std,
				enum mlf_dtype dtype, int device)
{
	return guard_t(__func__, [&] {
		return at::empty(to_shape(ndim, shape), options(dtype, device)).normal_(mean, std);
	});
}

#pragma GCC diagnostic pop

/* ---- inspecting ------------------------------------------------------------ */

extern "C" int mlf_th_ndim(const mlf_th *t)
{
	return t ? (int)t->t.dim() : -1;
}

extern "C" int64_t mlf_th_size(const mlf_th *t, int dim)
{
	if (!t)
		return -1;
	return guard_v(__func__, (int64_t)-1, [&] { return t->t.size(dim); });
}

extern "C" int mlf_th_shape(const mlf_th *t, int64_t *shape, int max)
{
	if (!t)
		return -1;
	int n = (int)t->t.dim();
	at::IntArrayRef sz = t->t.sizes();
	for (int i = 0; i < n && i < max; i++)
		shape[i] = sz[(size_t)i];
	return n;
}

extern "C" int64_t mlf_th_numel(const mlf_th *t)
{
	return t ? t->t.numel() : -1;
}

extern "C" enum mlf_dtype mlf_th_dtype(const mlf_th *t)
{
	enum mlf_dtype d = MLF_DTYPE_COUNT;
	if (t)
		from_scalar_type(t->t.scalar_type(), &d);
	return d;
}

extern "C" int mlf_th_device(const mlf_th *t)
{
	return t ? from_device(t->t.device()) : MLF_TH_NO_DEVICE;
}

extern "C" int mlf_th_copy_out(const mlf_th *t, enum mlf_dtype dtype, void *buf, size_t nbytes)
{
	if (!t)
		return -1;
	return guard_i(__func__, [&] {
		at::ScalarType st = to_scalar_type(dtype);
		size_t want = (size_t)t->t.numel() * c10::elementSize(st);
		TORCH_CHECK(nbytes == want, "buffer has ", nbytes, " bytes, ", describe_tensor(t->t),
			    " as ", scalar_type_name(st), " needs ", want);
		if (want == 0)
			return;
		TORCH_CHECK(buf, "buffer is NULL");
		at::Tensor c = t->t.detach().to(at::kCPU, st).contiguous();
		std::memcpy(buf, c.const_data_ptr(), want);
	});
}

extern "C" double mlf_th_item(const mlf_th *t)
{
	const double nan = std::numeric_limits<double>::quiet_NaN();
	if (!t)
		return nan;
	return guard_v(__func__, nan, [&] {
		TORCH_CHECK(t->t.numel() == 1, describe_tensor(t->t), " has ", t->t.numel(),
			    " elements, not 1");
		return t->t.item<double>();
	});
}

namespace mlf_shim {

std::string describe_tensor(const at::Tensor &t)
{
	char buf[160];
	describe_into(t, buf, sizeof buf);
	return buf;
}

void describe_into(const at::Tensor &t, char *buf, size_t size)
{
	size_t used = 0;
	auto put = [&](const char *fmt, auto... args) {
		if (used >= size)
			return;
		int n = std::snprintf(buf + used, size - used, fmt, args...);
		if (n > 0)
			used += (size_t)n;
	};
	if (!t.defined()) {
		put("undefined");
		return;
	}
	put("[");
	for (int64_t i = 0; i < t.dim(); i++)
		put(i ? ", %lld" : "%lld", (long long)t.size(i));
	put("] %s ", scalar_type_name(t.scalar_type()));
	const at::Device d = t.device();
	if (d.is_cpu())
		put("cpu");
	else if (d.is_cuda())
		put("cuda:%d", d.has_index() ? (int)d.index() : 0);
	else
		put("%s", c10::DeviceTypeName(d.type(), true).c_str());
	if (used >= size && size > 4)
		std::memcpy(buf + size - 4, "...", 4);
}

} /* namespace mlf_shim */

extern "C" const char *mlf_th_describe(const mlf_th *t)
{
	char *buf = tls.describe;
	if (!t) {
		std::snprintf(buf, sizeof tls.describe, "(null)");
		return buf;
	}
	try {
		describe_into(t->t, buf, sizeof tls.describe);
	} catch (...) {
		std::snprintf(buf, sizeof tls.describe, "(?)");
	}
	return buf;
}

/* ---- conversions ----------------------------------------------------------- */

extern "C" mlf_th *mlf_th_to(const mlf_th *t, enum mlf_dtype dtype, int device)
{
	if (!t)
		return nullptr;
	return guard_t(__func__, [&] { return t->t.to(to_device(device), to_scalar_type(dtype)); });
}

extern "C" mlf_th *mlf_th_contiguous(const mlf_th *t)
{
	if (!t)
		return nullptr;
	return guard_t(__func__, [&] { return t->t.contiguous(); });
}

extern "C" mlf_th *mlf_th_channels_last(const mlf_th *t)
{
	if (!t)
		return nullptr;
	return guard_t(__func__, [&] {
		TORCH_CHECK(t->t.dim() == 4, "channels_last needs a 4-d tensor, got ",
			    describe_tensor(t->t));
		return t->t.contiguous(at::MemoryFormat::ChannelsLast);
	});
}

extern "C" mlf_th *mlf_th_clone(const mlf_th *t)
{
	if (!t)
		return nullptr;
	return guard_t(__func__, [&] { return t->t.clone(); });
}

extern "C" mlf_th *mlf_th_detach(const mlf_th *t)
{
	if (!t)
		return nullptr;
	return guard_t(__func__, [&] { return t->t.detach(); });
}

/* ---- in place --------------------------------------------------------------- */

extern "C" int mlf_th_copy_(mlf_th *dst, const mlf_th *src)
{
	if (!dst || !src)
		return -1;
	return guard_i(__func__, [&] { dst->t.copy_(src->t); });
}

extern "C" int mlf_th_fill_(mlf_th *t, double value)
{
	if (!t)
		return -1;
	return guard_i(__func__, [&] { t->t.fill_(scalar_for(t->t, value)); });
}

extern "C" int mlf_th_mul_s_(mlf_th *t, double s)
{
	if (!t)
		return -1;
	return guard_i(__func__, [&] { t->t.mul_(scalar_for(t->t, s)); });
}

extern "C" int mlf_th_add_(mlf_th *t, const mlf_th *other, double alpha)
{
	if (!t || !other)
		return -1;
	return guard_i(__func__, [&] { t->t.add_(other->t, scalar_for(t->t, alpha)); });
}

extern "C" int mlf_th_foreach_lerp_(size_t n, mlf_th *const *self, mlf_th *const *end, double weight)
{
	return guard_i(__func__, [&] {
		std::vector<at::Tensor> a, b;
		a.reserve(n);
		b.reserve(n);
		for (size_t i = 0; i < n; i++) {
			TORCH_CHECK(self && end && self[i] && end[i], "tensor ", i, " is NULL");
			a.push_back(self[i]->t);
			b.push_back(end[i]->t);
		}
		at::_foreach_lerp_(a, b, weight);
	});
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  /* as for mlf_th_rand */
extern "C" int mlf_th_uniform_(mlf_th *t, double lo, double hi)
{
	if (!t)
		return -1;
	return guard_i(__func__, [&] { t->t.uniform_(lo, hi); });
}
#pragma GCC diagnostic pop

extern "C" int mlf_th_set_requires_grad(mlf_th *t, int on)
{
	if (!t)
		return -1;
	return guard_i(__func__, [&] {
		if (!t->t.is_leaf())
			t->t = t->t.detach();
		t->t.requires_grad_(on != 0);
	});
}

extern "C" int mlf_th_requires_grad(const mlf_th *t)
{
	return t ? (int)t->t.requires_grad() : -1;
}

extern "C" int mlf_th_set_data(mlf_th *t, const mlf_th *data)
{
	if (!t || !data)
		return -1;
	return guard_i(__func__, [&] { t->t.set_data(data->t); });
}
