#include "mpitrain/checkpoint/array_file.hpp"

#include "checkpoint/hdf5.hpp"
#include "mpitrain/base/files.hpp"

namespace mpitrain::checkpoint {

namespace {
std::vector<hsize_t> dims_of(const base::Shape& shape) { return {shape.begin(), shape.end()}; }
}  // namespace

void ArrayWriter::floats(const std::string& name, const base::Shape& shape, std::span<const float> values) const {
  file_.write_floats(file_.id(), name, dims_of(shape), values);
}

void ArrayWriter::doubles(const std::string& name, const base::Shape& shape, std::span<const double> values) const {
  file_.write_doubles(file_.id(), name, dims_of(shape), values);
}

void ArrayWriter::ints(const std::string& name, const base::Shape& shape,
                       std::span<const std::int32_t> values) const {
  file_.write_ints(file_.id(), name, dims_of(shape), values);
}

void ArrayWriter::strings(const std::string& name, const std::vector<std::string>& values) const {
  file_.write_strings(file_.id(), name, values);
}

void ArrayWriter::attribute(const std::string& name, const std::string& value) const {
  file_.write_string_attribute(file_.id(), name, value);
}

void write_array_file(const std::filesystem::path& path, const std::function<void(const ArrayWriter&)>& fill) {
  const std::string label = path.string();
  const detail::ErrorSilencer silence;
  try {
    base::write_atomically(
        path,
        [&](const std::filesystem::path& tmp) {
          detail::Hdf5File file = detail::Hdf5File::create(tmp, label);
          fill(ArrayWriter(file));
          file.flush_and_close();
        },
        base::Durability::synced);
  } catch (const base::FileError& e) {
    throw CheckpointIoError("checkpoint " + label + ": " + e.what(), e.error_number());
  }
}

}  // namespace mpitrain::checkpoint
