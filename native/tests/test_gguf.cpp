// The GGUF loader: a valid file round-trips; every kind of damage raises earshot::Error naming it.
// With a path argument (run.sh passes one made by training/earshot/gguf.py), also checks that the
// Python writer's file loads and that its Q4_0/Q8_0 bytes equal this engine's quantizers'.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "gguf.h"
#include "quant.h"

using namespace earshot;

namespace {

// A tiny GGUF v3 writer, for these tests only (the real one is training/earshot/gguf.py).
class Writer {
 public:
  uint32_t alignment = 32;

  void u32(const std::string& key, uint32_t v) { kv(key, 4, &v, 4); }
  void f32(const std::string& key, float v) { kv(key, 6, &v, 4); }
  void boolean(const std::string& key, bool v) {
    uint8_t b = v;
    kv(key, 7, &b, 1);
  }
  void str(const std::string& key, const std::string& v) {
    std::vector<uint8_t> b;
    put_str(b, v);
    kv(key, 8, b.data(), b.size());
  }
  void strings(const std::string& key, const std::vector<std::string>& v) {
    std::vector<uint8_t> b;
    put(b, uint32_t(8));
    put(b, uint64_t(v.size()));
    for (auto& s : v) put_str(b, s);
    kv(key, 9, b.data(), b.size());
  }
  void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, std::vector<uint8_t> data) {
    tensors_.push_back({name, ne, type, std::move(data)});
  }

  // Lays the file out; crc_key adds earshot.data_crc32 computed over the data section.
  std::vector<uint8_t> build(bool crc_key = true) const {
    std::vector<uint8_t> data;
    std::vector<uint64_t> offsets;
    for (auto& t : tensors_) {
      offsets.push_back(data.size());
      data.insert(data.end(), t.data.begin(), t.data.end());
      data.resize((data.size() + alignment - 1) / alignment * alignment, 0);
    }
    std::vector<uint8_t> out;
    put(out, uint32_t(0x46554747));
    put(out, uint32_t(3));
    put(out, uint64_t(tensors_.size()));
    put(out, uint64_t(n_kv_ + (crc_key ? 1 : 0)));
    out.insert(out.end(), meta_.begin(), meta_.end());
    if (crc_key) {
      put_str(out, "earshot.data_crc32");
      put(out, uint32_t(4));
      put(out, crc32(data.data(), data.size()));
    }
    for (size_t i = 0; i < tensors_.size(); ++i) {
      put_str(out, tensors_[i].name);
      put(out, uint32_t(tensors_[i].ne.size()));
      for (uint64_t d : tensors_[i].ne) put(out, d);
      put(out, tensors_[i].type);
      put(out, offsets[i]);
    }
    out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }

 private:
  struct T {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::vector<uint8_t> data;
  };
  template <typename V>
  static void put(std::vector<uint8_t>& b, V v) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
  }
  static void put_str(std::vector<uint8_t>& b, const std::string& s) {
    put(b, uint64_t(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  void kv(const std::string& key, uint32_t type, const void* v, size_t n) {
    put_str(meta_, key);
    put(meta_, type);
    meta_.insert(meta_.end(), static_cast<const uint8_t*>(v), static_cast<const uint8_t*>(v) + n);
    ++n_kv_;
  }
  std::vector<uint8_t> meta_;
  uint64_t n_kv_ = 0;
  std::vector<T> tensors_;
};

std::string tmp_dir() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/earshot-test-gguf-XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  return dir;
}

std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string path = tmp_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  return std::vector<uint8_t>(static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
}

struct Model {
  std::vector<float> mean, q4_source;
  std::vector<BlockQ4_0> q4;
  std::vector<BlockQ8_0> q8;
  std::vector<uint16_t> f16;
};

Writer model_writer(Model& m) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Writer w;
  w.str("general.architecture", "earshot-test");
  w.u32("general.alignment", 32);
  w.u32("earshot.d_model", 64);
  w.f32("earshot.feat.frame_shift_ms", 10.f);
  w.boolean("earshot.has_cif", true);
  w.strings("earshot.tokens", {"<blk>", "\xe2\x96\x81", "a", ""});
  m.mean.resize(80);
  for (auto& v : m.mean) v = u(rng);
  w.tensor("feat.mean", {80}, 0, bytes_of(m.mean.data(), 80 * 4));
  m.q4_source.resize(4 * 64);
  for (auto& v : m.q4_source) v = u(rng);
  m.q4.resize(8);
  quantize_row_q4_0(m.q4_source.data(), m.q4.data(), 4 * 64);
  w.tensor("enc.in.weight", {64, 4}, 2, bytes_of(m.q4.data(), 8 * 18));  // [4, 64]: odd byte count
  m.f16.resize(15);
  for (auto& v : m.f16) v = fp32_to_fp16(u(rng));
  w.tensor("small.f16", {5, 3}, 1, bytes_of(m.f16.data(), 30));
  m.q8.resize(2);
  quantize_row_q8_0(m.q4_source.data(), m.q8.data(), 64);
  w.tensor("q8.weight", {32, 2}, 8, bytes_of(m.q8.data(), 68));
  return w;
}

void test_round_trip() {
  Model m;
  std::vector<uint8_t> bytes = model_writer(m).build();
  validate_gguf_buffer(bytes.data(), bytes.size());
  std::string path = write_file("valid.gguf", bytes);
  GgufFile f(path);
  CHECK(f.str("general.architecture") == "earshot-test");
  CHECK(f.u32("earshot.d_model") == 64);
  CHECK(f.u32("earshot.missing", 17) == 17);
  CHECK(f.f32("earshot.feat.frame_shift_ms") == 10.f);
  CHECK(f.boolean("earshot.has_cif", false) && !f.boolean("earshot.nope", false));
  auto toks = f.strings("earshot.tokens");
  CHECK(toks.size() == 4 && toks[0] == "<blk>" && toks[1] == "\xe2\x96\x81" && toks[2] == "a" && toks[3].empty());
  CHECK(f.tensors().size() == 4);
  const Tensor& mean = f.tensor("feat.mean", 1, 80);
  CHECK(mean.type == DType::F32 && mean.bytes == 320 && std::memcmp(mean.data, m.mean.data(), 320) == 0);
  const Tensor& q4 = f.tensor("enc.in.weight", 4, 64);
  CHECK(q4.type == DType::Q4_0 && q4.bytes == 144 && std::memcmp(q4.data, m.q4.data(), 144) == 0);
  CHECK(reinterpret_cast<uintptr_t>(q4.data) % 32 == 0);
  const Tensor& h = f.tensor("small.f16", 3, 5);
  CHECK(h.type == DType::F16 && std::memcmp(h.data, m.f16.data(), 30) == 0);
  const Tensor& q8 = f.tensor("q8.weight", 2, 32);
  CHECK(q8.type == DType::Q8_0 && std::memcmp(q8.data, m.q8.data(), 68) == 0);
  CHECK(f.has_tensor("feat.mean") && !f.has_tensor("feat.istd") && f.has("earshot.d_model"));

  // Accessor errors name the file and the key or tensor.
  CHECK_THROWS(f.tensor("enc.in.weight", 4, 65), "tensor 'enc.in.weight' has shape [4, 64], expected [4, 65]");
  CHECK_THROWS(f.tensor("feat.istd", 1, 80), "tensor 'feat.istd' is missing");
  CHECK_THROWS(f.u32("earshot.n_layers"), "metadata 'earshot.n_layers' is missing");
  CHECK_THROWS(f.u32("general.architecture"), "is string, expected u32");
  CHECK_THROWS(f.str("earshot.d_model"), "is u32, expected string");
  CHECK_THROWS(f.strings("earshot.d_model"), "expected an array of strings");
  CHECK_THROWS(f.f32("earshot.has_cif"), "expected f32");
  CHECK_THROWS(f.tensor("feat.istd", 1, 80), path);

  // A product straight from the mapped file.
  std::vector<float> x(64, 0.5f), y(4), ref(4);
  matvec(q4, x.data(), y.data(), nullptr);
  std::vector<float> deq(256);
  dequantize_row_q4_0(m.q4.data(), deq.data(), 256);
  bool close = true;
  for (int r = 0; r < 4; ++r) {
    double s = 0;
    for (int i = 0; i < 64; ++i) s += deq[size_t(r * 64 + i)] * 0.5;
    close = close && std::fabs(s - y[size_t(r)]) < 1e-3;
  }
  CHECK(close);
}

// Each damaged file must raise Error containing `needle`, both from the file and from a buffer.
void expect_bad(const std::string& name, const std::vector<uint8_t>& bytes, const std::string& needle) {
  std::string path = write_file(name + ".gguf", bytes);
  CHECK_THROWS(GgufFile g(path), needle);
  CHECK_THROWS(GgufFile g(path), path);
  CHECK_THROWS(validate_gguf_buffer(bytes.data(), bytes.size()), needle);
}

template <typename V>
void poke(std::vector<uint8_t>& b, size_t at, V v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

size_t find(const std::vector<uint8_t>& b, const std::string& s) {
  for (size_t i = 0; i + s.size() <= b.size(); ++i)
    if (std::memcmp(b.data() + i, s.data(), s.size()) == 0) return i;
  return std::string::npos;
}

void test_damage() {
  Model m;
  Writer w = model_writer(m);
  const std::vector<uint8_t> good = w.build();
  // Tensor info of 'enc.in.weight': name, n_dims (u32), ne[0], ne[1] (u64), type (u32), offset (u64).
  const size_t info = find(good, "enc.in.weight") + std::string("enc.in.weight").size();
  const size_t ne0_at = info + 4, type_at = info + 20, offset_at = info + 24;

  std::vector<uint8_t> b = good;
  b[0] = 'X';
  expect_bad("magic", b, "bad magic: not a GGUF file");
  b = good;
  poke(b, 4, uint32_t(2));
  expect_bad("version", b, "unsupported GGUF version 2 (expected 3)");
  b = good;
  poke(b, 8, uint64_t(1) << 60);
  expect_bad("tensor_count", b, "tensor count 1152921504606846976 is more than the file can hold");
  b = good;
  poke(b, 16, uint64_t(1) << 40);
  expect_bad("kv_count", b, "metadata count");
  b = good;
  poke(b, 24, uint64_t(1) << 40);  // the first key's length
  expect_bad("key_len", b, "implausibly large");
  b = good;
  poke(b, offset_at, uint64_t(1) << 20);
  expect_bad("offset", b, "tensor 'enc.in.weight' data [1048576, 1048720) lies outside the data section");
  b = good;
  poke(b, offset_at, uint64_t(16));
  expect_bad("misaligned", b, "tensor 'enc.in.weight' offset 16 is not a multiple of the alignment 32");
  b = good;
  poke(b, ne0_at, uint64_t(48));
  expect_bad("block_multiple", b,
             "tensor 'enc.in.weight' is Q4_0 but its row length 48 is not a multiple of the block size 32");
  b = good;
  poke(b, ne0_at, uint64_t(0));
  expect_bad("zero_dim", b, "tensor 'enc.in.weight' has dimension 0 = 0, out of range");
  b = good;
  poke(b, ne0_at, uint64_t(64 * 1024));  // bigger than the data section
  expect_bad("shape_too_big", b, "lies outside the data section");
  b = good;
  poke(b, type_at, uint32_t(3));
  expect_bad("type", b, "tensor 'enc.in.weight' has tensor type 3");
  b = good;
  poke(b, info, uint32_t(3));
  expect_bad("dims", b, "tensor 'enc.in.weight' has 3 dimensions");
  b = good;
  poke(b, offset_at, uint64_t(0));  // on top of feat.mean
  expect_bad("overlap", b, "overlap");
  b = good;
  b.back() ^= 0x01;
  expect_bad("crc", b, "tensor data checksum mismatch");
  b = good;
  b[b.size() - 200] ^= 0x40;
  expect_bad("crc2", b, "the file is corrupt");
  b = good;
  b[find(b, "general.alignment") + 17 + 4] = 3;  // alignment 3
  expect_bad("alignment", b, "general.alignment 3 is not a power of two from 8 to 65536");
  b[find(b, "general.alignment") + 17 + 4] = 4;  // a power of two, but would allow unaligned floats
  expect_bad("alignment4", b, "general.alignment 4 is not a power of two");
  b = good;
  b[find(b, "earshot.has_cif") + 15 + 4] = 2;
  expect_bad("bool", b, "metadata 'earshot.has_cif' is a bool with value 2");
  b = good;
  poke(b, find(b, "earshot.d_model") + 15, uint32_t(42));
  expect_bad("value_type", b, "metadata 'earshot.d_model' has unknown value type 42");
  b = good;
  poke(b, find(b, "earshot.tokens") + 14 + 4 + 4, uint64_t(1) << 50);
  expect_bad("array_len", b, "array metadata 'earshot.tokens' claims 1125899906842624 elements");
  b = good;
  std::memcpy(b.data() + find(b, "small.f16"), "q8.weight", 9);  // same length: a second "q8.weight"
  expect_bad("duplicate", b, "tensor 'q8.weight' appears twice");

  b = good;
  b.resize(b.size() - 32);
  expect_bad("truncated_data", b, "lies outside the data section");
  b = good;
  b.resize(20);
  expect_bad("truncated_header", b, "truncated: metadata count at byte 16 needs 8 bytes, the file has 4 left");
  b = good;
  b.resize(3);
  expect_bad("tiny", b, "too short");

  Writer nocrc = model_writer(m);
  expect_bad("no_crc", nocrc.build(false), "no earshot.data_crc32 checksum");

  // Every prefix of the file is rejected (never read past the end, never accepted).
  int accepted = 0, other = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    try {
      validate_gguf_buffer(good.data(), n);
      ++accepted;
    } catch (const Error&) {
    } catch (...) {
      ++other;
    }
  }
  CHECK_MSG(accepted == 0 && other == 0, std::to_string(accepted) + " truncations accepted");

  // Every single-byte change in the header either loads or raises Error; in the data it is caught
  // by the checksum.
  int crashes_as_other = 0, data_missed = 0;
  const size_t data_start = good.size() - (320 + 160 + 32 + 96);  // the four tensors, each padded to 32
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      std::vector<uint8_t> c = good;
      c[i] ^= flip;
      try {
        validate_gguf_buffer(c.data(), c.size());
        if (i >= data_start) ++data_missed;
      } catch (const Error&) {
      } catch (...) {
        ++crashes_as_other;
      }
    }
  }
  CHECK(crashes_as_other == 0);
  CHECK_MSG(data_missed == 0, std::to_string(data_missed) + " data-section byte flips passed the checksum");

  CHECK_THROWS(GgufFile g(write_file("empty.gguf", {})), "the model file is empty");
  CHECK_THROWS(GgufFile g(tmp_dir() + "/does-not-exist.gguf"), "cannot open model file: No such file");
  CHECK_THROWS(GgufFile g(tmp_dir()), "not a regular file");
}

void test_crc() {
  const char* s = "123456789";
  CHECK(crc32(reinterpret_cast<const uint8_t*>(s), 9) == 0xCBF43926u);  // the standard check value
  CHECK(crc32(reinterpret_cast<const uint8_t*>(s + 4), 5, crc32(reinterpret_cast<const uint8_t*>(s), 4)) ==
        0xCBF43926u);
  CHECK(crc32(nullptr, 0) == 0);
}

// A file from training/earshot/gguf.py (see native/tests/make_python_gguf.py): loads, and its
// quantized tensors equal this engine's quantization of the float tensor stored beside them.
void test_python_file(const std::string& path) {
  GgufFile f(path);
  CHECK(f.str("general.architecture") == "earshot-test");
  CHECK(f.u32("earshot.format_version") == 1);
  auto toks = f.strings("earshot.tokens");
  CHECK(toks.size() == 3 && toks[1] == "\xe2\x96\x81");
  const Tensor& src = f.tensor("w.f32", 7, 96);
  const Tensor& q4 = f.tensor("w.q4_0", 7, 96);
  const Tensor& q8 = f.tensor("w.q8_0", 7, 96);
  const Tensor& h = f.tensor("w.f16", 7, 96);
  CHECK(src.type == DType::F32 && q4.type == DType::Q4_0 && q8.type == DType::Q8_0 && h.type == DType::F16);
  const float* x = static_cast<const float*>(src.data);
  std::vector<BlockQ4_0> mine4(21);
  std::vector<BlockQ8_0> mine8(21);
  quantize_row_q4_0(x, mine4.data(), 7 * 96);
  quantize_row_q8_0(x, mine8.data(), 7 * 96);
  CHECK_MSG(std::memcmp(mine4.data(), q4.data, q4.bytes) == 0 && q4.bytes == 21 * 18,
            "Python Q4_0 bytes differ from quantize_row_q4_0");
  CHECK_MSG(std::memcmp(mine8.data(), q8.data, q8.bytes) == 0 && q8.bytes == 21 * 34,
            "Python Q8_0 bytes differ from quantize_row_q8_0");
  const uint16_t* hp = static_cast<const uint16_t*>(h.data);
  int bad16 = 0;
  for (int i = 0; i < 7 * 96; ++i) bad16 += hp[i] != fp32_to_fp16(x[i]);
  CHECK_MSG(bad16 == 0, "Python F16 differs from fp32_to_fp16 in " + std::to_string(bad16) + " values");
}

}  // namespace

int main(int argc, char** argv) {
  test_crc();
  test_round_trip();
  test_damage();
  if (argc > 1) {
    test_python_file(argv[1]);
    std::printf("checked Python-written %s\n", argv[1]);
  }
  return check::summary("test_gguf");
}
