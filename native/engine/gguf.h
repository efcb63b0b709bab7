// GGUF v3 model file: mapped read-only, validated before use (see docs/model-format.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace earshot {

// Every engine error is one of these; the message names the problem (and the file or tensor).
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class DType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8 };

// A 2-D (or 1-D, rows == 1) view into the mapped file. For a linear weight, rows = outputs,
// cols = inputs (GGUF ne[0] = cols, ne[1] = rows).
struct Tensor {
  std::string name;
  DType type = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  size_t bytes = 0;
};

class GgufFile {
 public:
  // Maps and validates: magic, version, sizes and offsets inside the file, alignment, known tensor
  // types, block-size multiples, CRC-32 of the data section. Throws Error naming what is wrong.
  explicit GgufFile(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& key) const;
  uint32_t u32(const std::string& key) const;  // throws if missing or mistyped
  uint32_t u32(const std::string& key, uint32_t fallback) const;
  float f32(const std::string& key) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string str(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;

  bool has_tensor(const std::string& name) const;
  // Throws Error naming the tensor if missing or if its shape differs from rows x cols.
  const Tensor& tensor(const std::string& name, int64_t rows, int64_t cols) const;
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }
  // Drops the pages wholly inside [p, p + n) of the mapping from this process's memory (a weight
  // the engine keeps in another form); they are read from the file again if touched.
  void release_pages(const void* p, size_t n) const;

 private:
  const std::vector<uint8_t>& raw(const std::string& key, uint32_t* type) const;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, std::vector<uint8_t>> raw_meta_;  // value bytes as in the file, checked at load
  std::map<std::string, uint32_t> meta_type_;
};

// Same validation on an in-memory buffer (used by the fuzzer); throws Error.
void validate_gguf_buffer(const uint8_t* data, size_t size);

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);

}  // namespace earshot
