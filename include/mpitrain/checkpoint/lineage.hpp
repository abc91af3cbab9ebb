#pragma once
/// @file lineage.hpp
/// Which training sessions led to a checkpoint. A session is one start of `mpitrain train`; it begins
/// afresh at step 0 or resumes from a checkpoint at that checkpoint's global step, and writes checkpoints
/// at increasing steps. A checkpoint's lineage lists the sessions from the run's first to the one that
/// wrote it, each with the step it started from. Text form (the checkpoint's `lineage` attribute):
/// `<session>@<from step>` joined by ',', oldest first, e.g. `0f6c…@0,b21e…@120`. The first session's id
/// is the run's id. A checkpoint written before lineages existed has the text "", read as one session
/// with the empty id starting at step 0.
///
/// Resuming from a checkpoint at step s starts a new branch; checkpoints of the old branch newer than s
/// are not on the new lineage, and neither are those of other runs: pruning removes only checkpoints of
/// the current lineage (checkpoint_store.hpp).

#include <cstdint>
#include <string>
#include <vector>

namespace mpitrain::checkpoint {

/// One session of a lineage.
struct Session {
  std::string id;              ///< unique id of the session (a random UUID); "" for a legacy checkpoint
  std::int64_t from_step = 0;  ///< global step the session started from (0 for the run's first)
  bool operator==(const Session&) const = default;
};

/// The sessions of a lineage, oldest first; never empty.
class Lineage {
 public:
  /// A new run: one session @p session_id from step 0.
  static Lineage fresh(std::string session_id);
  /// Parses the text form. @throws std::invalid_argument naming what is malformed (an entry without
  /// '@', a step that is not a non-negative integer, steps that decrease, an id with ',' or '@').
  static Lineage parse(const std::string& text);

  /// This lineage continued by session @p session_id resuming at global step @p step (>= the last
  /// session's start). @throws std::invalid_argument for a step before the last session's start.
  [[nodiscard]] Lineage resumed(std::string session_id, std::int64_t step) const;

  /// The text form; parse(text()) == *this.
  [[nodiscard]] std::string text() const;
  /// The run's id: the first session's.
  [[nodiscard]] const std::string& run_id() const { return sessions_.front().id; }
  /// The session that writes (or wrote) the checkpoints of this lineage: the last one.
  [[nodiscard]] const Session& current() const { return sessions_.back(); }
  [[nodiscard]] const std::vector<Session>& sessions() const { return sessions_; }

  /// Whether the checkpoint at global step @p step whose own lineage is @p written_by lies on this
  /// lineage: it was written by one of this lineage's sessions before the next session branched off
  /// (at or after that session's start, at or before the next one's).
  [[nodiscard]] bool contains(const Lineage& written_by, std::int64_t step) const;

  bool operator==(const Lineage&) const = default;

 private:
  explicit Lineage(std::vector<Session> sessions) : sessions_(std::move(sessions)) {}
  std::vector<Session> sessions_;
};

/// A new session id: a random (version 4) UUID from Boost.Uuid, as 36 hex digits and dashes.
std::string new_session_id();

}  // namespace mpitrain::checkpoint
