/*
 * glibc's allocator tuned for libtorch's CPU tensors, once per process that
 * trains.  A training step makes and frees tensors of tens of MB each; above
 * M_MMAP_THRESHOLD (128 KiB, raised dynamically to at most 32 MiB) glibc
 * serves them with mmap and gives them back with munmap, so every step would
 * fault in fresh zeroed pages.  With the threshold at 256 MiB and trimming
 * only past 1 GiB free, the blocks stay in the heap and are reused.
 */
#include <malloc.h>

#include "mlf/torch/torch.h"

void mlf_th_tune_malloc(void)
{
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
