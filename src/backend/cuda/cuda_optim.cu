/* Fused optimizer kernels on the CUDA device (backend.h's dz_backend_fused):
 * none yet; every optimizer step runs its composite. */
#include "cuda_common.h"

namespace dzc {

void fill_optim_kernels(dz_backend_fused *f) { (void)f; }

} // namespace dzc
