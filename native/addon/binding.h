// Shared by the files of the Node binding (native/addon/): one file per object (recognizer.cpp,
// personal_vad.cpp, speaker_encoder.cpp), the kernel switches and test hooks (debug.cpp), sd_notify
// (sd_notify.cpp) and the module (addon.cpp). The binding only converts and checks arguments; the
// work is the engine's (native/engine/), and the heavy part of it runs on libuv worker threads
// (Napi::AsyncWorker). Engine errors are C++ exceptions; node-addon-api turns uncaught ones into JS
// exceptions.
#pragma once
#define NAPI_CPP_EXCEPTIONS
#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gguf.h"

namespace earshot {

class TransducerModel;

namespace addon {

// The classes' constructors, per environment (worker threads load the addon again).
struct AddonData {
  Napi::FunctionReference transducer, stream, pvad, pvad_stream, speaker;
};
AddonData& data(Napi::Env env);

[[noreturn]] void throw_type(Napi::Env env, const std::string& msg);

// Int16Array or Float32Array -> floats in [-1, 1); `what` names the call in the TypeError.
std::vector<float> audio_arg(const Napi::Value& v, const char* what);

// The one check of numeric options and arguments: `v` must be a number from min to max (an integer
// when `integer`), else a RangeError naming `what` ("createStream: beam") and the allowed range,
// e.g. "createStream: beam must be an integer from 1 to 16, got 0".
double number_arg(const Napi::Value& v, const std::string& what, double min, double max, bool integer);
inline int int_arg(const Napi::Value& v, const std::string& what, int min, int max) {
  return int(number_arg(v, what, min, max, true));
}
// An optional option: `fallback` when `v` is undefined.
inline int int_option(const Napi::Value& v, const std::string& what, int min, int max, int fallback) {
  return v.IsUndefined() ? fallback : int_arg(v, what, min, max);
}
inline float float_option(const Napi::Value& v, const std::string& what, double min, double max, float fallback) {
  return v.IsUndefined() ? fallback : float(number_arg(v, what, min, max, false));
}

// The `info` object of a loaded model: name, architecture, tensor bytes and types, metadata.
Napi::Object model_info(Napi::Env env, const GgufFile* f, const std::string& name, const char* arch,
                        const std::vector<std::pair<std::string, double>>& numbers);

// load*(path): the model file is read and checked on a worker thread; the promise resolves with an
// object of the class `ctor` (its constructor gets the model as an External) or rejects naming the
// file and the problem.
template <typename Model>
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, const char* what, Napi::FunctionReference* ctor)
      : Napi::AsyncWorker(env),
        path_(std::move(path)),
        what_(what),
        ctor_(ctor),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      auto file = std::make_shared<GgufFile>(path_);
      model_ = std::make_shared<Model>(file);
    } catch (const std::exception& e) {
      SetError(std::string("cannot load the ") + what_ + ": " + e.what());  // the loader names the file
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      auto* holder = new std::shared_ptr<const Model>(model_);
      auto ext = Napi::External<std::shared_ptr<const Model>>::New(
          env, holder, [](Napi::Env, std::shared_ptr<const Model>* p) { delete p; });
      deferred_.Resolve(ctor_->New({ext}));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string path_;
  const char* what_;
  Napi::FunctionReference* ctor_;
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Model> model_;
};

// fn(path) -> Promise of a `ctor` object; `what` names the model in errors ("transducer model").
template <typename Model>
Napi::Value load(const Napi::CallbackInfo& info, const char* fn, const char* what, Napi::FunctionReference& ctor) {
  if (info.Length() < 1 || !info[0].IsString())
    throw_type(info.Env(), std::string(fn) + ": expected a model file path");
  auto* w = new LoadWorker<Model>(info.Env(), info[0].As<Napi::String>().Utf8Value(), what, &ctor);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// The model a class constructor was given by LoadWorker.
template <typename Model>
std::shared_ptr<const Model> unwrap_model(const Napi::CallbackInfo& info, const char* what) {
  if (info.Length() < 1 || !info[0].IsExternal())
    throw_type(info.Env(), std::string(what) + " objects come from the load functions");
  return *info[0].As<Napi::External<std::shared_ptr<const Model>>>().Data();
}

// Each file's part of the module: its classes into `d`, its functions into `exports`.
void init_recognizer(Napi::Env env, Napi::Object exports, AddonData& d);       // recognizer.cpp
void init_personal_vad(Napi::Env env, Napi::Object exports, AddonData& d);     // personal_vad.cpp
void init_speaker_encoder(Napi::Env env, Napi::Object exports, AddonData& d);  // speaker_encoder.cpp
void init_kernels(Napi::Env env, Napi::Object exports);                        // debug.cpp
void init_sd_notify(Napi::Env env, Napi::Object exports);                      // sd_notify.cpp

// TransducerModel's test hooks (debug.cpp), called by its methods of the same names.
Napi::Value debug_encode(const Napi::CallbackInfo& info, const TransducerModel& m);
Napi::Value debug_fbank(const Napi::CallbackInfo& info);
Napi::Value debug_joint(const Napi::CallbackInfo& info, const TransducerModel& m);

}  // namespace addon
}  // namespace earshot
