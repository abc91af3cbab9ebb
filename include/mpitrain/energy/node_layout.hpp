#pragma once
/// @file node_layout.hpp
/// Which ranks share a machine, so that a machine's energy counters are read by one rank and counted
/// once however many ranks run on it.
///
/// Ranks are grouped by MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) refined by the node identity
/// (hostname and boot id). The first rank of each group reads its counters; if two groups have the same
/// boot id (one kernel, hence the same RAPL counters, e.g. two containers on one host), only the first
/// group's first rank reads.
///
/// Simulating nodes: the environment variable MPITRAIN_NODE_ID, when set and not empty, replaces the node
/// identity (hostname and boot id) of the rank that sees it, so ranks on one machine with different values
/// count as different nodes. Example, two simulated nodes of 1 and 2 ranks:
///     mpirun -np 1 env MPITRAIN_NODE_ID=a prog : -np 2 env MPITRAIN_NODE_ID=b prog

#include <string>
#include <vector>

#include "mpitrain/dist/communicator.hpp"

namespace mpitrain::energy {

/// The environment variable overriding the node identity.
inline constexpr const char* node_id_env = "MPITRAIN_NODE_ID";

/// Who this process's machine is.
struct NodeIdentity {
  std::string hostname;     ///< gethostname().
  std::string boot_id;      ///< /proc/sys/kernel/random/boot_id (a UUID per kernel boot); may be empty.
  std::string override_id;  ///< MPITRAIN_NODE_ID, empty when unset.

  /// The key grouping ranks into nodes: the override, else hostname and boot id.
  [[nodiscard]] std::string group_key() const;
  /// The key naming the counters a node reads: the override, else the boot id (else the hostname).
  [[nodiscard]] std::string counter_key() const;
  /// A name for logs and reports: the override, else the hostname.
  [[nodiscard]] std::string display_name() const;
};

/// Reads this process's identity (hostname, boot id, MPITRAIN_NODE_ID).
NodeIdentity node_identity();

/// The node grouping seen from one rank.
struct NodeLayout {
  int node = 0;               ///< Index of this rank's node group, in order of the groups' first ranks.
  int groups = 1;             ///< Number of node groups.
  int nodes = 1;              ///< Number of distinct machines (distinct counter keys).
  int ranks_on_node = 1;      ///< Ranks in this rank's node group.
  bool first_on_node = true;  ///< This rank is its group's first rank.
  bool reader = true;         ///< This rank reads its machine's counters (once per counter key).
  int reader_rank = 0;        ///< The rank reading the counters of this rank's machine.
  std::string node_name;      ///< NodeIdentity::display_name() of this rank.
};

/// The grouping of ranks given, for every rank in rank order, its shared-memory group (any value equal
/// for ranks MPI places on one node), its group key and its counter key. Pure; used by group_by_node.
/// @throws std::invalid_argument if the three vectors differ in size or are empty.
std::vector<NodeLayout> assign_nodes(const std::vector<int>& shared_group, const std::vector<std::string>& group_keys,
                                     const std::vector<std::string>& counter_keys);

/// Collective over @p comm: groups the ranks by node (MPI_Comm_split_type shared plus @p self) and returns
/// this rank's view. @throws dist::MpiError.
NodeLayout group_by_node(const dist::Communicator& comm, const NodeIdentity& self);

}  // namespace mpitrain::energy
