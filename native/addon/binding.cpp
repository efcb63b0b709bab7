// The helpers every object of the binding shares (binding.h).
#include "binding.h"

#include <cmath>
#include <map>

#include "quant.h"

namespace earshot {
namespace addon {

AddonData& data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

void throw_type(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

std::vector<float> audio_arg(const Napi::Value& v, const char* what) {
  Napi::Env env = v.Env();
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_int16_array) {
      Napi::Int16Array a = v.As<Napi::Int16Array>();
      std::vector<float> out(a.ElementLength());
      for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] / 32768.f;
      return out;
    }
    if (ta.TypedArrayType() == napi_float32_array) {
      Napi::Float32Array a = v.As<Napi::Float32Array>();
      return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
    }
  }
  throw_type(env, std::string(what) + ": expected an Int16Array or a Float32Array of 16 kHz mono samples");
}

namespace {

// A bound or a number as JavaScript writes it (1, 0.5, -20, 1e+21).
std::string js_number(Napi::Env env, double x) { return Napi::Number::New(env, x).ToString().Utf8Value(); }

// What a refused value was, for the error message.
std::string describe(const Napi::Value& v) {
  if (v.IsNumber()) return js_number(v.Env(), v.As<Napi::Number>().DoubleValue());
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    return "the string \"" + (s.size() > 40 ? s.substr(0, 40) + "..." : s) + "\"";
  }
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

}  // namespace

double number_arg(const Napi::Value& v, const std::string& what, double min, double max, bool integer) {
  if (v.IsNumber()) {
    const double x = v.As<Napi::Number>().DoubleValue();
    if (x >= min && x <= max && (!integer || x == std::floor(x))) return x;  // NaN fails every test
  }
  Napi::Env env = v.Env();
  throw Napi::RangeError::New(env, what + " must be " + (integer ? "an integer" : "a number") + " from " +
                                       js_number(env, min) + " to " + js_number(env, max) + ", got " + describe(v));
}

Napi::Object model_info(Napi::Env env, const GgufFile* f, const std::string& name, const char* arch,
                        const std::vector<std::pair<std::string, double>>& numbers) {
  Napi::Object info = Napi::Object::New(env);
  info.Set("name", name);
  info.Set("architecture", arch);
  info.Set("sampleRate", 16000);
  info.Set("kernel", kernel_name());
  double bytes = 0;
  Napi::Object types = Napi::Object::New(env);
  std::map<std::string, int> counts;
  Napi::Object meta = Napi::Object::New(env);
  if (f) {
    for (const auto& kv : f->tensors()) {
      bytes += double(kv.second.bytes);
      const char* t = kv.second.type == DType::F32    ? "F32"
                      : kv.second.type == DType::F16  ? "F16"
                      : kv.second.type == DType::Q4_0 ? "Q4_0"
                                                      : "Q8_0";
      counts[t]++;
    }
    if (f->has("earshot.provenance")) meta.Set("earshot.provenance", f->str("earshot.provenance"));
    meta.Set("path", f->path());
  }
  for (const auto& kv : counts) types.Set(kv.first, kv.second);
  for (const auto& kv : numbers) meta.Set(kv.first, kv.second);
  info.Set("tensorBytes", bytes);
  info.Set("tensorTypes", types);
  info.Set("metadata", meta);
  return info;
}

}  // namespace addon
}  // namespace earshot
