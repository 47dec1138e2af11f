/* models/promotions.jsonl, the promotion history: the rollback target it
 * leads to, and the rollback it records, for each alias it could name. */
#include "fuzz.h"
#include "mlf/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const currents[] = { NULL, "1", "2", "12" };
	struct mlf_error err = MLF_ERROR_INIT;
	for (size_t i = 0; i < sizeof(currents) / sizeof(currents[0]); i++) {
		char *target = NULL;
		if (mlf_promotion_history_target((const char *)data, size, "m", "champion", currents[i],
						 &target, &err) == 0 && (!target || !*target))
			abort();  /* success always names where to go */
		free(target);
	}
	const char *path = fuzz_file("promotions.jsonl", data, size);
	json_decref(mlf_promotion_history_rollback_from(path, "m", "champion", "2"));
	return 0;
}
