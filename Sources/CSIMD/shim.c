// The module is its header (static inline functions); SwiftPM wants a source file in a C target.
#include "CSIMD.h"
