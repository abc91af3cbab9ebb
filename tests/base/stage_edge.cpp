// Compiled (never run) against one stage's include folder by the ctest stage_* tests (tests/CMakeLists.txt):
// with no macro it includes only what the stage may use and must build; each macro adds one include
// against the one-way flow of src/CMakeLists.txt, which must fail with "No such file or directory".
#include "mpitrain/base/logging.hpp"
#include "mpitrain/nn/dense.hpp"
#if defined(MPITRAIN_EDGE_NN_TO_TRAIN)
#include "mpitrain/train/trainer.hpp"  // nn may not use train (a later stage)
#elif defined(MPITRAIN_EDGE_NN_TO_DATA)
#include "mpitrain/data/dataset.hpp"  // nn takes its matrix types, ranges and random numbers from base
#elif defined(MPITRAIN_EDGE_NN_TO_DIST)
#include "mpitrain/dist/communicator.hpp"  // nn knows nothing of MPI
#elif defined(MPITRAIN_EDGE_CHECKPOINT_TO_GUARD)
#include "mpitrain/guard/fault_injection.hpp"  // siblings never include each other
#endif
