/*
 * The shim's training side: grad mode, backward, gradients, gradient
 * clipping, autocast and the optimizers.
 *
 * The optimizers are written out here rather than taken from torch::optim:
 * each update is the sequence of tensor operations of torch.optim's
 * single-tensor path (PyTorch's default on CPU), so that a model trained here
 * follows the same trajectory as the same model trained by Ultralytics.
 */
#include "shim_internal.hpp"

#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <cmath>
#include <limits>
#include <unordered_set>

using namespace mlf_shim;

/* ---- autograd -------------------------------------------------------------- */

extern "C" int mlf_th_grad_enabled(int on)
{
	bool prev = at::GradMode::is_enabled();
	at::GradMode::set_enabled(on != 0);
	return prev ? 1 : 0;
}

extern "C" int mlf_th_backward(const mlf_th *loss)
{
	if (!loss)
		return -1;
	return guard_i(__func__, [&] {
		TORCH_CHECK(loss->t.numel() == 1, "the loss must be a scalar, got ",
			    describe_tensor(loss->t));
		loss->t.backward();
	});
}

extern "C" mlf_th *mlf_th_grad(const mlf_th *t)
{
	if (!t)
		return nullptr;
	/* Asking a non-leaf for .grad makes libtorch print a warning: answer
	 * "none" ourselves. */
	if (!t->t.is_leaf() || !t->t.grad().defined())
		return nullptr;
	return guard_t(__func__, [&] { return t->t.grad(); });
}

extern "C" double mlf_th_clip_grad_norm(size_t n, mlf_th *const *params, double max_norm)
{
	if (n > 0 && !params)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!params[i])
			return -1;
	/* torch.nn.utils.clip_grad_norm_ (norm_type 2): the norm of the
	 * per-tensor norms, then every gradient times min(max_norm / (norm +
	 * 1e-6), 1), applied even when that factor is 1. */
	return guard_v(__func__, -1.0, [&] {
		at::NoGradGuard no_grad;
		std::vector<at::Tensor> grads, norms;
		for (size_t i = 0; i < n; i++) {
			const at::Tensor &g = params[i]->t.grad();
			if (g.defined())
				grads.push_back(g);
		}
		if (grads.empty())
			return 0.0;
		norms.reserve(grads.size());
		const at::Device dev = grads[0].device();
		for (const at::Tensor &g : grads)
			norms.push_back(at::linalg_vector_norm(g, 2).to(dev));
		at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
		/* Python evaluates `max_norm / (total + 1e-6)` as
		 * (total + 1e-6).reciprocal() * max_norm (Tensor.__rtruediv__). */
		at::Tensor coef = at::clamp_max(at::mul(at::reciprocal(at::add(total, 1e-6)), max_norm),
						1.0);
		for (const at::Tensor &g : grads)
			g.mul_(coef.to(g.device()));
		return total.item<double>();
	});
}

/* ---- autocast --------------------------------------------------------------
 * The only libtorch-version-dependent code of the shim: the autocast API
 * became device-generic in 2.4 (pytorch/pytorch#124359); the old per-device
 * calls remain as deprecated wrappers there and do not exist before. */

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
static bool autocast_enabled(at::DeviceType d)
{
	return at::autocast::is_autocast_enabled(d);
}
static void autocast_set_enabled(at::DeviceType d, bool on)
{
	at::autocast::set_autocast_enabled(d, on);
}
static at::ScalarType autocast_dtype(at::DeviceType d)
{
	return at::autocast::get_autocast_dtype(d);
}
static void autocast_set_dtype(at::DeviceType d, at::ScalarType t)
{
	at::autocast::set_autocast_dtype(d, t);
}
static bool autocast_supports(at::DeviceType d, at::ScalarType t)
{
	(void)d;
	return t == at::kHalf || t == at::kBFloat16;
}
#else
static bool autocast_enabled(at::DeviceType d)
{
	return d == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
}
static void autocast_set_enabled(at::DeviceType d, bool on)
{
	if (d == at::kCPU)
		at::autocast::set_cpu_enabled(on);
	else
		at::autocast::set_enabled(on);
}
static at::ScalarType autocast_dtype(at::DeviceType d)
{
	return d == at::kCPU ? at::autocast::get_autocast_cpu_dtype()
			     : at::autocast::get_autocast_gpu_dtype();
}
static void autocast_set_dtype(at::DeviceType d, at::ScalarType t)
{
	if (d == at::kCPU)
		at::autocast::set_autocast_cpu_dtype(t);
	else
		at::autocast::set_autocast_gpu_dtype(t);
}
static bool autocast_supports(at::DeviceType d, at::ScalarType t)
{
	/* CPU autocast only knew bfloat16 before 2.x. */
	return t == at::kBFloat16 || (d == at::kCUDA && t == at::kHalf);
}
#endif

namespace {

/* What autocast_begin changed, to be put back by the matching end (as
 * torch.autocast's __exit__ does). */
struct autocast_entry {
	at::DeviceType device;
	bool prev_enabled;
	at::ScalarType prev_dtype;
};

constexpr int autocast_max_depth = 16;

struct autocast_stack {
	autocast_entry e[autocast_max_depth];
	int n = 0;
};

thread_local autocast_stack autocast_tls;

} /* namespace */

extern "C" int mlf_th_autocast_begin(int device, enum mlf_dtype dtype)
{
	return guard_i(__func__, [&] {
		at::Device dev = to_device(device);
		at::ScalarType st = to_scalar_type(dtype);
		TORCH_CHECK(autocast_supports(dev.type(), st), "autocast on ",
			    dev.is_cpu() ? "cpu" : "cuda", " does not support ",
			    scalar_type_name(st), " (float16 or bfloat16)");
		autocast_stack &s = autocast_tls;
		TORCH_CHECK(s.n < autocast_max_depth, "autocast regions nested deeper than ",
			    autocast_max_depth);
		s.e[s.n++] = { dev.type(), autocast_enabled(dev.type()), autocast_dtype(dev.type()) };
		autocast_set_enabled(dev.type(), true);
		autocast_set_dtype(dev.type(), st);
		at::autocast::increment_nesting();
	});
}

extern "C" void mlf_th_autocast_end(int device)
{
	const at::DeviceType type = device == MLF_TH_CPU ? at::kCPU : at::kCUDA;
	autocast_stack &s = autocast_tls;
	int i = s.n - 1;
	while (i >= 0 && s.e[i].device != type)
		i--;
	if (i < 0)
		return;                 /* no region open on that device */
	const autocast_entry e = s.e[i];
	for (int j = i; j + 1 < s.n; j++)
		s.e[j] = s.e[j + 1];
	s.n--;
	guard_i(__func__, [&] {
		/* Casts of weights are cached for the whole outermost region. */
		if (at::autocast::decrement_nesting() == 0)
			at::autocast::clear_cache();
		autocast_set_enabled(type, e.prev_enabled);
		autocast_set_dtype(type, e.prev_dtype);
	});
}

/* ---- optimizers -------------------------------------------------------------- */

namespace {

struct param_state {
	at::Tensor p;
	at::Tensor momentum_buffer;     /* SGD */
	at::Tensor exp_avg;             /* Adam/AdamW */
	at::Tensor exp_avg_sq;
	int64_t step = 0;
};

struct param_group {
	mlf_th_group_opts opts;
	std::vector<param_state> params;
};

} /* namespace */

struct mlf_th_optim {
	enum mlf_th_optim_kind kind;
	std::vector<param_group> groups;
	bool foreach = false;   /* the multi-tensor form on the CPU too (tests) */
};

extern "C" mlf_th_optim *mlf_th_optim_new(enum mlf_th_optim_kind kind)
{
	return guard_v(__func__, (mlf_th_optim *)nullptr, [&] {
		const int k = enum_value(kind);
		TORCH_CHECK(k == MLF_TH_SGD || k == MLF_TH_ADAM || k == MLF_TH_ADAMW,
			    "unknown optimizer kind ", k);
		mlf_th_optim *o = new mlf_th_optim;
		o->kind = kind;
		return o;
	});
}

extern "C" void mlf_th_optim_free(mlf_th_optim *o)
{
	delete o;
}

static void check_momentum(const mlf_th_optim *o, double m)
{
	if (o->kind == MLF_TH_SGD) {
		TORCH_CHECK(m >= 0.0, "invalid momentum value: ", m);
	} else {
		TORCH_CHECK(m >= 0.0 && m < 1.0, "invalid beta parameter at index 0: ", m);
	}
}

static void check_lr(double lr)
{
	TORCH_CHECK(lr >= 0.0, "invalid learning rate: ", lr);
}

extern "C" int mlf_th_optim_add_group(mlf_th_optim *o, size_t n, mlf_th *const *params,
				      const struct mlf_th_group_opts *opts)
{
	if (n > 0 && params)
		for (size_t i = 0; i < n; i++)
			if (!params[i])
				return -1;
	return guard_v(__func__, -1, [&] {
		TORCH_CHECK(o, "optimizer is NULL");
		TORCH_CHECK(opts, "group options are NULL");
		TORCH_CHECK(n == 0 || params, "params is NULL");
		param_group g;
		g.opts = *opts;
		if (g.opts.eps == 0.0)
			g.opts.eps = 1e-8;
		check_lr(g.opts.lr);
		check_momentum(o, g.opts.momentum);
		TORCH_CHECK(g.opts.weight_decay >= 0.0, "invalid weight_decay value: ",
			    g.opts.weight_decay);
		if (o->kind == MLF_TH_SGD) {
			TORCH_CHECK(!g.opts.nesterov || g.opts.momentum > 0.0,
				    "nesterov momentum requires a momentum and zero dampening");
		} else {
			TORCH_CHECK(g.opts.beta2 >= 0.0 && g.opts.beta2 < 1.0,
				    "invalid beta parameter at index 1: ", g.opts.beta2);
			TORCH_CHECK(g.opts.eps >= 0.0, "invalid epsilon value: ", g.opts.eps);
		}
		/* torch.optim refuses a tensor in two groups: it would be
		 * stepped twice. */
		std::unordered_set<const c10::TensorImpl *> seen;
		for (const param_group &og : o->groups)
			for (const param_state &ps : og.params)
				seen.insert(ps.p.unsafeGetTensorImpl());
		g.params.reserve(n);
		for (size_t i = 0; i < n; i++) {
			const at::Tensor &p = params[i]->t;
			TORCH_CHECK(p.is_leaf(), "parameter ", i, " (", describe_tensor(p),
				    ") is not a leaf tensor");
			TORCH_CHECK(seen.insert(p.unsafeGetTensorImpl()).second, "parameter ", i,
				    " (", describe_tensor(p),
				    ") appears more than once in the optimizer's groups");
			param_state ps;
			ps.p = p;
			g.params.push_back(std::move(ps));
		}
		o->groups.push_back(std::move(g));
		return (int)o->groups.size() - 1;
	});
}

extern "C" size_t mlf_th_optim_ngroups(const mlf_th_optim *o)
{
	return o ? o->groups.size() : 0;
}

static param_group &group_at(const mlf_th_optim *o, size_t group)
{
	TORCH_CHECK(o, "optimizer is NULL");
	TORCH_CHECK(group < o->groups.size(), "no parameter group ", group, " (the optimizer has ",
		    o->groups.size(), ")");
	return const_cast<param_group &>(o->groups[group]);
}

extern "C" int mlf_th_optim_set_lr(mlf_th_optim *o, size_t group, double lr)
{
	return guard_i(__func__, [&] {
		param_group &g = group_at(o, group);
		check_lr(lr);
		g.opts.lr = lr;
	});
}

extern "C" double mlf_th_optim_lr(const mlf_th_optim *o, size_t group)
{
	return guard_v(__func__, std::numeric_limits<double>::quiet_NaN(),
		       [&] { return group_at(o, group).opts.lr; });
}

extern "C" int mlf_th_optim_set_momentum(mlf_th_optim *o, size_t group, double momentum)
{
	return guard_i(__func__, [&] {
		param_group &g = group_at(o, group);
		check_momentum(o, momentum);
		g.opts.momentum = momentum;
	});
}

extern "C" int mlf_th_optim_zero_grad(mlf_th_optim *o)
{
	return guard_i(__func__, [&] {
		TORCH_CHECK(o, "optimizer is NULL");
		for (param_group &g : o->groups)
			for (param_state &ps : g.params)
				if (ps.p.grad().defined())
					ps.p.mutable_grad().reset();
	});
}

/* ---- optimizer state ---- */

static param_state &param_at(const mlf_th_optim *o, size_t group, size_t j)
{
	param_group &g = group_at(o, group);
	TORCH_CHECK(j < g.params.size(), "no parameter ", j, " in group ", group, " (it has ",
		    g.params.size(), ")");
	return g.params[j];
}

/* The state slot `name` names for this optimizer's kind. */
static at::Tensor &state_slot(const mlf_th_optim *o, param_state &ps, const char *name)
{
	TORCH_CHECK(name, "state name is NULL");
	const std::string n(name);
	if (o->kind == MLF_TH_SGD && n == "momentum_buffer")
		return ps.momentum_buffer;
	if (o->kind != MLF_TH_SGD && n == "exp_avg")
		return ps.exp_avg;
	if (o->kind != MLF_TH_SGD && n == "exp_avg_sq")
		return ps.exp_avg_sq;
	TORCH_CHECK(false, "this optimizer (", o->kind == MLF_TH_SGD ? "SGD" : "Adam",
		    ") keeps no state named '", n, "'");
}

extern "C" size_t mlf_th_optim_group_size(const mlf_th_optim *o, size_t group)
{
	return o && group < o->groups.size() ? o->groups[group].params.size() : 0;
}

extern "C" mlf_th *mlf_th_optim_state(const mlf_th_optim *o, size_t group, size_t j, const char *name)
{
	/* "No state yet" is an answer, not an error: look before wrapping. */
	bool exists = guard_v(__func__, false, [&] {
		return state_slot(o, param_at(o, group, j), name).defined();
	});
	if (!exists)
		return nullptr;
	return guard_t(__func__, [&] { return state_slot(o, param_at(o, group, j), name); });
}

extern "C" int mlf_th_optim_set_state(mlf_th_optim *o, size_t group, size_t j, const char *name,
				      const mlf_th *value)
{
	return guard_i(__func__, [&] {
		param_state &ps = param_at(o, group, j);
		at::Tensor &slot = state_slot(o, ps, name);
		if (!value) {
			slot.reset();
			return;
		}
		TORCH_CHECK(value->t.sizes() == ps.p.sizes(), "state '", name, "' of shape ",
			    describe_tensor(value->t), " does not fit parameter ", j, " of group ",
			    group, " (", describe_tensor(ps.p), ")");
		at::NoGradGuard no_grad;
		at::Tensor copy = at::empty_like(ps.p, at::MemoryFormat::Preserve);
		copy.copy_(value->t);
		slot = copy;
	});
}

extern "C" int64_t mlf_th_optim_step_count(const mlf_th_optim *o, size_t group, size_t j)
{
	return guard_v(__func__, (int64_t)-1, [&] { return param_at(o, group, j).step; });
}

extern "C" int mlf_th_optim_set_step_count(mlf_th_optim *o, size_t group, size_t j, int64_t step)
{
	return guard_i(__func__, [&] {
		TORCH_CHECK(step >= 0, "invalid step count ", step);
		param_at(o, group, j).step = step;
	});
}

/* torch.optim.SGD, _single_tensor_sgd, dampening 0, maximize off. */
static void sgd_step(param_group &g)
{
	const mlf_th_group_opts &o = g.opts;
	for (param_state &ps : g.params) {
		at::Tensor grad = ps.p.grad();
		if (!grad.defined())
			continue;
		ps.step++;
		if (o.weight_decay != 0.0)
			grad = grad.add(ps.p, o.weight_decay);
		if (o.momentum != 0.0) {
			if (!ps.momentum_buffer.defined())
				ps.momentum_buffer = grad.detach().clone();
			else
				ps.momentum_buffer.mul_(o.momentum).add_(grad, 1.0);
			if (o.nesterov)
				grad = grad.add(ps.momentum_buffer, o.momentum);
			else
				grad = ps.momentum_buffer;
		}
		ps.p.add_(grad, -o.lr);
	}
}

/* torch.optim.Adam / AdamW, _single_tensor_adam, amsgrad and maximize off. */
static void adam_step(param_group &g, bool decoupled)
{
	const mlf_th_group_opts &o = g.opts;
	const double beta1 = o.momentum, beta2 = o.beta2;
	for (param_state &ps : g.params) {
		at::Tensor grad = ps.p.grad();
		if (!grad.defined())
			continue;
		if (!ps.exp_avg.defined()) {
			ps.exp_avg = at::zeros_like(ps.p, at::MemoryFormat::Preserve);
			ps.exp_avg_sq = at::zeros_like(ps.p, at::MemoryFormat::Preserve);
		}
		ps.step++;
		if (o.weight_decay != 0.0) {
			if (decoupled)
				ps.p.mul_(1.0 - o.lr * o.weight_decay);
			else
				grad = grad.add(ps.p, o.weight_decay);
		}
		ps.exp_avg.lerp_(grad, 1.0 - beta1);
		ps.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
		const double step = (double)ps.step;
		const double bias_correction1 = 1.0 - std::pow(beta1, step);
		const double bias_correction2 = 1.0 - std::pow(beta2, step);
		const double step_size = o.lr / bias_correction1;
		const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);
		at::Tensor denom = at::div(ps.exp_avg_sq.sqrt(), bias_correction2_sqrt).add_(o.eps);
		ps.p.addcdiv_(ps.exp_avg, denom, -step_size);
	}
}

/*
 * The multi-tensor forms (torch.optim's _multi_tensor_sgd / _multi_tensor_adam,
 * what PyTorch picks by default when the parameters are on a GPU): the same
 * update, a few kernels for the whole group instead of several per
 * parameter.  Parameters without a gradient are left out, as there.
 */
struct with_grad {
	std::vector<param_state *> ps;
	std::vector<at::Tensor> p, g;
	explicit with_grad(param_group &gr)
	{
		for (param_state &s : gr.params) {
			at::Tensor grad = s.p.grad();
			if (!grad.defined())
				continue;
			ps.push_back(&s);
			p.push_back(s.p);
			g.push_back(grad);
		}
	}
};

static void sgd_step_foreach(param_group &gr)
{
	const mlf_th_group_opts &o = gr.opts;
	with_grad w(gr);
	if (w.ps.empty())
		return;
	for (param_state *s : w.ps)
		s->step++;
	std::vector<at::Tensor> grads = o.weight_decay != 0.0 ? at::_foreach_add(w.g, w.p, o.weight_decay) : w.g;
	if (o.momentum != 0.0) {
		std::vector<at::Tensor> bufs;
		bool all = true;
		for (param_state *s : w.ps)
			all = all && s->momentum_buffer.defined();
		if (all) {
			for (param_state *s : w.ps)
				bufs.push_back(s->momentum_buffer);
			at::_foreach_mul_(bufs, o.momentum);
			at::_foreach_add_(bufs, grads, 1.0);
		} else {
			for (size_t i = 0; i < w.ps.size(); i++) {
				at::Tensor &buf = w.ps[i]->momentum_buffer;
				if (!buf.defined())
					buf = grads[i].detach().clone();
				else
					buf.mul_(o.momentum).add_(grads[i], 1.0);
				bufs.push_back(buf);
			}
		}
		grads = o.nesterov ? at::_foreach_add(grads, bufs, o.momentum) : bufs;
	}
	at::_foreach_add_(w.p, grads, -o.lr);
}

static void adam_step_foreach(param_group &gr, bool decoupled)
{
	const mlf_th_group_opts &o = gr.opts;
	const double beta1 = o.momentum, beta2 = o.beta2;
	with_grad w(gr);
	if (w.ps.empty())
		return;
	std::vector<at::Tensor> m, v;
	for (param_state *s : w.ps) {
		if (!s->exp_avg.defined()) {
			s->exp_avg = at::zeros_like(s->p, at::MemoryFormat::Preserve);
			s->exp_avg_sq = at::zeros_like(s->p, at::MemoryFormat::Preserve);
		}
		s->step++;
		m.push_back(s->exp_avg);
		v.push_back(s->exp_avg_sq);
	}
	std::vector<at::Tensor> grads = w.g;
	if (o.weight_decay != 0.0) {
		if (decoupled)
			at::_foreach_mul_(w.p, 1.0 - o.lr * o.weight_decay);
		else
			grads = at::_foreach_add(w.g, w.p, o.weight_decay);
	}
	at::_foreach_lerp_(m, grads, 1.0 - beta1);
	at::_foreach_mul_(v, beta2);
	at::_foreach_addcmul_(v, grads, grads, 1.0 - beta2);
	std::vector<at::Scalar> step_size, bc2_sqrt;
	for (param_state *s : w.ps) {
		const double step = (double)s->step;
		step_size.emplace_back(-(o.lr / (1.0 - std::pow(beta1, step))));
		bc2_sqrt.emplace_back(std::pow(1.0 - std::pow(beta2, step), 0.5));
	}
	std::vector<at::Tensor> denom = at::_foreach_sqrt(v);
	at::_foreach_div_(denom, bc2_sqrt);
	at::_foreach_add_(denom, o.eps);
	at::_foreach_addcdiv_(w.p, m, denom, step_size);
}

/* PyTorch's default: the multi-tensor form when the group lives on a GPU. */
static bool on_gpu(const param_group &g)
{
	return !g.params.empty() && g.params[0].p.is_cuda();
}

extern "C" int mlf_th_optim_step(mlf_th_optim *o)
{
	return guard_i(__func__, [&] {
		TORCH_CHECK(o, "optimizer is NULL");
		at::NoGradGuard no_grad;
		for (param_group &g : o->groups) {
			const bool many = on_gpu(g) || o->foreach;
			if (o->kind == MLF_TH_SGD)
				many ? sgd_step_foreach(g) : sgd_step(g);
			else if (many)
				adam_step_foreach(g, o->kind == MLF_TH_ADAMW);
			else
				adam_step(g, o->kind == MLF_TH_ADAMW);
		}
	});
}

extern "C" void mlf_th_optim_set_foreach(mlf_th_optim *o, int on)
{
	if (o)
		o->foreach = on != 0;
}
