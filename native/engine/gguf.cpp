// GGUF v3 loader: every length, offset and size is checked against the file before it is used, so a
// truncated or corrupted file is reported, never read out of bounds.
#include "gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace earshot {

namespace {

enum : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
  kNumValueTypes = 13
};

const char* value_type_name(uint32_t t) {
  static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  return t < kNumValueTypes ? names[t] : "unknown";
}

size_t fixed_size(uint32_t t) {  // 0 for string and array
  switch (t) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return 0;
  }
}

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint64_t kMaxStringLen = 1u << 24;
constexpr uint64_t kMaxNameLen = 256;
constexpr int kMaxArrayDepth = 3;
constexpr uint64_t kMaxDim = uint64_t(1) << 31;  // Tensor rows/cols are int64; keep products small
constexpr uint64_t kMaxElements = uint64_t(1) << 40;

struct Parsed {
  std::map<std::string, std::pair<uint32_t, std::vector<uint8_t>>> meta;  // type, value bytes
  std::map<std::string, Tensor> tensors;
  size_t data_start = 0;
};

std::string hex32(uint32_t v) {
  char buf[16];
  snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

class Reader {
 public:
  Reader(const uint8_t* p, size_t size, const std::string& where) : p_(p), size_(size), where_(where) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(where_ + ": " + what); }

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  void need(uint64_t n, const std::string& what) const {
    if (n > left())
      fail("truncated: " + what + " at byte " + std::to_string(pos_) + " needs " + std::to_string(n) +
           " bytes, the file has " + std::to_string(left()) + " left");
  }
  const uint8_t* take(uint64_t n, const std::string& what) {
    need(n, what);
    const uint8_t* at = p_ + pos_;
    pos_ += n;
    return at;
  }
  uint32_t u32(const std::string& what) {
    uint32_t v;
    memcpy(&v, take(4, what), 4);
    return v;
  }
  uint64_t u64(const std::string& what) {
    uint64_t v;
    memcpy(&v, take(8, what), 8);
    return v;
  }
  std::string str(const std::string& what, uint64_t max_len) {
    uint64_t n = u64(what + " length");
    if (n > max_len) fail(what + " length " + std::to_string(n) + " is implausibly large");
    const uint8_t* s = take(n, what);
    return std::string(reinterpret_cast<const char*>(s), n);
  }

  // Steps over one value of type t, checking every length in it.
  void skip_value(uint32_t t, const std::string& key, int depth) {
    if (t >= kNumValueTypes) fail("metadata '" + key + "' has unknown value type " + std::to_string(t));
    if (size_t fs = fixed_size(t)) {
      const uint8_t* v = take(fs, "value of metadata '" + key + "'");
      if (t == kBool && *v > 1) fail("metadata '" + key + "' is a bool with value " + std::to_string(*v));
      return;
    }
    if (t == kString) {
      str("string in metadata '" + key + "'", kMaxStringLen);
      return;
    }
    if (depth >= kMaxArrayDepth) fail("metadata '" + key + "' nests arrays too deeply");
    uint32_t et = u32("array type of metadata '" + key + "'");
    uint64_t count = u64("array length of metadata '" + key + "'");
    if (et >= kNumValueTypes) fail("metadata '" + key + "' is an array of unknown type " + std::to_string(et));
    // Every element takes at least this many bytes, so a huge count is caught before any loop.
    uint64_t min_elem = et == kString ? 8 : et == kArray ? 12 : fixed_size(et);
    if (count > left() / min_elem)
      fail("truncated: array metadata '" + key + "' claims " + std::to_string(count) +
           " elements, more than the file can hold");
    if (size_t fs = fixed_size(et)) {
      if (et == kBool) {
        const uint8_t* v = take(count, "array metadata '" + key + "'");
        for (uint64_t i = 0; i < count; ++i)
          if (v[i] > 1) fail("metadata '" + key + "' holds a bool with value " + std::to_string(v[i]));
      } else {
        take(count * fs, "array metadata '" + key + "'");
      }
      return;
    }
    for (uint64_t i = 0; i < count; ++i) skip_value(et, key, depth + 1);
  }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& where_;
};

uint64_t type_bytes(DType t, uint64_t elements) {
  switch (t) {
    case DType::F32:
      return elements * 4;
    case DType::F16:
      return elements * 2;
    case DType::Q4_0:
      return elements / 32 * 18;
    case DType::Q8_0:
      return elements / 32 * 34;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::Q4_0:
      return "Q4_0";
    case DType::Q8_0:
      return "Q8_0";
  }
  return "?";
}

bool known_dtype(uint32_t t) { return t == 0 || t == 1 || t == 2 || t == 8; }

bool meta_u64(const std::pair<uint32_t, std::vector<uint8_t>>& v, uint64_t* out) {
  const uint8_t* b = v.second.data();
  switch (v.first) {
    case kU8:
      *out = b[0];
      return true;
    case kU16: {
      uint16_t x;
      memcpy(&x, b, 2);
      *out = x;
      return true;
    }
    case kU32: {
      uint32_t x;
      memcpy(&x, b, 4);
      *out = x;
      return true;
    }
    case kU64: {
      uint64_t x;
      memcpy(&x, b, 8);
      *out = x;
      return true;
    }
    case kI8: {
      int8_t x;
      memcpy(&x, b, 1);
      if (x < 0) return false;
      *out = uint64_t(x);
      return true;
    }
    case kI16: {
      int16_t x;
      memcpy(&x, b, 2);
      if (x < 0) return false;
      *out = uint64_t(x);
      return true;
    }
    case kI32: {
      int32_t x;
      memcpy(&x, b, 4);
      if (x < 0) return false;
      *out = uint64_t(x);
      return true;
    }
    case kI64: {
      int64_t x;
      memcpy(&x, b, 8);
      if (x < 0) return false;
      *out = uint64_t(x);
      return true;
    }
    default:
      return false;
  }
}

Parsed parse(const uint8_t* data, size_t size, const std::string& where) {
  Reader r(data, size, where);
  Parsed out;
  if (size < 4) r.fail("truncated: " + std::to_string(size) + " bytes is too short for a GGUF file");
  if (r.u32("magic") != kMagic) r.fail("bad magic: not a GGUF file");
  uint32_t version = r.u32("version");
  if (version != 3) r.fail("unsupported GGUF version " + std::to_string(version) + " (expected 3)");
  uint64_t n_tensors = r.u64("tensor count");
  uint64_t n_kv = r.u64("metadata count");
  // Smallest metadata entry: key length (8) + type (4) + 1 byte; smallest tensor info: 8 + 4 + 8 + 4 + 8.
  if (n_kv > r.left() / 13) r.fail("metadata count " + std::to_string(n_kv) + " is more than the file can hold");
  if (n_tensors > r.left() / 32)
    r.fail("tensor count " + std::to_string(n_tensors) + " is more than the file can hold");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.str("key of metadata " + std::to_string(i), kMaxNameLen);
    uint32_t t = r.u32("type of metadata '" + key + "'");
    size_t start = r.pos();
    r.skip_value(t, key, 0);
    if (out.meta.count(key)) r.fail("metadata '" + key + "' appears twice");
    out.meta[key] = {t, std::vector<uint8_t>(data + start, data + r.pos())};
  }

  uint64_t alignment = 32;
  auto al = out.meta.find("general.alignment");
  if (al != out.meta.end()) {
    if (!meta_u64(al->second, &alignment)) r.fail("general.alignment is not an unsigned integer");
    // At least 8 so that every F32/F16/block pointer into the mapping is naturally aligned.
    if (alignment < 8 || (alignment & (alignment - 1)) || alignment > 65536)
      r.fail("general.alignment " + std::to_string(alignment) + " is not a power of two from 8 to 65536");
  }

  std::vector<std::pair<uint64_t, std::string>> offsets;  // (offset, name), for bounds and overlap checks
  std::map<std::string, uint64_t> tensor_bytes;           // 64-bit even on armhf
  for (uint64_t i = 0; i < n_tensors; ++i) {
    std::string name = r.str("name of tensor " + std::to_string(i), kMaxNameLen);
    if (out.tensors.count(name)) r.fail("tensor '" + name + "' appears twice");
    const std::string tn = "tensor '" + name + "'";
    uint32_t n_dims = r.u32("dimension count of " + tn);
    if (n_dims < 1 || n_dims > 2)
      r.fail(tn + " has " + std::to_string(n_dims) + " dimensions; the engine reads 1-D or 2-D tensors");
    uint64_t ne[2] = {1, 1};
    for (uint32_t d = 0; d < n_dims; ++d) {
      ne[d] = r.u64("dimension of " + tn);
      if (ne[d] == 0 || ne[d] > kMaxDim)
        r.fail(tn + " has dimension " + std::to_string(d) + " = " + std::to_string(ne[d]) + ", out of range");
    }
    uint32_t type = r.u32("type of " + tn);
    if (!known_dtype(type))
      r.fail(tn + " has tensor type " + std::to_string(type) + "; the engine reads F32, F16, Q4_0 and Q8_0");
    uint64_t offset = r.u64("offset of " + tn);
    Tensor t;
    t.name = name;
    t.type = DType(type);
    t.cols = int64_t(ne[0]);
    t.rows = int64_t(ne[1]);
    uint64_t elements = ne[0] * ne[1];
    if (elements > kMaxElements) r.fail(tn + " has too many elements");
    if ((t.type == DType::Q4_0 || t.type == DType::Q8_0) && ne[0] % 32)
      r.fail(tn + " is " + dtype_name(t.type) + " but its row length " + std::to_string(ne[0]) +
             " is not a multiple of the block size 32");
    if (offset % alignment)
      r.fail(tn + " offset " + std::to_string(offset) + " is not a multiple of the alignment " +
             std::to_string(alignment));
    tensor_bytes[name] = type_bytes(t.type, elements);
    offsets.push_back({offset, name});
    out.tensors.emplace(name, t);
  }

  uint64_t data_start = (uint64_t(r.pos()) + alignment - 1) / alignment * alignment;
  if (data_start > size) {
    if (n_tensors)
      r.fail("truncated: the tensor data section would start at byte " + std::to_string(data_start) +
             " but the file has " + std::to_string(size) + " bytes");
    data_start = size;
  }
  out.data_start = size_t(data_start);
  uint64_t data_size = size - data_start;

  for (const auto& on : offsets) {
    uint64_t offset = on.first, bytes = tensor_bytes[on.second];
    if (offset > data_size || bytes > data_size - offset)
      r.fail("tensor '" + on.second + "' data [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) +
             ") lies outside the data section (" + std::to_string(data_size) + " bytes): truncated or corrupt file");
    Tensor& t = out.tensors.at(on.second);
    t.bytes = size_t(bytes);
    t.data = data + data_start + offset;
  }
  std::sort(offsets.begin(), offsets.end());
  for (size_t i = 1; i < offsets.size(); ++i) {
    if (offsets[i - 1].first + tensor_bytes[offsets[i - 1].second] > offsets[i].first)
      r.fail("tensors '" + offsets[i - 1].second + "' and '" + offsets[i].second + "' overlap");
  }

  auto crc = out.meta.find("earshot.data_crc32");
  if (crc == out.meta.end()) r.fail("no earshot.data_crc32 checksum: not an Earshot model file");
  if (crc->second.first != kU32)
    r.fail("earshot.data_crc32 is a " + std::string(value_type_name(crc->second.first)) + ", expected u32");
  uint32_t want;
  memcpy(&want, crc->second.second.data(), 4);
  uint32_t got = crc32(data + data_start, size_t(data_size));
  if (got != want)
    r.fail("tensor data checksum mismatch (earshot.data_crc32 " + hex32(want) + ", data " + hex32(got) +
           "): the file is corrupt");
  return out;
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  static const auto table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void validate_gguf_buffer(const uint8_t* data, size_t size) { parse(data, size, "<buffer>"); }

GgufFile::GgufFile(const std::string& path) : path_(path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open model file: " + strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    throw Error(path + ": not a regular file");
  }
  size_ = size_t(st.st_size);
  if (size_ == 0) {
    close(fd);
    throw Error(path + ": the model file is empty");
  }
  map_ = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw Error(path + ": cannot map model file: " + strerror(err));
  }
  try {
    Parsed p = parse(static_cast<const uint8_t*>(map_), size_, path);
    tensors_ = std::move(p.tensors);
    for (auto& kv : p.meta) {
      meta_type_[kv.first] = kv.second.first;
      raw_meta_[kv.first] = std::move(kv.second.second);
    }
  } catch (...) {
    munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
}

GgufFile::~GgufFile() {
  if (map_) munmap(map_, size_);
}

void GgufFile::release_pages(const void* p, size_t n) const {
  const uintptr_t base = reinterpret_cast<uintptr_t>(map_), a = reinterpret_cast<uintptr_t>(p);
  if (!map_ || a < base || a + n > base + size_) return;
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t lo = (a + page - 1) / page * page, hi = (a + n) / page * page;
  // A read-only private file mapping: discarded pages come back from the file unchanged.
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

bool GgufFile::has(const std::string& key) const { return meta_type_.count(key) != 0; }

const std::vector<uint8_t>& GgufFile::raw(const std::string& key, uint32_t* type) const {
  auto it = raw_meta_.find(key);
  if (it == raw_meta_.end()) throw Error(path_ + ": metadata '" + key + "' is missing");
  *type = meta_type_.at(key);
  return it->second;
}

uint32_t GgufFile::u32(const std::string& key) const {
  uint32_t t;
  const auto& b = raw(key, &t);
  uint64_t v;
  if (!meta_u64({t, b}, &v) || v > 0xFFFFFFFFu)
    throw Error(path_ + ": metadata '" + key + "' is " + value_type_name(t) + ", expected u32");
  return uint32_t(v);
}

uint32_t GgufFile::u32(const std::string& key, uint32_t fallback) const { return has(key) ? u32(key) : fallback; }

float GgufFile::f32(const std::string& key) const {
  uint32_t t;
  const auto& b = raw(key, &t);
  if (t == kF32) {
    float v;
    memcpy(&v, b.data(), 4);
    return v;
  }
  if (t == kF64) {
    double v;
    memcpy(&v, b.data(), 8);
    return float(v);
  }
  throw Error(path_ + ": metadata '" + key + "' is " + value_type_name(t) + ", expected f32");
}

bool GgufFile::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  uint32_t t;
  const auto& b = raw(key, &t);
  if (t != kBool) throw Error(path_ + ": metadata '" + key + "' is " + value_type_name(t) + ", expected bool");
  return b[0] != 0;
}

std::string GgufFile::str(const std::string& key) const {
  uint32_t t;
  const auto& b = raw(key, &t);
  if (t != kString) throw Error(path_ + ": metadata '" + key + "' is " + value_type_name(t) + ", expected string");
  return std::string(b.begin() + 8, b.end());  // lengths were checked by the loader
}

std::vector<std::string> GgufFile::strings(const std::string& key) const {
  uint32_t t;
  const auto& b = raw(key, &t);
  uint32_t et = 0;
  if (t == kArray) memcpy(&et, b.data(), 4);
  if (t != kArray || et != kString)
    throw Error(path_ + ": metadata '" + key + "' is " + value_type_name(t) + ", expected an array of strings");
  uint64_t count, len;
  memcpy(&count, b.data() + 4, 8);
  std::vector<std::string> out;
  out.reserve(size_t(count));
  size_t pos = 12;
  for (uint64_t i = 0; i < count; ++i) {
    memcpy(&len, b.data() + pos, 8);
    out.emplace_back(reinterpret_cast<const char*>(b.data() + pos + 8), size_t(len));
    pos += 8 + size_t(len);
  }
  return out;
}

bool GgufFile::has_tensor(const std::string& name) const { return tensors_.count(name) != 0; }

const Tensor& GgufFile::tensor(const std::string& name, int64_t rows, int64_t cols) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(path_ + ": tensor '" + name + "' is missing");
  const Tensor& t = it->second;
  if (t.rows != rows || t.cols != cols)
    throw Error(path_ + ": tensor '" + name + "' has shape [" + std::to_string(t.rows) + ", " + std::to_string(t.cols) +
                "], expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "] ([rows, cols] = [out, in])");
  return t;
}

}  // namespace earshot
