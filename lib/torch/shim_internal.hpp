/*
 * What the shim's translation units share: the handle, the per-thread state
 * (scopes, error message), the exception guard and the dtype/device
 * conversions.  Only the shim's .cpp files include this.
 *
 * Every extern "C" entry point has the same shape:
 *
 *     mlf_th *mlf_th_thing(const mlf_th *x, ...)
 *     {
 *             if (!x)
 *                     return nullptr;         // NULL in: NULL out, message untouched
 *             return guard_t(__func__, [&] { return at::thing(x->t, ...); });
 *     }
 *
 * guard_t runs the body, wraps the resulting tensor in a handle owned by the
 * innermost scope, and turns any exception into a recorded message and NULL.
 * On success nothing but the handle allocation happens: no strings, no maps.
 */
#ifndef MLF_TORCH_SHIM_INTERNAL_HPP
#define MLF_TORCH_SHIM_INTERNAL_HPP

#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mlf/torch/torch.h"

/* A handle: one reference to a libtorch tensor, plus its place in a scope.
 * Handles of one scope form an intrusive doubly linked list, so that keep
 * and free are O(1) wherever the handle sits in its scope. */
struct mlf_th {
	at::Tensor t;
	mlf_th *prev;
	mlf_th *next;
	uint32_t scope;         /* 1-based depth of the owning scope; 0: the caller's */
	uint32_t magic;         /* handle_magic while alive: catches double frees */
};

namespace mlf_shim {

constexpr uint32_t handle_magic = 0x6d6c6674u;  /* "mlft" */

/* State of one thread.  Scoped handles live here, so a scoped handle must be
 * freed or kept by the thread whose scope owns it. */
struct thread_state {
	std::vector<mlf_th *> scopes;   /* list head of each open scope, innermost last */
	mlf_th *free_list = nullptr;    /* recycled handle structs (not under ASan) */
	size_t nfree = 0;
	int64_t live = 0;               /* handles made minus handles freed by this thread */
	std::string error;
	char describe[160] = { 0 };

	thread_state();
	~thread_state();
	thread_state(const thread_state &) = delete;
	thread_state &operator=(const thread_state &) = delete;
};

thread_state &state();

/* A new handle for `t`, owned by the innermost open scope (or the caller).
 * Throws on an undefined tensor or when out of memory. */
mlf_th *wrap(at::Tensor t);
/* Frees a live handle (unlinks it from its scope). */
void release(mlf_th *h);

/* Records the exception being handled as "<fn>: <message>".  Call only from
 * inside a catch block. */
void record_exception(const char *fn) noexcept;
/* Records "<fn>: <msg>" for failures detected without an exception. */
void record_error(const char *fn, const char *msg) noexcept;

/* Runs f, which returns an at::Tensor, and wraps the result in a handle. */
template <class F>
inline mlf_th *guard_t(const char *fn, F &&f) noexcept
{
	try {
		return wrap(f());
	} catch (...) {
		record_exception(fn);
		return nullptr;
	}
}

/* Runs f (returning nothing): 0, or -1 with the error recorded. */
template <class F>
inline int guard_i(const char *fn, F &&f) noexcept
{
	try {
		f();
		return 0;
	} catch (...) {
		record_exception(fn);
		return -1;
	}
}

/* Runs f and returns its value, or `on_error` with the error recorded. */
template <class R, class F>
inline R guard_v(const char *fn, R on_error, F &&f) noexcept
{
	try {
		return f();
	} catch (...) {
		record_exception(fn);
		return on_error;
	}
}

/* Wraps several tensors into out[0..n-1]: all of them, or none (the ones
 * already made are freed and the exception propagates). */
void wrap_all(const std::vector<at::Tensor> &ts, mlf_th **out);

/* ---- conversions between the C API's types and libtorch's ---------------- */

/* The int a C caller passed as an enum.  C may pass any int; in C++ loading an
 * enum object whose value has no enumerator is undefined (UBSan flags it), so
 * the shim passes C enums by reference and switches on their representation. */
template <class E>
inline int enum_value(const E &e)
{
	static_assert(std::is_enum<E>::value && sizeof(E) == sizeof(int), "a C enum");
	int v;
	std::memcpy(&v, &e, sizeof v);
	return v;
}

at::ScalarType to_scalar_type(const enum mlf_dtype &d); /* throws on an invalid value */
bool from_scalar_type(at::ScalarType s, enum mlf_dtype *d);
const char *scalar_type_name(at::ScalarType s);       /* PyTorch's spelling: "float32" */
at::Device to_device(int device);                     /* throws when absent */
int from_device(const at::Device &d);                 /* MLF_TH_NO_DEVICE if neither */
int cuda_device_count() noexcept;
/* "[2, 3] float32 cpu", for messages. */
std::string describe_tensor(const at::Tensor &t);

/* mlf_th_batch_norm's body (shim_ops.cpp), for the fused op's fallback. */
at::Tensor batch_norm(const mlf_th *x, const mlf_th *weight, const mlf_th *bias, mlf_th *running_mean,
		      mlf_th *running_var, int training, double momentum, double eps);

/* An optional argument: NULL is "not given". */
inline std::optional<at::Tensor> opt(const mlf_th *t)
{
	if (!t)
		return std::nullopt;
	return t->t;
}
void describe_into(const at::Tensor &t, char *buf, size_t size);
/* Checks ndim/shape from C and views them as an IntArrayRef. */
at::IntArrayRef to_shape(int ndim, const int64_t *shape);

/* A C double as a Scalar for an operation with `like`: a whole number stays an
 * integer for integer and bool tensors, so they keep their dtype. */
at::Scalar scalar_for(const at::Tensor &like, double v);

} /* namespace mlf_shim */

#endif
