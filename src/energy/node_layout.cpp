#include "mpitrain/energy/node_layout.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>
#include <stdexcept>

#include "mpitrain/energy/powercap.hpp"

namespace mpitrain::energy {

std::string NodeIdentity::group_key() const {
  return override_id.empty() ? "host:" + hostname + "/boot:" + boot_id : "override:" + override_id;
}

std::string NodeIdentity::counter_key() const {
  if (!override_id.empty()) return "override:" + override_id;
  return boot_id.empty() ? "host:" + hostname : "boot:" + boot_id;
}

std::string NodeIdentity::display_name() const { return override_id.empty() ? hostname : override_id; }

NodeIdentity node_identity() {
  NodeIdentity id;
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) == 0) id.hostname = host;
  const FileRead boot = read_small_file("/proc/sys/kernel/random/boot_id");
  if (boot.error == 0) {
    id.boot_id = boot.text;
    while (!id.boot_id.empty() && (id.boot_id.back() == '\n' || id.boot_id.back() == ' ')) id.boot_id.pop_back();
  }
  if (const char* value = std::getenv(node_id_env); value != nullptr) id.override_id = value;
  return id;
}

std::vector<NodeLayout> assign_nodes(const std::vector<int>& shared_group, const std::vector<std::string>& group_keys,
                                     const std::vector<std::string>& counter_keys) {
  const std::size_t n = shared_group.size();
  if (n == 0 || group_keys.size() != n || counter_keys.size() != n) {
    throw std::invalid_argument("assign_nodes: need one shared group, group key and counter key per rank");
  }
  std::map<std::pair<int, std::string>, int> group_index;  // -> index of the group
  std::map<std::string, int> first_with_counter;            // counter key -> lowest rank
  std::vector<int> group_of(n), first_of_group, size_of_group;
  for (std::size_t r = 0; r < n; ++r) {
    const auto [it, added] =
        group_index.emplace(std::make_pair(shared_group[r], group_keys[r]), static_cast<int>(first_of_group.size()));
    if (added) {
      first_of_group.push_back(static_cast<int>(r));
      size_of_group.push_back(0);
    }
    group_of[r] = it->second;
    ++size_of_group[static_cast<std::size_t>(it->second)];
    first_with_counter.emplace(counter_keys[r], static_cast<int>(r));
  }
  std::vector<NodeLayout> layouts(n);
  for (std::size_t r = 0; r < n; ++r) {
    NodeLayout& l = layouts[r];
    l.node = group_of[r];
    l.groups = static_cast<int>(first_of_group.size());
    l.nodes = static_cast<int>(first_with_counter.size());
    l.ranks_on_node = size_of_group[static_cast<std::size_t>(l.node)];
    l.first_on_node = first_of_group[static_cast<std::size_t>(l.node)] == static_cast<int>(r);
    // The lowest rank with a counter key is the first of its group (its group shares the key).
    l.reader_rank = first_with_counter.at(counter_keys[r]);
    l.reader = l.reader_rank == static_cast<int>(r);
  }
  return layouts;
}

NodeLayout group_by_node(const dist::Communicator& comm, const NodeIdentity& self) {
  MPI_Comm shared = MPI_COMM_NULL;
  dist::check_mpi(MPI_Comm_split_type(comm.handle(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &shared),
                  "MPI_Comm_split_type");
  int leader = comm.rank();
  const int bcast = MPI_Bcast(&leader, 1, MPI_INT, 0, shared);
  MPI_Comm_free(&shared);
  dist::check_mpi(bcast, "MPI_Bcast");

  const int local[1] = {leader};
  const std::vector<int> leaders = comm.allgatherv(std::span<const int>(local, 1));
  // Each rank sends "group key\0counter key\0"; keys cannot hold NUL (they come from the environment,
  // hostnames and a UUID).
  std::string mine = self.group_key();
  mine.push_back('\0');
  mine += self.counter_key();
  mine.push_back('\0');
  const std::vector<char> all = comm.allgatherv(std::span<const char>(mine.data(), mine.size()));
  std::vector<std::string> group_keys, counter_keys;
  for (std::size_t pos = 0; pos < all.size();) {
    std::string key(&all[pos]);
    pos += key.size() + 1;
    (group_keys.size() == counter_keys.size() ? group_keys : counter_keys).push_back(std::move(key));
  }
  NodeLayout layout = assign_nodes(leaders, group_keys, counter_keys).at(static_cast<std::size_t>(comm.rank()));
  layout.node_name = self.display_name();
  return layout;
}

}  // namespace mpitrain::energy
