// fp16.h is header-only; this unit keeps the kernels library non-empty and checks the header compiles alone.
#include "kernels/cpu/fp16.h"
