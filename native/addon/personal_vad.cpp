// The personal VAD's binding: PvadModel (loadPvad) and its PvadStream objects. accept() runs on the
// calling (JS) thread: a 10 ms frame is small, bounded work.
#include "binding.h"
#include "pvad.h"

namespace earshot {
namespace addon {
namespace {

class PvadStreamWrap : public Napi::ObjectWrap<PvadStreamWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "PvadStream",
        {InstanceMethod("accept", &PvadStreamWrap::Accept), InstanceMethod("reset", &PvadStreamWrap::Reset)});
  }
  // Built and checked by PvadWrap::CreateStream (a throwing ObjectWrap constructor is not safe).
  PvadStreamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PvadStreamWrap>(info) {
    stream_.reset(info[0].As<Napi::External<PvadStream>>().Data());
  }

 private:
  Napi::Value Accept(const Napi::CallbackInfo& info) {
    if (info.Length() < 1) throw_type(info.Env(), "PvadStream.accept: expected audio");
    std::vector<float> a = audio_arg(info[0], "PvadStream.accept");
    out_.clear();
    stream_->accept(a.data(), a.size(), out_);
    Napi::Float32Array r = Napi::Float32Array::New(info.Env(), out_.size());
    std::copy(out_.begin(), out_.end(), r.Data());
    return r;
  }
  Napi::Value Reset(const Napi::CallbackInfo& info) {
    stream_->reset();
    return info.Env().Undefined();
  }
  std::unique_ptr<PvadStream> stream_;
  std::vector<float> out_;
};

class PvadWrap : public Napi::ObjectWrap<PvadWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "PvadModel",
        {InstanceMethod("createStream", &PvadWrap::CreateStream), InstanceMethod("dispose", &PvadWrap::Dispose)});
  }
  PvadWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PvadWrap>(info) {
    model_ = unwrap_model<PvadModel>(info, "PvadModel");
    const PvadConfig& c = model_->config();
    Napi::Object inf = model_info(info.Env(), model_->file(), c.name, "earshot-pvad",
                                  {{"hidden", c.hidden}, {"embed_dim", c.embed_dim}});
    inf.Get("metadata").As<Napi::Object>().Set("spkenc_name", c.spkenc_name);
    info.This().As<Napi::Object>().Set("info", inf);
  }

 private:
  Napi::Value CreateStream(const Napi::CallbackInfo& info) {
    if (!model_) throw Napi::Error::New(info.Env(), "PvadModel.createStream: the model is disposed");
    const float* e = nullptr;
    Napi::Value v = info.Length() > 0 ? info[0] : info.Env().Null();
    if (!v.IsNull() && !v.IsUndefined()) {
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw_type(info.Env(), "PvadModel.createStream: embedding must be a Float32Array or null");
      Napi::Float32Array a = v.As<Napi::Float32Array>();
      if (a.ElementLength() != size_t(model_->config().embed_dim))
        throw Napi::RangeError::New(info.Env(), "PvadModel.createStream: embedding has " +
                                                    std::to_string(a.ElementLength()) + " values, the model expects " +
                                                    std::to_string(model_->config().embed_dim));
      e = a.Data();
    }
    auto stream = std::make_unique<PvadStream>(model_, e);
    return data(info.Env()).pvad_stream.New({Napi::External<PvadStream>::New(info.Env(), stream.release())});
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<const PvadModel> model_;
};

}  // namespace

void init_personal_vad(Napi::Env env, Napi::Object exports, AddonData& d) {
  d.pvad = Napi::Persistent(PvadWrap::Init(env));
  d.pvad_stream = Napi::Persistent(PvadStreamWrap::Init(env));
  exports.Set("loadPvad", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return load<PvadModel>(info, "loadPvad", "personal VAD model", data(info.Env()).pvad);
              }));
}

}  // namespace addon
}  // namespace earshot
