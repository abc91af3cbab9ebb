#pragma once
// Template definitions of communicator.hpp; included by it, not meant to be included directly.

#include <cstring>
#include <exception>
#include <numeric>
#include <utility>

namespace mpitrain::dist {

namespace detail {
MPI_Op to_mpi(ReduceOp op);
int checked_count(std::size_t count);
}  // namespace detail

template <class T>
void Communicator::allreduce(std::span<T> data, ReduceOp op) const {
  if (data.empty()) return;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data(), detail::checked_count(data.size()), mpi_type<T>(),
                          detail::to_mpi(op), comm_),
            "MPI_Allreduce");
}

template <class T>
void Communicator::broadcast(std::span<T> data, int root) const {
  if (data.empty()) return;
  check_mpi(MPI_Bcast(data.data(), detail::checked_count(data.size()), mpi_type<T>(), root, comm_),
            "MPI_Bcast");
}

template <class T>
std::vector<T> Communicator::gatherv(std::span<const T> local, int root) const {
  int count = detail::checked_count(local.size());
  std::vector<int> counts(rank_ == root ? size_ : 0);
  check_mpi(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_), "MPI_Gather");
  std::vector<int> displs(counts.size());
  std::vector<T> out;
  if (rank_ == root) {
    std::int64_t total = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      displs[i] = detail::checked_count(static_cast<std::size_t>(total));
      total += counts[i];
    }
    out.resize(static_cast<std::size_t>(total));
  }
  check_mpi(MPI_Gatherv(local.data(), count, mpi_type<T>(), out.data(), counts.data(), displs.data(),
                        mpi_type<T>(), root, comm_),
            "MPI_Gatherv");
  return out;
}

template <class T>
std::vector<T> Communicator::allgatherv(std::span<const T> local) const {
  int count = detail::checked_count(local.size());
  std::vector<int> counts(size_);
  check_mpi(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_), "MPI_Allgather");
  std::vector<int> displs(size_);
  std::int64_t total = 0;
  for (int i = 0; i < size_; ++i) {
    displs[i] = detail::checked_count(static_cast<std::size_t>(total));
    total += counts[i];
  }
  std::vector<T> out(static_cast<std::size_t>(total));
  check_mpi(MPI_Allgatherv(local.data(), count, mpi_type<T>(), out.data(), counts.data(), displs.data(),
                           mpi_type<T>(), comm_),
            "MPI_Allgatherv");
  return out;
}

template <class F>
void run_agreed(const Communicator& comm, F&& fn) {
  std::string message;
  bool failed = false;
  try {
    std::forward<F>(fn)();
  } catch (const std::exception& e) {
    failed = true;
    message = e.what();
  } catch (...) {
    failed = true;
    message = "unknown exception";
  }
  const int first_failing = comm.allreduce(failed ? comm.rank() : comm.size(), ReduceOp::min);
  if (first_failing == comm.size()) return;
  comm.broadcast(message, first_failing);
  throw AgreedError(message, first_failing);
}

}  // namespace mpitrain::dist
