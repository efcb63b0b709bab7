// The speaker encoder's binding: SpeakerEncoder (loadSpeakerEncoder); embed() runs on a worker thread.
#include "binding.h"
#include "speaker.h"

namespace earshot {
namespace addon {
namespace {

class EmbedWorker : public Napi::AsyncWorker {
 public:
  EmbedWorker(Napi::Env env, std::shared_ptr<const SpeakerEncoder> m, std::vector<float> audio)
      : Napi::AsyncWorker(env),
        model_(std::move(m)),
        audio_(std::move(audio)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      out_ = model_->embed(audio_.data(), audio_.size());
    } catch (const std::exception& e) {
      SetError(std::string("SpeakerEncoder.embed: ") + e.what());
    }
  }
  void OnOK() override {
    Napi::Float32Array r = Napi::Float32Array::New(Env(), out_.size());
    std::copy(out_.begin(), out_.end(), r.Data());
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<const SpeakerEncoder> model_;
  std::vector<float> audio_, out_;
  Napi::Promise::Deferred deferred_;
};

class SpeakerWrap : public Napi::ObjectWrap<SpeakerWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "SpeakerEncoder",
        {InstanceMethod("embed", &SpeakerWrap::Embed), InstanceMethod("dispose", &SpeakerWrap::Dispose)});
  }
  SpeakerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SpeakerWrap>(info) {
    model_ = unwrap_model<SpeakerEncoder>(info, "SpeakerEncoder");
    const SpeakerConfig& c = model_->config();
    info.This().As<Napi::Object>().Set("info", model_info(info.Env(), model_->file(), c.name, "earshot-spkenc",
                                                          {{"hidden", c.hidden},
                                                           {"n_layers", c.n_layers},
                                                           {"embed_dim", c.embed_dim},
                                                           {"window_frames", c.window_frames},
                                                           {"window_hop", c.window_hop}}));
  }

 private:
  Napi::Value Embed(const Napi::CallbackInfo& info) {
    if (!model_) throw Napi::Error::New(info.Env(), "SpeakerEncoder.embed: the model is disposed");
    if (info.Length() < 1) throw_type(info.Env(), "SpeakerEncoder.embed: expected audio");
    auto* w = new EmbedWorker(info.Env(), model_, audio_arg(info[0], "SpeakerEncoder.embed"));
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<const SpeakerEncoder> model_;
};

}  // namespace

void init_speaker_encoder(Napi::Env env, Napi::Object exports, AddonData& d) {
  d.speaker = Napi::Persistent(SpeakerWrap::Init(env));
  exports.Set("loadSpeakerEncoder", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return load<SpeakerEncoder>(info, "loadSpeakerEncoder", "speaker encoder model",
                                            data(info.Env()).speaker);
              }));
}

}  // namespace addon
}  // namespace earshot
