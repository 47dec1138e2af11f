/*
 * Shim operations added for the model code (lib/model/): see the section
 * "added for the model" at the end of include/mlf/torch/torch.h.
 */
#include "shim_internal.hpp"

using namespace mlf_shim;

extern "C" mlf_th *mlf_th_unscope(mlf_th *t)
{
	/* keep moves a handle one scope out; the caller's level is scope 0. */
	while (t && t->magic == handle_magic && t->scope != 0)
		mlf_th_keep(t);
	return t;
}


extern "C" int mlf_th_unary_(enum mlf_th_unary op, mlf_th *t)
{
	if (!t)
		return -1;
	return guard_i(__func__, [&] {
		at::Tensor &a = t->t;
		switch (op) {
		case MLF_TH_NEG: a.neg_(); return;
		case MLF_TH_ABS: a.abs_(); return;
		case MLF_TH_EXP: a.exp_(); return;
		case MLF_TH_LOG: a.log_(); return;
		case MLF_TH_SQRT: a.sqrt_(); return;
		case MLF_TH_RSQRT: a.rsqrt_(); return;
		case MLF_TH_SIGMOID: a.sigmoid_(); return;
		case MLF_TH_SILU: at::silu_(a); return;
		case MLF_TH_RELU: a.relu_(); return;
		case MLF_TH_TANH: a.tanh_(); return;
		case MLF_TH_FLOOR: a.floor_(); return;
		case MLF_TH_CEIL: a.ceil_(); return;
		case MLF_TH_ROUND: a.round_(); return;
		case MLF_TH_RECIPROCAL: a.reciprocal_(); return;
		default: break;
		}
		TORCH_CHECK(false, "no in-place form of unary operation ", (int)op);
	});
}

extern "C" int mlf_th_scatter_(mlf_th *x, int dim, const mlf_th *index, const mlf_th *src)
{
	if (!x || !index || !src)
		return -1;
	return guard_i(__func__, [&] { x->t.scatter_(dim, index->t, src->t); });
}
