// For benchmarks and tests: the kernel switches (module functions) and TransducerModel's test hooks.
// All of them run on the calling (JS) thread.
#include <climits>

#include "binding.h"
#include "fbank.h"
#include "quant.h"
#include "transducer.h"

namespace earshot {
namespace addon {

// Raw encoder output of whole audio, chunk by chunk (TransducerModel::encode_audio); blocks the caller.
Napi::Value debug_encode(const Napi::CallbackInfo& info, const TransducerModel& m) {
  if (info.Length() < 1) throw_type(info.Env(), "debugEncode: expected audio");
  std::vector<float> audio = audio_arg(info[0], "debugEncode");
  const int chunk = int_option(info.Length() > 1 ? info[1] : info.Env().Undefined(), "debugEncode: chunkFrames", 1,
                               INT_MAX, m.config().chunk_frames);
  std::vector<float> enc = m.encode_audio(audio.data(), audio.size(), chunk);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), enc.size());
  std::copy(enc.begin(), enc.end(), out.Data());
  return out;
}

// The raw log-mel frames [T * 80] the engine computes for the audio (before CMVN).
Napi::Value debug_fbank(const Napi::CallbackInfo& info) {
  if (info.Length() < 1) throw_type(info.Env(), "debugFbank: expected audio");
  std::vector<float> audio = audio_arg(info[0], "debugFbank");
  Fbank fb;
  fb.accept(audio.data(), audio.size());
  std::vector<float> f;
  fb.take(f);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), f.size());
  std::copy(f.begin(), f.end(), out.Data());
  return out;
}

// Joiner log-probabilities for one encoder frame and a token history (oldest first).
Napi::Value debug_joint(const Napi::CallbackInfo& info, const TransducerModel& m) {
  const TransducerConfig& c = m.config();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray())
    throw_type(info.Env(), "debugJoint: expected (Float32Array enc frame, Int32Array history)");
  Napi::Float32Array enc = info[0].As<Napi::Float32Array>();
  Napi::Int32Array hist = info[1].As<Napi::Int32Array>();
  if (enc.ElementLength() != size_t(c.d_model) || hist.ElementLength() != size_t(c.pred_context))
    throw Napi::RangeError::New(info.Env(), "debugJoint: wrong enc or history length");
  for (size_t i = 0; i < hist.ElementLength(); ++i)
    if (hist[i] < 0 || hist[i] >= c.vocab) throw Napi::RangeError::New(info.Env(), "debugJoint: token id out of range");
  std::vector<float> je(c.joiner_dim), jp(c.joiner_dim);
  m.join_encoder(enc.Data(), 1, je.data());
  m.predict(hist.Data(), jp.data());
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), c.vocab);
  m.joint(je.data(), jp.data(), out.Data());
  return out;
}

void init_kernels(Napi::Env env, Napi::Object exports) {
  exports.Set("setThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                Napi::Env e = info.Env();
                set_threads(int_arg(info.Length() > 0 ? info[0] : e.Undefined(), "setThreads: n", 1, 64));
                return Napi::Number::New(e, threads());
              }));
  exports.Set("useKernel", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                if (info.Length() < 1 || !info[0].IsString())
                  throw_type(info.Env(), "useKernel: expected a kernel family name");
                return Napi::Boolean::New(info.Env(), force_kernel(info[0].As<Napi::String>().Utf8Value().c_str()));
              }));
  exports.Set("availableKernels", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                std::vector<std::string> names = available_kernel_names();
                Napi::Array a = Napi::Array::New(info.Env(), names.size());
                for (size_t i = 0; i < names.size(); ++i) a.Set(uint32_t(i), names[i]);
                return a;
              }));
  exports.Set("kernelName", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::String::New(info.Env(), kernel_name());
              }));
}

}  // namespace addon
}  // namespace earshot
