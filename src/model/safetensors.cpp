#include "model/safetensors.h"

#include <cstring>
#include <nlohmann/json.hpp>

namespace sglang {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {

bool parse_dtype(const std::string& s, DType* out) {
  if (s == "F32") {
    *out = DType::kF32;
  } else if (s == "F16") {
    *out = DType::kF16;
  } else if (s == "BF16") {
    *out = DType::kBF16;
  } else if (s == "I32") {
    *out = DType::kI32;
  } else if (s == "I64") {
    *out = DType::kI64;
  } else {
    return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  SGLANG_ASSIGN_OR_RETURN(auto file, MmapFile::open(path));
  auto bytes = file->bytes();
  auto corrupt = [&](const std::string& why) {
    return make_error(ErrorCode::kCorrupt, "corrupt safetensors file " + path + ": " + why);
  };
  if (bytes.size() < 8) return corrupt("shorter than its 8-byte header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);  // little-endian, as the format and x86 are
  if (header_len > bytes.size() - 8) {
    return corrupt("header length " + std::to_string(header_len) + " exceeds file size " +
                   std::to_string(bytes.size()));
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  auto header = nlohmann::json::parse(header_begin, header_begin + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return corrupt("header is not a JSON object");

  const uint8_t* data_begin = bytes.data() + 8 + header_len;
  const uint64_t data_size = bytes.size() - 8 - header_len;
  auto out = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& entry = it.value();
    if (name == "__metadata__") {
      if (entry.is_object()) {
        for (auto m = entry.begin(); m != entry.end(); ++m) {
          if (m.value().is_string()) out->metadata_[m.key()] = m.value().get<std::string>();
        }
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() ||
        !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2) {
      return corrupt("malformed entry for tensor '" + name + "'");
    }
    HostTensor t;
    if (!parse_dtype(entry["dtype"].get<std::string>(), &t.dtype)) {
      return make_error(
          ErrorCode::kUnsupported,
          "tensor '" + name + "' in " + path + " has unsupported dtype " + entry["dtype"].dump());
    }
    uint64_t numel = 1;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) return corrupt("bad shape for tensor '" + name + "'");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (uint64_t{1} << 50) / dim)
        return corrupt("shape too large for '" + name + "'");
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& offs = entry["data_offsets"];
    if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned()) {
      return corrupt("bad data_offsets for tensor '" + name + "'");
    }
    uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return corrupt("tensor '" + name + "' data [" + std::to_string(begin) + ", " +
                     std::to_string(end) + ") lies outside the file's " +
                     std::to_string(data_size) + " data bytes (truncated?)");
    }
    if (end - begin != numel * dtype_size(t.dtype)) {
      return corrupt("tensor '" + name + "' holds " + std::to_string(end - begin) +
                     " bytes but shape " + shape_string(t.shape) + " needs " +
                     std::to_string(numel * dtype_size(t.dtype)));
    }
    t.data = data_begin + begin;
    out->tensors_.emplace(name, std::move(t));
  }
  out->file_ = std::move(file);
  return out;
}

Result<HostTensor> SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return make_error(ErrorCode::kNotFound, "tensor '" + name + "' not found in " + path());
  }
  return it->second;
}

}  // namespace sglang
