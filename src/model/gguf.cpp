#include "model/gguf.h"

#include <cstring>
#include <fstream>

namespace sglang {

namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
// Sanity bounds: far above any real model, low enough that a corrupt count cannot make us
// allocate the machine away before the bounds checks catch it.
constexpr uint64_t kMaxDims = 8;
constexpr uint64_t kMaxStringBytes = uint64_t{1} << 30;

// A bounds-checked little-endian cursor over the mapped file.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  uint64_t pos() const { return pos_; }

  template <typename T>
  Result<T> read() {
    if (bytes_.size() - pos_ < sizeof(T)) return truncated(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  Result<std::string> read_string() {
    SGLANG_ASSIGN_OR_RETURN(uint64_t n, read<uint64_t>());
    if (n > kMaxStringBytes || bytes_.size() - pos_ < n) return truncated(n);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  // Fails unless `count` items of at least `min_item_bytes` each can still follow.
  Status check_room(uint64_t count, uint64_t min_item_bytes, const std::string& what) const {
    if (min_item_bytes != 0 && count > (bytes_.size() - pos_) / min_item_bytes) {
      return make_error(ErrorCode::kCorrupt, path_ + ": " + what + " count " +
                                                 std::to_string(count) +
                                                 " runs past the end of the file (truncated?)");
    }
    return {};
  }

 private:
  Error truncated(uint64_t want) const {
    return make_error(ErrorCode::kCorrupt, path_ + ": truncated GGUF file (needed " +
                                               std::to_string(want) + " bytes at offset " +
                                               std::to_string(pos_) + ", file has " +
                                               std::to_string(bytes_.size()) + ")");
  }

  std::span<const uint8_t> bytes_;
  const std::string& path_;
  uint64_t pos_ = 0;
};

using VT = GgufValue::Type;

uint64_t scalar_bytes(VT t) {
  switch (t) {
    case VT::kU8:
    case VT::kI8:
    case VT::kBool:
      return 1;
    case VT::kU16:
    case VT::kI16:
      return 2;
    case VT::kU32:
    case VT::kI32:
    case VT::kF32:
      return 4;
    case VT::kU64:
    case VT::kI64:
    case VT::kF64:
    case VT::kString:  // at least its u64 length
      return 8;
    case VT::kArray:
      return 12;
  }
  return 0;
}

// Reads one scalar of type `t`: integers widen to int64_t (or uint64_t for u64), floats to double.
Result<GgufValue> read_scalar(Cursor& c, VT t) {
  GgufValue v;
  v.type = t;
  switch (t) {
    case VT::kU8: {
      SGLANG_ASSIGN_OR_RETURN(uint8_t x, c.read<uint8_t>());
      v.scalar = int64_t{x};
      break;
    }
    case VT::kI8: {
      SGLANG_ASSIGN_OR_RETURN(int8_t x, c.read<int8_t>());
      v.scalar = int64_t{x};
      break;
    }
    case VT::kU16: {
      SGLANG_ASSIGN_OR_RETURN(uint16_t x, c.read<uint16_t>());
      v.scalar = int64_t{x};
      break;
    }
    case VT::kI16: {
      SGLANG_ASSIGN_OR_RETURN(int16_t x, c.read<int16_t>());
      v.scalar = int64_t{x};
      break;
    }
    case VT::kU32: {
      SGLANG_ASSIGN_OR_RETURN(uint32_t x, c.read<uint32_t>());
      v.scalar = int64_t{x};
      break;
    }
    case VT::kI32: {
      SGLANG_ASSIGN_OR_RETURN(int32_t x, c.read<int32_t>());
      v.scalar = int64_t{x};
      break;
    }
    case VT::kU64: {
      SGLANG_ASSIGN_OR_RETURN(uint64_t x, c.read<uint64_t>());
      v.scalar = x;
      break;
    }
    case VT::kI64: {
      SGLANG_ASSIGN_OR_RETURN(int64_t x, c.read<int64_t>());
      v.scalar = x;
      break;
    }
    case VT::kF32: {
      SGLANG_ASSIGN_OR_RETURN(float x, c.read<float>());
      v.scalar = double{x};
      break;
    }
    case VT::kF64: {
      SGLANG_ASSIGN_OR_RETURN(double x, c.read<double>());
      v.scalar = x;
      break;
    }
    case VT::kBool: {
      SGLANG_ASSIGN_OR_RETURN(uint8_t x, c.read<uint8_t>());
      v.scalar = x != 0;
      break;
    }
    case VT::kString: {
      SGLANG_ASSIGN_OR_RETURN(std::string s, c.read_string());
      v.scalar = std::move(s);
      break;
    }
    case VT::kArray:
      break;
  }
  return v;
}

bool valid_value_type(uint32_t t) {
  return t <= static_cast<uint32_t>(VT::kF64);
}

Result<GgufValue> read_value(Cursor& c, VT t, const std::string& key) {
  if (t != VT::kArray) return read_scalar(c, t);
  SGLANG_ASSIGN_OR_RETURN(uint32_t et, c.read<uint32_t>());
  SGLANG_ASSIGN_OR_RETURN(uint64_t n, c.read<uint64_t>());
  if (!valid_value_type(et) || static_cast<VT>(et) == VT::kArray) {
    return make_error(
        ErrorCode::kCorrupt,
        "metadata '" + key + "': unsupported array element type " + std::to_string(et));
  }
  const VT elem = static_cast<VT>(et);
  SGLANG_RETURN_IF_ERROR(c.check_room(n, scalar_bytes(elem), "metadata '" + key + "' array"));
  GgufValue v;
  v.type = VT::kArray;
  v.element_type = elem;
  for (uint64_t i = 0; i < n; ++i) {
    SGLANG_ASSIGN_OR_RETURN(GgufValue e, read_scalar(c, elem));
    if (auto* s = std::get_if<std::string>(&e.scalar)) {
      v.strings.push_back(std::move(*s));
    } else if (auto* d = std::get_if<double>(&e.scalar)) {
      v.floats.push_back(*d);
    } else if (auto* b = std::get_if<bool>(&e.scalar)) {
      v.ints.push_back(*b ? 1 : 0);
    } else if (auto* u = std::get_if<uint64_t>(&e.scalar)) {
      v.ints.push_back(static_cast<int64_t>(*u));
    } else {
      v.ints.push_back(std::get<int64_t>(e.scalar));
    }
  }
  return v;
}

std::string value_type_name(VT t) {
  static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(names) ? names[i] : "?";
}

}  // namespace

bool GgufValue::is_integer() const {
  switch (type) {
    case Type::kU8:
    case Type::kI8:
    case Type::kU16:
    case Type::kI16:
    case Type::kU32:
    case Type::kI32:
    case Type::kU64:
    case Type::kI64:
      return true;
    default:
      return false;
  }
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const {
  return {dims.rbegin(), dims.rend()};
}

std::string ggml_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kQ4_0:
      return "Q4_0";
    case GgmlType::kQ4_1:
      return "Q4_1";
    case GgmlType::kQ5_0:
      return "Q5_0";
    case GgmlType::kQ5_1:
      return "Q5_1";
    case GgmlType::kQ8_0:
      return "Q8_0";
    case GgmlType::kQ8_1:
      return "Q8_1";
    case GgmlType::kQ2_K:
      return "Q2_K";
    case GgmlType::kQ3_K:
      return "Q3_K";
    case GgmlType::kQ4_K:
      return "Q4_K";
    case GgmlType::kQ5_K:
      return "Q5_K";
    case GgmlType::kQ6_K:
      return "Q6_K";
    case GgmlType::kQ8_K:
      return "Q8_K";
    case GgmlType::kI8:
      return "I8";
    case GgmlType::kI16:
      return "I16";
    case GgmlType::kI32:
      return "I32";
    case GgmlType::kI64:
      return "I64";
    case GgmlType::kF64:
      return "F64";
    case GgmlType::kBF16:
      return "BF16";
  }
  return "type " + std::to_string(static_cast<uint32_t>(type));
}

GgmlBlockSize ggml_block_size(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return {1, 4};
    case GgmlType::kF16:
      return {1, 2};
    case GgmlType::kBF16:
      return {1, 2};
    case GgmlType::kQ4_0:
      return {32, 18};
    case GgmlType::kQ4_1:
      return {32, 20};
    case GgmlType::kQ5_0:
      return {32, 22};
    case GgmlType::kQ5_1:
      return {32, 24};
    case GgmlType::kQ8_0:
      return {32, 34};
    case GgmlType::kQ8_1:
      return {32, 36};
    case GgmlType::kQ2_K:
      return {256, 84};
    case GgmlType::kQ3_K:
      return {256, 110};
    case GgmlType::kQ4_K:
      return {256, 144};
    case GgmlType::kQ5_K:
      return {256, 176};
    case GgmlType::kQ6_K:
      return {256, 210};
    case GgmlType::kQ8_K:
      return {256, 292};
    case GgmlType::kI8:
      return {1, 1};
    case GgmlType::kI16:
      return {1, 2};
    case GgmlType::kI32:
      return {1, 4};
    case GgmlType::kI64:
      return {1, 8};
    case GgmlType::kF64:
      return {1, 8};
  }
  return {0, 0};
}

bool GgufFile::has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint32_t magic = 0;
  return in.read(reinterpret_cast<char*>(&magic), sizeof(magic)) && magic == kGgufMagic;
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  SGLANG_ASSIGN_OR_RETURN(auto file, MmapFile::open(path));
  auto g = std::unique_ptr<GgufFile>(new GgufFile());
  g->file_ = std::move(file);
  const std::span<const uint8_t> bytes = g->file_->bytes();
  Cursor c(bytes, g->path());

  SGLANG_ASSIGN_OR_RETURN(uint32_t magic, c.read<uint32_t>());
  if (magic != kGgufMagic) {
    return make_error(ErrorCode::kCorrupt, path + " is not a GGUF file (no GGUF magic)");
  }
  SGLANG_ASSIGN_OR_RETURN(g->version_, c.read<uint32_t>());
  if (g->version_ != 2 && g->version_ != 3) {
    return make_error(ErrorCode::kCorrupt, path + ": GGUF version " + std::to_string(g->version_) +
                                               " is not supported (only 2 and 3)");
  }
  SGLANG_ASSIGN_OR_RETURN(uint64_t n_tensors, c.read<uint64_t>());
  SGLANG_ASSIGN_OR_RETURN(uint64_t n_kv, c.read<uint64_t>());
  SGLANG_RETURN_IF_ERROR(c.check_room(n_kv, 12, "metadata"));
  SGLANG_RETURN_IF_ERROR(c.check_room(n_tensors, 24, "tensor"));

  for (uint64_t i = 0; i < n_kv; ++i) {
    SGLANG_ASSIGN_OR_RETURN(std::string key, c.read_string());
    SGLANG_ASSIGN_OR_RETURN(uint32_t t, c.read<uint32_t>());
    if (!valid_value_type(t)) {
      return make_error(ErrorCode::kCorrupt, path + ": metadata '" + key +
                                                 "' has unknown value type " + std::to_string(t));
    }
    auto value = read_value(c, static_cast<VT>(t), key);
    if (!value.ok()) return make_error(ErrorCode::kCorrupt, path + ": " + value.error().message);
    g->metadata_[key] = std::move(*value);
  }

  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    SGLANG_ASSIGN_OR_RETURN(t.name, c.read_string());
    SGLANG_ASSIGN_OR_RETURN(uint32_t n_dims, c.read<uint32_t>());
    if (n_dims == 0 || n_dims > kMaxDims) {
      return make_error(ErrorCode::kCorrupt, path + ": tensor '" + t.name + "' has " +
                                                 std::to_string(n_dims) + " dimensions");
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      SGLANG_ASSIGN_OR_RETURN(uint64_t dim, c.read<uint64_t>());
      // The element count must fit in int64 (numel()); a corrupt file can claim anything.
      if (dim == 0 || dim > (uint64_t{1} << 40) ||
          __builtin_mul_overflow(elements, dim, &elements) || elements > (uint64_t{1} << 60)) {
        return make_error(ErrorCode::kCorrupt,
                          path + ": tensor '" + t.name + "' has dimension " + std::to_string(dim));
      }
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    SGLANG_ASSIGN_OR_RETURN(uint32_t type, c.read<uint32_t>());
    t.type = static_cast<GgmlType>(type);
    SGLANG_ASSIGN_OR_RETURN(t.offset, c.read<uint64_t>());
    const GgmlBlockSize bs = ggml_block_size(t.type);
    if (bs.elements == 0) {
      return make_error(ErrorCode::kCorrupt, path + ": tensor '" + t.name + "' has unknown type " +
                                                 ggml_type_name(t.type));
    }
    if (t.dims[0] % bs.elements != 0) {
      return make_error(ErrorCode::kCorrupt, path + ": tensor '" + t.name + "' of type " +
                                                 ggml_type_name(t.type) + " has a row of " +
                                                 std::to_string(t.dims[0]) +
                                                 " elements, not a multiple of its block size " +
                                                 std::to_string(bs.elements));
    }
    t.nbytes = static_cast<uint64_t>(t.numel() / bs.elements) * static_cast<uint64_t>(bs.bytes);
    if (g->tensor_index_.count(t.name)) {
      return make_error(ErrorCode::kCorrupt, path + ": tensor '" + t.name + "' appears twice");
    }
    g->tensor_index_[t.name] = g->tensors_.size();
    g->tensors_.push_back(std::move(t));
  }

  uint64_t alignment = kDefaultAlignment;
  if (const GgufValue* a = g->find("general.alignment")) {
    if (!a->is_integer() || std::get<int64_t>(a->scalar) <= 0) {
      return make_error(ErrorCode::kCorrupt, path + ": bad general.alignment");
    }
    alignment = static_cast<uint64_t>(std::get<int64_t>(a->scalar));
  }
  g->data_offset_ = (c.pos() + alignment - 1) / alignment * alignment;
  for (const GgufTensorInfo& t : g->tensors_) {
    const uint64_t size = bytes.size();
    if (g->data_offset_ > size || t.offset > size - g->data_offset_ ||
        t.nbytes > size - g->data_offset_ - t.offset) {
      return make_error(ErrorCode::kCorrupt,
                        path + ": tensor '" + t.name + "' (" + std::to_string(t.nbytes) +
                            " bytes at data offset " + std::to_string(t.offset) +
                            ") runs past the end of the file (truncated?)");
    }
  }
  return g;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

namespace {
Error wrong_type(const GgufFile& g, const std::string& key, const GgufValue& v, const char* want) {
  return make_error(ErrorCode::kCorrupt, g.path() + ": metadata '" + key + "' is " +
                                             value_type_name(v.type) + ", expected " + want);
}
}  // namespace

Result<std::optional<std::string>> GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::optional<std::string>();
  if (v->type != VT::kString) return wrong_type(*this, key, *v, "a string");
  return std::optional<std::string>(std::get<std::string>(v->scalar));
}

Result<std::optional<int64_t>> GgufFile::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::optional<int64_t>();
  if (!v->is_integer()) return wrong_type(*this, key, *v, "an integer");
  if (auto* u = std::get_if<uint64_t>(&v->scalar)) {
    return std::optional<int64_t>(static_cast<int64_t>(*u));
  }
  return std::optional<int64_t>(std::get<int64_t>(v->scalar));
}

Result<std::optional<double>> GgufFile::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::optional<double>();
  if (v->is_float()) return std::optional<double>(std::get<double>(v->scalar));
  if (v->is_integer()) {
    SGLANG_ASSIGN_OR_RETURN(auto i, get_int(key));
    return std::optional<double>(static_cast<double>(*i));
  }
  return wrong_type(*this, key, *v, "a number");
}

Result<std::optional<bool>> GgufFile::get_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::optional<bool>();
  if (v->type != VT::kBool) return wrong_type(*this, key, *v, "a bool");
  return std::optional<bool>(std::get<bool>(v->scalar));
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::tensor_bytes(const GgufTensorInfo& t) const {
  return file_->bytes().subspan(data_offset_ + t.offset, t.nbytes);
}

}  // namespace sglang
