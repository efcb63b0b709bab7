// The Node module (build/Release/earshot.node): each object's file adds its classes and functions;
// daemon/native.ts states the whole API in TypeScript.
#include "binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace earshot::addon;
  auto* d = new AddonData();
  env.SetInstanceData(d);
  init_recognizer(env, exports, *d);
  init_personal_vad(env, exports, *d);
  init_speaker_encoder(env, exports, *d);
  init_kernels(env, exports);
  init_sd_notify(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(earshot, Init)
