/*
 * The libtorch shim, seen from C.  lib/torch/ is the only C++ in mlf; every
 * YOLO-specific part (model, loss, training loop) is C written against this
 * header.  Only programs that train or infer link it (libmlf_torch.a).
 *
 * Tensors are opaque handles.  Ownership: a handle made while a scope is open
 * belongs to the innermost open scope and is freed when that scope closes,
 * unless it was kept (mlf_th_keep), which hands it to the enclosing scope, or
 * to the caller when no scope encloses it.  A handle made with no scope open
 * belongs to the caller, who frees it with mlf_th_free (model weights,
 * optimizer state).  Handles are views of reference-counted libtorch tensors:
 * freeing a handle never invalidates another handle, even one sharing storage.
 * Scopes nest; each handle operation (make, keep, free) is O(1).  Scopes are
 * per thread: a scoped handle is kept or freed only by the thread that made
 * it; a caller-owned handle may be used and freed by any thread (one at a time).
 *
 *     size_t mark = mlf_th_scope_open();
 *     mlf_th *y = mlf_th_unary(MLF_TH_SILU, mlf_th_conv2d(x, w, NULL, 1, 1, 1, 1));
 *     mlf_th_keep(y);
 *     mlf_th_scope_close(mark);          // the conv output is freed, y is not
 *
 * Errors: no C++ exception reaches C.  A call that fails returns NULL (or -1,
 * or NaN where it returns a double) and records a message naming the call and
 * the problem ("mlf_th_conv2d: Given groups=1, weight of size [4, 2, 3, 3],
 * expected input[1, 3, 5, 5] to have 2 channels, ..."), read with
 * mlf_th_error().  Like errno, a success leaves the message alone and the next
 * failure replaces it; mlf_th_clear_error() empties it.  A call given a NULL
 * tensor returns NULL (or -1) without touching the message, so a chain of
 * calls is checked once at its end and the first failure is the one reported.
 * Scopes, errors, grad mode and autocast state are per thread.
 *
 * Devices are ints: MLF_TH_CPU, or a CUDA device index (0, 1, ...).
 * Dimensions may be negative (counted from the end) wherever a dim is taken.
 */
#ifndef MLF_TORCH_TORCH_H
#define MLF_TORCH_TORCH_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/ckpt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlf_th mlf_th;

#define MLF_TH_CPU (-1)
#define MLF_TH_NO_DEVICE (-2)  /* mlf_th_device of NULL or of a non-CPU/CUDA tensor */
#define MLF_TH_MAX_DIMS 8

/* ---- runtime ---------------------------------------------------------- */

const char *mlf_th_version(void);        /* libtorch's, e.g. "2.11.0" */
int mlf_th_cuda_device_count(void);      /* 0 when built without CUDA or none present */
/* How CUDA training picks its algorithms, as Ultralytics' init_seeds does with
 * its `deterministic` argument: on (its default), deterministic algorithms
 * (warning only where none exists), deterministic cuDNN, new tensors not
 * filled with NaN, and cuBLAS's workspace ":4096:8" unless
 * CUBLAS_WORKSPACE_CONFIG is set; off, none of that, and cuDNN's benchmark
 * mode (mlf's choice: a training run repeats the same shapes).  Call before
 * the first CUDA computation; the CPU is not affected. */
int mlf_th_cuda_training_mode(int deterministic);
/* Keep libtorch's large CPU blocks in the heap for reuse (glibc mallopt); call
 * once, early, in a program that trains. */
void mlf_th_tune_malloc(void);
int mlf_th_set_threads(int n);           /* intra-op threads; -1 on error */
int mlf_th_threads(void);
/* Inter-op threads: only before any parallel work has started (and once);
 * -1 with the error set afterwards. */
int mlf_th_set_interop_threads(int n);
void mlf_th_manual_seed(uint64_t seed);  /* CPU and CUDA generators */
int mlf_th_synchronize(int device);      /* waits for queued CUDA work; no-op on CPU */

const char *mlf_th_error(void);          /* "" when none; valid until the next failure */
void mlf_th_clear_error(void);
struct mlf_error;
/* Fill `err` with "<what>: <the shim's last message>" (status 70), clear the
 * message and return -1: how C code reports a failed chain of shim calls. */
int mlf_th_fail(struct mlf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- scopes and handles ----------------------------------------------- */

/* Opens a scope; returns its mark (the number of scopes open before it). */
size_t mlf_th_scope_open(void);
/* Closes every scope opened since (and including) the one `mark` opened,
 * freeing their handles.  A mark of scopes already closed is a no-op. */
void mlf_th_scope_close(size_t mark);
/* Hands t from its scope to the enclosing one, or to the caller when its scope
 * is the outermost; a caller-owned handle stays the caller's.  Returns t
 * (NULL for NULL, so `return mlf_th_keep(chain(...))` works). */
mlf_th *mlf_th_keep(mlf_th *t);
/* Frees t now, wherever it belongs (a scoped handle leaves its scope).
 * NULL is a no-op. */
void mlf_th_free(mlf_th *t);
/* Another handle to the same tensor (for storing one handle in two places);
 * owned like any new handle. */
mlf_th *mlf_th_ref(const mlf_th *t);
/* Handles made minus handles freed by this thread: for tests that check
 * nothing leaks. */
size_t mlf_th_live_handles(void);

/* ---- making tensors ---------------------------------------------------- */

/* Copies `data` (contiguous, row-major, `dtype`; bool bytes are 0 or 1).
 * `shape` may be NULL when ndim is 0, `data` when there are no elements. */
mlf_th *mlf_th_from_data(const void *data, enum mlf_dtype dtype, int ndim, const int64_t *shape,
			 int device);
mlf_th *mlf_th_empty(int ndim, const int64_t *shape, enum mlf_dtype dtype, int device);
mlf_th *mlf_th_full(int ndim, const int64_t *shape, double value, enum mlf_dtype dtype, int device);
mlf_th *mlf_th_zeros_like(const mlf_th *t);
mlf_th *mlf_th_full_like(const mlf_th *t, double value);
mlf_th *mlf_th_scalar(double value, enum mlf_dtype dtype, int device);      /* 0-d */
mlf_th *mlf_th_arange(double start, double end, double step, enum mlf_dtype dtype, int device); /* [start, end) */
/* Uniform in [lo, hi) and normal(mean, std) from the global generator. */
mlf_th *mlf_th_rand(int ndim, const int64_t *shape, double lo, double hi, enum mlf_dtype dtype,
		    int device);
mlf_th *mlf_th_randn(int ndim, const int64_t *shape, double mean, double std, enum mlf_dtype dtype,
		     int device);

/* ---- inspecting -------------------------------------------------------- */

int mlf_th_ndim(const mlf_th *t);                     /* -1 for NULL */
int64_t mlf_th_size(const mlf_th *t, int dim);        /* -1 on error */
/* Fills up to `max` sizes; returns ndim or -1. */
int mlf_th_shape(const mlf_th *t, int64_t *shape, int max);
int64_t mlf_th_numel(const mlf_th *t);                /* -1 for NULL */
/* MLF_DTYPE_COUNT for NULL or a dtype enum mlf_dtype cannot name. */
enum mlf_dtype mlf_th_dtype(const mlf_th *t);
int mlf_th_device(const mlf_th *t);                   /* MLF_TH_CPU, a CUDA index, or MLF_TH_NO_DEVICE */
/* Copies the values out, converted to `dtype`, row-major; `nbytes` must be
 * numel * size of dtype.  Works from any device. */
int mlf_th_copy_out(const mlf_th *t, enum mlf_dtype dtype, void *buf, size_t nbytes);
/* The single value of a one-element tensor; NaN (and an error) otherwise;
 * NaN without an error for NULL.  Waits for queued CUDA work. */
double mlf_th_item(const mlf_th *t);
/* "[2, 3, 4] float32 cpu" ("cuda:0"; "(null)" for NULL) for messages; a static
 * per-thread buffer, overwritten by the next call. */
const char *mlf_th_describe(const mlf_th *t);

/* ---- conversions ------------------------------------------------------- */

/* Results that need no copy share t's storage (to() to the same dtype and
 * device, contiguous() of a contiguous tensor, detach()); gradients flow
 * through all but detach. */
mlf_th *mlf_th_to(const mlf_th *t, enum mlf_dtype dtype, int device);
mlf_th *mlf_th_contiguous(const mlf_th *t);
mlf_th *mlf_th_channels_last(const mlf_th *t);        /* 4-d only */
mlf_th *mlf_th_clone(const mlf_th *t);
mlf_th *mlf_th_detach(const mlf_th *t);

/* ---- in place (return 0, or -1 with the error set) --------------------
 * As in PyTorch, a leaf that requires grad (a model weight) can be changed in
 * place only with grad mode off (mlf_th_grad_enabled(0)).  Scalars follow the
 * rule of mlf_th_binary_s. */

int mlf_th_copy_(mlf_th *dst, const mlf_th *src);     /* broadcasts, converts dtype/device */
int mlf_th_fill_(mlf_th *t, double value);
int mlf_th_mul_s_(mlf_th *t, double s);
int mlf_th_add_(mlf_th *t, const mlf_th *other, double alpha); /* t += alpha * other */
/* self[i] = lerp(self[i], end[i], weight) for i < n, as torch._foreach_lerp_:
 * one multi-tensor kernel on a GPU, one lerp per tensor on the CPU. */
int mlf_th_foreach_lerp_(size_t n, mlf_th *const *self, mlf_th *const *end, double weight);
int mlf_th_uniform_(mlf_th *t, double lo, double hi);
/* For model weights: `t` becomes a leaf that accumulates gradients (or not).
 * Only floating-point tensors can require gradients.  A non-leaf is detached
 * first (in this handle only; other handles keep the original). */
int mlf_th_set_requires_grad(mlf_th *t, int on);
int mlf_th_requires_grad(const mlf_th *t);            /* 1, 0, or -1 for NULL */
/* Replaces the data of `t` (keeping its identity for optimizers and other
 * handles) with `data`'s, shared, not copied (PyTorch's `t.data = data`). */
int mlf_th_set_data(mlf_th *t, const mlf_th *data);

/* ---- elementwise ------------------------------------------------------- */

enum mlf_th_unary {
	MLF_TH_NEG, MLF_TH_ABS, MLF_TH_EXP, MLF_TH_LOG, MLF_TH_SQRT, MLF_TH_RSQRT,
	MLF_TH_SIGMOID, MLF_TH_SILU, MLF_TH_RELU, MLF_TH_TANH, MLF_TH_ATAN,
	MLF_TH_FLOOR, MLF_TH_CEIL, MLF_TH_ROUND, MLF_TH_RECIPROCAL, MLF_TH_SQUARE,
	MLF_TH_LOGICAL_NOT, MLF_TH_ISNAN, MLF_TH_ISFINITE,
};
mlf_th *mlf_th_unary(enum mlf_th_unary op, const mlf_th *x);

/* Broadcasting binary operations with PyTorch's type promotion.  DIV is true
 * division, FMOD takes the sign of the dividend, AND/OR are logical.
 * Comparisons and logic give bool tensors. */
enum mlf_th_binary {
	MLF_TH_ADD, MLF_TH_SUB, MLF_TH_MUL, MLF_TH_DIV, MLF_TH_POW,
	MLF_TH_MAXIMUM, MLF_TH_MINIMUM, MLF_TH_ATAN2, MLF_TH_FMOD,
	MLF_TH_EQ, MLF_TH_NE, MLF_TH_LT, MLF_TH_LE, MLF_TH_GT, MLF_TH_GE,
	MLF_TH_AND, MLF_TH_OR,
};
mlf_th *mlf_th_binary(enum mlf_th_binary op, const mlf_th *a, const mlf_th *b);
/* With a scalar, promoted as PyTorch promotes a Python number: the tensor's
 * dtype wins within its category.  A whole-number `s` counts as an integer for
 * integer and bool tensors (int64 + 1 stays int64; int64 + 0.5 is float32). */
mlf_th *mlf_th_binary_s(enum mlf_th_binary op, const mlf_th *a, double s);  /* a op s */
mlf_th *mlf_th_s_binary(enum mlf_th_binary op, double s, const mlf_th *b);  /* s op b */
/* Bounds that are NaN are not applied (both NaN: a copy of x). */
mlf_th *mlf_th_clamp(const mlf_th *x, double lo, double hi);
mlf_th *mlf_th_where(const mlf_th *cond, const mlf_th *a, const mlf_th *b);
mlf_th *mlf_th_masked_fill(const mlf_th *x, const mlf_th *mask, double value);

/* ---- reductions and ordering ------------------------------------------ */

#define MLF_TH_ALL_DIMS INT32_MIN
enum mlf_th_reduce {
	MLF_TH_SUM, MLF_TH_MEAN, MLF_TH_AMAX, MLF_TH_AMIN, MLF_TH_PROD,
	MLF_TH_ANY, MLF_TH_ALL, MLF_TH_ARGMAX, MLF_TH_ARGMIN,
};
/* Over one dim, or all with MLF_TH_ALL_DIMS (keepdim is then ignored; ARGMAX
 * and ARGMIN then give the index into the flattened tensor).  ARGMAX/ARGMIN
 * give int64, ANY/ALL bool, SUM/PROD of integers int64; MEAN needs floats. */
mlf_th *mlf_th_reduce(enum mlf_th_reduce op, const mlf_th *x, int dim, int keepdim);
mlf_th *mlf_th_cumsum(const mlf_th *x, int dim);
/* Both outputs are set on success (indices int64); -1 on failure, with both
 * set to NULL.  Either output pointer may be NULL when not wanted. */
int mlf_th_topk(const mlf_th *x, int64_t k, int dim, int largest, int sorted,
		mlf_th **values, mlf_th **indices);
int mlf_th_sort(const mlf_th *x, int dim, int descending, int stable,
		mlf_th **values, mlf_th **indices);

/* ---- shapes ------------------------------------------------------------ */

/* Views share x's storage where libtorch can (reshape, permute, transpose,
 * unsqueeze, squeeze, flatten, expand, slice, select); a copy otherwise. */
mlf_th *mlf_th_reshape(const mlf_th *x, int ndim, const int64_t *shape);  /* one -1 allowed */
mlf_th *mlf_th_permute(const mlf_th *x, int ndim, const int *dims);
mlf_th *mlf_th_transpose(const mlf_th *x, int d0, int d1);
mlf_th *mlf_th_unsqueeze(const mlf_th *x, int dim);
mlf_th *mlf_th_squeeze(const mlf_th *x, int dim);     /* a dim whose size is not 1 stays */
mlf_th *mlf_th_flatten(const mlf_th *x, int start, int end);
mlf_th *mlf_th_expand(const mlf_th *x, int ndim, const int64_t *shape);    /* -1 keeps a size */
mlf_th *mlf_th_repeat(const mlf_th *x, int ndim, const int64_t *reps);
/* x[..., start:end:step, ...] along dim, Python's rules: negative start/end
 * count from the end, both are clamped, INT64_MAX for "to the end"; step > 0. */
mlf_th *mlf_th_slice(const mlf_th *x, int dim, int64_t start, int64_t end, int64_t step);
mlf_th *mlf_th_select(const mlf_th *x, int dim, int64_t index);
/* n >= 1; any ts[i] NULL gives NULL (message untouched). */
mlf_th *mlf_th_cat(size_t n, mlf_th *const *ts, int dim);
mlf_th *mlf_th_stack(size_t n, mlf_th *const *ts, int dim);
/* Splits into pieces of the given sizes (summing to x's size) along dim;
 * fills out[0..n-1] with views.  On failure all of out[] is NULL. */
int mlf_th_split(const mlf_th *x, size_t n, const int64_t *sizes, int dim, mlf_th **out);

/* ---- indexing ---------------------------------------------------------- */

mlf_th *mlf_th_index_select(const mlf_th *x, int dim, const mlf_th *index);
mlf_th *mlf_th_gather(const mlf_th *x, int dim, const mlf_th *index);
/* Out of place: a copy of x with src scattered (or `value`) at index along dim. */
mlf_th *mlf_th_scatter(const mlf_th *x, int dim, const mlf_th *index, const mlf_th *src);
mlf_th *mlf_th_scatter_s(const mlf_th *x, int dim, const mlf_th *index, double value);
/* x[mask]: mask is bool with exactly x's leading sizes (k dims); the result is
 * [number of true elements, x's remaining sizes...] in row-major order. */
mlf_th *mlf_th_mask_select(const mlf_th *x, const mlf_th *mask);
/* Indices of non-zero elements, [n, ndim] int64. */
mlf_th *mlf_th_nonzero(const mlf_th *x);
/* int64 index -> int64 [..., nclasses]; nclasses -1 takes max(index) + 1. */
mlf_th *mlf_th_one_hot(const mlf_th *index, int64_t nclasses);

/* ---- network operations ------------------------------------------------ */

/* NCHW.  `bias` may be NULL.  Square stride, padding and dilation. */
mlf_th *mlf_th_conv2d(const mlf_th *x, const mlf_th *weight, const mlf_th *bias,
		      int stride, int padding, int dilation, int groups);
/* Training mode normalises with batch statistics (biased variance) and updates
 * the running ones in place, whatever the grad mode: running = (1 - momentum)
 * * running + momentum * batch, with the unbiased variance for running_var
 * (num_batches_tracked is the caller's).  Otherwise normalises with the
 * running ones.  weight and bias may be NULL (no affine); the running stats may
 * both be NULL in training mode (no tracking). */
mlf_th *mlf_th_batch_norm(const mlf_th *x, const mlf_th *weight, const mlf_th *bias,
			  mlf_th *running_mean, mlf_th *running_var, int training,
			  double momentum, double eps);
/* silu(mlf_th_batch_norm(...)), the same arguments and values.  When enabled
 * (mlf_th_batch_norm_silu_enable; on by default: see shim_bn_silu.cpp), in
 * training, with grad mode on, on a channels-last float32 CPU tensor with
 * weight, bias and running stats, one fused kernel pair does it (less memory
 * traffic, no stored intermediate); otherwise libtorch's two. */
mlf_th *mlf_th_batch_norm_silu(const mlf_th *x, const mlf_th *weight, const mlf_th *bias,
			       mlf_th *running_mean, mlf_th *running_var, int training,
			       double momentum, double eps);
/* How many calls took the fused kernels so far, in this process (for tests
 * and profiles). */
uint64_t mlf_th_batch_norm_silu_fused_calls(void);
void mlf_th_batch_norm_silu_enable(int on);
/* stride 0 means stride = kernel (PyTorch's default).  Padding pads with -inf. */
mlf_th *mlf_th_max_pool2d(const mlf_th *x, int kernel, int stride, int padding);
/* 4-d NCHW, integer scale >= 1: nn.Upsample(scale_factor=scale, mode="nearest"). */
mlf_th *mlf_th_upsample_nearest(const mlf_th *x, int scale);
mlf_th *mlf_th_softmax(const mlf_th *x, int dim);
mlf_th *mlf_th_log_softmax(const mlf_th *x, int dim);
mlf_th *mlf_th_matmul(const mlf_th *a, const mlf_th *b);

enum mlf_th_reduction { MLF_TH_REDUCE_NONE, MLF_TH_REDUCE_MEAN, MLF_TH_REDUCE_SUM };
/* `weight` may be NULL. */
mlf_th *mlf_th_bce_with_logits(const mlf_th *logits, const mlf_th *target, const mlf_th *weight,
			       enum mlf_th_reduction reduction);
/* logits [N, C], target int64 [N] (class indices; -100 is ignored, as in
 * PyTorch: MEAN then averages over the other rows). */
mlf_th *mlf_th_cross_entropy(const mlf_th *logits, const mlf_th *target,
			     enum mlf_th_reduction reduction);

/* ---- autograd ---------------------------------------------------------- */

/* Sets whether operations record gradients in this thread; returns the previous
 * setting (use it to restore: a no_grad region is a pair of calls). */
int mlf_th_grad_enabled(int on);
/* Accumulates d loss / d leaf into every leaf that requires grad, and frees
 * the graph.  loss must be a one-element tensor that requires grad. */
int mlf_th_backward(const mlf_th *loss);
/* The accumulated gradient of a leaf, or NULL with no error when it has none
 * (or t is not a leaf).  The handle shares the gradient's storage: changing it
 * in place changes what the optimizer will see. */
mlf_th *mlf_th_grad(const mlf_th *t);
/* torch.nn.utils.clip_grad_norm_: total = L2 norm over all the gradients (params
 * without one are skipped), then each gradient times min(max_norm / (total +
 * 1e-6), 1).  Returns total (before clipping; 0 when no param has a gradient),
 * or -1. */
double mlf_th_clip_grad_norm(size_t n, mlf_th *const *params, double max_norm);

/* Mixed precision: operations inside run in `dtype` where libtorch's autocast
 * policy allows (f16 or bf16; conv2d and matmul do, losses and softmax stay
 * float32).  Pairs, which may nest; end restores what the matching begin found
 * and, leaving the outermost region, drops the cached casts of the weights.
 * Returns -1 (error set) when unsupported: another dtype, or a device that is
 * not present.  An end without a begin is a no-op. */
int mlf_th_autocast_begin(int device, enum mlf_dtype dtype);
void mlf_th_autocast_end(int device);

/* ---- optimizers --------------------------------------------------------
 * An optimizer refers to its parameters' tensors (not to the handles) and owns
 * its state; free it with mlf_th_optim_free.  A step is torch.optim's update,
 * dampening 0, no amsgrad, in the form PyTorch picks by default: one tensor at
 * a time on the CPU, the multi-tensor (foreach) kernels for a group on a GPU
 * (mlf_th_optim_set_foreach(o, 1) uses those on the CPU too).  The update:
 *   SGD:   g = grad + wd * p;  b = g (first step) or momentum * b + g;
 *          g = nesterov ? g + momentum * b : b;  p -= lr * g
 *   Adam:  g = grad + wd * p;  AdamW: p *= 1 - lr * wd, g = grad;
 *          m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g;
 *          p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * with t the parameter's own step count.  Parameters without a gradient are
 * skipped (their state does not advance).  Parameters must be leaves, each in
 * one group only. */

typedef struct mlf_th_optim mlf_th_optim;
enum mlf_th_optim_kind { MLF_TH_SGD, MLF_TH_ADAM, MLF_TH_ADAMW };

struct mlf_th_group_opts {
	double lr;
	double momentum;        /* SGD momentum; Adam/AdamW beta1 */
	double beta2;           /* Adam/AdamW */
	double weight_decay;
	double eps;             /* Adam/AdamW; 0 means PyTorch's default 1e-8 */
	int nesterov;           /* SGD; needs momentum > 0 */
};

mlf_th_optim *mlf_th_optim_new(enum mlf_th_optim_kind kind);
void mlf_th_optim_free(mlf_th_optim *o);              /* NULL is a no-op */
/* Adds a parameter group; returns its index or -1.  Options are checked as
 * torch.optim checks them (lr, momentum, weight_decay >= 0; betas in [0, 1)). */
int mlf_th_optim_add_group(mlf_th_optim *o, size_t n, mlf_th *const *params,
			   const struct mlf_th_group_opts *opts);
size_t mlf_th_optim_ngroups(const mlf_th_optim *o);
/* The setters take effect at the next step.  lr() is NaN (error set) for a
 * group that does not exist. */
int mlf_th_optim_set_lr(mlf_th_optim *o, size_t group, double lr);
double mlf_th_optim_lr(const mlf_th_optim *o, size_t group);
/* SGD momentum, or Adam's beta1 (warmup moves it). */
int mlf_th_optim_set_momentum(mlf_th_optim *o, size_t group, double momentum);
/* Drops the gradients (PyTorch's set_to_none): mlf_th_grad then gives NULL. */
int mlf_th_optim_zero_grad(mlf_th_optim *o);
int mlf_th_optim_step(mlf_th_optim *o);
void mlf_th_optim_set_foreach(mlf_th_optim *o, int on);

/* ---- optimizer state, for saving and resuming a training ----
 * Each parameter (group g, index j in the order given to add_group) has
 * state tensors named as torch.optim names them, "momentum_buffer" (SGD)
 * or "exp_avg" and "exp_avg_sq" (Adam, AdamW), made at its first step, and
 * a step count (Adam's bias correction uses it; SGD counts too). */
size_t mlf_th_optim_group_size(const mlf_th_optim *o, size_t group);
/* A new handle sharing the state tensor (the caller's scope), or NULL:
 * without an error when the parameter has no such state yet, with the
 * error set for a bad group, index or name (one the kind does not use). */
mlf_th *mlf_th_optim_state(const mlf_th_optim *o, size_t group, size_t j, const char *name);
/* Sets that state to a copy of `value` (the parameter's shape; converted to
 * its dtype, device and memory format); a NULL value removes it. */
int mlf_th_optim_set_state(mlf_th_optim *o, size_t group, size_t j, const char *name,
			   const mlf_th *value);
int64_t mlf_th_optim_step_count(const mlf_th_optim *o, size_t group, size_t j); /* -1 on error */
int mlf_th_optim_set_step_count(mlf_th_optim *o, size_t group, size_t j, int64_t step);

/* ---- added for the model ---- */

/* Takes `t` out of every scope: it belongs to the caller, who frees it with
 * mlf_th_free (what a model does with weights it derives while its caller
 * may have a scope open).  Returns t; NULL passes through. */
mlf_th *mlf_th_unscope(mlf_th *t);

/* `op` applied to `t` in place (0, or -1 with the error set): what
 * nn.SiLU(inplace=True) does, sparing a fresh output tensor.  Only the
 * operations that keep the dtype: NEG, ABS, EXP, LOG, SQRT, RSQRT, SIGMOID,
 * SILU, RELU, TANH, FLOOR, CEIL, ROUND, RECIPROCAL. */
int mlf_th_unary_(enum mlf_th_unary op, mlf_th *t);

/* x.scatter_(dim, index, src) in place (0, or -1 with the error set): what
 * filling a fresh zeros tensor with a few values costs without the copy
 * mlf_th_scatter makes (the detection loss's one-hot target scores). */
int mlf_th_scatter_(mlf_th *x, int dim, const mlf_th *index, const mlf_th *src);

#ifdef __cplusplus
}
#endif

#endif
