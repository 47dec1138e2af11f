/*
 * Per-sample random streams: xoshiro256** seeded through splitmix64 from
 * (seed, a, b), so that sample b of epoch a gets the same numbers whichever
 * thread makes it and whenever.
 */
#include "mlf/data.h"

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void mlf_rng_seed(struct mlf_rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t s = seed;
	uint64_t h = splitmix64(&s);
	s = h ^ a;
	h = splitmix64(&s);
	s = h ^ b;
	h = splitmix64(&s);
	s = h;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&s);
}

uint64_t mlf_rng_next(struct mlf_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double mlf_rng_uniform(struct mlf_rng *r, double lo, double hi)
{
	double u = (double)(mlf_rng_next(r) >> 11) * 0x1.0p-53;
	return lo + (hi - lo) * u;
}

uint64_t mlf_rng_below(struct mlf_rng *r, uint64_t n)
{
	if (n <= 1)
		return 0;
	uint64_t threshold = -n % n;
	for (;;) {
		uint64_t x = mlf_rng_next(r);
		if (x >= threshold)
			return x % n;
	}
}
