#pragma once
/// @file communicator.hpp
/// RAII MPI: the environment, a communicator wrapper with typed collectives, and the one error path that
/// turns a failed MPI call into an exception.

#include <mpi.h>

#include <climits>
#include <cstdint>
#include <source_location>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace mpitrain::dist {

/// A failed MPI call: what() names the call, the source file and line, and MPI_Error_string.
class MpiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws MpiError unless @p code is MPI_SUCCESS.
void check_mpi(int code, const char* call, std::source_location where = std::source_location::current());

/// MPI_Init_thread (MPI_THREAD_FUNNELED) on construction, MPI_Finalize on destruction (if not finalized).
class Environment {
 public:
  /// @throws MpiError if initialisation fails.
  Environment(int& argc, char**& argv);
  ~Environment() noexcept;
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
};

/// Reduction operators.
enum class ReduceOp { sum, max, min, lor };

/// The MPI datatype of T (float, double, int, std::int64_t, std::uint64_t, char, unsigned char).
template <class T>
MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<float>();
template <> MPI_Datatype mpi_type<double>();
template <> MPI_Datatype mpi_type<int>();
template <> MPI_Datatype mpi_type<std::int64_t>();
template <> MPI_Datatype mpi_type<std::uint64_t>();
template <> MPI_Datatype mpi_type<std::uint32_t>();
template <> MPI_Datatype mpi_type<char>();
template <> MPI_Datatype mpi_type<unsigned char>();

/// A duplicated MPI communicator with cached rank, size, local rank and local size (ranks on the same
/// node, from MPI_Comm_split_type shared). Errors return (MPI_ERRORS_RETURN) and become MpiError.
/// Movable, not copyable; the moved-from object is empty; the destructor frees the handle and never throws.
class Communicator {
 public:
  /// Duplicates @p comm. @throws MpiError.
  explicit Communicator(MPI_Comm comm);
  ~Communicator() noexcept;
  Communicator(Communicator&& other) noexcept;
  Communicator& operator=(Communicator&& other) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }
  [[nodiscard]] int local_rank() const { return local_rank_; }
  [[nodiscard]] int local_size() const { return local_size_; }
  [[nodiscard]] MPI_Comm handle() const { return comm_; }

  /// In-place allreduce of @p data. @throws MpiError, std::length_error if the count exceeds INT_MAX.
  template <class T>
  void allreduce(std::span<T> data, ReduceOp op) const;
  /// Allreduce of one value.
  template <class T>
  T allreduce(T value, ReduceOp op) const {
    allreduce(std::span<T>(&value, 1), op);
    return value;
  }
  /// Broadcast of @p data from @p root (same size on every rank).
  template <class T>
  void broadcast(std::span<T> data, int root) const;
  /// Broadcast of a string of any length from @p root.
  void broadcast(std::string& text, int root) const;
  /// Gathers every rank's @p local block (sizes may differ) on @p root in rank order; empty elsewhere.
  template <class T>
  std::vector<T> gatherv(std::span<const T> local, int root) const;
  /// Gathers every rank's @p local block on every rank, in rank order.
  template <class T>
  std::vector<T> allgatherv(std::span<const T> local) const;
  void barrier() const;
  /// MPI_Abort of every process of this communicator with @p code. Never returns.
  [[noreturn]] void abort(int code) const noexcept;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
};

/// An error that every rank agreed on: the message of the lowest failing rank.
class AgreedError : public std::runtime_error {
 public:
  AgreedError(const std::string& what, int failing_rank)
      : std::runtime_error(what), failing_rank_(failing_rank) {}
  /// The lowest rank that failed.
  [[nodiscard]] int failing_rank() const { return failing_rank_; }

 private:
  int failing_rank_;
};

/// Runs @p fn on every rank, then agrees (one allreduce, plus a broadcast on failure) whether any rank
/// threw: if one did, every rank throws AgreedError with the lowest failing rank's message, so all exit
/// alike instead of some waiting forever in the next collective. Use it for checks before training.
template <class F>
void run_agreed(const Communicator& comm, F&& fn);

}  // namespace mpitrain::dist

#include "mpitrain/dist/communicator_impl.hpp"
